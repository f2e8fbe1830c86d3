r"""The score function per neuron of the last stochastic layer, the rest of the network held at one sample."""

from typing import cast

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._checks import check_count
from .._losses import ActivityRegulariser, Loss
from .._neurons import LeakyIntegrator, LIFState
from .._spikes import AbstractStochasticSpikeFunction
from .._trace import Trace
from ..nn._layers import Dense, Readout
from ..nn._network import Network
from ._base import AbstractNetworkEstimator, map_in_chunks, require_key, require_stochastic


class LocalScoreFunction(AbstractNetworkEstimator):
    r"""Unbiased score function with each last-layer neuron's spike train resampled on its own.

    Given the layers below it, the neurons `i` of the last spiking layer (stochastic, not
    recurrent) fire independently, so

    $$
    \frac{dE[L]}{d\theta} = E\Big[\frac{\partial L}{\partial\theta}\Big|_{s}\Big]
        + \sum_i E_{s_{-i}}\Big[E_{s_i}\big[(L(s_i, s_{-i}) - b_i)\,
          \tfrac{\partial}{\partial\theta}\log P(s_i)\big]\Big]
    $$

    (plus the score of the layers below, if stochastic). The inner expectation is estimated
    with `n_samples` draws `s_i^k` of neuron `i`'s spike train and the other neurons held at the
    first draw, `s_{-i}^1` (independent of every `s_i^k`); `b_i` is the leave-one-out mean of
    `L(s_i^k', s_{-i}^1)`, k' != k. Neuron `i`'s score is then multiplied by the loss fluctuation
    that neuron `i` alone causes rather than the whole layer's (the plain `ScoreFunction`'s): on a
    layer of `n` similar neurons the variance of its parameters' estimate falls by about `n`.

    The `n_samples x n` losses come from one readout each without re-simulating it: the readout
    (`snnsad.nn.Readout` with its `LeakyIntegrator`) is linear in the spikes, so swapping neuron
    `i`'s train adds `W[:, i]` times the filtered difference of the two trains. Hence the
    requirements: an `snnsad.nn.Network` with such a readout, a last spiking layer that is
    stochastic and not recurrent, and a loss of the readout and the spikes (`trace.output`,
    `trace.spikes`: e.g. a cross-entropy with `ActivityRegulariser` terms; each swapped configuration's
    spikes are known, its drive and firing probabilities are not computed).
    Stochastic layers below the last one get the plain score function with a leave-one-out
    baseline over `n_samples` further independent trajectories; or, with `groups=G`, the same local
    credit by groups: each such layer `l` (not recurrent) is drawn `n_samples` times on one draw of every
    other layer, its neurons are split into `G` contiguous groups, and group `g` of draw `k` is swapped
    into the first draw and the layers above `l` are re-simulated with their first draw's noise (only
    those layers: the ones below are not run again). Each neuron's score then meets the fluctuation of its
    group (`n_l / G` neurons) instead of the whole network's; unbiased for the same reason, since given
    the layers below, the groups of a feed-forward layer and the noise of the layers above are
    independent. A recurrent stochastic layer below the last keeps the plain score function.

    With `last="flips"` the last layer's term is exact over each spike site instead of sampled per neuron:
    for a sequence of Bernoulli sites in causal order,

    $$
    \frac{dE[L]}{d\theta} = \sum_{t, i} E\Big[\frac{\partial p_i(t)}{\partial\theta}
        \big(E[L \mid s_i(t) = 1, \text{past}] - E[L \mid s_i(t) = 0, \text{past}]\big)\Big]
    $$

    (`p_i(t)` with the past spikes held), and on one draw each difference is estimated by the two branches of
    site `(i, t)`: the draw itself and the draw with `s_i(t)` flipped, neuron `i`'s later spikes re-simulated
    with the same noise (each branch a sample of its conditional future: the coupling of `StochasticAD`, but
    at every site of the layer instead of a sampled one). The other neurons of the layer do not depend on
    `s_i(t)` and keep their draw. No draws of the last layer beyond the first: its noise is left to the draw
    of the network, none to sampling the site itself. Cost: `T` runs of the last layer's scan (every neuron
    flipped at step `t` at once: they do not interact) and `T x n` swapped readout losses, where the
    per-neuron score function has `n_samples` and `n_samples x n`. `sites=K` evaluates `K` steps of each
    neuron instead of all `T`: drawn by systematic sampling with inclusion probabilities proportional to the
    slope of the neuron's firing probability at each step (capped at 1, kept above 0), each drawn site's term
    divided by its inclusion probability (Horvitz-Thompson: unbiased whatever the weights), at `K / T` of the
    cost.

    Cost: one forward pass and `n_samples - 1` runs of the last layer and the readout (the layers below
    run once: every draw shares them), their backward pass, and `n_samples x n` readout losses of
    `(T, n_out)` each; `n_samples` further forward and backward passes with stochastic layers below the
    last. With `groups`, instead of those, per layer below: `n_samples - 1` runs of that layer alone (and
    their backward pass) and `(n_samples - 1) x G` forward runs of the layers above it, the first of which
    (a `Dense` layer) projects only the swapped group's change. Memory: the swapped readouts of one draw, `n x T x n_out` per
    example (times the batch under `Batched`); `chunk_size` evaluates them (and the group re-runs) that
    many at a time instead.
    """

    n_samples: int = eqx.field(static=True, default=4)
    chunk_size: int | None = eqx.field(static=True, default=None)
    groups: int | None = eqx.field(static=True, default=None)
    last: str = eqx.field(static=True, default="score")
    sites: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        where = "LocalScoreFunction"
        why = " (the leave-one-out baseline needs two draws of each neuron)"
        check_count("n_samples", self.n_samples, where=where, least=2, why=why)
        check_count("chunk_size", self.chunk_size, where=where, optional=True)
        check_count("groups", self.groups, where=where, optional=True)
        if self.last not in ("score", "flips"):
            raise ValueError(
                f"LocalScoreFunction: `last` must be 'score' (each neuron's score function) or 'flips' (every "
                f"spike site's coupled flip), got {self.last!r}."
            )
        check_count("sites", self.sites, where=where, optional=True)
        if self.sites is not None and self.last != "flips":
            raise ValueError(
                f"LocalScoreFunction: `sites`={self.sites} samples the flipped sites of `last='flips'`; pass "
                "last='flips' with it, or leave `sites` out."
            )

    def check(self, net) -> None:
        super().check(net)
        where = "LocalScoreFunction"
        if not isinstance(net, Network) or type(net).simulate is not Network.simulate:
            raise TypeError(
                f"{where}: needs an snnsad.nn.Network (its readout's linearity is what makes the per-neuron "
                f"losses cheap), got {type(net).__name__}; use ScoreFunction or StochasticAD for other models."
            )
        if type(net.readout) is not Readout or type(net.readout.neuron) is not LeakyIntegrator:
            raise ValueError(
                f"{where}: needs a linear readout (snnsad.nn.Readout with a LeakyIntegrator), got "
                f"{type(net.readout).__name__}; build the network with a readout (feedforward's default)."
            )
        last = net.layers[-1]
        if not net.stochastic[-1]:
            raise ValueError(
                f"{where}: the last spiking layer must be stochastic (its spike function is "
                f"{type(last.spike_fn).__name__}); give it e.g. snnsad.Stochastic(snnsad.Sigmoid(10.0))."
            )
        if _recurrent(net, len(net.layers) - 1):
            raise ValueError(
                f"{where}: the last spiking layer is recurrent, so its neurons do not fire independently; "
                "use ScoreFunction or StochasticAD."
            )

    def objective(self, loss_fn, params, static, x, y, key):
        key = require_key(key, "LocalScoreFunction")
        net = eqx.combine(params, static)
        require_stochastic(net, "LocalScoreFunction")
        self.check(net)
        local_key, below_key = jr.split(key)
        n, last = self.n_samples, len(net.layers) - 1
        n_steps = x.shape[0]

        first = net.sample_noise(local_key, n_steps)
        # the further draws' key: `sample_noise` takes layer l's noise from `fold_in(local_key, l)` (`split`), so
        # an index past the layers, lest a further draw of the last layer repeat the noise of a wider layer below
        draw_key = jr.fold_in(local_key, len(net.sizes))
        first_trace = net.simulate(x, first, fixed_spikes=True)
        if self.last == "flips":
            value = loss_fn(first_trace, y)
            objective = value + self._flip_term(net, loss_fn, x, y, first, first_trace, draw_key)
            held_value = jax.lax.stop_gradient(value)
            return self._below_terms(objective, net, loss_fn, x, y, first, first_trace, key, below_key), held_value
        # n draws of the last layer's noise on one draw of every layer below it: the layers below run once
        # (the first draw, differentiable as every draw's), the last layer and the readout once per draw.
        last_noise = jr.uniform(draw_key, (n, n_steps, net.sizes[last]), first[last].dtype)
        last_noise = last_noise.at[0].set(first[last])
        h_last = x.astype(net.dtype) if last == 0 else first_trace.spikes[last - 1]
        readout_ = cast(Readout, net.readout)  # checked: a linear readout

        def rerun(noise_last):  # draw k of the last layer on the first draw below
            out = net.layers[last].run(
                h_last, noise_last, fixed_spikes=True, checkpoint=net.checkpoint, unroll=net.unroll
            )
            output = readout_(out.spikes, checkpoint=net.checkpoint, unroll=net.unroll)
            return output, out

        traces = _with_draws(first_trace, *jax.vmap(rerun)(last_noise[1:]))

        def score(trace):
            logp = net.spike_fns[last].log_prob(trace.spikes[last], trace.drive[last])
            return loss_fn(trace, y), jnp.sum(logp, axis=0)

        losses, logps = jax.vmap(score)(traces)  # (n,), (n, neurons)
        held = jax.lax.stop_gradient(losses)
        readout = cast(Readout, jax.lax.stop_gradient(net.readout))  # a Readout: checked above
        swapped = _swapped_losses(readout, jax.lax.stop_gradient(traces), loss_fn, y, self.chunk_size)
        base = (jnp.sum(swapped, axis=0, keepdims=True) - swapped) / (n - 1)
        objective = jnp.mean(losses) + jnp.sum(jnp.mean((swapped - base) * logps, axis=0))
        return self._below_terms(objective, net, loss_fn, x, y, first, first_trace, key, below_key), jnp.mean(held)

    def _below_terms(self, objective, net: Network, loss_fn, x, y, first, first_trace: Trace, key, below_key):
        """`objective` plus the score terms of the stochastic layers below the last (by groups or plain)."""
        n, last, n_steps = self.n_samples, len(net.layers) - 1, x.shape[0]
        below = tuple(i for i, s in enumerate(net.stochastic[:last]) if s)
        if self.groups is not None:
            grouped = tuple(i for i in below if not _recurrent(net, i))
            for i in grouped:
                if self.groups > net.sizes[i]:
                    raise ValueError(
                        f"LocalScoreFunction: `groups`={self.groups} exceeds the {net.sizes[i]} neurons of spiking layer "
                        f"{i}; use at most {net.sizes[i]} (one neuron per group)."
                    )
                objective = objective + self._grouped_term(
                    net, loss_fn, x, y, first, first_trace, i, jr.fold_in(key, 2 + i)
                )
            below = tuple(i for i in below if i not in grouped)
        if below:  # the plain score function for the layers below, on independent trajectories

            def one(k):
                trace = net.simulate(x, net.sample_noise(k, n_steps), fixed_spikes=True)
                return loss_fn(trace, y), net.log_prob(trace, below)

            more, logp_below = jax.vmap(one)(jr.split(below_key, n))
            more = jax.lax.stop_gradient(more)
            objective = objective + jnp.mean((more - (jnp.sum(more) - more) / (n - 1)) * logp_below)
        return objective

    def _grouped_term(self, net: Network, loss_fn, x, y, first, first_trace: Trace, layer: int, key):
        """The score term of spiking layer `layer` (below the last) with credit by groups (`groups`).

        Its `n_samples` draws share the first draw of every other layer: draw 1 is `first_trace`, draws
        2.. run layer `layer` alone on the first draw's spikes below it."""
        n, n_steps, size, groups = self.n_samples, x.shape[0], net.sizes[layer], int(self.groups or 1)
        noise = jr.uniform(key, (n, n_steps, size), first[layer].dtype).at[0].set(first[layer])
        spike_fn = cast(AbstractStochasticSpikeFunction, net.spike_fns[layer])  # stochastic: `below` holds those
        h_in = x.astype(net.dtype) if layer == 0 else first_trace.spikes[layer - 1]

        def rerun(noise_l):
            out = net.layers[layer].run(h_in, noise_l, fixed_spikes=True, checkpoint=net.checkpoint, unroll=net.unroll)
            return out.spikes, out.drive

        more_spikes, more_drive = jax.vmap(rerun)(noise[1:])
        spikes = jnp.concatenate([first_trace.spikes[layer][None], more_spikes])  # (n, T, size)
        drive = jnp.concatenate([first_trace.drive[layer][None], more_drive])
        logps = jnp.sum(jax.vmap(spike_fn.log_prob)(spikes, drive), axis=1)  # (n, size)
        spikes = jax.lax.stop_gradient(spikes)
        firsts = jax.lax.stop_gradient(first_trace)
        below = firsts.spikes[:layer]  # the first draw of the layers below
        model = jax.lax.stop_gradient(net)
        member = np.arange(size) * groups // size  # the group of each neuron: contiguous, sizes differ by <= 1
        masks = jnp.asarray(member[None, :] == np.arange(groups)[:, None], spikes.dtype)  # (G, size)
        readout = cast(Readout, model.readout)  # checked: a linear readout
        above = model.layers[layer + 1]
        currents = _swap_currents(above, spikes, member, groups)

        def swapped(k, g):  # group g of draw k in draw 1, the layers above run again
            h = jnp.where(masks[g] > 0, spikes[k], spikes[0])
            trains = [h]
            noise_above = jnp.asarray(first[layer + 1], h.dtype)
            h = above.run_projected(currents(k, g, h), noise_above, unroll=model.unroll).spikes
            trains.append(h)
            for j in range(layer + 2, len(model.layers)):
                h = model.layers[j].run(h, jnp.asarray(first[j], h.dtype), unroll=model.unroll).spikes
                trains.append(h)
            return _swapped_loss(loss_fn, readout(h, unroll=model.unroll), (*below, *trains), y)

        kk, gg = (a.ravel() for a in jnp.meshgrid(jnp.arange(1, n), jnp.arange(groups), indexing="ij"))
        alt = map_in_chunks(lambda a: swapped(*a), (kk, gg), self.chunk_size)
        first_loss = _swapped_loss(loss_fn, firsts.output, firsts.spikes, y)
        losses = jnp.concatenate([jnp.full((1, groups), first_loss), alt.reshape(n - 1, groups)])  # (n, G)
        base = (jnp.sum(losses, axis=0, keepdims=True) - losses) / (n - 1)
        signal = (losses - base)[:, member]  # (n, size): each neuron's group's loss fluctuation
        return jnp.sum(jnp.mean(signal * logps, axis=0))

    def _flip_term(self, net: Network, loss_fn, x, y, first, first_trace: Trace, key):
        """The last layer's term with `last="flips"`: `sum_(t, i) dL_(t, i) p_i(t)`, `dL` held (module docstring).

        Its neurons do not interact (feed-forward, not recurrent), so one rerun of the layer in which each
        neuron flips at a step of its own (the same noise before and after) gives every neuron's branch of
        that step: `T` reruns (or `sites`), each a scan on the first draw's currents, then as many swapped
        readout losses per neuron."""
        last = len(net.layers) - 1
        model = jax.lax.stop_gradient(net)
        firsts = jax.lax.stop_gradient(first_trace)
        spikes = firsts.spikes[last]  # (T, n)
        n_steps, size = spikes.shape
        h_last = x.astype(net.dtype) if last == 0 else firsts.spikes[last - 1]
        layer = model.layers[last]
        currents = layer.project(h_last)
        noise = jnp.asarray(first[last], currents.dtype)
        if self.sites is None or self.sites >= n_steps:  # every site: slot k of each neuron is step k
            at = jnp.broadcast_to(jnp.arange(n_steps)[:, None], (n_steps, size))
            inverse = jnp.ones((n_steps, size), currents.dtype)
        else:  # `sites` steps per neuron, drawn with probability ~ the firing probability's slope
            spike_fn = model.spike_fns[last]
            drive = firsts.drive[last]
            slope = jax.jvp(spike_fn.probability, (drive,), (jnp.ones_like(drive),))[1]
            at, inverse = _systematic_sites(jnp.abs(slope), self.sites, key)

        def flipped(steps):  # neuron i flips at steps[i] (n_steps: not at all), the same noise throughout
            flips = (jnp.arange(n_steps)[:, None] == steps[None, :]).astype(currents.dtype)
            return layer.run_projected(currents, noise, flips=flips, unroll=model.unroll).spikes

        branches = jax.lax.map(flipped, at)  # (K, T, n): slot, time, neuron
        readout = cast(Readout, model.readout)  # checked: a linear readout
        swapped = _swap_losses(
            readout, firsts.output, firsts.spikes[:-1], jnp.concatenate([spikes[None], branches]), loss_fn, y,
            self.chunk_size,
        )  # fmt: skip
        index = jnp.minimum(at, n_steps - 1)  # an empty slot (n_steps) has no branch: its weight is 0
        # L(s_it = 1) - L(s_it = 0): the flipped branch's loss minus the draw's, signed by the drawn spike
        delta = (1 - 2 * jnp.take_along_axis(spikes, index, axis=0)) * (swapped[1:] - swapped[:1])
        prob = jnp.take_along_axis(first_trace.prob[last], index, axis=0)
        return jnp.sum(jax.lax.stop_gradient(delta * inverse) * prob)


