r"""Event-driven simulation of a layer of continuous-time current-based LIF neurons.

Between events every neuron follows, exactly,

    tau_mem dV/dt = -V + I,        tau_syn dI/dt = -I,

so with `e_m = exp(-h / tau_mem)`, `e_s = exp(-h / tau_syn)` and `a = I0 tau_syn / (tau_syn - tau_mem)`

    V(h) = (V0 - a) e_m + a e_s        (tau_mem != tau_syn),   V(h) = (V0 + I0 h / tau_mem) e_m  (equal),
    I(h) = I0 e_s.

An input spike of source `j` adds `W[:, j]` to `I` (the same jump as the discrete core's
`I[t+1] = lambda_syn I[t] + W x[t]`). A neuron spikes when `V` reaches the threshold from below;
then `V` is set to 0 (`mode="multi"`) or the neuron never spikes again (`mode="single"`, V
untouched). A recurrent layer adds `W_rec[:, n]` to `I` at a spike of neuron `n`.

One `lax.scan` step handles one event: the earliest of the next input spike, the next threshold
crossing of any neuron (found on a bracket where `V` rises: in closed form for
`tau_mem = 2 tau_syn`, by safeguarded Newton otherwise) and the trial end. A layer with
`K_in` input events and room for `K_out` output spikes runs `K_in + K_out + 1` steps. More spikes
than `K_out` set the overflow flag and make every output time NaN: results are never silently
truncated.

The time constants and the threshold are arrays (`LayerConfig`): new values never recompile. The
solver kind is a static setting (`LayerSettings.closed_form`, chosen from the constants when the
layer is built); `EventLayer` refuses, at run time, constants that left the `tau_mem = 2 tau_syn`
ratio its closed form was chosen for.

For differentiation the crossing time `t*` found by the solver enters through one Newton step
written with `stop_gradient`, `t* - (V(t*) - theta) / V'(t*)`: its value is `t*` and its derivative
the implicit-function one, `dt*/dp = -(dV/dp) / V'(t*)`. Autodiff through the scan then gives the
exact gradient (`ImplicitSpikeTimes`); `snnsad.events._eventprop` computes the same gradient with the
adjoint method.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array

NO_EVENT, INPUT, SPIKE, END = 0, 1, 2, 3


class LayerSettings(NamedTuple):
    """The static settings of one event-driven layer (hashable: a `custom_vjp` non-diff argument)."""

    t_end: float
    k_out: int
    mode: str  # "multi" | "single" | "readout"
    newton_steps: int
    closed_form: bool  # tau_mem = 2 tau_syn: crossings in closed form (else safeguarded Newton)


class LayerConfig(NamedTuple):
    """What the solver reads of one layer: its constants (arrays: new values never recompile) and its
    static settings. Build one with `layer_config`."""

    tau_mem: Array
    tau_syn: Array
    threshold: Array
    settings: LayerSettings

    @property
    def t_end(self) -> float:
        return self.settings.t_end

    @property
    def k_out(self) -> int:
        return self.settings.k_out

    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def newton_steps(self) -> int:
        return self.settings.newton_steps

    @property
    def spiking(self) -> bool:
        return self.settings.mode != "readout"

    @property
    def n_steps_extra(self) -> int:
        return (self.k_out if self.spiking else 0) + 1


def is_double(tau_mem, tau_syn) -> bool:
    """Whether `tau_mem = 2 tau_syn` (concrete values; `math.isclose`), where crossings have a closed form."""
    return math.isclose(float(tau_mem), 2 * float(tau_syn))


def layer_config(tau_mem, tau_syn, threshold, t_end, k_out, mode, newton_steps) -> LayerConfig:
    """A `LayerConfig` from concrete constants (the closed-form solver chosen where `tau_mem = 2 tau_syn`)."""
    settings = LayerSettings(float(t_end), k_out, mode, newton_steps, is_double(tau_mem, tau_syn))
    return LayerConfig(jnp.asarray(tau_mem), jnp.asarray(tau_syn), jnp.asarray(threshold), settings)


def _same(tm, ts) -> Array:
    """`tau_mem == tau_syn` to `math.isclose`'s relative 1e-9 (the equal-constants formulas apply)."""
    return jnp.abs(tm - ts) <= 1e-9 * jnp.maximum(jnp.abs(tm), jnp.abs(ts))


class Record(NamedTuple):
    """What each scan step records (O(events) memory: the adjoint pass needs nothing else)."""

    kind: Array  # NO_EVENT | INPUT | SPIKE | END
    time: Array  # time of the event (the trial end for END, the previous time for NO_EVENT)
    which: Array  # source index of an input event, neuron index of a spike
    slot: Array  # input slot of an input event
    current: Array  # synaptic current of the spiking neuron at its spike (before any recurrent jump)


