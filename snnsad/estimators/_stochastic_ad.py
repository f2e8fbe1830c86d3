"""Unbiased stochastic AD by coupled spike flips (the math: docs/theory.md, `StochasticAD`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._checks import check_choice, check_count
from .._custom_types import Proposal, Weighting
from ._base import AbstractNetworkEstimator, map_in_chunks, require_key, require_stochastic


class StochasticAD(AbstractNetworkEstimator):
    r"""Unbiased stochastic AD by coupled spike flips (the math: docs/theory.md, `StochasticAD`).

    $$
    \frac{dE[L]}{d\theta} = E\Big[\frac{\partial L}{\partial\theta}\Big|_{s}
        + \sum_n \frac{\partial p_n}{\partial\theta}\Big|_{s}\, w_n D_n\Big]
    $$

    `D_n = L(s_n = 1) - L(s_n = 0)`: the loss difference when site `n`'s spike is flipped and
    every later spike is re-simulated with the same noise. `w_n` is the smoothing weight
    (`weighting="two_sided"`: `1/(2(1-p_n))` for `s_n = 0`, `1/(2 p_n)` for `s_n = 1`;
    `"right"`/`"left"` flip only silent/firing sites at full weight; `"straight_through"`: `w_n = 1`
    in both states). Any weight whose mean over site `n`'s own noise is 1 keeps the estimator
    unbiased, because `D_n` evaluates both values of `s_n` with the same noise everywhere else and so
    does not depend on that site's own draw: `E[w_n | rest] D_n = D_n`. With
    `dp_n/dtheta = F'(x_n) dx_n/dtheta` and `M = n_flips` sites drawn from `q_n` (`proposal=
    "weighted"`: `q_n = r_n / R`, `r_n = F'(x_n) w_n`; `"uniform"`: uniform over sites with
    `r_n > 0`; `"stratified"`: `M / L` draws in each of the `L` stochastic layers, each `q_n = r_n /
    R_l` within its layer, so every layer's sites are flipped however small its share of `R`), all
    parameters come from one vector-Jacobian product of the teacher-forced run:

        g = grad [ L(theta; s fixed) + sum_n stop_gradient(c_n) x_n(theta; s fixed) ],
        c_n = sum_{m: n_m = n} r_n D_{n_m} / (M q_n)

    `n_flips="all"` flips every site once (no sampling; cost grows with the number of sites).
    Unbiased for every network of this toolkit; cost within `M + 2` forward passes for `M >= 4` (one
    forward with its VJP, plus `M` flipped forwards, vmapped in chunks of `chunk_size`;
    `benchmarks/estimator_cost.py`).
    """

    n_flips: int | str = eqx.field(static=True, default=8)
    weighting: Weighting = eqx.field(static=True, default="two_sided")
    proposal: Proposal = eqx.field(static=True, default="weighted")
    chunk_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        where = "StochasticAD"
        if self.n_flips != "all":
            check_count("n_flips", self.n_flips, where=where, why=" (or 'all')")
        check_count("chunk_size", self.chunk_size, where=where, optional=True)
        check_choice("weighting", self.weighting, ("two_sided", "right", "left", "straight_through"), where=where)
        check_choice("proposal", self.proposal, ("weighted", "uniform", "stratified"), where=where)

    def objective(self, loss_fn, params, static, x, y, key):
        key = require_key(key, "StochasticAD")
        net = eqx.combine(params, static)
        require_stochastic(net, "StochasticAD")
        loss, jumps, held = coupled_flip_terms(self, net, loss_fn, x, y, key)
        return loss + jumps, held


def coupled_flip_terms(est: StochasticAD, net, loss_fn, x, y, key, site_mask=None):
    """`(pathwise loss, jump term, held loss)` of one trajectory: `grad(loss + jumps)` is the estimate.

    `site_mask` (flat over the stochastic sites, 0/1) restricts the flips to those sites: the jump
    term then estimates only their part of `dE[L]/dtheta` (what `MixedEstimator` combines).
    """
    n_steps = x.shape[0]
    noise_key, site_key = jr.split(key)
    noise = jax.lax.stop_gradient(net).sample_noise(noise_key, n_steps, net.dtype)
    # The pathwise term: the loss with every sampled spike held fixed.
    pathwise = net.simulate(x, noise, fixed_spikes=True)
    loss = loss_fn(pathwise, y)
    held = jax.lax.stop_gradient(loss)
    trace = jax.lax.stop_gradient(pathwise)

    # Flip intensities r_n = F'(x_n) w_n of every stochastic site.
    rate = net.flip_rate(trace, est.weighting)
    if site_mask is not None:
        rate = rate * site_mask.astype(rate.dtype)
    spikes = net.flatten_sites(trace.spikes)
    n_sites = rate.shape[0]
    active = rate > 0

    if est.n_flips == "all":
        sites = jnp.arange(n_sites)
        coef_per_draw = rate  # q_n = 1 for every site, M = 1 per site
    elif est.proposal == "stratified":
        sites, coef_per_draw = _stratified_draws(net, rate, int(est.n_flips), n_steps, site_key)
    else:
        m = int(est.n_flips)
        # Inverse-cdf sampling: M uniforms and a binary search instead of M x K Gumbel draws.
        weight = rate if est.proposal == "weighted" else active.astype(rate.dtype)
        cdf = jnp.cumsum(weight)
        total = cdf[-1]
        u = jr.uniform(site_key, (m,), rate.dtype) * total
        sites = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n_sites - 1)
        q = weight[sites] / total  # proposal probability of each draw
        coef_per_draw = jnp.where(q > 0, rate[sites] / (m * jnp.where(q > 0, q, 1)), 0)
        # No site can flip (every p in {0, 1}): the jump term is exactly zero.
        coef_per_draw = jnp.where(jnp.any(active), coef_per_draw, 0)

    model = jax.lax.stop_gradient(net)

    def flipped_loss(site):
        flat = jnp.zeros((n_sites,), net.dtype).at[site].set(1)
        flipped = model.simulate(x, noise, flips=model.unflatten_sites(flat, n_steps))
        return loss_fn(flipped, y)

    alt = map_in_chunks(flipped_loss, sites, est.chunk_size)
    jump = (alt - held) * (1 - 2 * spikes[sites])  # L(s=1) - L(s=0)
    coef = jax.lax.stop_gradient(jnp.zeros((n_sites,), loss.dtype).at[sites].add(coef_per_draw * jump))
    # The jump term: sum_n c_n x_n(theta), whose gradient is sum_n c_n dx_n/dtheta (spikes fixed).
    jumps = sum(
        jnp.sum(c * pathwise.drive[i]) for i, c in enumerate(net.unflatten_sites(coef, n_steps)) if c is not None
    )
    return loss, jumps, held


def _stratified_draws(net, rate, m: int, n_steps: int, key):
    """`m` sites drawn layer by layer (`m // L` each, the first `m % L` layers one more), `q_n = r_n / R_l`."""
    sizes = [n_steps * net.sizes[i] for i, s in enumerate(net.stochastic) if s]
    if m < len(sizes):
        raise ValueError(
            f"StochasticAD(proposal='stratified'): n_flips={m} is fewer than the {len(sizes)} stochastic layers; "
            "give each layer at least one flip."
        )
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    per_layer = [m // len(sizes) + (k < m % len(sizes)) for k in range(len(sizes))]
    layer = np.repeat(np.arange(len(sizes)), per_layer)  # the layer of each draw (static)
    cdf = jnp.cumsum(rate)
    edges = jnp.concatenate([jnp.zeros((1,), rate.dtype), cdf[bounds[1:] - 1]])  # cdf before / at each layer end
    lo, total = edges[layer], edges[layer + 1] - edges[layer]
    u = lo + jr.uniform(key, (m,), rate.dtype) * total
    sites = jnp.searchsorted(cdf, u, side="right")
    sites = jnp.clip(sites, jnp.asarray(bounds[layer], sites.dtype), jnp.asarray(bounds[layer + 1] - 1, sites.dtype))
    coef = jnp.where(total > 0, total / jnp.asarray(np.asarray(per_layer)[layer], rate.dtype), 0)
    return sites, jnp.where(rate[sites] > 0, coef, 0)
