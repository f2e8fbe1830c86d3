"""Choosing an unbiased estimator by measurement: per-parameter variance and cost, and the cheapest mix."""

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import PRNGKeyArray

from .._checks import check_count
from .._timing import median_seconds
from .._trainable import parameters
from ..estimators._mixed import MixedEstimator
from ._statistics import gradient_stats, sample_grads


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


def _cost(run, *args) -> tuple[Any, float]:
    """`(output, median seconds)` of a jitted `run(*args)`: the first call compiles and gives the output."""
    out = jax.block_until_ready(run(*args))
    return out, median_seconds(lambda: jax.block_until_ready(run(*args)), 3)


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
    check_count("n_estimates", n_estimates, where="profile_estimators", least=2)
    keys = jr.split(key, n_estimates)
    forward = eqx.filter_jit(lambda n, ks: jax.vmap(lambda k: loss_fn(n(x, key=k), y))(ks))
    _, t_forward = _cost(forward, net, keys)
    samples, costs = {}, {}
    for name, est in estimators.items():
        run = eqx.filter_jit(lambda n, ks, est=est: sample_grads(est, loss_fn, n, x, y, ks, chunk_size=chunk_size)[1])
        grads, seconds = _cost(run, net, keys)
        samples[name], costs[name] = parameters(grads), seconds / t_forward
    if reference is None:  # the pooled mean of every estimator's estimates
        ref = jax.tree.map(lambda *s: jnp.mean(jnp.concatenate(s), axis=0), *samples.values())
    else:
        ref = parameters(reference)
    sq_norm = {k: float(jnp.sum(jnp.square(v))) for k, v in ref.items()}
    sq_norm["all"] = sum(sq_norm.values())
    out = []
    for name, s in samples.items():
        stats = gradient_stats(s, ref)  # keyed by the dict paths of `parameters`' names
        leaf = {k: jax.tree_util.keystr((jax.tree_util.DictKey(k),)) for k in ref}
        var = {k: float(stats[leaf[k]].variance) / max(sq_norm[k], 1e-300) for k in ref}
        total = float(stats["all"].variance) / max(sq_norm["all"], 1e-300)
        out.append(EstimatorProfile(name, var, total, costs[name], float(stats["all"].mean_cosine)))
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
