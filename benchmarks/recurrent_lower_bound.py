"""Workload (b): how fast can the SHD-shaped recurrent training step be, and does forming the recurrent
weight gradient as one GEMM after the scan pay?

The step of ``snnsad bench`` (b): 700 -> 256 recurrent LIF (zero reset, detached; tau_syn 10 ms,
tau_mem 20 ms, dt 2 ms) -> 20 leaky-integrator readout, batch 64, time-major input, cross-entropy of
the time-summed readout, deterministic fast-sigmoid surrogate (steepness 10, peak 1), gradients of
all weights and the hidden thresholds. Timed side by side in interleaved rounds:

- ``GEMM floor``: the step's GEMMs with all time steps at once (``snnsad bench``'s floor);
- ``plain JAX``: a hand-written batch-major step with no library code (one GEMM for the input
  projection, a two-state LIF scan with the recurrent product inside, the readout scan),
  ``jax.value_and_grad``: autodiff accumulates the recurrent weight's gradient step by step in the
  backward scan;
- ``plain JAX, W_rec grad after scan``: the same forward, with a hand-written backward pass of the
  recurrent layer (``recurrent_lif``, a ``custom_vjp`` written for the batch): the backward scan
  carries only the neuron state's cotangents and stacks the current's cotangent, and the recurrent
  weight's gradient is one GEMM over all steps and examples after it, as the input weight's is;
- ``snnsad``: the step ``snnsad bench`` (b) times (``Batched(Autodiff(), batch_axis=1)``).

The hand-written backward is checked against autodiff in float64 by
``tests/e2e/test_bench.py::test_recurrent_lif_backward_matches_autodiff``.

    python benchmarks/recurrent_lower_bound.py [--lengths 100,350] [--repeats 5]
"""

import argparse
import json
import os

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from snnsad._cli._bench import SHD_SHAPE, _side_by_side, shd_floor, shd_snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad._timing import prepared

LAM_SYN, LAM_MEM = float(np.exp(-2 / 10)), float(np.exp(-2 / 20))  # tau_syn 10 ms, tau_mem 20 ms, dt 2 ms
BETA = 10.0  # fast-sigmoid steepness; the surrogate's peak is 1


def _slope(drive):
    return 1 / (1 + BETA * jnp.abs(drive)) ** 2


@jax.custom_jvp
def _spike(drive):
    return (drive > 0).astype(drive.dtype)


@_spike.defjvp
def _spike_jvp(primals, tangents):
    (drive,), (d_drive,) = primals, tangents
    return _spike(drive), _slope(drive) * d_drive


def _step(state, current, w_rec, theta):
    """One LIF step of the batch: spikes from the state, then the next state (zero reset, detached)."""
    syn, mem = state
    spikes = _spike(mem - theta[None, :])
    new_syn = LAM_SYN * syn + current + spikes @ w_rec.T
    new_mem = jnp.where(jax.lax.stop_gradient(spikes) > 0, 0.0, LAM_MEM * mem + (1 - LAM_MEM) * syn)
    return (new_syn, new_mem), (spikes, mem)


def _scan(currents, w_rec, theta):
    zeros = jnp.zeros(currents.shape[1:], currents.dtype)
    return jax.lax.scan(lambda s, c: _step(s, c, w_rec, theta), (zeros, zeros), currents)[1]


def recurrent_lif_autodiff(currents, w_rec, theta):
    """Spikes `(T, B, n)` of the recurrent LIF layer given its input currents; plain autodiff."""
    return _scan(currents, w_rec, theta)[0]


@jax.custom_vjp
def recurrent_lif(currents, w_rec, theta):
    """`recurrent_lif_autodiff` with a batch-level backward pass: the recurrent weight's gradient is one
    GEMM after the backward scan instead of a sum of per-step products inside it."""
    return recurrent_lif_autodiff(currents, w_rec, theta)


def _fwd(currents, w_rec, theta):
    spikes, mems = _scan(currents, w_rec, theta)
    return spikes, (spikes > 0, mems, w_rec, theta)


