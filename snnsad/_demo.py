"""``snnsad demo``: every estimator's gradient on one example of a small stochastic SNN, next to the exact gradient."""

import json
import os
import time

import equinox as eqx
import jax
import jax.random as jr
import numpy as np

from ._analysis import gradient_stats, sample_grads
from ._escape import FastSigmoid
from ._estimators import Autodiff, ExactEnumeration, ScoreFunction, StochasticAD
from ._io import atomic_write_text, run_info
from ._nn import weights
from ._spikes import Expected, SmoothedStochastic, Stochastic, Surrogate
from ._zoo import small_problems


def demo_estimators(seed: int = 0, n_samples: int = 2000):
    """Estimators of dE[L]/dtheta on the ``two_hidden_zero`` problem of :func:`small_problems` (18 sites).

    Returns a list of rows: name, the one-sample estimate of the first hidden weights, the mean
    over ``n_samples`` estimates, and its bias/cosine statistics against exact enumeration.
    """
    with jax.enable_x64(True):
        net, x, _loss, y, _ = small_problems()["two_hidden_zero"]
        escape = net.layers[0].spike_fn.escape
        beta = escape.beta
        _, exact = eqx.filter_jit(ExactEnumeration())(_loss, net, x, y)

        def with_spike(fn):
            return eqx.tree_at(lambda n: [layer.spike_fn for layer in n.layers], net, [fn] * len(net.layers))

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
        flat_exact = np.concatenate([np.ravel(v) for v in weights(exact).values()])
        shown = np.argsort(-np.abs(flat_exact))[:4]  # the four largest exact components
        rows = []
        keys = jr.split(jr.key(seed + 2), n_samples)
        for name, estimator, model in runs:
            _, grads = sample_grads(estimator, _loss, model, x, y, keys, chunk_size=500)
            stats = gradient_stats(weights(grads), weights(exact))["all"]
            flat = np.concatenate([np.reshape(v, (n_samples, -1)) for v in weights(grads).values()], axis=1)
            rows.append(
                {
                    "estimator": name,
                    "one_sample": flat[0, shown].tolist(),
                    "mean": flat.mean(0)[shown].tolist(),
                    **stats.as_dict(),
                }
            )
    return rows, flat_exact[shown].tolist()


def run_demo(out_dir: str = "results/demo", seed: int = 0, n_samples: int = 2000) -> dict:
    """Print the estimator table and write it to ``out_dir/demo.json``."""
    start = time.perf_counter()
    print("snnsad demo: gradient estimators on one example of a 2-hidden-layer stochastic LIF network")
    print(
        "(sigmoid escape noise, 6 time steps, 18 stochastic sites; exact gradient by enumerating 2^18 spike patterns)\n"
    )
    rows, exact = demo_estimators(seed=seed, n_samples=n_samples)
    fmt = lambda v: " ".join(f"{a:+.3f}" for a in v)
    print(
        "Four largest components of dE[L]/dW (all weights), one estimate and the mean of "
        f"{n_samples}; statistics over all weights.\n"
    )
    print(
        f"{'estimator':46s} {'one estimate':27s} {'mean of ' + str(n_samples):27s} {'cos(mean)':>9s} {'rel.err':>8s} {'max z':>8s}"
    )
    print(
        f"{'exact enumeration (ground truth)':46s} {fmt(exact):27s} {fmt(exact):27s} {1.0:9.4f} {0.0:8.4f} {0.0:8.2f}"
    )
    for r in rows:
        print(
            f"{r['estimator']:46s} {fmt(r['one_sample']):27s} {fmt(r['mean']):27s} "
            f"{r['cosine_of_mean']:9.4f} {r['relative_error']:8.4f} {r['max_z']:8.2f}"
        )
    print("\nmax z: largest |mean - exact| in standard errors (<= 4 is consistent with an unbiased estimator).")
    print("The deterministic SG is the gradient of a different (deterministic) network: listed for comparison only.")
    result = {
        "seed": seed,
        "n_samples": n_samples,
        "exact_largest_components": exact,
        "rows": rows,
        "seconds": time.perf_counter() - start,
        **run_info(),
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "demo.json")
    atomic_write_text(path, json.dumps(result, indent=2))
    print(f"wrote {path} ({result['seconds']:.1f} s)")
    return result
