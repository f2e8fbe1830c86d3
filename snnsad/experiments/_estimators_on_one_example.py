"""Every estimator's gradient on one example of a small stochastic network, against exact enumeration."""

import equinox as eqx
import jax
import jax.random as jr
import numpy as np

from ..analysis import gradient_stats, sample_grads, small_problems
from ..escape import FastSigmoid, Sigmoid
from ..estimators import Autodiff, ExactEnumeration, ScoreFunction, StochasticAD
from ..nn import parameters
from ..spikes import Expected, SmoothedStochastic, Stochastic, Surrogate
from ._results import pyplot, save


def demo_estimators(seed: int = 0, n_samples: int = 2000):
    """Estimators of dE[L]/dtheta on the `two_hidden_zero` problem of `small_problems` (18 sites).

    Returns a list of rows: name, the one-sample estimate of the four largest exact components, the mean
    over `n_samples` estimates, and its bias/cosine statistics against exact enumeration.
    """
    with jax.enable_x64(True):
        net, x, _loss, y, _ = small_problems()["two_hidden_zero"]
        spike_fn = net.spike_fns[0]
        assert isinstance(spike_fn, Stochastic)
        escape = spike_fn.escape
        assert isinstance(escape, Sigmoid)
        beta = escape.beta
        _, exact = eqx.filter_jit(ExactEnumeration())(_loss, net, x, y)

        with_spike = net.with_spike_fns

        local = [
            ("deterministic SG (SuperSpike; det. network)", with_spike(Surrogate(FastSigmoid(beta)))),
            ("stochastic SG, matched (sigmoid)", net),
            ("stochastic SG, SuperSpike surrogate", with_spike(Stochastic(escape, FastSigmoid(beta)))),
            ("smoothed stochastic AD, two-sided", with_spike(SmoothedStochastic(escape, "two_sided"))),
            ("smoothed stochastic AD, right", with_spike(SmoothedStochastic(escape, "right"))),
            ("smoothed probabilistic model (mean field)", with_spike(Expected(escape))),
        ]
        runs = [(name, Autodiff(), model) for name, model in local]
        runs += [
            ("stochastic AD, 4 coupled flips (unbiased)", StochasticAD(4), net),
            ("score function, 8 samples (unbiased)", ScoreFunction(8), net),
        ]
        flat_exact = np.concatenate([np.ravel(v) for v in parameters(exact).values()])
        shown = np.argsort(-np.abs(flat_exact))[:4]  # the four largest exact components
        rows = []
        keys = jr.split(jr.key(seed + 2), n_samples)
        for name, estimator, model in runs:
            _, grads = sample_grads(estimator, _loss, model, x, y, keys, chunk_size=500)
            stats = gradient_stats(parameters(grads), parameters(exact))["all"]
            flat = np.concatenate([np.reshape(v, (n_samples, -1)) for v in parameters(grads).values()], axis=1)
            rows.append(
                {
                    "estimator": name,
                    "one_sample": flat[0, shown].tolist(),
                    "mean": flat.mean(0)[shown].tolist(),
                    **stats.as_dict(),
                }
            )
    return rows, flat_exact[shown].tolist()


def estimators_on_one_example(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """Every estimator's gradient on one example of a 2-hidden-layer stochastic network, against exact
    enumeration (beyond the paper: the unbiased estimators and the bias of the SGs, side by side)."""
    n = 2000 if quick else 20000
    rows, exact = demo_estimators(seed=seed, n_samples=n)
    report = [
        (
            r["estimator"],
            f"rel. error {r['relative_error']:.3f}, max z {r['max_z']:.1f}, cos {r['cosine_of_mean']:.4f}",
            "unbiased (max z <= 4)" if "unbiased" in r["estimator"] else "biased beyond one layer",
        )
        for r in rows
    ]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh([r["estimator"] for r in rows], [r["relative_error"] for r in rows])
    ax.set_xlabel(f"relative error of the mean of {n} estimates vs exact gradient")
    return save(
        out_dir,
        "estimators",
        {"quick": quick, "seed": seed, "samples": n},
        {"exact_largest_components": exact, "rows": rows},
        report,
        {"estimators.png": fig},
    )
