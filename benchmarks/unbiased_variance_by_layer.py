"""Per-layer variance and cost of every unbiased option on the paper's Randman network (issue: unbiased
gradients that train).

The paper's Randman network (authors' preset data, 20-128-128-128-15 with a leaky readout, sigmoid
escape noise 10, T = 100) at initialisation, one training example: for each unbiased estimator,
`snnsad.analysis.profile_estimators` gives the per-estimate variance of each weight matrix's gradient
over the squared norm of the pooled unbiased mean (the estimates of all the estimators together: every one
estimates the gradient of the same loss, the cross-entropy with the activity regularisers), the mean
cosine of one estimate to it, and the measured cost in forward passes. Options compared: coupled
flips with two-sided and straight-through weights, the weighted and the layer-stratified site
proposal, the score function, the per-layer mix (score function on hidden layer 1, flips after), and
the antithetic block flips (`DisARM`, its ARM weights), and the per-neuron score function with the
layers below the last credited by groups (`LocalScoreFunction(groups=G)`);
`--task calibrated` compares sample and flip counts on the 1-hidden-layer network, and the per-neuron
score function (`LocalScoreFunction`) and `DisARM`.

The last column is the cost the training study's budget is defined on: one training step on a batch
(`--batch`, the study's 250) over the matched stochastic SG's, timed round-robin.

    python benchmarks/unbiased_variance_by_layer.py [--task paper|calibrated] [--estimates 400] [--seed 0] [--batch 250]
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
from snnsad.experiments._randman_calibration import calibrated_loss
from snnsad.experiments._recipes import paper_network
from snnsad.experiments._unbiased_training import TASKS, _step_seconds

NETWORKS = {"paper": "paper 20-128-128-128-15", "calibrated": "calibrated 20-128-10"}


def _options(task: str) -> dict:
    if task == "calibrated":
        st = "straight_through"
        return {
            **{f"ScoreFunction({n})": snnsad.ScoreFunction(n) for n in (2, 3, 4, 8)},
            **{f"StochasticAD({m}), two-sided": snnsad.StochasticAD(m) for m in (4, 8, 16)},
            **{f"StochasticAD({m}), straight-through": snnsad.StochasticAD(m, weighting=st) for m in (8, 16)},
            **{f"LocalScoreFunction({n})": snnsad.LocalScoreFunction(n) for n in (2, 3, 4)},
            **{f"DisARM({m})": snnsad.DisARM(m) for m in (8, 16)},
        }
    return {
        "StochasticAD(8), two-sided, weighted": snnsad.StochasticAD(8),
        "StochasticAD(8), straight-through, weighted": snnsad.StochasticAD(8, weighting="straight_through"),
        "StochasticAD(8), two-sided, stratified": snnsad.StochasticAD(8, proposal="stratified"),
        "StochasticAD(8), straight-through, stratified": snnsad.StochasticAD(
            8, weighting="straight_through", proposal="stratified"
        ),
        "ScoreFunction(8)": snnsad.ScoreFunction(8),
        "mix: score on hidden 1, flips (8) after": snnsad.MixedEstimator(coupled=(1, 2), n_flips=8, n_samples=4),
        "LocalScoreFunction(4)": snnsad.LocalScoreFunction(4),
        "LocalScoreFunction(2), groups 2": snnsad.LocalScoreFunction(2, groups=2),
        "LocalScoreFunction(2), groups 4": snnsad.LocalScoreFunction(2, groups=4),
        "LocalScoreFunction(2), groups 16": snnsad.LocalScoreFunction(2, groups=16),
        "LocalScoreFunction(3), groups 16": snnsad.LocalScoreFunction(3, groups=16),
        "DisARM(8), weighted": snnsad.DisARM(8),
        "DisARM(8), stratified": snnsad.DisARM(8, proposal="stratified"),
        "ARM(8), weighted": snnsad.DisARM(8, variant="arm"),
    }


def main(
    *, task: str = "paper", estimates: int = 400, seed: int = 0, batch: int = 250, out: str = "benchmarks/results"
) -> dict:
    if task not in NETWORKS:
        raise ValueError(f"--task {task!r}: must be one of {list(NETWORKS)}.")
    spec = TASKS[NETWORKS[task]]
    data = snnsad.data.randman(**spec["data"], samples_per_class=20, seed=seed + 1)
    x, y = jnp.asarray(data.x[0]), jnp.asarray(data.y[0])
    sizes = (20, *spec["hidden"], spec["data"]["n_classes"])
    net = paper_network(sizes, snnsad.Stochastic(snnsad.Sigmoid(10.0)), seed=seed)
    options = _options(task)
    loss_fn = calibrated_loss()
    profiles = snnsad.analysis.profile_estimators(
        options, loss_fn, net, x, y, jr.key(seed + 3), n_estimates=estimates, chunk_size=50
    )
    # the cost that the training study's budget is defined on: one training step on a batch of `batch`
    # examples, over the matched stochastic SG's, timed round-robin (a batch vmaps differently from the
    # profile's estimates of one example: the two costs differ)
    per_class = -(-batch // spec["data"]["n_classes"])
    timing = snnsad.data.randman(**spec["data"], samples_per_class=per_class, seed=seed + 1)
    xb, yb = (jnp.asarray(a) for a in timing.batch(list(range(batch))))
    steps = _step_seconds(
        {"matched SG": (net, snnsad.Autodiff()), **{k: (net, est) for k, est in options.items()}}, loss_fn, xb, yb
    )
    names = [k for k in profiles[0].variance if k.endswith("weight")]
    head = (
        "| option | " + " | ".join(names) + " | all | mean cosine | cost (forward passes) "
        f"| training step vs matched SG (batch {len(yb)}) |"
    )
    lines = [head, "|---|" + "---:|" * (len(names) + 4)]
    for p in profiles:
        cells = " | ".join(f"{p.variance[k]:.3g}" for k in names)
        step = steps[p.name] / steps["matched SG"]
        lines.append(f"| {p.name} | {cells} | {p.total:.3g} | {p.cosine:.3f} | {p.cost:.1f} | {step:.2f} |")
    table = "\n".join(lines)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}"
    text = (
        f"Per-estimate variance / squared norm of the pooled unbiased mean, per weight matrix; {NETWORKS[task]} "
        f"Randman network at initialisation, one example, {estimates} estimates per option; {machine}.\n\n{table}\n"
    )
    print(text)
    result = {"task": NETWORKS[task], "estimates": estimates, "seed": seed, "machine": machine, **run_info()}
    result["profiles"] = [p._asdict() for p in profiles]
    result["step_seconds"] = steps
    stem = "unbiased_variance_by_layer" + ("" if task == "paper" else f"_{task}")
    atomic_write_text(os.path.join(out, f"{stem}.json"), json.dumps(result, indent=2, default=float))
    atomic_write_text(os.path.join(out, f"{stem}.md"), text)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="paper", choices=tuple(NETWORKS))
    parser.add_argument("--estimates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=250, help="training batch of the step-cost column")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(task=args.task, estimates=args.estimates, seed=args.seed, batch=args.batch, out=args.out)