def _systematic_sites(weight, k: int, key):
    """`k` of the `T` steps of each neuron (columns of `weight`, `(T, n)`, >= 0), drawn by systematic sampling
    with inclusion probabilities `pi = min(1, c w)`, `sum_t pi <= k` (`w`: `weight` plus a floor that keeps
    every `pi > 0`). Returns the steps `(k, n)` (`T` where a slot is empty) and `1 / pi` at them (0 there).

    Each step is included with probability exactly `pi_t` (the `k` points `u + j` fall in the cumulative
    sums' intervals, each of length `pi_t <= 1`), so `sum over the drawn of term / pi` is unbiased for the sum
    over all steps (Horvitz-Thompson), whatever `weight` is."""
    n_steps = weight.shape[0]
    w = weight + 1e-3 * jnp.mean(weight, axis=0, keepdims=True) + jnp.finfo(weight.dtype).tiny
    lo = jnp.log(k / jnp.sum(w, axis=0, keepdims=True))  # (1, n): sum min(1, c w) <= c sum w = k here
    hi = -jnp.log(jnp.min(w, axis=0, keepdims=True))  # every pi = 1: sum T >= k

    def bisect(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) / 2
        fits = jnp.sum(jnp.minimum(1.0, jnp.exp(mid) * w), axis=0, keepdims=True) <= k
        return jnp.where(fits, mid, lo), jnp.where(fits, hi, mid)

    lo, _ = jax.lax.fori_loop(0, 40, bisect, (lo, hi))
    pi = jnp.minimum(1.0, jnp.exp(lo) * w)  # (T, n), sum <= k per neuron
    cumulative = jnp.cumsum(pi, axis=0)
    points = jr.uniform(key, (1, w.shape[1]), w.dtype) + jnp.arange(k, dtype=w.dtype)[:, None]  # (k, n)
    at = jnp.sum(cumulative[None] <= points[:, None], axis=1)  # (k, n): the step whose interval holds the point
    inverse = jnp.where(at < n_steps, 1 / jnp.take_along_axis(pi, jnp.minimum(at, n_steps - 1), axis=0), 0.0)
    return at, jax.lax.stop_gradient(inverse)


