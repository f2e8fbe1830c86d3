"""Why the surrogate's scale matters and its shape does not, measured against exact ground truth.

For each surrogate shape and steepness `beta` the *matched* escape-noise network (escape function
`F` = the shape's cdf at that `beta`, i.e. the network whose smoothed stochastic derivative the
surrogate is) gets its true gradient `dE[L]/dtheta` by `ExactEnumeration` (float64). Beside it:

- the stochastic SG (forward with the escape noise, backward `F'`), its mean over `n_sg` samples:
  at the native scale (peak `F'(0)`) and rescaled to peak 1 (Zenke & Vogels' normalisation);
- the deterministic SG (forward `H`, backward `F'`) of the same weights, at both scales.

Per estimator: the cosine of its mean to the true gradient and its relative bias
`||E[g_hat] - g|| / ||g||`, over all parameters (`cosine`, `relative_bias`: what plain gradient descent
follows; the readout's gradient involves no surrogate, so a surrogate's scale sets the balance between
it and the spiking layers') and over the spiking layers' parameters alone (`cosine_spiking`,
`relative_bias_spiking`: the direction within the layers the surrogate acts on). The networks are the small problems of `snnsad.analysis`
(`small_problems`, weights from `seeds`): one hidden layer with a differentiated subtractive reset,
two hidden layers, a recurrent layer. The error band of a curve is the standard error over networks.
"""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..analysis import gradient_stats, sample_grads, small_problems
from ..escape import AbstractEscape, Arctan, FastSigmoid, Sigmoid, Triangle
from ..estimators import Autodiff, ExactEnumeration
from ..spikes import Stochastic, Surrogate
from ..train import progress_bar

SHAPES = {
    "FastSigmoid": FastSigmoid,  # SuperSpike: 1 / (1 + beta |x|)^2 at peak 1
    "Sigmoid": Sigmoid,  # sigma'(beta x) / sigma'(0) at peak 1
    "Triangle": lambda beta: Triangle(1.0 / beta),  # max(0, 1 - beta |x|) at peak 1 (Esser et al.)
    "Arctan": Arctan,  # 1 / (1 + (beta x)^2) at peak 1
}
"""Surrogate shapes of Zenke & Vogels (2021), each as an escape function of steepness `beta`.

At peak 1 every shape is `sigma'(beta x)` with `sigma'(0) = 1`, their convention. At its native scale
the surrogate is the escape density `F'`, which integrates to 1 and converges to the derivative of
the Heaviside step as `beta` grows (peaks `beta / 2`, `beta / 4`, `beta`, `beta / pi`)."""

PROBLEMS = ("one_hidden_subtract", "two_hidden_zero", "recurrent_leak")
MIN_TRUE_NORM = 1e-12


def escape(shape: str, beta: float) -> AbstractEscape:
    """The escape function of `shape` (a key of `SHAPES`) at steepness `beta`."""
    if shape not in SHAPES:
        raise ValueError(f"escape: `shape` must be one of {list(SHAPES)}, got {shape!r}.")
    if not beta > 0:
        raise ValueError(f"escape: `beta` must be positive, got {beta!r}.")
    return SHAPES[shape](float(beta))


def _spike_fns(esc: AbstractEscape) -> dict:
    return {
        "stochastic SG": Stochastic(esc),
        "stochastic SG, peak 1": Stochastic(esc, esc, scale=1.0),
        "deterministic SG": Surrogate(esc),
        "deterministic SG, peak 1": Surrogate(esc, scale=1.0),
    }


def _norm(tree) -> float:
    return float(jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(tree))))


@eqx.filter_jit
def _exact(loss_fn, net, x, y):
    return ExactEnumeration()(loss_fn, net, x, y)[1]


@eqx.filter_jit
def _deterministic(loss_fn, net, x, y):
    return Autodiff()(loss_fn, net, x, y)[1]