class Peak(NamedTuple):
    """Running maximum of each readout neuron's voltage over the trial."""

    value: Array
    time: Array
    step: Array  # scan step whose interval (t_prev, t_k] holds the maximum, -1 if at t = 0
    at_event: Array  # the maximum sits at the event's time t_k (a kink), not inside the interval
    slope: Array  # dV/dt just before that event (the derivative of V(t_k) in the event's time)


class LayerResult(NamedTuple):
    records: Record
    peak: Peak | None
    overflow: Array


def flow(v: Array, i: Array, h: Array, cfg: LayerConfig) -> tuple[Array, Array]:
    """State after a free evolution of duration `h` (exact)."""
    e_m, c, e_s = propagator(h, cfg)
    return e_m * v + c * i, e_s * i


def propagator(h: Array, cfg: LayerConfig) -> tuple[Array, Array, Array]:
    """`(e_m, c, e_s)` with `V(h) = e_m V0 + c I0` and `I(h) = e_s I0`."""
    tm, ts = cfg.tau_mem, cfg.tau_syn
    e_m, e_s = jnp.exp(-h / tm), jnp.exp(-h / ts)
    same = _same(tm, ts)
    c = jnp.where(same, h / tm * e_m, ts / jnp.where(same, 1.0, ts - tm) * (e_s - e_m))
    return e_m, c, e_s


def slope(v: Array, i: Array, cfg: LayerConfig) -> Array:
    """`dV/dt = (I - V) / tau_mem`."""
    return (i - v) / cfg.tau_mem


def critical_time(v: Array, i: Array, cfg: LayerConfig) -> tuple[Array, Array]:
    """Time `> 0` of the one stationary point of `V` after the current state, and whether it exists."""
    tm, ts = cfg.tau_mem, cfg.tau_syn
    same = _same(tm, ts)
    # equal constants: V' = 0 at t = tau_mem (i - v) / i
    ok_eq = (i != 0) & ((i - v) * i > 0)
    t_eq = tm * (i - v) / jnp.where(ok_eq, i, 1.0)
    # otherwise V' = 0  <=>  exp(-t (1/ts - 1/tm)) = -(v - a) ts / (a tm) =: rho
    a = i * (ts / jnp.where(same, 1.0, ts - tm))
    rate = jnp.where(same, 1.0, 1 / ts - 1 / tm)
    num, den = -(v - a) * ts, a * tm
    rho_ok = (den != 0) & (num * den > 0)
    rho = jnp.where(rho_ok, num / jnp.where(den != 0, den, 1.0), 1.0)
    t_ne = -jnp.log(rho) / rate
    ok_ne = rho_ok & (t_ne > 0)
    ok = jnp.where(same, ok_eq, ok_ne)
    return jnp.where(ok, jnp.where(same, t_eq, t_ne), 0.0), ok


def _newton(v, i, lo, hi, cfg: LayerConfig):
    """Safeguarded Newton on `V(t) = theta` in a bracket `[lo, hi]` where `V` rises through it."""
    theta = cfg.threshold

    def body(_, carry):
        lo, hi, t = carry
        vt, it = flow(v, i, t, cfg)
        f = vt - theta
        lo = jnp.where(f < 0, t, lo)
        hi = jnp.where(f < 0, hi, t)
        d = slope(vt, it, cfg)
        step = t - f / jnp.where(d > 0, d, 1.0)
        inside = (d > 0) & (step > lo) & (step < hi)
        return lo, hi, jnp.where(inside, step, 0.5 * (lo + hi))

    return jax.lax.fori_loop(0, cfg.newton_steps, body, (lo, hi, 0.5 * (lo + hi)))[2]


def _closed_form(v, i, lo, hi, cfg: LayerConfig):
    """`tau_mem = 2 tau_syn`: `V = (v - a) u + a u^2` with `u = exp(-t / tau_mem)`, a quadratic in `u`.

    The crossing is the root `u` in `[exp(-hi / tau_mem), exp(-lo / tau_mem)]` (the bracket holds
    exactly one); both roots are formed without cancellation.
    """
    tm, theta = cfg.tau_mem, cfg.threshold
    a = i * (cfg.tau_syn / (cfg.tau_syn - tm))
    b = v - a
    disc = jnp.maximum(b * b + 4 * a * theta, 0.0)
    q = -0.5 * (b + jnp.where(b >= 0, 1.0, -1.0) * jnp.sqrt(disc))
    safe_q = jnp.where(q != 0, q, 1.0)
    r1 = jnp.where(a != 0, q / jnp.where(a != 0, a, 1.0), -theta / safe_q)  # linear case: b u = theta
    r2 = -theta / safe_q
    u_lo, u_hi = jnp.exp(-hi / tm), jnp.exp(-lo / tm)
    tol = 1e-12 if v.dtype == jnp.float64 else 1e-6

    def inside(r):
        return (r >= u_lo * (1 - tol)) & (r <= u_hi * (1 + tol)) & (r > 0)

    u = jnp.where(inside(r1), r1, jnp.where(inside(r2), r2, jnp.sqrt(u_lo * u_hi)))
    return jnp.clip(-tm * jnp.log(u), lo, hi)


