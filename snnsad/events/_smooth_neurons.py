r"""Neurons whose voltage blows up in finite time: theta and QIF, with their pseudodynamics.

Klos & Memmesheimer ("Smooth exact gradient descent learning in spiking neural networks",
arXiv 2309.14523) use such neurons because a spike cannot vanish in the middle of a trial: as a
parameter changes, the spike moves continuously to the trial end and leaves there. Pseudodynamics
after the trial end then give every neuron a next (pseudo)spike time, so that a first-spike loss is
continuous in the parameters and silent neurons still receive a gradient.

**Theta** (`Theta(tau, i0)`, `i0 > 1/4`, delta synapses): `tau dV/dt = V (V - 1) + i0`, an input
spike of weight `w` sets `V -> V + w`. In the phase `phi` (time since the last reset if no input
had come) the free neuron advances at rate 1 and spikes at the period `P = tau pi / c`,
`c = sqrt(i0 - 1/4)`; an input moves the phase through the phase-transfer function
`H(phi, w) = Phi(Phi^-1(phi) + w)`. With `a = phi c / tau - pi/2`,

    H(phi, w) = (tau / c) (atan2(sin a + (w / c) cos a, cos a) + pi / 2),

smooth on all of `[0, P]` (no infinite voltages are formed). Pseudodynamics: at the trial end the
layer below's end-of-trial rates `r` (each in `[0, 1]`) act as one more input `u = W r`; the
neuron's rate is `H(phi_T, u) / P` and its `k`-th pseudospike time `T + k P - H(phi_T, u)`.

**QIF** (`QIF(tau)`, exponential synaptic current with `tau_mem = tau = 2 tau_syn`):
`tau dV/dt = V (V - 1) + I`, `(tau / 2) dI/dt = -I`, an input spike adds `w` to `I`; spike at
`V = +inf`, reset to `V = -inf`. With `s = h / tau`, `sigma = 1 - exp(-s)` and `V = exp(-s) U`, the
current's decay drops out: `dU/dsigma = U^2 + I0` (Riccati with a constant), so the flow is a Moebius
map of `U`. The state is kept projectively, `V = x / y` with `(x, y)` on the unit half circle
`y >= 0` (the reset is `(-1, 0)`, a spike `(1, 0)`), which is finite everywhere:

    x' = x C + y I0 S,    y' = y C - x S,    V' = exp(-s) x' / y',
    C = cos(sqrt(I0) sigma),  S = sin(sqrt(I0) sigma) / sqrt(I0)     (cosh / sinh for I0 < 0),

written as analytic functions of `z = I0 sigma^2` (a series near 0) so positive, zero and negative
current share one formula with finite derivatives at the case boundaries. The next spike is the
first root of `y'`: `sigma* = (y / x) g(I0 y^2 / x^2)` with `g(z) = atan(sqrt z) / sqrt z`
(`atanh` for `z < 0`) when `x > 0`, `(pi / 2 + atan2(-x, q y)) / q`, `q = sqrt(I0)` when `x <= 0 <
I0`, and it exists when `sigma* < 1`. Pseudodynamics: the pseudo-current `I+ = alpha
softplus((I_T + u) / alpha)` (the end-of-trial current plus the input `u = W r`) drives the theta
form `tau dV/dt = (V - 1/2)^2 + I+`, whose phase `phi+ = tau (atan2(x - y/2, sqrt(I+) y) + pi/2) /
sqrt(I+)` and period `P+ = tau pi / sqrt(I+)` give the rate `phi+ / P+` and the pseudospike times
`T + k P+ - phi+`.

Both give, at a spike that reaches the trial end, the same downstream effect whether it is an
ordinary spike at `T - 0` (a full input of weight `w`) or a pseudo one (rate 1, input `w x 1`), and
the neuron's own first pseudospike tends to `T`: losses are continuous where ordinary spikes leave.
"""

import abc
import math
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._checks import is_concrete
from .._trainable import hyperparameter


def _series(z, coeffs):
    out = jnp.zeros_like(z) + coeffs[-1]
    for c in coeffs[-2::-1]:
        out = out * z + c
    return out


_SMALL = 1e-4


