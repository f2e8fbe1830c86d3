"""How close is snnsad to the fastest Linear + LIF step plain JAX can express?

Workload (a) of ``snnsad bench`` (Linear(n -> n) + LIF, batch 16, T = 500, forward + backward of
the summed spikes), timed four ways side by side in interleaved rounds:

- ``GEMM floor``: the forward projection and the weight gradient alone (what ``snnsad bench``
  calls the floor);
- ``floor + scan``: the floor plus, separately jitted, the LIF scan alone (forward + backward,
  currents given): a lower bound for any implementation that keeps the time loop sequential;
- ``plain JAX``: a hand-written step with no library code: one GEMM for all steps, a minimal
  two-state LIF scan (same equations, subtract reset as a boolean select, learnable per-neuron
  threshold, fast-sigmoid surrogate), ``jax.value_and_grad``;
- ``snnsad``: the same step as ``snnsad bench`` runs it.

It answers whether a target like "3x faster than spyx" at n = 512 / 2048 is reachable on the
machine at hand, and how much of snnsad's time is library overhead. A second table times snnsad's
step at ``lax.scan`` unroll factors 1, 2, 4 and 8 (``feedforward(..., unroll=k)``).

    python benchmarks/lif_lower_bound.py [--sizes 512,2048] [--repeats 5]
"""

import argparse
import functools
import json
import os

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from snnsad._cli._bench import _side_by_side, on_floor, on_snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad._timing import prepared

LAM_SYN, LAM_MEM = np.exp(-1 / 5), np.exp(-1 / 20)  # tau_syn 5 ms, tau_mem 20 ms, dt 1 ms (as the bench)


@jax.custom_jvp
def _spike(x):
    return (x > 0).astype(x.dtype)


@_spike.defjvp
def _spike_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _spike(x), dx / (1 + 10 * jnp.abs(x)) ** 2  # fast sigmoid, peak 1


def _lif_scan(currents, theta):
    def body(state, current):
        syn, mem = state
        spikes = _spike(mem - theta)
        new_mem = LAM_MEM * mem + (1 - LAM_MEM) * syn
        new_mem = jnp.where(jax.lax.stop_gradient(spikes) > 0, new_mem - theta, new_mem)
        return (LAM_SYN * syn + current, new_mem), spikes

    zeros = jnp.zeros(currents.shape[1:], currents.dtype)
    return jax.lax.scan(body, (zeros, zeros), currents)[1]


def _inputs(n, T, batch):
    w = jr.normal(jr.key(0), (n, n)) / np.sqrt(n)
    return w, jnp.ones((n,)), jr.uniform(jr.key(1), (T, batch, n))


def plain_jax(n, T, batch):
    w, theta, xs = _inputs(n, T, batch)

    @jax.jit
    def step(params, xs):
        return jax.value_and_grad(lambda p: jnp.sum(_lif_scan(xs @ p[0].T, p[1])))(params)

    return prepared(step, (w, theta), xs)


def floor_plus_scan(n, T, batch):
    floor = on_floor(n, T, batch)
    w, theta, xs = _inputs(n, T, batch)
    scan = prepared(jax.jit(jax.value_and_grad(lambda c, th: jnp.sum(_lif_scan(c, th)), (0, 1))), xs @ w.T, theta)
    return lambda: (floor(), scan())


WAYS = {"GEMM floor": on_floor, "floor + scan": floor_plus_scan, "plain JAX": plain_jax, "snnsad": on_snnsad}
UNROLLS = (1, 2, 4, 8)


def main(sizes=(512, 2048), T=500, batch=16, repeats=5, out="benchmarks/results"):
    rows, unroll_rows = [], []
    for n in sizes:
        row = _side_by_side(WAYS, f"n={n:5d}", (n, T, batch), repeats)
        rows.append({"n": n, "T": T, "batch": batch, **{k: row[k] for k in WAYS}, "runs_s": row["runs_s"]})
    ways = {f"unroll={u}": functools.partial(on_snnsad, unroll=u) for u in UNROLLS}
    for n in sizes:
        row = _side_by_side(ways, f"n={n:5d}", (n, T, batch), repeats)
        unroll_rows.append({"n": n, **{k: row[k] for k in ways}, "runs_s": row["runs_s"]})
    info = run_info()
    lines = [
        f"Linear(n -> n) + LIF, batch {batch}, T = {T}, forward + backward ({os.cpu_count()} cores, jax "
        f"{jax.__version__} on {jax.default_backend()}); median ms of interleaved rounds, ratio to the GEMM floor.",
        "",
        "| n | GEMM floor | floor + scan | plain JAX | snnsad | snnsad / plain JAX |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        f = r["GEMM floor"]
        cells = [f"{1e3 * r[k]:.1f} ({r[k] / f:.2f}x)" for k in WAYS]
        lines.append(f"| {r['n']} | " + " | ".join(cells) + f" | {r['snnsad'] / r['plain JAX']:.2f} |")
    lines += ["", "snnsad's step by `lax.scan` unroll factor (median ms)", ""]
    lines += ["| n | " + " | ".join(f"unroll {u}" for u in UNROLLS) + " |", "|---:|" + "---:|" * len(UNROLLS)]
    for r in unroll_rows:
        lines.append(f"| {r['n']} | " + " | ".join(f"{1e3 * r[f'unroll={u}']:.1f}" for u in UNROLLS) + " |")
    md = "\n".join(lines) + "\n"
    print("\n" + md)
    atomic_write_text(
        os.path.join(out, "lif_lower_bound.json"), json.dumps({**info, "rows": rows, "unroll": unroll_rows}, indent=2)
    )
    atomic_write_text(os.path.join(out, "lif_lower_bound.md"), md)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="512,2048")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(tuple(int(s) for s in args.sizes.split(",")), repeats=args.repeats, out=args.out)
