"""Layer by layer, how the surrogate gradient relates to the true gradient on a deep network (issue: unbiased
gradients that train).

The paper's Randman network (authors' preset data, 20-128-128-128-15 with a leaky readout, sigmoid
escape noise 10, T = 100) at initialisation, one batch. The true gradient dE[L]/dtheta of the
stochastic network is the mean of `--reference` unbiased `ScoreFunction(8)` estimates of the batch
gradient; the matched stochastic SG's mean comes from `--sg` estimates. Per weight matrix:

- cosine of the SG's mean to the true gradient, with a standard error from 8 disjoint blocks of
  reference estimates (the spread of the cosine to each block's mean, over sqrt(8));
- norm ratio ||E[SG]|| / ||g||, with ||g||^2 estimated without the noise of the finite mean:
  ||mean||^2 - tr(Cov) / N (unbiased for ||g||^2);
- the same for the deterministic SG (fast sigmoid 10) of the noise-free network with the same weights:
  the gradient of a different, deterministic network, shown beside it for scale.

`--task calibrated` measures the calibrated Randman network (Zenke-lab standard data, 20-128-10)
instead. Writes `surrogate_bias_by_layer[_calibrated].{json,md,png}`.

    python benchmarks/surrogate_bias_by_layer.py [--task paper|calibrated] [--reference 400] [--sg 200] [--batch 64]
"""

import argparse
import json
import os
import platform

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad.experiments._randman_calibration import calibrated_loss
from snnsad.experiments._recipes import paper_network
from snnsad.experiments._results import pyplot
from snnsad.experiments._unbiased_training import TASKS

BLOCKS = 8
NETWORKS = {"paper": "paper 20-128-128-128-15", "calibrated": "calibrated 20-128-10"}


def _flat_by_leaf(tree) -> dict[str, np.ndarray]:
    """Leaf path -> estimates flattened to (N, size)."""
    return {
        jax.tree_util.keystr(path): np.asarray(leaf, np.float64).reshape(leaf.shape[0], -1)
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    }


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def layer_table(reference: dict[str, np.ndarray], estimates: dict[str, np.ndarray]) -> list[dict]:
    """Per weight matrix: cosine (with its block standard error) and norm ratio of `estimates`' mean to the
    reference mean; `||g||^2` is the reference mean's squared norm minus the trace of its covariance / N."""
    rows = []
    for name, ref in reference.items():
        if not name.endswith("weight"):
            continue
        n = ref.shape[0]
        g = ref.mean(0)
        g_sq = float(g @ g - ref.var(0, ddof=1).sum() / n)
        est = estimates[name].mean(0)
        blocks = [_cos(est, b.mean(0)) for b in np.array_split(ref, BLOCKS)]
        rows.append(
            {
                "weight": name,
                "cosine": _cos(est, g),
                "cosine_block_se": float(np.std(blocks, ddof=1) / np.sqrt(BLOCKS)),
                "norm_ratio": float(np.linalg.norm(est) / np.sqrt(max(g_sq, 1e-300))),
                "true_norm_sq_over_noise": float(g_sq / (ref.var(0, ddof=1).sum() / n)),
            }
        )
    return rows


