r"""Antithetic estimators (DisARM, ARM) on (layer, time step) blocks, the rest of the trajectory re-simulated."""

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._checks import check_choice, check_count
from ._base import AbstractNetworkEstimator, map_in_chunks, require_key, require_stochastic


class DisARM(AbstractNetworkEstimator):
    r"""Antithetic pairs of whole blocks of sites: DisARM (Dong, Mnih & Tucker 2020) or ARM (Yin & Zhou 2019).

    A sigmoid belief network's units in one layer fire independently given the layers before it, and
    those estimators pair each layer's sample `b = 1[u < p]` with its antithetic twin
    `b~ = 1[1 - u < p]` (the same uniforms), evaluating the loss once more per layer. In a stochastic SNN
    the probability of a site depends on every earlier spike (through the membrane, the reset and the
    recurrence), so the "layers" in that sense are the blocks `k = (spiking layer l, time step t)`:
    given everything simulated before block `k`, its `n_l` sites are independent Bernoulli variables
    with probabilities `p_n`. For each block the twin run flips exactly the block's sites where
    `b != b~` and re-simulates everything after it with the same noise (both runs then have the
    correct conditional law of the future), so with `D_k = L(b~) - L(b)`,

    $$
    \frac{dE[L]}{d\theta} = E\Big[\frac{\partial L}{\partial\theta}\Big|_{s}
        + \sum_k \sum_{n \in k} \frac{\partial p_n}{\partial\theta}\Big|_{s}\, g_n\Big],
    \qquad
    g_n = \begin{cases}
        D_k\,(1 - 2 b_n)\,\mathbf{1}[b_n \ne \tilde b_n] \,/\, (2\min(p_n, 1 - p_n)) & \text{DisARM} \\
        D_k\,(u_n - \tfrac12) \,/\, (p_n (1 - p_n)) & \text{ARM}
    \end{cases}
    $$

    `E[g_n | past] = dE[L | past]/dp_n` for each: the DisARM weight is ARM's averaged over `u_n` given
    the pair `(b_n, b~_n)` (so its variance is never larger), and sites whose pair agrees contribute
    nothing. This is the coupled-spike-flip estimator (`StochasticAD`) with one run per block
    instead of per site: a site's own flip is Rao-Blackwellised there (lower variance per run), while
    here one run answers for every differing site of the block at once, each site's signal mixed with
    the others' flips.

    With `T x L` blocks (`L` stochastic layers), `n_blocks = M` blocks are drawn per estimate from `q_k`
    (`proposal="weighted"`: `q_k` proportional to the block's `sum_n F'(x_n) |g_n / D_k|`, i.e. how
    much its sites' weights move the parameters; `"uniform"`: uniform over the blocks where some
    site differs; `"stratified"`: `M / L` draws in each stochastic layer, so each layer gets its own
    runs), each weighted by `1 / (M q_k)`; a block where `b = b~` everywhere has `D_k = 0` and is never
    drawn. `n_blocks="all"` evaluates every block once (cost `T x L` runs). Unbiased for every
    network of this toolkit; cost `M` flipped forward passes (vmapped, `chunk_size` at a time) plus
    the forward pass with its VJP, as `StochasticAD(M)`.

    Assumes, as every network of `snnsad.nn` satisfies, that a spiking layer's sites at one time
    step are independent given everything simulated before them (no instantaneous lateral coupling
    inside a layer's time step). The weights are applied to `dx_n/dtheta` as `F'(x_n) g_n / D_k`, which
    the escape functions give stably (`F'/p` and `F'/(1 - p)`, as for the flip rates): no division by a
    vanishing `p (1 - p)`.
    """

    n_blocks: int | Literal["all"] = eqx.field(static=True, default=8)
    variant: Literal["disarm", "arm"] = eqx.field(static=True, default="disarm")
    proposal: Literal["weighted", "uniform", "stratified"] = eqx.field(static=True, default="weighted")
    chunk_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.n_blocks != "all":
            check_count("n_blocks", self.n_blocks, where="DisARM", why=" (or 'all')")
        check_choice("variant", self.variant, ("disarm", "arm"), where="DisARM")
        check_choice("proposal", self.proposal, ("weighted", "uniform", "stratified"), where="DisARM")
        check_count("chunk_size", self.chunk_size, where="DisARM", optional=True)

    def objective(self, loss_fn, params, static, x, y, key):
        key = require_key(key, "DisARM")
        net = eqx.combine(params, static)
        require_stochastic(net, "DisARM")
        n_steps = x.shape[0]
        noise_key, block_key = jr.split(key)
        model = jax.lax.stop_gradient(net)
        noise = model.sample_noise(noise_key, n_steps, net.dtype)
        pathwise = net.simulate(x, noise, fixed_spikes=True)  # the pathwise term, spikes held fixed
        loss = loss_fn(pathwise, y)
        held = jax.lax.stop_gradient(loss)
        trace = jax.lax.stop_gradient(pathwise)

        u = net.flatten_sites(noise)
        p = net.flatten_sites(trace.prob)
        b = net.flatten_sites(trace.spikes)
        # F'/p and F'/(1 - p) of every site, stably (the one-sided flip rates of all-firing / all-silent spikes)
        ones = tuple(jnp.ones_like(a) for a in trace.spikes)
        zeros = tuple(jnp.zeros_like(a) for a in trace.spikes)
        down = net.flip_rate(eqx.tree_at(lambda t: t.spikes, trace, ones), "left")
        up = net.flip_rate(eqx.tree_at(lambda t: t.spikes, trace, zeros), "right")
        differ = (u < p) != (1 - u < p)  # where the antithetic twin's site differs from the sample
        if self.variant == "disarm":  # F'(x_n) g_n / D_k: F' / (2 min(p, 1 - p)) = max(F'/p, F'/(1 - p)) / 2
            weight = jnp.where(differ, (1 - 2 * b) * jnp.maximum(down, up) / 2, 0)
        else:  # F' / (p (1 - p)) = F'/p + F'/(1 - p)
            weight = (u - 0.5) * (down + up)
        safe = lambda a: jnp.where(a > 0, a, 1)  # noqa: E731

        block_np = _block_of_site(net, n_steps)  # (n_sites,) block index of each site
        n_total = int(block_np.max()) + 1
        block = jnp.asarray(block_np)
        live = jax.ops.segment_sum(differ.astype(p.dtype), block, n_total) > 0  # D_k can be nonzero
        if self.n_blocks == "all":
            blocks = jnp.arange(n_total)
            coef_per_draw = jnp.ones((n_total,), p.dtype)
        else:
            m = int(self.n_blocks)
            if self.proposal == "uniform":
                rate = live.astype(p.dtype)
            else:
                rate = jnp.where(live, jax.ops.segment_sum(jnp.abs(weight), block, n_total), 0)
            if self.proposal == "stratified":
                blocks, coef_per_draw = _stratified(net, rate, m, n_steps, block_key)
            else:
                cdf = jnp.cumsum(rate)
                total = cdf[-1]
                draw = jr.uniform(block_key, (m,), p.dtype) * total
                blocks = jnp.minimum(jnp.searchsorted(cdf, draw, side="right"), n_total - 1)
                q = rate[blocks] / safe(total)
                coef_per_draw = jnp.where(q > 0, 1 / (m * safe(q)), 0)

        blocks = blocks.astype(block.dtype)

        def twin_loss(k):  # flip block k's differing sites, re-simulate everything after it
            flips = ((block == k) & differ).astype(net.dtype)
            return loss_fn(model.simulate(x, noise, flips=model.unflatten_sites(flips, n_steps)), y)

        alt = map_in_chunks(twin_loss, blocks, self.chunk_size)
        scale = jnp.zeros((n_total,), p.dtype).at[blocks].add(coef_per_draw * (alt - held))
        coef = jax.lax.stop_gradient(jnp.where(scale[block] != 0, weight * scale[block], 0))
        # sum_n c_n x_n(theta), spikes fixed: its gradient is sum_n c_n dx_n/dtheta, with c_n = F'(x_n) g_n.
        jumps = sum(
            jnp.sum(c * pathwise.drive[i]) for i, c in enumerate(net.unflatten_sites(coef, n_steps)) if c is not None
        )
        return loss + jumps, held