def surrogate_vs_exact(
    shapes=tuple(SHAPES), betas=(0.3, 1, 3, 10, 30, 100), *, seeds=(11, 12, 13), problems=PROBLEMS, n_sg=2000, seed=0
) -> list[dict]:
    """One row per (shape, beta, network, estimator): cosine and relative bias to the exact gradient, over all
    parameters and over the spiking layers' (module docstring).

    Runs in float64 (it enables x64 for its own duration). `n_sg` stochastic-SG samples per cell; the
    deterministic SGs are single evaluations.
    """
    rows = []
    cells = list(itertools.product(seeds, problems, shapes, betas))
    with jax.enable_x64(True):
        problem_sets = {s: small_problems(seed=s) for s in seeds}
        for s, name, shape, beta in progress_bar(cells, "surrogate vs exact"):
            p = problem_sets[s][name]
            esc = escape(shape, beta)
            true = _exact(p.loss_fn, p.net.with_spike_fns(Stochastic(esc)), p.x, p.y)
            # A vanishing true gradient of the spiking layers (no site within reach of the threshold: exactly 0
            # for the triangle, below 1e-12 for steep sigmoids) has no direction to compare with.
            true_norm, true_norm_spiking = _norm(true), _norm(true.layers)
            ok = true_norm_spiking > MIN_TRUE_NORM
            keys = jr.split(jr.fold_in(jr.key(seed), s), n_sg)
            for est_name, fn in _spike_fns(esc).items():
                net = p.net.with_spike_fns(fn)
                if fn.stochastic:
                    samples = sample_grads(Autodiff(), p.loss_fn, net, p.x, p.y, keys, chunk_size=500)[1]
                else:
                    samples = jax.tree.map(lambda a: a[None], _deterministic(p.loss_fn, net, p.x, p.y))
                row = dict(shape=shape, beta=float(beta), seed=s, problem=name, estimator=est_name,
                           true_norm=true_norm, true_norm_spiking=true_norm_spiking)  # fmt: skip
                for suffix, est, ref in (("", samples, true), ("_spiking", samples.layers, true.layers)):
                    stats = gradient_stats(est, ref)["all"]
                    row["cosine" + suffix] = float(stats.cosine_of_mean) if ok else float("nan")
                    row["relative_bias" + suffix] = float(stats.relative_error) if ok else float("nan")
                rows.append(row)
    return rows


def summarise(rows: list[dict], key: str = "cosine") -> dict:
    """`estimator -> shape -> (betas, mean, standard error, count)` of `key` over the networks with a nonzero true
    gradient."""
    out: dict = {}
    for est in dict.fromkeys(r["estimator"] for r in rows):
        for shape in dict.fromkeys(r["shape"] for r in rows):
            sel = [r for r in rows if r["estimator"] == est and r["shape"] == shape]
            betas = sorted({r["beta"] for r in sel})
            vals = [np.array([r[key] for r in sel if r["beta"] == b]) for b in betas]
            vals = [v[np.isfinite(v)] for v in vals]  # networks whose true gradient vanished are left out
            out.setdefault(est, {})[shape] = (
                betas,
                [float(v.mean()) if len(v) else float("nan") for v in vals],
                [float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0 for v in vals],
                [len(v) for v in vals],
            )
    return out


def diagnostics_figure(rows: list[dict], plt):
    """Cosine to the true gradient vs beta, one curve per shape (band: standard error over networks), per estimator;
    top row over all parameters, bottom row over the spiking layers'."""
    n = len(dict.fromkeys(r["estimator"] for r in rows))
    fig, axes = plt.subplots(2, n, figsize=(3.3 * n, 5.6), sharey=True, squeeze=False)
    for i, (key, what) in enumerate((("cosine", "all parameters"), ("cosine_spiking", "spiking layers"))):
        for ax, (est, by_shape) in zip(axes[i], summarise(rows, key).items()):
            for shape, (betas, mean, se, _) in by_shape.items():
                m, e = np.array(mean), np.array(se)
                ax.plot(betas, m, marker="o", ms=3, label=shape)
                ax.fill_between(betas, m - e, m + e, alpha=0.25)
            ax.set(xscale="log", xlabel="steepness beta", title=f"{est}\n({what})", ylim=(-0.2, 1.02))
            ax.axhline(0, color="k", lw=0.5)
        axes[i, 0].set_ylabel("cosine of the mean to dE[L]/dtheta")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
