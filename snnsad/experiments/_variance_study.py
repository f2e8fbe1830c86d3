"""Bias, variance and cosine of every estimator against exact enumeration, as functions of steepness and depth."""

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..analysis import gradient_stats, sample_grads
from ..escape import Sigmoid
from ..estimators import Autodiff, ExactEnumeration, ScoreFunction, StochasticAD
from ..losses import ce_loss
from ..neurons import Perceptron
from ..nn import feedforward, parameters
from ..spikes import Expected, Stochastic, Surrogate
from ..train import atomic_write_text, progress_bar
from ._results import pyplot, save

_SWEEPS = {
    "escape steepness beta (matched SG)": ("beta", (0.5, 1.0, 2.0, 4.0, 8.0)),
    "surrogate steepness beta_SG (beta = 2)": ("beta_sg", (0.5, 1.0, 2.0, 4.0, 8.0)),
    "depth (hidden layers, beta = 2)": ("depth", (1, 2, 3)),
}


def _study_net(depth, beta, beta_sg, seed, n_steps=3):
    """A `3 - 2 x depth - 2` net of stochastic binary neurons (memoryless: the LIF's short-time limit,
    so no layer waits for its input) with a leaky readout, float64, T = 3: at most 18 stochastic sites,
    so exact enumeration is cheap; weights and input fixed by `seed`."""
    net = feedforward(
        (3, *(2,) * depth, 2),
        key=jr.key(seed),
        spike_fn=Stochastic(Sigmoid(beta), Sigmoid(beta_sg)),
        neuron=Perceptron(0.5),
        gain=2.0,
        dtype=jnp.float64,
    )
    return net, 2 * jr.uniform(jr.key(seed + 1), (n_steps, 3), jnp.float64)