def _analytic(z, positive, negative, coeffs):
    """`positive(sqrt z)` for z > 0, `negative(sqrt -z)` for z < 0, a Taylor series near 0 (safe gradients)."""
    small = jnp.abs(z) < _SMALL
    zp = jnp.where(~small & (z > 0), z, 1.0)
    zn = jnp.where(~small & (z < 0), -z, 1.0)
    return jnp.where(small, _series(z, coeffs), jnp.where(z > 0, positive(jnp.sqrt(zp)), negative(jnp.sqrt(zn))))


def _cos_sqrt(z):
    """cos(sqrt z), cosh(sqrt -z) for z < 0."""
    return _analytic(z, jnp.cos, jnp.cosh, (1.0, -1 / 2, 1 / 24, -1 / 720))


def _sinc_sqrt(z):
    """sin(sqrt z) / sqrt z, sinh(sqrt -z) / sqrt -z for z < 0."""
    return _analytic(z, lambda r: jnp.sin(r) / r, lambda r: jnp.sinh(r) / r, (1.0, -1 / 6, 1 / 120, -1 / 5040))


def _tanhc_sqrt(y):
    """tanh(sqrt y) / sqrt y for y >= 0 (the cosh-normalised sine branch for negative current)."""
    return _analytic(y, lambda r: jnp.tanh(r) / r, lambda r: jnp.tan(r) / r, (1.0, -1 / 3, 2 / 15, -17 / 315))


def _atanc_sqrt(z):
    """atan(sqrt z) / sqrt z, atanh(sqrt -z) / sqrt -z for -1 < z < 0 (caller keeps z > -1)."""
    return _analytic(z, lambda r: jnp.arctan(r) / r, lambda r: jnp.arctanh(r) / r, (1.0, -1 / 3, 1 / 5, -1 / 7))


def _check(name, value, where, lower=0.0) -> Any:
    """`value` after checking it is a finite scalar `> lower`: `ValueError` now when concrete, the same
    check at run time (`eqx.error_if`) when traced."""
    if isinstance(value, bool) or (is_concrete(value) and jnp.ndim(value) != 0):
        raise ValueError(f"{where}: `{name}` must be a finite number > {lower}, got {value!r}.")
    if not is_concrete(value):
        value = jnp.asarray(value)
        bad = ~(jnp.isfinite(value) & (value > lower))
        return eqx.error_if(value, bad, f"{where}: `{name}` must be a finite number > {lower}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `{name}` must be a finite number > {lower}, got {value!r}.") from None
    if not math.isfinite(number) or number <= lower:
        raise ValueError(f"{where}: `{name}` must be a finite number > {lower}, got {value!r}.")
    return value


def _as(value, like) -> Array:
    """A constant in the dtype of `like` (a state or an input), so a float32 network stays float32."""
    return jnp.asarray(value, jnp.result_type(like))


class QIFState(NamedTuple):
    """`V = x / y` with `(x, y)` on the unit half circle `y >= 0`; `current` the synaptic current."""

    x: Array
    y: Array
    current: Array


class AbstractSmoothNeuron(eqx.Module):
    """A neuron whose spikes can only leave a trial at its end, with pseudodynamics after it (Klos &
    Memmesheimer): what `run_layer`, `pseudo_rates` and `SmoothNetwork` need of it.

    The state is a pytree of `(n,)` arrays. Implement `initial`, `time_to_spike` (time until the next
    spike of the free neuron, `inf` if none), `flow` (the free evolution for a duration), `receive` (an
    input of weight `w`), `reset` (where `mask`), `voltage` and `pseudo` (phase and period of the
    pseudodynamics after the trial end). A neuron whose initial state the network trains
    (`SmoothNetwork`'s `phases`) says so with `default_start` (the initial state of a new network) and
    keeps it in range with `clip_start`.
    """

    @abc.abstractmethod
    def initial(self, n: int, dtype, start: Any = None) -> Any:
        """The state of `n` neurons at t = 0 (`start`: the trained initial state, where there is one)."""

    @abc.abstractmethod
    def voltage(self, state: Any) -> Array:
        """`V` of a state."""

    @abc.abstractmethod
    def time_to_spike(self, state: Any) -> Array:
        """Time until each free neuron's next spike (`inf` if none)."""

    @abc.abstractmethod
    def flow(self, state: Any, h: ArrayLike) -> Any:
        """The state after a free evolution of duration `h`."""

    @abc.abstractmethod
    def receive(self, state: Any, w: ArrayLike) -> Any:
        """The state after an input spike of weight `w` (per neuron)."""

    @abc.abstractmethod
    def reset(self, state: Any, mask: ArrayLike) -> Any:
        """The state with the neurons in `mask` reset (they just spiked)."""

    @abc.abstractmethod
    def pseudo(self, state: Any, drive: ArrayLike) -> tuple[Array, Array]:
        """`(phase, period)` of the pseudodynamics after the trial end, given the input `drive = W r`."""

    def default_start(self) -> Any:
        """The trained initial state of a new network's neurons, or `None` where the initial state is not
        trained (the default)."""
        return None

    def clip_start(self, start: Array) -> Array:
        """A trained initial state clipped into its valid range (after an optimiser step)."""
        return start