def _swapped_losses(readout: Readout, traces: Trace, loss_fn, y, chunk_size: int | None = None):
    """`L(s_i^k, s_{-i}^1)` for every draw `k` and last-layer neuron `i`: an `(n_samples, neurons)` array.

    `traces` holds the `n_samples` runs (leading axis); the readout of the swapped spikes is the first
    run's plus `W[:, i]` times the leaky-integrator filter of `s_i^k - s_i^1`, and the swapped trace's
    spikes are the first run's with neuron `i`'s train of draw `k` (`chunk_size` neurons at a time if given).
    """
    below = tuple(s[0] for s in traces.spikes[:-1])  # the first draw of the layers below
    return _swap_losses(readout, traces.output[0], below, traces.spikes[-1], loss_fn, y, chunk_size)


def _swap_losses(readout: Readout, base, below, spikes, loss_fn, y, chunk_size: int | None = None):
    """`_swapped_losses` from its parts: the first run's readout `base` `(T, n_out)`, the spikes of the layers
    below, and the last layer's spikes of every run, `(K, T, n)` with the first run at 0."""
    diff = spikes[1:] - spikes[:1]  # draw 1 swapped into itself is the first run: L(s^1) for every i
    integrator = readout.neuron
    zeros = jnp.zeros(diff.shape[:1] + diff.shape[2:], diff.dtype)
    _, filtered = jax.lax.scan(lambda s, c: integrator.step(s, c), LIFState(zeros, zeros), jnp.swapaxes(diff, 0, 1))
    filtered = jnp.swapaxes(filtered, 0, 1)  # (K, T, n)
    weight = readout.weight  # (n_out, n)
    n = spikes.shape[2]
    first = _swapped_loss(loss_fn, base, (*below, spikes[0]), y)

    def swap(f_i, w_i, train_i, i):  # neuron i: filtered difference (T,), readout column, its train
        last = jnp.where(jnp.arange(n) == i, train_i[:, None], spikes[0])
        return _swapped_loss(loss_fn, base + f_i[:, None] * w_i[None, :], (*below, last), y)

    if isinstance(loss_fn, Loss) and all(type(r) is ActivityRegulariser for r in loss_fn.regularisers):
        # the spikes enter through counts only: a swap changes one neuron's count (n per draw, not n x T x n)
        counts = tuple(jnp.sum(s, axis=0) for s in (*below, spikes[0]))

        def swap_count(f_i, w_i, train_i, i):
            swapped = (*counts[:-1], counts[-1].at[i].set(jnp.sum(train_i)))
            value = loss_fn.output_loss(base + f_i[:, None] * w_i[None, :], y)
            return value + sum(r.from_counts(swapped, value.dtype) for r in loss_fn.regularisers)

        swap = swap_count

    def per_draw(args):  # filtered differences (T, n) and spikes (T, n) of one draw -> the n swaps' losses
        f, s_k = args
        return map_in_chunks(lambda a: swap(*a), (f.T, weight.T, s_k.T, jnp.arange(n)), chunk_size)

    return jnp.concatenate([jnp.full((1, n), first), jax.lax.map(per_draw, (filtered, spikes[1:]))])


