"""Where the time of real training goes: each experiment's training step beside its own floor.

For each workload, one run on one machine times, in interleaved rounds (median of `--repeats`):

- the **step**: the jitted training step `snnsad.fit` runs (`_train_step`: estimate, optimiser update,
  finiteness flags) on one batch already on the device, with the experiment's own network, loss,
  estimator, optimiser and batch size;
- its **floor**: for a discrete-time network, the same layer sizes as dense GEMMs over all `B x T` rows
  at once, forward and both backward products (`X W`, `dY W^T`, `X^T dY`; the first layer has no input
  gradient), the least work any implementation of the step does (a convolution's dense Toeplitz matrix
  has more multiply-adds than the convolution; what the floor counts are the GEMM shapes, on the
  machine's GEMM kernel; a recurrent layer adds its `n x n` product, which for E5's recurrent
  convolution is far more work than the convolution, so E5's floor is a loose one); for an event network, the **discrete twin** (`snnsad.events.discrete_twin`)
  at `dt` 0.1 ms with the SuperSpike surrogate, trained by BPTT on the same batch and the same TTFS
  loss (`twin_ttfs_loss`), the discrete method EventProp replaces (and, beside it, EventProp's forward
  pass alone, the event simulation, and the same loop with a single Newton step per root: the loop's cost
  besides its root finding, which no choice of root finder goes below);
- for a discrete network, the **scan alone**: every spiking layer's time loop, forward and backward,
  on given currents (no projections): the sequential part the GEMM floor leaves out. `step / (floor +
  scan)` is then what an implementation could still gain beyond both;
- for a stochastic network, the **noise alone**: sampling the uniforms of every site of the batch
  (`sample_noise` per example, as `Batched` draws them; JAX's default threefry generator), work neither
  the floor nor the scan counts; `step / (floor + scan + noise)` is what remains beyond all three.

Workloads: E6's conv network (32/64/128 filters, kernels 11/5/5, batch 400, T = 100, matched stochastic
SG); E5's strided recurrent conv network on SHD-shaped input (700 channels, T = 350, batch 400, random
spikes at SHD's rate, batch 100 of E5's 400; the same loss and optimiser as E6); the calibrated Randman 20-128-10 (batch 250, T = 100, deterministic SuperSpike, the calibration's
recipe); the paper's deep Randman 20-128-128-128-15 (batch 250, matched stochastic SG); EventProp on
Yin-Yang 5-200-3 (batch 32). `--quick` cuts batches (and so says nothing about the targets).

    python benchmarks/workload_floors.py [--repeats 5] [--quick]

Writes `benchmarks/results/workload_floors.json` and `.md`.
"""

import argparse
import json
import os
import statistics
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

import snnsad
from snnsad import events
from snnsad._io import atomic_write_text, machine_description, run_info
from snnsad._timing import interleaved_seconds, prepared
from snnsad.experiments import paper_network, randman_conv_network, shd_conv_network
from snnsad.experiments._e6_randman import calibrated_recipe, training_recipe
from snnsad.experiments._eventprop import _twin_loss
from snnsad.experiments._eventprop_training import RECIPE, loss_of, yinyang_network
from snnsad.train._fit import _step


def _step_call(net, estimator, loss_fn, optimizer, xs, ys) -> Callable[[], object]:
    """The training step `fit` runs, on one batch already on the device (state not donated between calls:
    each call starts from the same copies, so every round times the same work)."""
    batched = snnsad.Batched(estimator)
    opt_state = optimizer.init(eqx.filter(net, snnsad.nn.trainable(net)))
    step = eqx.filter_jit(lambda n, s: _step(batched, loss_fn, optimizer, n, s, xs, ys, jr.key(0)))
    return prepared(step, net, opt_state)


