"""Per-layer variance and cost of every unbiased option on the paper's Randman network (issue: unbiased
gradients that train).

The paper's Randman network (authors' preset data, 20-128-128-128-15 with a leaky readout, sigmoid
escape noise 10, T = 100) at initialisation, one training example: for each unbiased estimator,
`snnsad.analysis.profile_estimators` gives the per-estimate variance of each weight matrix's gradient
over the squared norm of the pooled unbiased mean (all estimators' estimates together), the mean
cosine of one estimate to it, and the measured cost in forward passes. Options compared: coupled
flips with two-sided and straight-through weights, the weighted and the layer-stratified site
proposal, the score function, and the per-layer mix (score function on hidden layer 1, flips after).

    python benchmarks/unbiased_variance_by_layer.py [--estimates 400] [--seed 0]
"""

import argparse
import json
import os
import platform

import jax
import jax.numpy as jnp
import jax.random as jr

import snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad.experiments._recipes import paper_network
from snnsad.experiments._unbiased_training import AUTHORS_RANDMAN, _loss_fn


def main(*, estimates: int = 400, seed: int = 0, out: str = "benchmarks/results") -> dict:
    data = snnsad.data.randman(**AUTHORS_RANDMAN, samples_per_class=20, seed=seed + 1)
    x, y = jnp.asarray(data.x[0]), jnp.asarray(data.y[0])
    net = paper_network((20, 128, 128, 128, 15), snnsad.Stochastic(snnsad.Sigmoid(10.0)), seed=seed)
    options = {
        "StochasticAD(8), two-sided, weighted": snnsad.StochasticAD(8),
        "StochasticAD(8), straight-through, weighted": snnsad.StochasticAD(8, weighting="straight_through"),
        "StochasticAD(8), two-sided, stratified": snnsad.StochasticAD(8, proposal="stratified"),
        "StochasticAD(8), straight-through, stratified": snnsad.StochasticAD(
            8, weighting="straight_through", proposal="stratified"
        ),
        "ScoreFunction(8)": snnsad.ScoreFunction(8),
        "mix: score on hidden 1, flips (8) after": snnsad.MixedEstimator(coupled=(1, 2), n_flips=8, n_samples=4),
    }
    loss_fn = _loss_fn()
    profiles = snnsad.analysis.profile_estimators(
        options, loss_fn, net, x, y, jr.key(seed + 3), n_estimates=estimates, chunk_size=50
    )
    names = [k for k in profiles[0].variance if k.endswith("weight")]
    head = "| option | " + " | ".join(names) + " | all | mean cosine | cost (forward passes) |"
    lines = [head, "|---|" + "---:|" * (len(names) + 3)]
    for p in profiles:
        cells = " | ".join(f"{p.variance[k]:.3g}" for k in names)
        lines.append(f"| {p.name} | {cells} | {p.total:.3g} | {p.cosine:.3f} | {p.cost:.1f} |")
    table = "\n".join(lines)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}"
    text = (
        f"Per-estimate variance / squared norm of the pooled unbiased mean, per weight matrix; paper's Randman "
        f"network at initialisation, one example, {estimates} estimates per option; {machine}.\n\n{table}\n"
    )
    print(text)
    result = {"estimates": estimates, "seed": seed, "machine": machine, **run_info()}
    result["profiles"] = [p._asdict() for p in profiles]
    atomic_write_text(os.path.join(out, "unbiased_variance_by_layer.json"), json.dumps(result, indent=2, default=float))
    atomic_write_text(os.path.join(out, "unbiased_variance_by_layer.md"), text)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(estimates=args.estimates, seed=args.seed, out=args.out)