def _swap_currents(above, spikes, member: np.ndarray, groups: int):
    """`(k, g, swapped input) -> currents`: the input currents of layer `above` when group `g` of draw `k`
    (of `spikes`, `(n, T, size)`; `member`, the group of each neuron) is swapped into draw 1.

    For a `Dense` layer (affine in its input), draw 1's currents plus the projection of the group's change
    alone: a `1 / groups` slice of the weights instead of the whole projection per swap. Any other layer
    projects the swapped input."""
    if type(above) is not Dense:
        return lambda k, g, h: above.project(h)
    first = above.project(spikes[0])  # (T, n_above), with the bias
    size = spikes.shape[-1]
    width = int(np.bincount(member, minlength=groups).max())
    # the neurons of each group, padded with index `size` (a zero column of the padded change and weights)
    cols = np.full((groups, width), size)
    for g in range(groups):
        members = np.flatnonzero(member == g)
        cols[g, : len(members)] = members
    cols = jnp.asarray(cols)
    change = jnp.pad(spikes - spikes[:1], ((0, 0), (0, 0), (0, 1)))  # (n, T, size + 1)
    weight = jnp.pad(above.weight.T, ((0, 1), (0, 0)))  # (size + 1, n_above)

    def currents(k, g, h):
        return first + change[k][:, cols[g]] @ weight[cols[g]]

    return currents