def dense_floor(sizes: list[tuple[int, int]], rows: int, dtype=jnp.float32) -> Callable[[], object]:
    """Forward and backward GEMMs of dense layers `(n_in, n_out)` over `rows` rows (no input gradient for the first)."""
    keys = jr.split(jr.key(0), 3 * len(sizes))
    mats = []
    for i, (n_in, n_out) in enumerate(sizes):
        x = jr.normal(keys[3 * i], (rows, n_in), dtype)
        w = jr.normal(keys[3 * i + 1], (n_in, n_out), dtype)
        dy = jr.normal(keys[3 * i + 2], (rows, n_out), dtype)
        mats.append((x, w, dy))

    @jax.jit
    def gemms(mats):
        out = []
        for i, (x, w, dy) in enumerate(mats):
            out += [x @ w, x.T @ dy] + ([dy @ w.T] if i else [])
        return out

    return prepared(gemms, mats)


class _GivenCurrents(snnsad.nn.AbstractLayer):
    """A layer of `inner`'s neurons, spike function and recurrence that takes its currents as given (no projection):
    what `run` then does is the time scan alone."""

    inner: snnsad.nn.AbstractLayer

    @property
    def neuron(self):  # pyright: ignore[reportIncompatibleVariableOverride]
        return self.inner.neuron

    @property
    def spike_fn(self):  # pyright: ignore[reportIncompatibleVariableOverride]
        return self.inner.spike_fn

    @property
    def in_size(self) -> int:
        return self.inner.size

    @property
    def size(self) -> int:
        return self.inner.size

    def project(self, x):
        return x

    def recurrent_current(self, spikes):
        return self.inner.recurrent_current(spikes)


def scan_alone(net, batch: int, n_steps: int) -> Callable[[], object]:
    """Every spiking layer's time scan, forward and backward (the gradient of its summed spikes with respect
    to given currents, its neuron and recurrent parameters), over the batch: what the GEMM floor leaves out."""
    layers = [_GivenCurrents(layer) for layer in net.layers]  # pyright: ignore[reportCallIssue]  (properties, not fields)
    keys = jr.split(jr.key(2), 2 * len(layers))
    currents = [jr.normal(keys[2 * k], (batch, n_steps, l.size)) for k, l in enumerate(layers)]
    noise = [jr.uniform(keys[2 * k + 1], (batch, n_steps, l.size)) for k, l in enumerate(layers)]

    def total(layers, currents):
        return sum(jnp.sum(jax.vmap(lay.run)(c, u).spikes) for lay, c, u in zip(layers, currents, noise, strict=True))

    step = eqx.filter_jit(eqx.filter_grad(total))
    return prepared(step, layers, currents)


def noise_alone(net, batch: int, n_steps: int) -> Callable[[], object] | None:
    """The noise a stochastic network's step samples (one key per example, `sample_noise` per example, as
    `Batched` draws it), `None` for a deterministic network: work the GEMM floor and the scan leave out."""
    if not any(net.stochastic):
        return None
    model = jax.lax.stop_gradient(net)
    sample = eqx.filter_jit(lambda key: jax.vmap(lambda k: model.sample_noise(k, n_steps))(jr.split(key, batch)))
    return prepared(sample, jr.key(3))


def _layer_sizes(net) -> list[tuple[int, int]]:
    """`(inputs, outputs)` per layer of a discrete network, a recurrent layer's `(outputs, outputs)` after its
    feed-forward one, the readout last (neurons, flattened)."""
    sizes = []
    for layer in net.layers:
        sizes.append((layer.in_size, layer.size))
        if getattr(layer, "recurrent_kernel", None) is not None or getattr(layer, "recurrent_weight", None) is not None:
            sizes.append((layer.size, layer.size))
    if net.readout is not None:
        sizes.append((net.layers[-1].size, net.readout.weight.shape[0]))
    return sizes


