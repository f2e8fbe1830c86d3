"""Event loop for theta and QIF layers, pseudospikes, and the network and loss built on them.

One `lax.scan` step handles one event of a layer: the earliest of the next input event, the next
spike of any neuron (analytic, `model.time_to_spike`) and the trial end. A layer with `K_in` input
events and room for `K_out` spikes runs `K_in + K_out + 1` steps; more spikes set the overflow flag
and make the outputs NaN. Spike times are analytic functions of the state, so autodiff through the
loop is the exact gradient (no implicit step is needed, unlike LIF crossings).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._solver import END, INPUT, NO_EVENT, SPIKE, first_steps


class LayerRun(NamedTuple):
    """One layer on one example: output spikes (ascending, `inf` padded, NaN after overflow), spikes per
    neuron, the state at the trial end and the overflow flag."""

    times: Array
    index: Array
    counts: Array
    end: Any
    overflow: Array


def run_layer(model, state0, w_events: Array, times: Array, w_rec: Array | None, t_end: float, k_out: int) -> LayerRun:
    """Simulate one layer: input event `k` at `times[k]` (ascending, `inf` unused) adds `w_events[:, k]`.

    `w_events` (n, K_in) holds each event's weight column (`W[:, index]` for a spike train, a sum of
    columns for synchronous groups); `w_rec` (n, n) adds `w_rec[:, j]` at a spike of neuron `j`.
    """
    n, k_in = w_events.shape
    dtype = w_events.dtype
    times_ext = jnp.concatenate([times.astype(dtype), jnp.full((1,), jnp.inf, dtype)])
    w_ext = jnp.concatenate([w_events, jnp.zeros((n, 1), dtype)], axis=1)
    end_time = jnp.asarray(t_end, dtype)
    neurons = jnp.arange(n, dtype=jnp.int32)

    def step(carry, _):
        now, state, slot = carry
        t_in = times_ext[slot]
        stop = jnp.minimum(t_in, end_time)
        wait = model.time_to_spike(state)
        who = jnp.argmin(wait).astype(jnp.int32)
        t_spike = now + wait[who]
        is_spike = t_spike < stop
        is_input = ~is_spike & (t_in <= end_time)
        is_end = ~is_spike & ~is_input & (now < end_time)
        t_next = jnp.where(is_spike, t_spike, jnp.where(is_input, t_in, jnp.where(is_end, end_time, now)))
        state = model.flow(state, t_next - now)
        fired = is_spike & (neurons == who)
        state = model.reset(state, fired)
        if w_rec is not None:
            state = model.receive(state, jnp.where(is_spike, w_rec[:, who], 0.0))
        state = model.receive(state, jnp.where(is_input, w_ext[:, slot], 0.0))
        kind = jnp.where(is_spike, SPIKE, jnp.where(is_input, INPUT, jnp.where(is_end, END, NO_EVENT)))
        return (t_next, state, slot + is_input.astype(jnp.int32)), (kind, t_next, who)

    carry0 = (jnp.zeros((), dtype), state0, jnp.zeros((), jnp.int32))
    (_, end, _), (kind, time, who) = jax.lax.scan(step, carry0, None, length=k_in + k_out + 1)
    is_spike = kind == SPIKE
    order, valid = first_steps(is_spike, k_out)
    overflow = jnp.sum(is_spike) > k_out
    counts = jnp.sum(is_spike[:, None] & (who[:, None] == neurons[None, :]), axis=0, dtype=jnp.int32)
    out_times = jnp.where(overflow, jnp.nan, jnp.where(valid, time[order], jnp.inf))
    return LayerRun(out_times, jnp.where(valid, who[order], 0), counts, end, overflow)


def pseudo_rates(model, run: LayerRun, drive: Array, w_rec: Array | None = None) -> tuple[Array, Array, Array]:
    """End-of-trial rates of a layer and its pseudodynamics' `(phase, period)`.

    `drive = W r_below` is the input from the layer below's rates; a recurrent layer's rates are
    computed from that drive, and its phases then include the recurrent input `w_rec r`.
    """
    phase, period = model.pseudo(run.end, drive)
    rates = phase / period
    if w_rec is not None:
        phase, period = model.pseudo(run.end, drive + w_rec @ rates)
    return rates, phase, period


def spike_train(run: LayerRun, phase: Array, period: Array, neuron: int, count: int, t_end: float) -> Array:
    """The first `count` spike times of `neuron`: its ordinary spikes, then pseudospikes `T + k P - phase`."""
    pos, valid = first_steps((run.index == neuron) & jnp.isfinite(run.times), count)
    ordinary = jnp.where(valid, run.times[pos], jnp.inf)
    index = jnp.arange(count, dtype=jnp.int32)
    done = run.counts[neuron].astype(jnp.int32)
    k = (index + 1 - done).astype(period.dtype)
    pseudo = t_end + k * period[neuron] - phase[neuron]
    out = jnp.where(index < done, ordinary, pseudo)
    return jnp.where(run.overflow, jnp.nan, out)


def first_times(run: LayerRun, phase: Array | None, period: Array | None, t_end: float) -> Array:
    """First spike time of every neuron of a layer: ordinary, else the first pseudospike (`T` without
    pseudodynamics, `phase=None`: silent neurons then carry no gradient)."""
    n = run.counts.shape[0]
    mine = run.index[None, :] == jnp.arange(n, dtype=run.index.dtype)[:, None]
    ordinary = jnp.min(jnp.where(mine & jnp.isfinite(run.times)[None, :], run.times[None, :], jnp.inf), axis=1)
    if phase is None or period is None:
        fallback = jnp.full((n,), t_end, ordinary.dtype)
    else:
        fallback = t_end + period - phase
    out = jnp.where(run.counts > 0, ordinary, fallback)
    return jnp.where(run.overflow, jnp.nan, out)