class Theta(AbstractSmoothNeuron):
    """Theta (oscillatory QIF) neuron with delta synapses, simulated in its phase: `tau dV/dt = V (V - 1) + i0`.

    `i0 > 1/4` makes the free neuron fire with period `P = tau pi / sqrt(i0 - 1/4)`; defaults are
    Klos & Memmesheimer's MNIST values (`tau = 6 / pi`, `i0 = 5 / 4`, so `P = 6`). The state is the
    phase in `[0, P]`; an input of weight `w` adds `w` to `V` (see the module docstring for `H`).
    """

    tau: Array = hyperparameter()
    i0: Array = hyperparameter()

    def __init__(self, tau: ArrayLike = 6 / math.pi, i0: ArrayLike = 1.25):
        self.tau = _check("tau", tau, "Theta")
        self.i0 = _check("i0", i0, "Theta", lower=0.25)

    @property
    def c(self) -> Array:
        return jnp.sqrt(self.i0 - 0.25)

    @property
    def period(self) -> Array:
        """Free period `P` (the phase threshold)."""
        return self.tau * math.pi / self.c

    def _period(self, like) -> Array:
        return _as(self.tau, like) * math.pi / jnp.sqrt(_as(self.i0, like) - 0.25)

    def initial(self, n: int, dtype, start=None) -> Array:
        """Phases at t = 0: `start` (scalar or (n,)) or 0 (just reset)."""
        return jnp.broadcast_to(jnp.asarray(0.0 if start is None else start, dtype), (n,))

    def default_start(self) -> Array:
        """Half the period: a neuron spikes only if its input drives it within a trial shorter than `P / 2`."""
        return self.period / 2

    def clip_start(self, start: Array) -> Array:
        """Initial phases clipped to `[0, P]`."""
        return jnp.clip(start, 0.0, self._period(start))

    def voltage(self, phi: ArrayLike) -> Array:
        """`V` of a phase (infinite at 0 and P)."""
        phi = jnp.asarray(phi)
        c = jnp.sqrt(_as(self.i0, phi) - 0.25)
        return 0.5 + c * jnp.tan(phi * c / _as(self.tau, phi) - math.pi / 2)

    def transfer(self, phi: ArrayLike, w: ArrayLike) -> Array:
        """Phase-transfer function `H(phi, w)`: the phase after an input of weight `w`."""
        phi = jnp.asarray(phi)
        tau, c = _as(self.tau, phi), jnp.sqrt(_as(self.i0, phi) - 0.25)
        a = phi * (c / tau) - math.pi / 2
        return (tau / c) * (jnp.arctan2(jnp.sin(a) + (w / c) * jnp.cos(a), jnp.cos(a)) + math.pi / 2)

    def time_to_spike(self, phi: ArrayLike) -> Array:
        phi = jnp.asarray(phi)
        return self._period(phi) - phi

    def flow(self, phi: ArrayLike, h: ArrayLike) -> Array:
        return jnp.asarray(phi) + jnp.asarray(h)

    def receive(self, phi: ArrayLike, w: ArrayLike) -> Array:
        return self.transfer(phi, w)

    def reset(self, phi: ArrayLike, mask: ArrayLike) -> Array:
        return jnp.where(mask, jnp.zeros_like(phi), phi)

    def pseudo(self, phi: ArrayLike, drive: ArrayLike) -> tuple[Array, Array]:
        """`(phase, period)` of the pseudodynamics after the trial end, given the input `drive = W r`."""
        phi = jnp.asarray(phi)
        return self.transfer(phi, drive), jnp.full_like(phi, self._period(phi))