def next_crossing(v: Array, i: Array, horizon: Array, cfg: LayerConfig, able: Array) -> Array:
    """Time after now of each neuron's next threshold crossing within `[0, horizon]`, `inf` if none.

    Differentiable in `v`, `i` (the implicit-function derivative) and exact to the solver's precision.
    """
    theta = cfg.threshold
    v0, i0, hor = (jax.lax.stop_gradient(a) for a in (v, i, horizon))
    t_crit, has_crit = critical_time(v0, i0, cfg)
    has_crit = has_crit & (t_crit < hor)
    falls_first = slope(v0, i0, cfg) <= 0
    # V has at most one stationary point: rising to a maximum (bracket [0, t_crit]), falling to a
    # minimum then rising (bracket [t_crit, horizon]), or monotone (bracket [0, horizon]).
    lo = jnp.where(has_crit & falls_first, t_crit, 0.0)
    hi = jnp.where(has_crit & ~falls_first, t_crit, hor)
    v_hi, _ = flow(v0, i0, hi, cfg)
    found = able & (v0 < theta) & (v_hi >= theta) & jnp.isfinite(hor)
    lo = jnp.where(found, lo, 0.0)
    hi = jnp.where(found, hi, 1.0)
    if cfg.settings.closed_form:
        t0 = _closed_form(v0, i0, lo, hi, cfg)
    else:
        t0 = _newton(v0, i0, lo, hi, cfg)
    t0 = jax.lax.stop_gradient(t0)
    # one Newton step whose value is t0 and whose derivative is -(dV/dp) / V'(t0)
    vt, it = flow(v, i, t0, cfg)
    d = jax.lax.stop_gradient(slope(vt, it, cfg))
    t = t0 - (vt - theta) / jnp.where(found & (d > 0), d, 1.0)
    return jnp.where(found, t, jnp.inf)