def variance_study(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """Beyond the paper: bias, variance and cosine to the exact gradient of every estimator as functions
    of escape steepness, surrogate steepness and depth (small nets, exact enumeration as ground truth)."""
    n = 2000 if quick else 20000
    y = jnp.asarray(1)

    def respike(net, make):
        return net.with_spike_fns([make(fn) for fn in net.spike_fns])

    estimators = {  # name -> (how to turn the stochastic net into the estimator's model, estimator)
        "deterministic SG": (lambda f: Surrogate(f.surrogate), Autodiff()),
        "stochastic SG": (lambda f: f, Autodiff()),
        "smoothed probabilistic model": (lambda f: Expected(f.escape), Autodiff()),
        "StochasticAD(4)": (lambda f: f, StochasticAD(4)),
        "ScoreFunction(8)": (lambda f: f, ScoreFunction(8)),
    }
    rows = []
    points = [(sweep, var, v) for sweep, (var, values) in _SWEEPS.items() for v in values]
    with jax.enable_x64(True):
        for sweep, var, value in progress_bar(points, "variance study"):
            setting = {"beta": 2.0, "beta_sg": None, "depth": 2, var: value}
            beta, depth = float(setting["beta"]), int(setting["depth"])
            beta_sg = beta if setting["beta_sg"] is None else float(setting["beta_sg"])
            net, x = _study_net(depth, beta, beta_sg, seed + 7)
            _, exact = eqx.filter_jit(ExactEnumeration())(ce_loss, net, x, y)
            ref = parameters(exact)
            ref_sq = float(sum(jnp.sum(jnp.square(v)) for v in ref.values()))
            keys = jr.split(jr.fold_in(jr.key(seed), len(rows)), n)
            for name, (make, est) in estimators.items():
                _, grads = sample_grads(est, ce_loss, respike(net, make), x, y, keys, chunk_size=500)
                st = gradient_stats(parameters(grads), ref)["all"]
                random = float(st.variance) > 1e-20 * ref_sq  # a z-score means nothing for a fixed estimate
                rows.append(
                    {
                        "sweep": sweep,
                        "variable": var,
                        "value": value,
                        "beta": beta,
                        "beta_sg": beta_sg,
                        "depth": depth,
                        "estimator": name,
                        "relative_bias": float(st.relative_error),
                        "bias_z": float(st.max_z) if random else None,
                        # ||mean - g|| in units of its standard error sqrt(tr Cov / N): about 1 when unbiased
                        "bias_over_se": float(st.bias_norm) / (float(st.variance) / n) ** 0.5 if random else None,
                        "relative_variance": float(st.variance) / ref_sq,
                        "mean_cosine": float(st.mean_cosine),
                        "cosine_of_mean": float(st.cosine_of_mean),
                    }
                )
    plt = pyplot()
    metrics = [("relative_bias", "||E[g^] - g|| / ||g||"), ("relative_variance", "tr Cov(g^) / ||g||^2"),
               ("mean_cosine", "E cos(g^, g)")]  # fmt: skip
    fig, axes = plt.subplots(len(metrics), len(_SWEEPS), figsize=(13, 9), squeeze=False)
    for j, sweep in enumerate(_SWEEPS):
        for i, (metric, label) in enumerate(metrics):
            ax = axes[i, j]
            for name in estimators:
                pts = [(r["value"], r[metric]) for r in rows if r["sweep"] == sweep and r["estimator"] == name]
                ax.plot(*zip(*pts), "o-", label=name)
            if metric != "mean_cosine":
                ax.set_yscale("symlog", linthresh=1e-3)
            if _SWEEPS[sweep][0] == "depth":
                ax.set_xticks(_SWEEPS[sweep][1])
            else:
                ax.set_xscale("log", base=2)
            ax.set_ylabel(label, fontsize=8)
            if i == 0:
                ax.set_title(f"{'abc'[j]}  {sweep}", loc="left", fontsize=9)
            if i == len(metrics) - 1:
                ax.set_xlabel(_SWEEPS[sweep][0], fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    table = [
        f"{n} estimates per row; `-`: a deterministic estimate (no spread). bias/SE = ||mean - g|| / sqrt(tr Cov / N),"
        " about 1 for an unbiased estimator; max z: the largest per-component |mean - g| / SE.",
        "",
        "| sweep | value | estimator | rel. bias | bias/SE | max z | rel. variance | mean cos | cos of mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['sweep']} | {r['value']} | {r['estimator']} | {r['relative_bias']:.3f} | {fmt(r['bias_over_se'], '.1f')}"
        f" | {fmt(r['bias_z'], '.1f')} | {r['relative_variance']:.3g} | {r['mean_cosine']:.3f} | {r['cosine_of_mean']:.4f} |"
        for r in rows
    ]
    folder = os.path.join(out_dir, "variance_study")
    os.makedirs(folder, exist_ok=True)
    atomic_write_text(os.path.join(folder, "table.md"), "\n".join(table) + "\n")

    def worst(name, key, max_beta=np.inf):
        values = [r[key] for r in rows if r["estimator"] == name and r["beta"] <= max_beta and r[key] is not None]
        return max(values) if values else float("nan")

    steep = max(_SWEEPS["escape steepness beta (matched SG)"][1])
    at_steep = {r["estimator"]: r for r in rows if r["variable"] == "beta" and r["value"] == steep}
    report = [
        (
            "unbiased estimators: largest bias/SE over the settings with beta <= 4 (StochasticAD / ScoreFunction)",
            f"{worst('StochasticAD(4)', 'bias_over_se', 4):.1f} / {worst('ScoreFunction(8)', 'bias_over_se', 4):.1f}",
            "no such study (about 1 expected when unbiased)",
        ),
        (
            "stochastic SG: largest bias/SE; largest relative bias of stochastic SG / deterministic SG / "
            "smoothed probabilistic model",
            f"{worst('stochastic SG', 'bias_over_se'):.1f}; {worst('stochastic SG', 'relative_bias'):.2f} / "
            f"{worst('deterministic SG', 'relative_bias'):.2f} / {worst('smoothed probabilistic model', 'relative_bias'):.2f}",
            "SGs are biased (they are not gradients of the expected loss)",
        ),
        (
            f"beta = {steep} (nearly deterministic): relative error of the mean, StochasticAD / ScoreFunction",
            f"{at_steep['StochasticAD(4)']['relative_bias']:.2f} / {at_steep['ScoreFunction(8)']['relative_bias']:.2f}",
            "the gradient lives in rare events that most of the samples miss",
        ),
        ("full table", f"[table.md](variance_study/table.md) ({len(rows)} rows, {n} estimates each)", "-"),
    ]
    config = {"quick": quick, "seed": seed, "estimates": n, "sweeps": {k: list(v[1]) for k, v in _SWEEPS.items()},
              "network": "3 - 2 x depth - 2 stochastic binary neurons (threshold 0.5) + leaky readout, T = 3, "
                         "gain 2, float64, cross-entropy of the time-summed readout"}  # fmt: skip
    return save(out_dir, "variance_study", config, {"rows": rows}, report, {"variance_study.png": fig})
