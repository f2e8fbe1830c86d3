"""How much of an E5 epoch the SHD data path costs, on a synthetic file of the real size.

Writes `snnsad.data.write_synthetic_shd` files with SHD's sizes (8,156 training samples, 700
channels, ~0.9 s each) to a temporary folder, then measures, in one run:

- reading and binning every sample once (`SHD(..., preload=True)`);
- assembling every batch of one epoch (batch 400, 350 steps of 2 ms) from the preloaded events,
  and from the lazy reader (HDF5 reads per batch) on a subset, extrapolated;
- the compute of one training step of the paper's conv network (`shd_conv_network`, matched
  stochastic SG, the per-layer regulariser), timed on a few steps of data already in memory,
  times the number of steps of an epoch (the pure-compute floor).

Prints the fraction of an epoch that data assembly costs and writes `shd_data_path.json` and `.md`
to `--out` (default `benchmarks/results`). Usage:

    python benchmarks/shd_data_path.py [--steps 3] [--n-train 8156] [--out benchmarks/results]
"""

import argparse
import json
import os
import tempfile
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import snnsad
from snnsad._io import atomic_write_text, machine_description, run_info
from snnsad.experiments import shd_conv_network
from snnsad.losses import ActivityRegulariser, make_loss, max_over_time_cross_entropy


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (after one for compilation)")
    parser.add_argument("--n-train", type=int, default=8156, help="training samples (SHD: 8156)")
    parser.add_argument(
        "--batch-size", type=int, default=400, help="the paper's 400 needs about 14 GB for the training step on CPU"
    )
    parser.add_argument("--out", default="benchmarks/results", help="folder for shd_data_path.json and .md")
    args = parser.parse_args(argv)
    n_steps, dt, bs = 350, 2e-3, args.batch_size
    lines = []

    def report(line):
        print(line, flush=True)
        lines.append(line)

    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        train_path, _ = snnsad.data.write_synthetic_shd(folder, n_train=args.n_train, n_test=8)
        report(f"wrote a synthetic training file of {args.n_train} samples in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        data = snnsad.data.SHD(train_path, n_steps=n_steps, dt=dt, preload=True)
        preload = time.perf_counter() - t0
        report(f"read and bin once (preload):          {preload:8.1f} s (once per run)")
        n_batches = len(data) // bs
        order = np.random.default_rng(0).permutation(len(data))
        t0 = time.perf_counter()
        for b in range(n_batches):
            data.batch(order[b * bs : (b + 1) * bs])
        assemble = time.perf_counter() - t0
        report(f"assemble one epoch's batches:         {assemble:8.2f} s  ({n_batches} batches of {bs})")

        lazy = snnsad.data.SHD(train_path, n_steps=n_steps, dt=dt)
        k = min(2, n_batches)
        t0 = time.perf_counter()
        for b in range(k):
            lazy.batch(order[b * bs : (b + 1) * bs])
        lazy_epoch = (time.perf_counter() - t0) / k * n_batches
        report(f"  the same from the lazy reader:      {lazy_epoch:8.1f} s  (extrapolated from {k} batches)")

        xs, ys = data.batch(order[:bs])
        xs, ys = jnp.asarray(xs), jnp.asarray(ys)
        rate = float(jnp.mean(xs)) / dt
        net = shd_conv_network(snnsad.Stochastic(snnsad.Sigmoid(10.0)), n_steps=n_steps, dt=dt, rate=rate)
        loss = make_loss(max_over_time_cross_entropy, [ActivityRegulariser(0.1, 7.0, "upper", 2, "layer")])
        estimate = eqx.filter_jit(lambda n, k: snnsad.Batched(snnsad.Autodiff())(loss, n, xs, ys, k))
        jax.block_until_ready(estimate(net, jr.key(0)))
        t0 = time.perf_counter()
        for i in range(args.steps):
            jax.block_until_ready(estimate(net, jr.key(i + 1)))
        step = (time.perf_counter() - t0) / args.steps
    compute = step * n_batches
    share, share_lazy = assemble / (assemble + compute), lazy_epoch / (lazy_epoch + compute)
    report(f"compute of one epoch (floor):         {compute:8.1f} s  ({step:.2f} s per step)")
    report(f"data share of an epoch, preloaded:    {100 * share:8.1f} %")
    report(f"data share of an epoch, lazy reader:  {100 * share_lazy:8.1f} %")
    machine = machine_description()
    result = {
        "machine": machine, **run_info(), "n_train": args.n_train, "batch": bs, "n_steps": n_steps,
        "timed_steps": args.steps, "preload_s": preload, "assemble_epoch_s": assemble,
        "lazy_epoch_s": lazy_epoch, "step_s": step, "compute_epoch_s": compute,
        "data_share": share, "data_share_lazy": share_lazy,
    }  # fmt: skip
    os.makedirs(args.out, exist_ok=True)
    atomic_write_text(os.path.join(args.out, "shd_data_path.json"), json.dumps(result, indent=2))
    command = f"python benchmarks/shd_data_path.py --steps {args.steps}"
    if args.n_train != 8156 or bs != 400:
        command += f" --n-train {args.n_train} --batch-size {bs}"
    atomic_write_text(
        os.path.join(args.out, "shd_data_path.md"),
        f"# SHD data path vs compute ({machine})\n\nCommand: `{command}` (synthetic files of the real SHD size, "
        f"batch {bs}, {n_steps} steps of 2 ms, matched stochastic SG on `shd_conv_network`).\n\n```\n"
        + "\n".join(lines)
        + "\n```\n",
    )
    return result


if __name__ == "__main__":
    main()