def simulate(
    w_in: Array, w_rec: Array | None, times: Array, index: Array, cfg: LayerConfig, *, early_exit: bool = False
) -> LayerResult:
    """Run one layer on one example's input events (`times` ascending, `inf` for empty slots).

    `early_exit=True` stops at the trial end with a `while_loop` (not reverse-differentiable: what
    EventProp's forward pass uses); the records after it read `NO_EVENT` at the trial end.
    """
    n = w_in.shape[0]
    dtype = w_in.dtype
    k_in = times.shape[0]
    times_ext = jnp.concatenate([times.astype(dtype), jnp.full((1,), jnp.inf, dtype)])
    index_ext = jnp.concatenate([index.astype(jnp.int32), jnp.zeros((1,), jnp.int32)])
    t_end = jnp.asarray(cfg.t_end, dtype)
    zeros = jnp.zeros((n,), dtype)
    peak0 = Peak(zeros, zeros, jnp.full((n,), -1, jnp.int32), jnp.zeros((n,), bool), zeros) if not cfg.spiking else None
    carry0 = (
        jnp.zeros((), dtype),  # now
        zeros,  # V
        zeros,  # I
        jnp.zeros((), jnp.int32),  # next input slot
        jnp.zeros((), jnp.int32),  # spikes so far
        jnp.ones((n,), bool),  # may still spike
        jnp.zeros((), bool),  # overflow
        peak0,
    )

    def step(carry, k):
        now, v, i, slot, n_out, able, overflow, peak = carry
        t_in = times_ext[slot]
        stop = jnp.minimum(t_in, t_end)
        if cfg.spiking:
            t_cross = next_crossing(v, i, stop - now, cfg, able)
            who = jnp.argmin(t_cross).astype(jnp.int32)
            t_spike = t_cross[who]
            is_spike = jnp.isfinite(t_spike)
        else:
            who, t_spike, is_spike = jnp.zeros((), jnp.int32), jnp.zeros((), dtype), jnp.zeros((), bool)
        is_input = ~is_spike & (t_in <= t_end)
        is_end = ~is_spike & ~is_input & (now < t_end)
        t_next = jnp.where(is_spike, now + t_spike, jnp.where(is_input, t_in, jnp.where(is_end, t_end, now)))
        h = t_next - now
        if peak is not None:
            peak = _track_peak(peak, v, i, h, now, k, is_input | is_end, cfg)
        v, i = flow(v, i, h, cfg)
        src = index_ext[slot]
        current = i[who]
        if cfg.spiking:
            if cfg.mode == "multi":
                v = jnp.where(is_spike & (jnp.arange(n, dtype=jnp.int32) == who), 0.0, v)
            else:
                able = able & ~(is_spike & (jnp.arange(n, dtype=jnp.int32) == who))
            if w_rec is not None:
                i = i + jnp.where(is_spike, w_rec[:, who], 0.0)
            overflow = overflow | (is_spike & (n_out >= cfg.k_out))
            n_out = n_out + is_spike.astype(jnp.int32)
        i = i + jnp.where(is_input, w_in[:, src], 0.0)
        kind = jnp.where(is_spike, SPIKE, jnp.where(is_input, INPUT, jnp.where(is_end, END, NO_EVENT))).astype(
            jnp.int32
        )
        rec = Record(kind, t_next, jnp.where(is_spike, who, src), slot, current)
        slot = slot + is_input.astype(jnp.int32)
        return (t_next, v, i, slot, n_out, able, overflow, peak), rec

    n_steps = k_in + cfg.n_steps_extra
    if not early_exit:
        carry, records = jax.lax.scan(step, carry0, jnp.arange(n_steps, dtype=jnp.int32))
        return LayerResult(records, carry[7], carry[6])
    fill = jnp.zeros((n_steps,), jnp.int32)
    empty = Record(
        fill, jnp.full((n_steps,), t_end), fill, jnp.full((n_steps,), k_in, jnp.int32), jnp.zeros((n_steps,), dtype)
    )

    def body(state):
        k, carry, records = state
        carry, rec = step(carry, k)
        records = jax.tree.map(lambda buf, r: buf.at[k].set(r), records, rec)
        return k + 1, carry, records

    def running(state):
        k, carry, _ = state
        return (k < n_steps) & (carry[0] < t_end)

    _, carry, records = jax.lax.while_loop(running, body, (jnp.zeros((), jnp.int32), carry0, empty))
    return LayerResult(records, carry[7], carry[6])


def _track_peak(peak: Peak, v, i, h, now, k, at_event_ok, cfg: LayerConfig) -> Peak:
    """Update the running maximum with the interval `(now, now + h]`: its inner peak and its end."""
    t_crit, has_crit = critical_time(jax.lax.stop_gradient(v), jax.lax.stop_gradient(i), cfg)
    inner = has_crit & (t_crit < h) & (slope(v, i, cfg) > 0)
    v_inner, _ = flow(v, i, jnp.where(inner, t_crit, 0.0), cfg)
    v_end, i_end = flow(v, i, h, cfg)
    end_ok = at_event_ok & (h > 0)
    take_inner = inner & (v_inner > peak.value)
    value = jnp.where(take_inner, v_inner, peak.value)
    take_end = end_ok & (v_end > value)
    value = jnp.where(take_end, v_end, value)
    changed = take_inner | take_end
    return Peak(
        value=value,
        time=jnp.where(take_end, now + h, jnp.where(take_inner, now + t_crit, peak.time)),
        step=jnp.where(changed, k, peak.step),
        at_event=jnp.where(take_end, True, jnp.where(take_inner, False, peak.at_event)),
        slope=jnp.where(take_end, slope(v_end, i_end, cfg), jnp.where(take_inner, 0.0, peak.slope)),
    )


def spike_slots(rec: Record, cfg: LayerConfig) -> tuple[Array, Array]:
    """For each of the `k_out` output slots, the scan step of that spike and whether the slot holds one."""
    return first_steps(rec.kind == SPIKE, cfg.k_out)


def first_steps(is_spike: Array, k: int) -> tuple[Array, Array]:
    """The first `k` scan steps where `is_spike` holds, in order, and whether each slot holds one."""
    n_steps = is_spike.shape[0]
    order = jnp.argsort(jnp.where(is_spike, jnp.arange(n_steps, dtype=jnp.int32), n_steps))[:k]
    return order, is_spike[order]


def spike_list(result: LayerResult, cfg: LayerConfig) -> tuple[Array, Array]:
    """The layer's output spikes as `(times, index)` of length `k_out`, ascending, `inf` padded.

    After an overflow every time is NaN.
    """
    rec = result.records
    order, valid = spike_slots(rec, cfg)
    times = jnp.where(valid, rec.time[order], jnp.inf)
    times = jnp.where(result.overflow, jnp.nan, times)
    return times, jnp.where(valid, rec.which[order], 0)