class QIF(AbstractSmoothNeuron):
    """Quadratic integrate-and-fire neuron with exponential synaptic current, `tau_mem = tau = 2 tau_syn`.

    `tau dV/dt = V (V - 1) + I`, `(tau / 2) dI/dt = -I`; an input spike adds its weight to `I`, a spike
    happens at `V = +inf` and resets to `V = -inf`. Flow and next spike time are analytic (module
    docstring); `alpha` is the softplus scale of the pseudo-current (Klos & Memmesheimer: 10).
    """

    tau: Array = hyperparameter()
    alpha: Array = hyperparameter()

    def __init__(self, tau: ArrayLike = 1.0, alpha: ArrayLike = 10.0):
        self.tau = _check("tau", tau, "QIF")
        self.alpha = _check("alpha", alpha, "QIF")

    def initial(self, n: int, dtype, start=None, current=None) -> QIFState:
        """State at t = 0: voltage `start` (default 0, may be -inf for just reset) and current (default 0)."""
        voltage = start
        v = jnp.broadcast_to(jnp.asarray(0.0 if voltage is None else voltage, dtype), (n,))
        i = jnp.broadcast_to(jnp.asarray(0.0 if current is None else current, dtype), (n,))
        finite = jnp.isfinite(v)
        vf = jnp.where(finite, v, 0.0)
        norm = jnp.sqrt(1.0 + vf * vf)
        return QIFState(jnp.where(finite, vf / norm, jnp.sign(v)), jnp.where(finite, 1.0 / norm, 0.0), i)

    def voltage(self, state: QIFState) -> Array:
        return state.x / state.y

    def time_to_spike(self, state: QIFState) -> Array:
        x, y, i0 = state
        positive = x > 0
        xs = jnp.where(positive, x, 1.0)
        z = i0 * (y / xs) ** 2
        reachable = ~positive | (z > -1.0)  # with x > 0 and I0 < 0 a spike needs |U| above sqrt(-I0)
        sigma_pos = (y / xs) * _atanc_sqrt(jnp.where(positive & reachable, z, 0.0))
        turning = ~positive & (i0 > 0)
        q = jnp.sqrt(jnp.where(turning, i0, 1.0))
        sigma_neg = (math.pi / 2 + jnp.arctan2(-x, q * y)) / q
        sigma = jnp.where(positive, sigma_pos, sigma_neg)
        ok = jnp.where(positive, reachable, turning) & (sigma < 1.0)
        return jnp.where(ok, -_as(self.tau, x) * jnp.log1p(-jnp.where(ok, sigma, 0.0)), jnp.inf)

    def flow(self, state: QIFState, h: ArrayLike) -> QIFState:
        x, y, i0 = state
        decay = jnp.exp(-jnp.asarray(h) / _as(self.tau, x))
        sigma = 1.0 - decay
        z = i0 * sigma * sigma
        # C and S up to a common positive factor (the state is projective): cos/sinc for z >= 0, 1/tanhc below
        c = jnp.where(z >= 0, _cos_sqrt(z), 1.0)
        s = sigma * jnp.where(z >= 0, _sinc_sqrt(z), _tanhc_sqrt(jnp.maximum(-z, 0.0)))
        xn = decay * (x * c + y * i0 * s)
        yn = y * c - x * s
        norm = jnp.sqrt(xn * xn + yn * yn)
        return QIFState(xn / norm, jnp.abs(yn) / norm, i0 * decay * decay)

    def receive(self, state: QIFState, w: ArrayLike) -> QIFState:
        return state._replace(current=state.current + w)

    def reset(self, state: QIFState, mask: ArrayLike) -> QIFState:
        return state._replace(x=jnp.where(mask, -1.0, state.x), y=jnp.where(mask, 0.0, state.y))

    def pseudo(self, state: QIFState, drive: ArrayLike) -> tuple[Array, Array]:
        """`(phase, period)` of the pseudodynamics after the trial end, given the input `drive = W r`."""
        tau, alpha = _as(self.tau, state.x), _as(self.alpha, state.x)
        plus = alpha * jax.nn.softplus((state.current + drive) / alpha)
        root = jnp.sqrt(plus)
        phase = tau * (jnp.arctan2(state.x - state.y / 2, root * state.y) + math.pi / 2) / root
        return phase, tau * math.pi / root
