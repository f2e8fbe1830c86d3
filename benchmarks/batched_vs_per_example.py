"""One backward pass for a batch vs. the mean of per-example gradients.

``snnsad.Batched`` differentiates the batch mean of an estimator's objective in one backward pass
(weight gradients of the whole batch are one GEMM; the batch runs time-major through the scans).
The alternative is to vmap the per-example estimator and average its gradients. Both run side by side here on three network shapes; the
gradients agree to float32 rounding (tests/test_estimators.py checks it in float64).

    python benchmarks/batched_vs_per_example.py [--repeats 5]
"""

import argparse
import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

import snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad._timing import time_jitted
from snnsad.experiments import paper_network
from snnsad.losses import ce_loss

SHAPES = ((20, 128, 15), (700, 256, 20), (20, 128, 128, 128, 15))


def per_example(estimator, net, xs, ys, key):
    """The batch mean of vmapped per-example estimates (one backward pass per example)."""
    values, grads = jax.vmap(lambda x, y, k: estimator(ce_loss, net, x, y, k))(xs, ys, jr.split(key, xs.shape[0]))
    return jnp.mean(values), jax.tree.map(lambda g: jnp.mean(g, axis=0), grads)


def main(repeats: int = 5, n_steps: int = 100, batch: int = 64, out: str = "benchmarks/results"):
    rows = []
    for sizes in SHAPES:
        net = paper_network(sizes, snnsad.Stochastic(snnsad.Sigmoid(10.0)))
        xs = (jr.uniform(jr.key(1), (batch, n_steps, sizes[0])) < 0.02).astype(jnp.float32)
        ys = jnp.arange(batch) % sizes[-1]
        for name, est in (("Autodiff", snnsad.Autodiff()), ("StochasticAD(8)", snnsad.StochasticAD(8))):
            fused = eqx.filter_jit(lambda n, x, y, k, e=est: snnsad.Batched(e)(ce_loss, n, x, y, k))
            per = eqx.filter_jit(lambda n, x, y, k, e=est: per_example(e, n, x, y, k))
            t_fused = time_jitted(fused, net, xs, ys, jr.key(0), repeats=repeats)[1]
            t_per = time_jitted(per, net, xs, ys, jr.key(0), repeats=repeats)[1]
            rows.append(
                {
                    "network": "-".join(map(str, sizes)),
                    "estimator": name,
                    "per_example_ms": t_per * 1e3,
                    "one_backward_ms": t_fused * 1e3,
                    "speedup": t_per / t_fused,
                }
            )
            r = rows[-1]
            print(f"{r['network']:22s} {r['estimator']:24s} per-example {r['per_example_ms']:7.1f} ms, "
                  f"one backward {r['one_backward_ms']:7.1f} ms, x{r['speedup']:.2f}", flush=True)  # fmt: skip
    machine = f"{os.cpu_count()} cores, jax {jax.__version__} on {jax.default_backend()}"
    lines = [
        f"Batched training step, T = {n_steps}, batch {batch} ({machine}); median of {repeats}.",
        "",
        "| network | estimator | per-example gradients (ms) | one backward pass (ms) | speed-up |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['network']} | {r['estimator']} | {r['per_example_ms']:.1f} | {r['one_backward_ms']:.1f} | "
        f"{r['speedup']:.2f}x |"
        for r in rows
    ]
    atomic_write_text(os.path.join(out, "batched_vs_per_example.md"), "\n".join(lines) + "\n")
    atomic_write_text(
        os.path.join(out, "batched_vs_per_example.json"), json.dumps({**run_info(), "rows": rows}, indent=2)
    )
    print("\n".join(lines))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(repeats=args.repeats, out=args.out)
