"""Throughput of E6's full mode: seconds per epoch of a real `fit` run against its pure-compute floor.

E6 full trains the authors' conv network (32/64/128 filters) on their Randman preset (15 classes,
1000 samples per class, 100 steps; 12,000 training examples, batch 400, 30 steps per epoch) with the
matched stochastic SG, SMORMS3 and the upper-bound activity regulariser. This script measures, in one
run on one machine:

- generating and splitting the data set (once per run: Randman is made in memory, nothing is read);
- one epoch of `snnsad.fit` as E6 runs it (batch assembly, the host-side input and finiteness checks
  of every step, the training steps, the validation pass), from the second epoch's own clock (the
  first one compiles);
- the pure-compute floor: the same jitted training step on one batch already on the device, times the
  steps of an epoch, plus the validation pass (`evaluate`, compiled) on its own;

and prints the fraction of an epoch that is neither training step nor validation (data assembly,
checks, bookkeeping). Usage:

    python benchmarks/e6_throughput.py [--epochs 2] [--samples-per-class 1000] [--repeats 3]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import snnsad
from snnsad._io import atomic_write_text, machine_description, run_info
from snnsad._timing import interleaved_seconds, prepared
from snnsad.experiments import randman_conv_network
from snnsad.experiments._e6_randman import training_recipe
from snnsad.experiments._randman_calibration import split_80_10_10
from snnsad.train._fit import _train_step


def main(*, epochs: int = 2, samples_per_class: int = 1000, repeats: int = 3, out: str = "benchmarks/results") -> dict:
    if epochs < 2:
        raise ValueError(f"--epochs must be at least 2 (the first epoch compiles), got {epochs}.")
    t0 = time.perf_counter()
    data = snnsad.data.randman_preset(seed=1, samples_per_class=samples_per_class)
    train, val, _ = split_80_10_10(data)
    t_data = time.perf_counter() - t0
    batch = min(400, len(train))
    steps = len(train) // batch
    loss_fn, accuracy, optimizer = training_recipe()  # E6's own
    net = randman_conv_network(snnsad.Stochastic(snnsad.Sigmoid(10.0)), n_classes=15, seed=0)
    print(
        f"data: {len(train)} training examples, {steps} steps of {batch} per epoch, made in {t_data:.1f} s", flush=True
    )

    with tempfile.TemporaryDirectory() as folder:
        fitted = snnsad.fit(
            net, train, estimator=snnsad.Autodiff(), loss_fn=loss_fn, optimizer=optimizer, epochs=epochs,
            batch_size=batch, seed=0, val=val, metric_fn=accuracy, out_dir=folder, progress=False,
        )  # fmt: skip
    epoch_s = [h["seconds"] for h in fitted.history[1:]]  # the first epoch compiles

    # The floor: the same jitted step (fit's own) on one batch already on the device, and the validation pass.
    xs, ys = (jnp.asarray(a) for a in train.batch(np.arange(batch)))
    opt_state = optimizer.init(eqx.filter(net, snnsad.trainable(net)))
    batched = snnsad.Batched(snnsad.Autodiff())
    # fit's step donates the network's and optimiser state's buffers: give it distinct copies, as fit does
    net_copy, opt_copy = jax.tree.map(lambda a: jnp.array(a, copy=True) if eqx.is_array(a) else a, (net, opt_state))
    state = {"net": net_copy, "opt": opt_copy}

    def step():
        state["net"], state["opt"], value, _ = _train_step(
            (batched, loss_fn, optimizer, xs, ys, jr.key(0)), state["net"], state["opt"]
        )
        return value

    def validate():
        return snnsad.train.evaluate(state["net"], val, loss_fn, accuracy, key=jr.key(1))["loss"]

    runs = {"training step": prepared(step), "validation pass": prepared(validate)}
    seconds = {name: statistics.median(t) for name, t in interleaved_seconds(runs, repeats).items()}
    floor = steps * seconds["training step"] + seconds["validation pass"]
    epoch = statistics.median(epoch_s)
    rows = {
        "data generation (once per run)": t_data,
        "fit epoch (median over epochs 2+)": epoch,
        "floor: steps x training step + validation pass": floor,
        "training step (one batch in memory)": seconds["training step"],
        "validation pass": seconds["validation pass"],
    }
    overhead = (epoch - floor) / epoch
    machine = machine_description()
    lines = ["| quantity | seconds |", "|---|---:|"] + [f"| {k} | {v:.2f} |" for k, v in rows.items()]
    lines.append(
        f"| epoch beyond the floor (data path, checks, bookkeeping) | {epoch - floor:.2f} ({100 * overhead:.1f} %) |"
    )
    lines.append(f"| data generation / one epoch | {100 * t_data / epoch:.1f} % (once per run of many epochs) |")
    table = "\n".join(lines)
    print(f"\nE6 full throughput (conv network, batch {batch}, {steps} steps per epoch; {machine})\n\n{table}")
    result = {"machine": machine, **run_info(), "epochs_timed": epoch_s, "steps_per_epoch": steps, "batch": batch,
              **{k: v for k, v in rows.items()}, "overhead_fraction": overhead}  # fmt: skip
    atomic_write_text(os.path.join(out, "e6_throughput.json"), json.dumps(result, indent=2))
    atomic_write_text(
        os.path.join(out, "e6_throughput.md"),
        f"E6 full throughput: conv network, batch {batch}, {steps} steps per epoch, {len(epoch_s)} timed epoch(s); "
        f"{machine}.\n\n{table}\n",
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples-per-class", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(epochs=args.epochs, samples_per_class=args.samples_per_class, repeats=args.repeats, out=args.out)
    sys.exit(0)
