r"""EventProp (Wunderlich & Pehle 2021): the exact gradient of an event-driven LIF layer by the adjoint method.

Between events the adjoint `(lambda_V, lambda_I)` runs backward with the transpose of the state's
propagator, `lambda_V <- e_m lambda_V`, `lambda_I <- c lambda_V + e_s lambda_I`
(`V(h) = e_m V0 + c I0`, `I(h) = e_s I0`): the closed-form solution of

    -d lambda_V / dt = -lambda_V / tau_mem,      -d lambda_I / dt = lambda_V / tau_mem - lambda_I / tau_syn.

At events (`delta t` is a shift of the event time, `x-`/`x+` the state just before/after it):
- an input spike of source `j` at `t_k`: `dL/dW[:, j] += lambda_I`, and the shift of `t_k` moves
  the current jump and with it the slopes of `I` and `V`,
  `dL/dt_k = lambda+ . (x'- - x'+) = (lambda_I / tau_syn - lambda_V / tau_mem) . W[:, j]` (the
  upstream layer's output cotangent);
- a spike of neuron `n` at `t*` (crossing with slope `V'- = (I_n - theta) / tau_mem`):
  `dL/dW_rec[:, n] += lambda_I`, and the jump condition

      lambda_V,n  <-  lambda_V,n - [ lambda+ . (x'- - x'+) + dL/dt* ] / V'-

  with `lambda+ . (x'- - x'+) = -theta lambda_V,n / tau_mem` (the reset, multi-spike mode) `+
  lambda_I . W_rec[:, n] / tau_syn` (recurrence); `dL/dt*` comes from the loss or the next layer.
- a readout's voltage maximum injects its cotangent into `lambda_V` at the time of the maximum;
  a maximum sitting at an input event (a kink) also moves with that event's time, adding
  `g V'-` to the event's time cotangent.

Nothing of the forward state is kept but each event's kind, time, index and, for spikes, the
spiking neuron's current: memory O(events), not O(time steps).
"""

import functools

import jax
import jax.numpy as jnp

from ._solver import INPUT, SPIKE, LayerConfig, LayerSettings, propagator, simulate, spike_list, spike_slots


def _config(constants, settings: LayerSettings) -> LayerConfig:
    """The solver's `LayerConfig` from `(tau_mem, tau_syn, threshold)` and the static settings."""
    tau_mem, tau_syn, threshold = constants
    return LayerConfig(tau_mem, tau_syn, threshold, settings)


def _outputs(w_in, w_rec, times, index, cfg: LayerConfig, early_exit: bool):
    result = simulate(w_in, w_rec, times, index, cfg, early_exit=early_exit)
    if cfg.spiking:
        out_times, out_index = spike_list(result, cfg)
        peak = jnp.zeros((0,), w_in.dtype)
    else:
        out_times, out_index = jnp.zeros((0,), w_in.dtype), jnp.zeros((0,), jnp.int32)
        assert result.peak is not None  # readout layers track their voltage maximum
        peak = jnp.where(result.overflow, jnp.nan, result.peak.value)
    return (out_times, out_index, peak, result.overflow), result


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def eventprop_layer(w_in, w_rec, times, index, constants, settings: LayerSettings):
    """`(out_times, out_index, peak, overflow)` of one layer, differentiated by EventProp.

    `constants = (tau_mem, tau_syn, threshold)` (arrays; no gradient flows to them)."""
    return _outputs(w_in, w_rec, times, index, _config(constants, settings), True)[0]


def _fwd(w_in, w_rec, times, index, constants, settings: LayerSettings):
    stop = jax.lax.stop_gradient
    cfg = _config(tuple(stop(c) for c in constants), settings)
    out, result = _outputs(stop(w_in), None if w_rec is None else stop(w_rec), stop(times), index, cfg, True)
    return out, (w_in, w_rec, times, (cfg.tau_mem, cfg.tau_syn, cfg.threshold), result)


def _bwd(settings: LayerSettings, res, cts):
    w_in, w_rec, times, constants, result = res
    cfg = _config(constants, settings)
    g_out_times, _, g_peak, _ = cts
    rec, peak = result.records, result.peak
    n_steps = rec.kind.shape[0]
    dtype = w_in.dtype
    tm, ts, theta = cfg.tau_mem, cfg.tau_syn, cfg.threshold
    if cfg.spiking:
        order, valid = spike_slots(rec, cfg)
        g_step = jnp.zeros((n_steps,), dtype).at[order].add(jnp.where(valid, g_out_times, 0.0))
    t_prev = jnp.concatenate([jnp.zeros((1,), dtype), rec.time[:-1]])

    def back(carry, k):
        lv, li, dw_in, dw_rec, g_in = carry
        kind, j = rec.kind[k], rec.which[k]
        is_in = kind == INPUT
        dw_in = dw_in.at[:, j].add(jnp.where(is_in, li, 0.0))
        g_time = (li / ts - lv / tm) @ w_in[:, j]
        if not cfg.spiking:
            kink = (peak.step == k) & peak.at_event
            g_time = g_time + jnp.sum(jnp.where(kink, g_peak * peak.slope, 0.0))
        g_in = g_in.at[rec.slot[k]].add(jnp.where(is_in, g_time, 0.0))
        if cfg.spiking:
            is_sp = kind == SPIKE
            jump = g_step[k]
            if cfg.mode == "multi":
                jump = jump - theta / tm * lv[j]
            if w_rec is not None:
                jump = jump + (li / ts - lv / tm) @ w_rec[:, j]
                dw_rec = dw_rec.at[:, j].add(jnp.where(is_sp, li, 0.0))
            v_dot = (rec.current[k] - theta) / tm
            lv = lv.at[j].add(jnp.where(is_sp, -jump / jnp.where(is_sp, v_dot, 1.0), 0.0))
        e_m, c, e_s = propagator(rec.time[k] - t_prev[k], cfg)
        lv, li = e_m * lv, c * lv + e_s * li
        if not cfg.spiking:
            here = peak.step == k
            e_m, c, _ = propagator(jnp.where(here, peak.time - t_prev[k], 0.0), cfg)
            lv = lv + jnp.where(here, e_m * g_peak, 0.0)
            li = li + jnp.where(here, c * g_peak, 0.0)
        return (lv, li, dw_in, dw_rec, g_in), None

    n = w_in.shape[0]
    zeros = jnp.zeros((n,), dtype)
    carry0 = (
        zeros,
        zeros,
        jnp.zeros_like(w_in),
        None if w_rec is None else jnp.zeros_like(w_rec),
        jnp.zeros((times.shape[0] + 1,), dtype),
    )
    (_, _, dw_in, dw_rec, g_in), _ = jax.lax.scan(back, carry0, jnp.arange(n_steps, dtype=jnp.int32), reverse=True)
    # the constants are hyper-parameters: EventProp gives them no gradient (zero cotangents)
    zero = tuple(jnp.zeros_like(c) for c in constants)
    return dw_in, dw_rec, g_in[: times.shape[0]].astype(times.dtype), None, zero


eventprop_layer.defvjp(_fwd, _bwd)


def implicit_layer(w_in, w_rec, times, index, constants, settings: LayerSettings):
    """The same outputs, differentiated by autodiff through the event loop (implicit spike-time derivatives)."""
    return _outputs(w_in, w_rec, times, index, _config(constants, settings), False)[0]
