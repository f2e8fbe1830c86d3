"""Continuous-time inputs and the discrete-time twin of an `EventNetwork`.

Time in `snnsad.events` is in milliseconds (the convention of the EventProp literature); the
discrete core counts seconds, so the twin's time constants and `dt` are the event network's
divided by 1000.
"""

from typing import cast

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._neurons import LIF, LeakyIntegrator
from .._spikes import AbstractSpikeFunction
from ..data._datasets import yinyang
from ..nn._layers import Dense
from ..nn._network import Network, feedforward
from ._network import EventNetwork, EventTrain


def yinyang_events(n: int = 5000, *, seed: int = 0, t_end: float = 30.0, margin: float = 0.2, dtype=np.float32):
    """Yin-Yang latency-coded in continuous time: `(EventTrain (n, 5), labels (n,))`.

    Features `(x, y, 1 - x, 1 - y)` in [0, 1] fire once each at `margin + value (t_end - 2 margin)`
    ms and a bias input fires at `margin` (genn_eventprop's encoding: 30 ms trials, 0.2 ms margins).
    Inputs are indexed bias 0, then the four features.
    """
    if not 0 <= margin < t_end / 2:
        raise ValueError(f"yinyang_events: `margin` must lie in [0, t_end / 2), got {margin!r}.")
    feats, labels = yinyang(n, seed=seed)
    values = np.concatenate([np.zeros((n, 1)), feats.astype(np.float64)], axis=1)
    times = margin + values * (t_end - 2 * margin)
    order = np.argsort(times, axis=1, kind="stable")
    return (
        EventTrain(jnp.asarray(np.take_along_axis(times, order, 1), dtype), jnp.asarray(order.astype(np.int32))),
        jnp.asarray(labels),
    )


def to_raster(x: EventTrain, n_inputs: int, dt: float, t_end: float) -> np.ndarray:
    """Bin events `(..., K)` into rasters `(..., n_steps, n_inputs)`: an event at `t` lands in step `floor(t / dt)`."""
    if dt <= 0 or not np.isfinite(dt):
        raise ValueError(f"to_raster: `dt` must be a positive number of ms, got {dt!r}.")
    times, index = np.asarray(x.times, np.float64), np.asarray(x.index)
    n_steps = int(round(t_end / dt))
    lead = times.shape[:-1]
    out = np.zeros((*lead, n_steps, n_inputs), np.float32)
    ok = np.isfinite(times) & (times < t_end)
    step = np.where(ok, np.floor(np.where(ok, times, 0) / dt), 0).astype(np.int64)
    pos = np.nonzero(ok)
    np.add.at(out, (*pos[:-1], step[pos], index[pos]), 1.0)
    return out


def discrete_twin(net: EventNetwork, dt: float, spike_fn: AbstractSpikeFunction, *, dtype=jnp.float32) -> Network:
    """The same weights and neurons in the discrete-time core, stepped every `dt` ms.

    Hidden layers become `LIF(reset="zero")` with `spike_fn` (a surrogate or a stochastic
    spike function); a `vmax` head becomes a `LeakyIntegrator` readout (use
    `snnsad.losses.max_over_time_cross_entropy` on it); a `ttfs` head becomes a spiking output
    layer (its first spike is the same whether it may spike again or not; score it with
    `twin_ttfs_loss`). Only multi-spike hidden layers have a discrete counterpart.
    """
    for k, la in enumerate(net.layers[:-1]):
        if la.mode == "single":
            raise ValueError(
                f"discrete_twin: hidden layer {k} is single-spike, which the discrete core does not model."
            )
    first = net.layers[0]
    scale = 1e-3
    lif = LIF(first.tau_mem * scale, first.tau_syn * scale, dt * scale, threshold=first.threshold, reset="zero")
    sizes = (first.weight.shape[1], *(la.size for la in net.layers))
    with_readout = net.head == "vmax"
    readout = LeakyIntegrator(net.layers[-1].tau_mem * scale, net.layers[-1].tau_syn * scale, dt * scale)
    twin = feedforward(
        sizes,
        key=jr.key(0),
        spike_fn=spike_fn,
        neuron=lif,
        readout=readout if with_readout else False,
        recurrent=[la.recurrent is not None for la in (net.layers[:-1] if with_readout else net.layers)],
        dtype=dtype,
    )
    spiking = net.layers[:-1] if with_readout else net.layers
    for k, la in enumerate(spiking):
        twin = eqx.tree_at(lambda t, k=k: t.layers[k].weight, twin, la.weight.astype(dtype))
        if la.recurrent is not None:
            twin = eqx.tree_at(lambda t, k=k: t.layers[k].recurrent_weight, twin, la.recurrent.astype(dtype))
    if with_readout:
        twin = eqx.tree_at(lambda t: t.readout.weight, twin, net.layers[-1].weight.astype(dtype))
    return twin


def twin_weight_grads(grads: Network) -> list:
    """The weight gradients of a twin, in the order of the event network's `weight` leaves."""
    out = [cast(Dense, la).weight for la in grads.layers]
    if grads.readout is not None:
        out.append(grads.readout.weight)
    return out


def first_spike_times(spikes, dt: float):
    """First spike time per neuron of a discrete raster `(T, n)`: `dt * sum_t prod_{t' <= t} (1 - s[t'])`.

    `t dt` for a first spike at step `t`, `T dt` (the trial end) for a silent neuron: the event
    network's convention. Differentiable through the spike functions' rules (a surrogate gradient
    of the spike time).
    """
    return dt * jnp.sum(jnp.cumprod(1 - spikes, axis=0), axis=0)


def twin_ttfs_loss(dt: float, **ttfs):
    """`loss_fn(trace, y)` for a discrete twin with a `ttfs` head: `ttfs_cross_entropy` of `first_spike_times`."""
    from ._network import EventOutput, ttfs_cross_entropy

    def loss(trace, y):
        return ttfs_cross_entropy(EventOutput(first_spike_times(trace.output, dt), (), jnp.zeros((), bool)), y, **ttfs)

    return loss