def _block_of_site(net, n_steps: int) -> np.ndarray:
    """The block `(stochastic layer, time step)` of every flat site, numbered layer-major (static)."""
    layers = [i for i, s in enumerate(net.stochastic) if s]
    return np.concatenate(
        [np.repeat(np.arange(n_steps) + j * n_steps, net.sizes[i]) for j, i in enumerate(layers)]
    ).astype(np.int32)


def _stratified(net, rate, m: int, n_steps: int, key):
    """`m` blocks drawn layer by layer (`m // L` each, the first `m % L` layers one more), `q_k = r_k / R_l`."""
    n_layers = sum(net.stochastic)
    if m < n_layers:
        raise ValueError(
            f"DisARM(proposal='stratified'): n_blocks={m} is fewer than the {n_layers} stochastic layers; "
            "give each layer at least one block."
        )
    per_layer = np.asarray([m // n_layers + (k < m % n_layers) for k in range(n_layers)])
    layer = np.repeat(np.arange(n_layers), per_layer)  # the layer of each draw (static)
    cdf = jnp.cumsum(rate.reshape(n_layers, n_steps), axis=1)
    total = cdf[layer, -1]
    draw = jr.uniform(key, (m,), rate.dtype) * total
    within = jax.vmap(lambda c, d: jnp.searchsorted(c, d, side="right"))(cdf[layer], draw)
    blocks = jnp.asarray(layer * n_steps, within.dtype) + jnp.minimum(within, n_steps - 1)
    coef = jnp.where(rate[blocks] > 0, total / jnp.where(rate[blocks] > 0, rate[blocks], 1), 0)
    return blocks, coef / jnp.asarray(per_layer[layer], rate.dtype)