def main(
    *, task="paper", reference: int = 400, sg: int = 200, batch: int = 64, seed: int = 0, out="benchmarks/results"
):
    if task not in NETWORKS:
        raise ValueError(f"--task {task!r}: must be one of {list(NETWORKS)}.")
    spec = TASKS[NETWORKS[task]]
    n_classes = spec["data"]["n_classes"]
    data = snnsad.data.randman(**spec["data"], samples_per_class=max(20, -(-batch // n_classes)), seed=seed + 1)
    x, y = jnp.asarray(data.x[:batch]), jnp.asarray(data.y[:batch])
    loss_fn = calibrated_loss()
    sizes = (20, *spec["hidden"], n_classes)
    stochastic = paper_network(sizes, snnsad.Stochastic(snnsad.Sigmoid(10.0)), seed=seed)
    deterministic = paper_network(sizes, snnsad.Surrogate(snnsad.FastSigmoid(10.0), scale=1.0), seed=seed)

    def weights(net):
        return (*(layer.weight for layer in net.layers), net.readout.weight)

    deterministic = eqx.tree_at(weights, deterministic, weights(stochastic))  # same weights, deterministic spikes
    key_ref, key_sg = jr.split(jr.key(seed + 3))

    def estimates(estimator, net, key, n):
        _, grads = snnsad.sample_grads(snnsad.Batched(estimator), loss_fn, net, x, y, jr.split(key, n), chunk_size=8)
        return _flat_by_leaf(grads)

    ref = estimates(snnsad.ScoreFunction(8), stochastic, key_ref, reference)
    sg_rows = layer_table(ref, estimates(snnsad.Autodiff(), stochastic, key_sg, sg))
    det = _flat_by_leaf(
        jax.tree.map(lambda a: a[None], snnsad.Batched(snnsad.Autodiff())(loss_fn, deterministic, x, y)[1])
    )
    det_rows = layer_table(ref, det)
    lines = [
        "| weight | matched SG: cosine to the true gradient | matched SG: norm / true norm "
        "| deterministic SG: cosine | deterministic SG: norm / true norm | true norm^2 / noise of the reference |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s, d in zip(sg_rows, det_rows):
        lines.append(
            f"| {s['weight']} | {s['cosine']:.3f} +- {s['cosine_block_se']:.3f} | {s['norm_ratio']:.2f} "
            f"| {d['cosine']:.3f} +- {d['cosine_block_se']:.3f} | {d['norm_ratio']:.2f} "
            f"| {s['true_norm_sq_over_noise']:.0f} |"
        )
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}"
    text = (
        f"Surrogate gradients against the true gradient of the stochastic network, per weight matrix; "
        f"{NETWORKS[task]} Randman network at initialisation, one batch of {batch}; true gradient: mean of {reference} "
        f"ScoreFunction(8) estimates; matched SG: mean of {sg} estimates; {machine}.\n\n" + "\n".join(lines) + "\n"
    )
    print(text)
    result = {
        "task": NETWORKS[task],
        "reference": reference,
        "sg": sg,
        "batch": batch,
        "seed": seed,
        "machine": machine,
        **run_info(),
    }
    result.update(matched_sg=sg_rows, deterministic_sg=det_rows)
    stem = "surrogate_bias_by_layer" + ("" if task == "paper" else f"_{task}")
    atomic_write_text(os.path.join(out, f"{stem}.json"), json.dumps(result, indent=2))
    atomic_write_text(os.path.join(out, f"{stem}.md"), text)
    _figure(sg_rows, det_rows).savefig(os.path.join(out, f"{stem}.png"), dpi=120)
    return result


def _figure(sg_rows, det_rows):
    plt = pyplot()
    fig, (ax_n, ax_c) = plt.subplots(1, 2, figsize=(8, 3))
    labels = [f"hidden {i + 1}" for i in range(len(sg_rows) - 1)] + ["readout"]
    at = np.arange(len(sg_rows))
    for shift, rows, name in ((-0.2, sg_rows, "matched SG"), (0.2, det_rows, "deterministic SG")):
        ax_n.bar(at + shift, [r["norm_ratio"] for r in rows], 0.4, label=name)
        ax_c.errorbar(at + shift, [r["cosine"] for r in rows], [2 * r["cosine_block_se"] for r in rows], fmt="o",
                      label=name)  # fmt: skip
    ax_n.axhline(1.0, color="k", lw=0.8)
    ax_n.set(xticks=at, xticklabels=labels, yscale="log", ylabel="||SG|| / ||true gradient||")
    ax_c.set(xticks=at, xticklabels=labels, ylim=(0, 1.05), ylabel="cosine to the true gradient")
    ax_n.legend(fontsize=7)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="paper", choices=tuple(NETWORKS))
    parser.add_argument("--reference", type=int, default=400)
    parser.add_argument("--sg", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(task=args.task, reference=args.reference, sg=args.sg, batch=args.batch, seed=args.seed, out=args.out)
