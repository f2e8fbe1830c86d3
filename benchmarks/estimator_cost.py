"""Cost of each whole-network estimator in forward-pass equivalents (ARCHITECTURE.md section 3).

Claims checked: StochasticAD(n_flips=M) costs at most M + 2 forward passes for M >= 4 (one forward
with its VJP, plus M flipped forwards: the performance target) and M + 3 for M = 1. Everything is timed side by side in one run on the same
machine (every estimator compiled first, then `--repeats` rounds that time each in turn; medians), on
a Randman-sized network (20 -> 128 -> 128 -> 15 readout, T = 100, batch 32).

    python benchmarks/estimator_cost.py [--T 100] [--batch 32] [--repeats 5]
"""

import argparse
import json
import os
import statistics
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

import snnsad
from snnsad._io import atomic_write_text, machine_description, run_info
from snnsad._timing import interleaved_seconds, prepared


def main(*, T: int = 100, batch: int = 32, repeats: int = 5, out: str = "benchmarks/results") -> dict:
    lif = snnsad.LIF.paper()
    net = snnsad.feedforward(
        (20, 128, 128, 15),
        key=jr.key(0),
        spike_fn=snnsad.Stochastic(snnsad.Sigmoid(10.0)),
        neuron=lif,
        init="fluctuation",
        rate=50.0,
    )
    xs = jr.bernoulli(jr.key(1), 0.05, (batch, T, 20)).astype(jnp.float32)
    ys = jnp.arange(batch) % 15
    loss_fn = snnsad.losses.ce_loss

    @eqx.filter_jit
    def forward(net, xs, ys, key):
        keys = jr.split(key, xs.shape[0])
        return jnp.mean(jax.vmap(lambda x, y, k: loss_fn(net(x, key=k), y))(xs, ys, keys))

    def estimate(est):
        @eqx.filter_jit
        def run(net, xs, ys, key):
            return snnsad.Batched(est)(loss_fn, net, xs, ys, key)

        return run

    key = jr.key(2)
    cases = [("Autodiff (surrogate gradient)", snnsad.Autodiff(), 3)]
    cases += [(f"StochasticAD(n_flips={m})", snnsad.StochasticAD(m), m + (3 if m < 4 else 2)) for m in (1, 4, 16)]
    cases += [("ScoreFunction(n_samples=4)", snnsad.ScoreFunction(4), None)]
    cases += [("LocalScoreFunction(n_samples=2)", snnsad.LocalScoreFunction(2), None)]
    runs, compile_s = {"forward pass (reference)": prepared(forward, net, xs, ys, key)}, {}
    for name, est, _ in cases:
        t0 = time.perf_counter()
        runs[name] = prepared(estimate(est), net, xs, ys, key)
        compile_s[name] = time.perf_counter() - t0
    seconds = {name: statistics.median(t) for name, t in interleaved_seconds(runs, repeats).items()}
    t_fwd = seconds["forward pass (reference)"]
    rows = [{"estimator": "forward pass (reference)", "seconds": t_fwd, "forward_equivalents": 1.0, "bound": None}]
    for name, _, bound in cases:
        rows.append(
            {
                "estimator": name,
                "seconds": seconds[name],
                "compile_seconds": compile_s[name] - seconds[name],
                "forward_equivalents": seconds[name] / t_fwd,
                "bound": bound,
            }
        )
    lines = ["| estimator | ms / batch | forward-pass equivalents | claim |", "|---|---:|---:|---|"]
    for r in rows:
        claim = (
            ""
            if r["bound"] is None
            else (f"<= {r['bound']}: " + ("yes" if r["forward_equivalents"] <= r["bound"] else "NO"))
        )
        lines.append(f"| {r['estimator']} | {1e3 * r['seconds']:.1f} | {r['forward_equivalents']:.2f} | {claim} |")
    table = "\n".join(lines)
    machine = machine_description()
    print(f"Estimator cost, network 20-128-128-15, T={T}, batch {batch} ({machine})\n")
    print(table)
    result = {"T": T, "batch": batch, "machine": machine, **run_info(), "rows": rows}
    atomic_write_text(os.path.join(out, "estimator_cost.json"), json.dumps(result, indent=2))
    atomic_write_text(
        os.path.join(out, "estimator_cost.md"), f"Network 20-128-128-15, T={T}, batch {batch}; {machine}.\n\n{table}\n"
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(T=args.T, batch=args.batch, repeats=args.repeats, out=args.out)
    sys.exit(0)