def _with_draws(first: Trace, outputs, last) -> Trace:
    """The traces of all draws (leading axis): `first`, then draws whose readouts are `outputs` and whose last
    spiking layer is `last` (a `StepOutput` with a draw axis); the layers below are `first`'s in every draw.
    (Built by tree operations: a `Trace`'s annotated shapes are those of one draw.)"""
    n = outputs.shape[0] + 1
    every = jax.tree.map(lambda a: jnp.broadcast_to(a, (n, *a.shape)), first)
    drawn = (outputs, last.spikes, last.drive, last.prob)
    ours = (first.output, first.spikes[-1], first.drive[-1], first.prob[-1])
    return eqx.tree_at(
        lambda t: (t.output, t.spikes[-1], t.drive[-1], t.prob[-1]),
        every,
        tuple(jnp.concatenate([a[None], b]) for a, b in zip(ours, drawn, strict=True)),
    )


def _recurrent(net: Network, layer: int) -> bool:
    """Whether spiking layer `layer` feeds its own spikes back (its neurons then do not fire independently)."""
    return net.layers[layer].recurrent_current(jnp.zeros((net.sizes[layer],), net.dtype)) is not None


def _swapped_loss(loss_fn, output, spikes, y):
    """The loss of a swapped configuration: its readout and every spiking layer's spikes (no drive or
    probability: those of a swapped configuration are not computed)."""
    try:
        return loss_fn(Trace(output=output, spikes=spikes, drive=(), prob=()), y)
    except (IndexError, TypeError, AttributeError, ValueError) as e:
        raise ValueError(
            "LocalScoreFunction: the loss may read the readout (trace.output) and the spikes (trace.spikes) only, "
            "since the swapped configurations are evaluated without their drive and firing probabilities; "
            f"use ScoreFunction or StochasticAD for a loss of those (it failed on such a trace: {e!r})."
        ) from e