def _randman_batch(spec: dict, batch: int, n_steps: int = 100):
    data = snnsad.data.randman(**spec, n_steps=n_steps, samples_per_class=batch // spec["n_classes"] + 1, seed=1)
    xs, ys = data.batch(np.arange(batch))
    return jnp.asarray(xs), jnp.asarray(ys)


def _discrete(net, loss_fn, optimizer, xs, ys) -> dict:
    """A discrete network's workload: its training step (`Autodiff` through its spike functions), the dense
    GEMMs of its layer sizes over all `B x T` rows, and its time scan alone."""
    batch, n_steps = xs.shape[:2]
    sizes = _layer_sizes(net)
    return dict(
        step=_step_call(net, snnsad.Autodiff(), loss_fn, optimizer, xs, ys),
        floor=dense_floor(sizes, batch * n_steps),
        scan=scan_alone(net, batch, n_steps),
        noise=noise_alone(net, batch, n_steps),
        floor_kind="dense GEMMs",
        batch=batch,
        sizes=sizes,
    )


def _one_newton_step():
    """The recipe's Yin-Yang network with `newton_steps=1` (everything else the recipe's)."""
    steps = RECIPE["newton_steps"]
    RECIPE["newton_steps"] = 1
    try:
        return yinyang_network(jr.key(0))
    finally:
        RECIPE["newton_steps"] = steps


def workloads(quick: bool) -> dict[str, dict]:
    """name -> {step, floor, scan (discrete networks), floor_kind, batch, sizes}: each workload's prepared calls."""
    out = {}
    stochastic = snnsad.Stochastic(snnsad.Sigmoid(10.0))
    loss_fn, _, optimizer = training_recipe()
    xs, ys = _randman_batch(dict(n_classes=15, n_units=20, alpha=0.5), 40 if quick else 400)
    net = randman_conv_network(stochastic, n_classes=15, seed=0)
    out["E6 conv 32/64/128, matched stochastic SG"] = _discrete(net, loss_fn, optimizer, xs, ys)
    b, t = (40, 100) if quick else (100, 350)  # batch 100 of E5's 400: one step at 400 takes minutes here
    xs = (jr.uniform(jr.key(1), (b, t, 700)) < 0.03).astype(jnp.float32)  # SHD's shape and about its rate
    net = shd_conv_network(stochastic, n_steps=t)
    out["E5 SHD conv-recurrent 16/32/64, matched stochastic SG"] = _discrete(
        net, loss_fn, optimizer, xs, jnp.arange(b) % 20
    )
    b = 25 if quick else 250
    loss_fn, _, optimizer = calibrated_recipe()
    xs, ys = _randman_batch(dict(n_classes=10, n_units=20, alpha=1.0), b)
    net = paper_network((20, 128, 10), snnsad.Surrogate(snnsad.FastSigmoid(20.0), scale=1.0), seed=0)
    out["calibrated Randman 20-128-10, deterministic SG"] = _discrete(net, loss_fn, optimizer, xs, ys)
    xs, ys = _randman_batch(dict(n_classes=15, n_units=20, alpha=0.5), b)
    net = paper_network((20, 128, 128, 128, 15), stochastic, seed=0)
    out["deep Randman 20-128-128-128-15, matched stochastic SG"] = _discrete(net, loss_fn, optimizer, xs, ys)
    b = RECIPE["batch"]
    net = yinyang_network(jr.key(0))
    x, y = events.yinyang_events(b, seed=0)
    opt = optax.adam(RECIPE["lr"])
    dt = 0.1
    twin = events.discrete_twin(net, dt, snnsad.Surrogate(snnsad.FastSigmoid(5.0)))
    raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
    out["EventProp Yin-Yang 5-200-3"] = dict(
        step=_step_call(net, events.EventProp(), loss_of("ttfs"), opt, x, jnp.asarray(y)),
        floor=_step_call(twin, snnsad.Autodiff(), _twin_loss(dt), opt, raster, jnp.asarray(y)),
        forward=prepared(eqx.filter_jit(lambda n, x: jax.vmap(n)(x)), net, x),  # the event simulation alone
        # the same event loop with one Newton step per root (times unconverged): what the loop costs
        # besides the root finding, a lower bound of this solver's forward pass
        loop=prepared(eqx.filter_jit(lambda n, x: jax.vmap(n)(x)), _one_newton_step(), x),
        floor_kind=f"discrete twin, dt {dt} ms, BPTT",
        batch=b,
        sizes=[(5, RECIPE["hidden"]), (RECIPE["hidden"], 3)],
    )
    return out


def main(*, repeats: int = 5, quick: bool = False, out: str = "benchmarks/results") -> dict:
    jax.config.update("jax_numpy_dtype_promotion", "standard")
    rows = []
    for name, w in workloads(quick).items():
        calls = {k: w[k] for k in ("step", "floor", "scan", "noise", "forward", "loop") if w.get(k) is not None}
        times = {k: statistics.median(v) for k, v in interleaved_seconds(calls, repeats).items()}
        step, floor, scan, noise = times["step"], times["floor"], times.get("scan"), times.get("noise", 0.0)
        rows.append(
            {"workload": name, "batch": w["batch"], "layer_sizes": w["sizes"], "floor": w["floor_kind"],
             "step_seconds": step, "floor_seconds": floor, "ratio": step / floor, "scan_seconds": scan,
             "ratio_to_floor_plus_scan": None if scan is None else step / (floor + scan),
             "noise_seconds": times.get("noise"),
             "ratio_to_floor_scan_noise": None if scan is None else step / (floor + scan + noise),
             "forward_seconds": times.get("forward"), "loop_seconds": times.get("loop")}
        )  # fmt: skip
        with_scan = (
            ""
            if scan is None
            else f", scan alone {scan * 1e3:.1f} ms, noise {noise * 1e3:.1f} ms, "
            f"x{step / (floor + scan + noise):.2f} floor + scan + noise"
        )
        print(f"{name}: step {step * 1e3:.1f} ms, floor ({w['floor_kind']}) {floor * 1e3:.1f} ms, x{step / floor:.2f}"
              + with_scan)  # fmt: skip
    result = {"machine": machine_description(), "run": run_info(), "repeats": repeats, "quick": quick, "rows": rows}
    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, "workload_floors.json"), json.dumps(result, indent=2) + "\n")

    def scan_cells(r):
        if r["scan_seconds"] is None:
            return "- | - | - | -"
        noise = "-" if r["noise_seconds"] is None else f"{r['noise_seconds'] * 1e3:.1f}"
        return (
            f"{r['scan_seconds'] * 1e3:.1f} | {r['ratio_to_floor_plus_scan']:.2f} | {noise} | "
            f"{r['ratio_to_floor_scan_noise']:.2f}"
        )

    lines = [
        "| workload | batch | step (ms) | floor | floor (ms) | step / floor | scan alone (ms) | step / (floor + scan) "
        "| noise alone (ms) | step / (floor + scan + noise) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['workload']} | {r['batch']} | {r['step_seconds'] * 1e3:.1f} | {r['floor']} | "
            f"{r['floor_seconds'] * 1e3:.1f} | {r['ratio']:.2f} | {scan_cells(r)} |"
            for r in rows
        ),
        "",
        *(
            f"{r['workload']}: the forward (event simulation) pass alone takes {r['forward_seconds'] * 1e3:.1f} ms "
            f"of the step's {r['step_seconds'] * 1e3:.1f} ms; with one Newton step per root instead of "
            f"{RECIPE['newton_steps']} (the event loop without its root finding) {r['loop_seconds'] * 1e3:.1f} ms, "
            f"x{r['loop_seconds'] / r['floor_seconds']:.2f} the twin's whole step."
            for r in rows
            if r["forward_seconds"] is not None
        ),
        "",
        f"{result['machine']}; median of {repeats} interleaved rounds; `python benchmarks/workload_floors.py`"
        + (" --quick (cut batches)" if quick else ""),
    ]
    atomic_write_text(os.path.join(out, "workload_floors.md"), "\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(repeats=args.repeats, quick=args.quick, out=args.out)