def _bwd(res, g_spikes):
    fired, mems, w_rec, theta = res
    dtype = mems.dtype

    def body(carry, inputs):
        d_syn_next, d_mem_next = carry  # cotangents of I[t+1], U[t+1]
        g, fired_t, mem_t = inputs
        d_mem_keep = jnp.where(fired_t, 0.0, d_mem_next)
        d_spikes = g + d_syn_next @ w_rec  # the readout's and the recurrent current's
        d_drive = d_spikes * _slope(mem_t - theta[None, :])
        d_mem = LAM_MEM * d_mem_keep + d_drive
        d_syn = LAM_SYN * d_syn_next + (1 - LAM_MEM) * d_mem_keep
        return (d_syn, d_mem), (d_syn_next, d_drive)

    zeros = jnp.zeros(g_spikes.shape[1:], dtype)
    _, (d_currents, d_drive) = jax.lax.scan(body, (zeros, zeros), (g_spikes, fired, mems), reverse=True)
    spikes = fired.astype(dtype)
    d_w_rec = jnp.einsum("tbi,tbj->ij", d_currents, spikes)  # one GEMM over all steps and examples
    return d_currents, d_w_rec, -jnp.sum(d_drive, axis=(0, 1))


recurrent_lif.defvjp(_fwd, _bwd)


def _readout(spikes, w_out):
    currents = spikes @ w_out.T

    def body(state, current):
        syn, mem = state
        return (LAM_SYN * syn + current, LAM_MEM * mem + (1 - LAM_MEM) * syn), LAM_MEM * mem + (1 - LAM_MEM) * syn

    zeros = jnp.zeros(currents.shape[1:], currents.dtype)
    return jax.lax.scan(body, (zeros, zeros), currents)[1]


def loss(params, xs, ys, layer=recurrent_lif_autodiff):
    """Cross-entropy of the time-summed readout, batch mean."""
    w_in, w_rec, theta, w_out = params
    spikes = layer(xs @ w_in.T, w_rec, theta)
    logits = jnp.sum(_readout(spikes, w_out), axis=0)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), ys[:, None], axis=1))


def params_and_batch(T, batch, dtype=jnp.float32):
    n_in, n_hid, n_out = SHD_SHAPE
    keys = jr.split(jr.key(0), 4)
    params = (
        jr.normal(keys[0], (n_hid, n_in), dtype) / np.sqrt(n_in) * 4,
        jr.normal(keys[1], (n_hid, n_hid), dtype) / np.sqrt(n_hid),
        jnp.ones((n_hid,), dtype),
        jr.normal(keys[2], (n_out, n_hid), dtype) / np.sqrt(n_hid),
    )
    xs = jr.bernoulli(keys[3], 0.02, (T, batch, n_in)).astype(dtype)  # time-major, as the bench
    return params, xs, jnp.arange(batch) % n_out


def _plain(layer):
    def prepare(T, batch):
        params, xs, ys = params_and_batch(T, batch)
        step = jax.jit(jax.value_and_grad(lambda p, x, y: loss(p, x, y, layer)))
        return prepared(step, params, xs, ys)

    return prepare


WAYS = {
    "GEMM floor": shd_floor,
    "plain JAX": _plain(recurrent_lif_autodiff),
    "plain JAX, W_rec grad after scan": _plain(recurrent_lif),
    "snnsad": shd_snnsad,
}


def main(lengths=(100, 350), batch=64, repeats=5, out="benchmarks/results"):
    rows = []
    for T in lengths:
        row = _side_by_side(WAYS, f"T={T:4d}", (T, batch), repeats)
        rows.append({"T": T, "batch": batch, **{k: row[k] for k in WAYS}, "runs_s": row["runs_s"]})
    lines = [
        f"SHD-shaped recurrent step (700 -> 256 recurrent LIF -> 20 readout, batch {batch}), forward + backward "
        f"({os.cpu_count()} cores, jax {jax.__version__} on {jax.default_backend()}); median ms of interleaved "
        "rounds, ratio to the GEMM floor.",
        "",
        "| T | GEMM floor | plain JAX | plain JAX, W_rec grad after scan | snnsad | snnsad / plain JAX |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        f = r["GEMM floor"]
        cells = [f"{1e3 * r[k]:.1f} ({r[k] / f:.2f}x)" for k in WAYS]
        lines.append(f"| {r['T']} | " + " | ".join(cells) + f" | {r['snnsad'] / r['plain JAX']:.2f} |")
    md = "\n".join(lines) + "\n"
    print("\n" + md)
    atomic_write_text(
        os.path.join(out, "recurrent_lower_bound.json"), json.dumps({**run_info(), "rows": rows}, indent=2)
    )
    atomic_write_text(os.path.join(out, "recurrent_lower_bound.md"), md)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", default="100,350")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(tuple(int(s) for s in args.lengths.split(",")), repeats=args.repeats, out=args.out)
