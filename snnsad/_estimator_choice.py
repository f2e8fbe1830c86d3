"""Choosing an unbiased estimator by measurement: per-parameter variance and cost, and the cheapest mix."""

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from ._mixed import MixedEstimator
from ._statistics import sample_grads
from ._trainable import parameters


class EstimatorProfile(NamedTuple):
    """One estimator on one network and batch.

    `variance[name]`: the per-estimate variance of that parameter's gradient, summed over its entries,
    over the squared norm of the reference gradient of the same parameter (1 means one estimate is as
    noisy as the gradient is large). `total`: the same over all parameters. `cost`: seconds per
    estimate over seconds per forward pass of the same samples (forward-pass equivalents, measured).
    `cosine`: mean cosine of one estimate to the reference.
    """

    name: str
    variance: dict[str, float]
    total: float
    cost: float
    cosine: float


def _flat(tree) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float64).reshape(v.shape[0], -1) for k, v in parameters(tree).items()}


def _timed(fn, *args):
    jax.block_until_ready(fn(*args))  # compile
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def profile_estimators(
    estimators: Mapping[str, Callable[..., Any]],
    loss_fn: Callable,
    net,
    x,
    y,
    key: PRNGKeyArray,
    *,
    n_estimates: int = 200,
    reference=None,
    chunk_size: int | None = None,
) -> list[EstimatorProfile]:
    """Variance per parameter, cost and cosine of each estimator, from `n_estimates` independent estimates.

    `reference`: the true gradient (e.g. `ExactEnumeration` on a small network); by default the mean
    of all estimators' estimates pooled (every estimator given here must then be unbiased).
    """
    if not estimators:
        raise ValueError("profile_estimators: `estimators` is empty; pass a dict of name -> estimator.")
    if not isinstance(n_estimates, int) or n_estimates < 2:
        raise ValueError(f"profile_estimators: `n_estimates` must be an int >= 2, got {n_estimates!r}.")
    keys = jr.split(key, n_estimates)
    forward = eqx.filter_jit(lambda n, ks: jax.vmap(lambda k: loss_fn(n(x, key=k), y))(ks))
    t_forward = _timed(forward, net, keys)
    samples, costs = {}, {}
    for name, est in estimators.items():
        run = eqx.filter_jit(lambda n, ks, est=est: sample_grads(est, loss_fn, n, x, y, ks, chunk_size=chunk_size)[1])
        costs[name] = _timed(run, net, keys) / t_forward
        samples[name] = _flat(run(net, keys))
    if reference is None:
        ref = {
            k: np.mean(np.concatenate([s[k] for s in samples.values()]), axis=0) for k in next(iter(samples.values()))
        }
    else:
        ref = {k: np.asarray(v, np.float64).ravel() for k, v in parameters(reference).items()}
    out = []
    for name, s in samples.items():
        var = {k: float(np.sum(np.var(s[k], axis=0, ddof=1)) / max(np.sum(ref[k] ** 2), 1e-300)) for k in s}
        all_s = np.concatenate([s[k] for k in s], axis=1)
        all_r = np.concatenate([ref[k] for k in s])
        total = float(np.sum(np.var(all_s, axis=0, ddof=1)) / max(np.sum(all_r**2), 1e-300))
        norms = np.linalg.norm(all_s, axis=1) * np.linalg.norm(all_r)
        cosine = float(np.mean(np.where(norms > 0, all_s @ all_r / np.where(norms > 0, norms, 1), 0.0)))
        out.append(EstimatorProfile(name, var, total, costs[name], cosine))
    return out


def candidate_mixes(net, *, n_flips: int = 8, n_samples: int = 4) -> dict[str, MixedEstimator]:
    """Every split of the network's stochastic layers into coupled flips and score function."""
    stochastic = [i for i, s in enumerate(net.stochastic) if s]
    if not stochastic:
        raise ValueError("candidate_mixes: the network has no stochastic layer.")
    out = {}
    for r in range(len(stochastic) + 1):
        for coupled in itertools.combinations(stochastic, r):
            name = "flips " + (",".join(map(str, coupled)) if coupled else "none")
            out[name] = MixedEstimator(coupled=coupled, n_flips=n_flips, n_samples=n_samples)
    return out


def propose_mix(
    loss_fn: Callable,
    net,
    x,
    y,
    key: PRNGKeyArray,
    *,
    target: float,
    n_flips: int = 8,
    n_samples: int = 4,
    n_estimates: int = 200,
    reference=None,
    layers: Sequence[int] | None = None,
) -> tuple[MixedEstimator | None, list[EstimatorProfile]]:
    """The cheapest per-layer mix whose total relative variance per estimate is at most `target`.

    Measures every split of the stochastic layers (`candidate_mixes`; `layers` limits which layers may
    use flips) with `profile_estimators`; returns `(best or None, profiles sorted by cost)`. The cost
    that decides is the measured one; variance `v` per estimate falls as `v / k` when `k` estimates are
    averaged, so `cost x variance` ranks mixes for a fixed budget.
    """
    if not (isinstance(target, (int, float)) and target > 0):
        raise ValueError(f"propose_mix: `target` must be a positive relative variance, got {target!r}.")
    mixes = candidate_mixes(net, n_flips=n_flips, n_samples=n_samples)
    if layers is not None:
        mixes = {k: m for k, m in mixes.items() if set(m.coupled) <= set(layers)}
    profiles = profile_estimators(mixes, loss_fn, net, x, y, key, n_estimates=n_estimates, reference=reference)
    profiles.sort(key=lambda p: p.cost)
    for p in profiles:
        if p.total <= target:
            return mixes[p.name], profiles
    return None, profiles
