r"""Neuron models as pure functions: `init`, then per step `drive` and `update` (what `lax.scan` runs).

Discrete-time current-based LIF, `lambda_syn = exp(-dt / tau_syn)`, `lambda_mem = exp(-dt / tau_mem)`:

    s[t]   = spike_fn(U[t] - theta)
    I[t+1] = lambda_syn I[t] + W x[t] (+ V s[t] if recurrent)
    U[t+1] = lambda_mem U[t] + (1 - lambda_mem) I[t]        then the reset with s[t]

Resets: `"subtract"` (`U[t+1] -= theta s[t]`), `"zero"` (multiplicative,
`U[t+1] *= 1 - s[t]`; the paper's classification networks), `"leak"` (only the leak term is
reset, `U[t+1] = lambda_mem (1 - s[t]) U[t] + (1 - lambda_mem) I[t]`; the paper's spike-train
network) and `"none"`. With `detach_reset=True` (default, as in the paper) no gradient flows
through the reset's spikes (`U[t+1] = ... - U[t] stop_gradient(s[t])`: the factor `1 - s[t]` still
multiplies the membrane's own derivative). With `reset_in_gradient=False` the reset stays in the
forward pass and leaves the derivative altogether, e.g. for `"leak"`
`U[t+1] = lambda_mem U[t] + (1 - lambda_mem) I[t] - stop_gradient(lambda_mem U[t] s[t])`: the
backward pass then propagates through the reset-free LIF filter, as the eligibility traces of
three-factor rules do (SuperSpike; the authors' spike-train matching code), so an output spike no
longer erases the gradient of the input before it.

Time constants and `dt` are hyper-parameters (array fields declared with
`snnsad.nn.hyperparameter`: not trained, no gradient); the threshold is trained.
"""

import abc
from typing import ClassVar, NamedTuple, TypeGuard

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PyTree

from ._checks import check_choice, check_count, check_finite, check_positive, float_array
from ._custom_types import Current, Reset
from ._trainable import hyperparameter

RESETS = ("subtract", "zero", "leak", "none")


class LIFState(NamedTuple):
    """Synaptic current `I` and membrane potential `U`."""

    I: Array
    U: Array


class StepOutput(NamedTuple):
    """What one step records: spikes, drive `U - theta` and firing probability."""

    spikes: Array
    drive: Array
    prob: Array


def decay(tau: Array, dt: Array, dtype) -> Array:
    """`exp(-dt / tau)` in `dtype`, without gradient (time constants are hyper-parameters)."""
    tau = jax.lax.stop_gradient(jnp.asarray(tau, dtype))
    dt = jax.lax.stop_gradient(jnp.asarray(dt, dtype))
    return jnp.exp(-dt / tau)


class AbstractNeuron(eqx.Module):
    """A spiking neuron model, stepped in two phases by its layer.

    1. `drive(state, current)`: the membrane drive `x = u - threshold` from which the layer's
       spike function makes this step's spikes;
    2. `update(state, current, spikes)`: the next state, given the input current of this step
       (feed-forward plus any recurrent current, which the layer adds) and the spikes (the reset).

    Declared: `threshold` (trained; broadcast per neuron by the layer) and `accepts_recurrence`
    (`False` for a memoryless unit, which a recurrent layer then refuses at construction).
    `update(..., binary=True)` promises 0/1 spikes, so a neuron whose reset is detached may apply
    it as a boolean select (one byte per site kept for the backward pass instead of a float).
    """

    threshold: eqx.AbstractVar[Array]
    accepts_recurrence: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def init(self, n: int, dtype=jnp.float32) -> PyTree:
        """Initial state for `n` neurons."""

    @abc.abstractmethod
    def drive(self, state: PyTree, current: Current) -> Current:
        """The drive `u - threshold` of this step (before its spikes)."""

    @abc.abstractmethod
    def update(self, state: PyTree, current: Current, spikes: Current, *, binary: bool = False) -> PyTree:
        """The next state after this step's input `current` and `spikes`."""


class _AbstractLIF(AbstractNeuron):
    """The LIF family's shared part: threshold, reset settings and time constants (`LIF`, `ALIF`, `AlphaLIF`),
    checked in one place (`_init_lif`), and the drive `U - threshold`."""

    threshold: Array = eqx.field(converter=float_array)
    reset: Reset = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)
    reset_in_gradient: bool = eqx.field(static=True)
    tau_mem: Array = hyperparameter()
    tau_syn: Array = hyperparameter()
    dt: Array = hyperparameter()
    accepts_recurrence: ClassVar[bool] = True

    def _init_lif(self, tau_mem, tau_syn, dt, threshold, reset, detach_reset, reset_in_gradient) -> None:
        where = type(self).__name__
        self.tau_mem = check_positive("tau_mem", tau_mem, where=where)
        self.tau_syn = check_positive("tau_syn", tau_syn, where=where)
        self.dt = check_positive("dt", dt, where=where)
        check_choice("reset", reset, RESETS, where=where)
        self.threshold = check_finite("threshold", float_array(threshold), where=where)
        if not reset_in_gradient and not detach_reset:
            raise ValueError(
                f"{where}: `reset_in_gradient=False` takes the whole reset out of the derivative, which contradicts "
                "`detach_reset=False` (a gradient through the reset's spikes); pass `detach_reset=True` with it."
            )
        self.reset = reset
        self.detach_reset = bool(detach_reset)
        self.reset_in_gradient = bool(reset_in_gradient)

    def drive(self, state, current):
        return state.U - jnp.asarray(self.threshold, state.U.dtype)


class LIF(_AbstractLIF):
    """Current-based leaky integrate-and-fire neuron (see the module docstring for the equations).

    ```python
    lif = snnsad.LIF(tau_mem=10e-3, tau_syn=5e-3, dt=1e-3, reset="leak")
    ```
    """

    @classmethod
    def paper(
        cls,
        *,
        tau_mem: ArrayLike = 20e-3,
        tau_syn: ArrayLike = 10e-3,
        dt: ArrayLike = 2e-3,
        threshold: ArrayLike = 1.0,
        reset: Reset = "zero",
        detach_reset: bool = True,
        reset_in_gradient: bool = True,
    ) -> "LIF":
        """The paper's classification LIF (Gygax & Zenke, as the authors' stork configs set it): tau_mem 20 ms,
        tau_syn 10 ms, dt 2 ms, multiplicative (detached) reset; any of them changed by keyword, e.g.
        `LIF.paper(dt=1e-3)`."""
        return cls(tau_mem, tau_syn, dt, threshold, reset, detach_reset, reset_in_gradient)

    def __init__(
        self,
        tau_mem: ArrayLike = 10e-3,
        tau_syn: ArrayLike = 5e-3,
        dt: ArrayLike = 1e-3,
        threshold: ArrayLike = 1.0,
        reset: Reset = "subtract",
        detach_reset: bool = True,
        reset_in_gradient: bool = True,
    ):
        self._init_lif(tau_mem, tau_syn, dt, threshold, reset, detach_reset, reset_in_gradient)

    def init(self, n, dtype=jnp.float32):
        zeros = jnp.zeros((n,), dtype)
        return LIFState(zeros, zeros)

    def update(self, state, current, spikes, *, binary=False):
        return _lif_step(self, state, current, spikes, jnp.asarray(self.threshold, state.U.dtype), binary)


def _lif_step(neuron, state: LIFState, current, spikes, theta, binary: bool, lam_mem=None, lam_syn=None) -> LIFState:
    """One LIF step of `neuron`'s reset settings with threshold `theta` (the LIF's own, or an adaptive
    neuron's effective one) and the decays `lam_mem`, `lam_syn` (default: from `neuron`'s time constants)."""
    dtype = state.U.dtype
    lam_mem = decay(neuron.tau_mem, neuron.dt, dtype) if lam_mem is None else lam_mem
    lam_syn = decay(neuron.tau_syn, neuron.dt, dtype) if lam_syn is None else lam_syn
    mem = _membrane(neuron, state.U, state.I, spikes, theta, binary, lam_mem)
    return LIFState(lam_syn * state.I + current, mem)


def _membrane(neuron, u, i, spikes, theta, binary: bool, lam_mem):
    """`U[t+1] = lambda_mem U + (1 - lambda_mem) I`, then `neuron`'s reset (`reset`, `detach_reset`,
    `reset_in_gradient`) with threshold `theta` and this step's `spikes`."""
    r = jax.lax.stop_gradient(spikes) if neuron.detach_reset else spikes
    leak = lam_mem * u
    mem = leak + (1 - lam_mem) * i
    if neuron.reset == "none":
        return mem
    if not neuron.reset_in_gradient:
        # the same numbers as the products below; the amount taken off has no derivative
        amount = {"subtract": lambda: theta * spikes, "zero": lambda: mem * spikes, "leak": lambda: leak * spikes}
        return mem - jax.lax.stop_gradient(amount[neuron.reset]())
    if neuron.detach_reset and binary:
        # 0/1 spikes: the same numbers and gradients as the products below, but the backward
        # pass keeps a boolean mask per step instead of a float spike train
        reset_to = {"subtract": lambda: mem - theta, "zero": lambda: jnp.zeros_like(mem), "leak": lambda: mem - leak}
        return jnp.where(r > 0, reset_to[neuron.reset](), mem)
    if neuron.reset == "subtract":
        return mem - theta * r
    if neuron.reset == "zero":
        return mem * (1 - r)
    return mem - leak * r  # "leak"


class ALIFState(NamedTuple):
    """Synaptic current `I`, membrane potential `U` and threshold adaptation `A` (spikes, filtered)."""

    I: Array
    U: Array
    A: Array


class ALIF(_AbstractLIF):
    r"""Adaptive LIF (Bellec et al. 2018): the LIF whose threshold rises with its own recent spikes.

    The LIF's current and membrane (module docstring), with an adaptation variable `A` and the
    effective threshold `theta + adaptation A`:

        s[t]   = spike_fn(U[t] - theta - adaptation A[t])
        A[t+1] = lambda_adapt A[t] + s[t],       lambda_adapt = exp(-dt / tau_adapt)

    and the LIF's resets (`"subtract"` takes the effective threshold off). `detach_reset` and
    `reset_in_gradient` act on the reset as in `LIF`; the adaptation's own dependence on the spikes
    stays in the gradient. `tau_adapt`, `adaptation` and the time constants are hyper-parameters; the
    threshold is trained.

    ```python
    alif = snnsad.ALIF(tau_mem=20e-3, tau_syn=5e-3, tau_adapt=200e-3, adaptation=0.2, dt=1e-3)
    ```
    """

    tau_adapt: Array = hyperparameter()
    adaptation: Array = hyperparameter()

    def __init__(
        self,
        tau_mem: ArrayLike = 20e-3,
        tau_syn: ArrayLike = 5e-3,
        tau_adapt: ArrayLike = 200e-3,
        adaptation: ArrayLike = 0.2,
        dt: ArrayLike = 1e-3,
        threshold: ArrayLike = 1.0,
        reset: Reset = "subtract",
        detach_reset: bool = True,
        reset_in_gradient: bool = True,
    ):
        self._init_lif(tau_mem, tau_syn, dt, threshold, reset, detach_reset, reset_in_gradient)
        self.tau_adapt = check_positive("tau_adapt", tau_adapt, where="ALIF")
        self.adaptation = check_finite("adaptation", float_array(adaptation), where="ALIF")

    def init(self, n, dtype=jnp.float32):
        zeros = jnp.zeros((n,), dtype)
        return ALIFState(zeros, zeros, zeros)

    def drive(self, state, current):
        dtype = state.U.dtype
        return state.U - jnp.asarray(self.threshold, dtype) - jnp.asarray(self.adaptation, dtype) * state.A

    def update(self, state, current, spikes, *, binary=False):
        dtype = state.U.dtype
        effective = jnp.asarray(self.threshold, dtype) + jnp.asarray(self.adaptation, dtype) * state.A
        syn, mem = _lif_step(self, LIFState(state.I, state.U), current, spikes, effective, binary)
        return ALIFState(syn, mem, decay(self.tau_adapt, self.dt, dtype) * state.A + spikes)


class AlphaState(NamedTuple):
    """The first synaptic stage `H`, the synaptic current `I` and the membrane potential `U`."""

    H: Array
    I: Array
    U: Array


class AlphaLIF(_AbstractLIF):
    r"""LIF with alpha-shaped (second-order) synaptic currents: two first-order stages of `tau_syn`.

        H[t+1] = lambda_syn H[t] + W x[t] (+ V s[t])
        I[t+1] = lambda_syn I[t] + (1 - lambda_syn) H[t]
        U[t+1] = lambda_mem U[t] + (1 - lambda_mem) I[t]        then the LIF's reset

    An input spike's current rises and falls as `(t / tau_syn) exp(-t / tau_syn)` (the alpha function)
    instead of jumping; each stage passes its input's area on. Resets, `detach_reset` and
    `reset_in_gradient` as in `LIF`.
    """

    def __init__(
        self,
        tau_mem: ArrayLike = 10e-3,
        tau_syn: ArrayLike = 5e-3,
        dt: ArrayLike = 1e-3,
        threshold: ArrayLike = 1.0,
        reset: Reset = "subtract",
        detach_reset: bool = True,
        reset_in_gradient: bool = True,
    ):
        self._init_lif(tau_mem, tau_syn, dt, threshold, reset, detach_reset, reset_in_gradient)

    def init(self, n, dtype=jnp.float32):
        zeros = jnp.zeros((n,), dtype)
        return AlphaState(zeros, zeros, zeros)

    def update(self, state, current, spikes, *, binary=False):
        dtype = state.U.dtype
        lam_mem, lam_syn = decay(self.tau_mem, self.dt, dtype), decay(self.tau_syn, self.dt, dtype)
        theta = jnp.asarray(self.threshold, dtype)
        mem = _membrane(self, state.U, state.I, spikes, theta, binary, lam_mem)
        return AlphaState(lam_syn * state.H + current, lam_syn * state.I + (1 - lam_syn) * state.H, mem)


class IzhikevichState(NamedTuple):
    """Membrane potential `V` (mV) and recovery variable `W`."""

    V: Array
    W: Array


class Izhikevich(AbstractNeuron):
    r"""Izhikevich's simple model (2003), stepped by Euler with `dt` in milliseconds.

        V[t+1] = V + dt (0.04 V^2 + 5 V + 140 - W + I[t]),    W[t+1] = W + dt a (b V - W)
        s[t] = spike_fn(V[t] - threshold);  after a spike   V[t+1] = c,  W[t+1] = W[t] + d

    `I[t]` is this step's input current (`W x[t]`, plus `V s[t]` in a recurrent layer), unfiltered as in
    the model. Defaults: a regular-spiking cortical neuron (a 0.02, b 0.2, c -65 mV, d 8, peak
    `threshold` 30 mV), dt 0.5 ms; a constant input of 10 makes it fire tonically. With `detach_reset`
    (default) no gradient flows through the spikes of the reset. The threshold (the spike peak) is
    trained; `a`, `b`, `c`, `d` and `dt` are hyper-parameters. Start: `V = c`, `W = b c`.
    """

    threshold: Array = eqx.field(converter=float_array)
    detach_reset: bool = eqx.field(static=True)
    a: Array = hyperparameter()
    b: Array = hyperparameter()
    c: Array = hyperparameter()
    d: Array = hyperparameter()
    dt: Array = hyperparameter()
    accepts_recurrence: ClassVar[bool] = True

    def __init__(
        self,
        a: ArrayLike = 0.02,
        b: ArrayLike = 0.2,
        c: ArrayLike = -65.0,
        d: ArrayLike = 8.0,
        dt: ArrayLike = 0.5,
        threshold: ArrayLike = 30.0,
        detach_reset: bool = True,
    ):
        self.a = check_finite("a", float_array(a), where="Izhikevich")
        self.b = check_finite("b", float_array(b), where="Izhikevich")
        self.c = check_finite("c", float_array(c), where="Izhikevich")
        self.d = check_finite("d", float_array(d), where="Izhikevich")
        self.dt = check_positive("dt", dt, where="Izhikevich")
        self.threshold = check_finite("threshold", float_array(threshold), where="Izhikevich")
        self.detach_reset = bool(detach_reset)

    def init(self, n, dtype=jnp.float32):
        v = jnp.full((n,), jax.lax.stop_gradient(self.c), dtype)
        return IzhikevichState(v, jnp.asarray(jax.lax.stop_gradient(self.b), dtype) * v)

    def drive(self, state, current):
        return state.V - jnp.asarray(self.threshold, state.V.dtype)

    def update(self, state, current, spikes, *, binary=False):
        dtype = state.V.dtype
        a, b, c, d, dt = (
            jnp.asarray(jax.lax.stop_gradient(p), dtype) for p in (self.a, self.b, self.c, self.d, self.dt)
        )
        v, w = state
        v_next = v + dt * (0.04 * v * v + 5 * v + 140 - w + current)
        w_next = w + dt * a * (b * v - w)
        r = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        if self.detach_reset and binary:
            return IzhikevichState(jnp.where(r > 0, c, v_next), jnp.where(r > 0, w + d, w_next))
        return IzhikevichState(v_next + r * (c - v_next), w_next + r * (w + d - w_next))


class TrainableTauLIF(AbstractNeuron):
    r"""LIF whose membrane and synaptic time constants are trained, per neuron or shared.

    The LIF's equations and resets (module docstring) with decays `lambda = sigmoid(logit)`: the trained
    parameters are the logits `mem_logit` and `syn_logit`, so every decay stays in (0, 1) (a time
    constant in (0, inf)) whatever the optimiser does. `n` gives each of `n` neurons its own pair (the
    layer's size); without it one pair is shared. `tau_mem`, `tau_syn` read the current values.

    ```python
    neuron = snnsad.TrainableTauLIF(tau_mem=20e-3, tau_syn=5e-3, dt=1e-3, n=128)
    ```
    """

    threshold: Array = eqx.field(converter=float_array)
    mem_logit: Array
    syn_logit: Array
    reset: Reset = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)
    reset_in_gradient: bool = eqx.field(static=True)
    dt: Array = hyperparameter()
    accepts_recurrence: ClassVar[bool] = True

    def __init__(
        self,
        tau_mem: ArrayLike = 10e-3,
        tau_syn: ArrayLike = 5e-3,
        dt: ArrayLike = 1e-3,
        threshold: ArrayLike = 1.0,
        reset: Reset = "subtract",
        detach_reset: bool = True,
        reset_in_gradient: bool = True,
        n: int | None = None,
    ):
        lif = LIF(tau_mem, tau_syn, dt, threshold, reset, detach_reset, reset_in_gradient)  # the shared checks
        check_count("n", n, where="TrainableTauLIF", optional=True, why=" (neurons with their own time constants)")
        shape = () if n is None else (n,)

        def logit(tau):
            lam = jnp.exp(-jnp.asarray(lif.dt, jnp.float32) / jnp.asarray(tau, jnp.float32))
            return jnp.broadcast_to(jnp.log(lam / (1 - lam)), shape)

        self.mem_logit, self.syn_logit = logit(lif.tau_mem), logit(lif.tau_syn)
        self.dt, self.threshold = lif.dt, lif.threshold
        self.reset, self.detach_reset, self.reset_in_gradient = lif.reset, lif.detach_reset, lif.reset_in_gradient

    @property
    def tau_mem(self) -> Array:
        return -self.dt / jnp.log(jax.nn.sigmoid(self.mem_logit))

    @property
    def tau_syn(self) -> Array:
        return -self.dt / jnp.log(jax.nn.sigmoid(self.syn_logit))

    def init(self, n, dtype=jnp.float32):
        zeros = jnp.zeros((n,), dtype)
        return LIFState(zeros, zeros)

    def drive(self, state, current):
        return state.U - jnp.asarray(self.threshold, state.U.dtype)

    def update(self, state, current, spikes, *, binary=False):
        dtype = state.U.dtype
        lam_mem = jax.nn.sigmoid(self.mem_logit.astype(dtype))
        lam_syn = jax.nn.sigmoid(self.syn_logit.astype(dtype))
        return _lif_step(self, state, current, spikes, jnp.asarray(self.threshold, dtype), binary, lam_mem, lam_syn)


class Perceptron(AbstractNeuron):
    """Memoryless unit: `s[t] = spike_fn(W x[t] - theta)` (no state, no reset, no recurrence)."""

    threshold: Array = eqx.field(converter=float_array)
    accepts_recurrence: ClassVar[bool] = False

    def __init__(self, threshold: ArrayLike = 0.0):
        self.threshold = check_finite("threshold", float_array(threshold), where="Perceptron")

    def init(self, n, dtype=jnp.float32):
        return ()

    def drive(self, state, current):
        return current - jnp.asarray(self.threshold, current.dtype)

    def update(self, state, current, spikes, *, binary=False):
        return state


class LeakyIntegrator(eqx.Module):
    """Non-spiking leaky-integrator readout with the LIF's synaptic and membrane filters.

    `I[t+1] = lambda_syn I[t] + W x[t]`, `U[t+1] = lambda_mem U[t] + (1 - lambda_mem) I[t]`;
    the readout at step `t` is `U[t+1]`.
    """

    tau_mem: Array = hyperparameter()
    tau_syn: Array = hyperparameter()
    dt: Array = hyperparameter()

    def __init__(self, tau_mem: ArrayLike = 10e-3, tau_syn: ArrayLike = 5e-3, dt: ArrayLike = 1e-3):
        self.tau_mem = check_positive("tau_mem", tau_mem, where="LeakyIntegrator")
        self.tau_syn = check_positive("tau_syn", tau_syn, where="LeakyIntegrator")
        self.dt = check_positive("dt", dt, where="LeakyIntegrator")

    def init(self, n, dtype=jnp.float32):
        zeros = jnp.zeros((n,), dtype)
        return LIFState(zeros, zeros)

    def step(self, state, current):
        dtype = state.U.dtype
        lam_mem = decay(self.tau_mem, self.dt, dtype)
        lam_syn = decay(self.tau_syn, self.dt, dtype)
        new = LIFState(lam_syn * state.I + current, lam_mem * state.U + (1 - lam_mem) * state.I)
        return new, new.U


PSP_NEURONS = "LIF, ALIF, AlphaLIF, TrainableTauLIF or LeakyIntegrator"  # for messages


def has_psp_kernel(neuron) -> TypeGuard["_AbstractLIF | TrainableTauLIF | LeakyIntegrator"]:
    """Whether `psp_kernel_energy` (and so the fluctuation-driven init) knows `neuron`'s response."""
    return isinstance(neuron, (_AbstractLIF, TrainableTauLIF, LeakyIntegrator))


def psp_kernel_energy(neuron: "AbstractNeuron | LeakyIntegrator", n_steps: int = 10_000) -> Array:
    """`eps_hat = sum_k eps[k]^2 dt` of the membrane response `eps` to one unit input spike.

    Computed from the discrete dynamics themselves, so the fluctuation-driven initialisation is
    exact for this simulator (for the LIF it approaches `tau_syn^2 / (2 (tau_syn + tau_mem))` for
    small dt). The LIF family: `LIF`, `ALIF` (the adaptation moves the threshold, not the membrane),
    `AlphaLIF` (the input passes two synaptic stages), `TrainableTauLIF` (one energy per neuron), and
    the `LeakyIntegrator` readout.
    """
    if not has_psp_kernel(neuron):
        raise TypeError(
            f"psp_kernel_energy: needs an {PSP_NEURONS} neuron (their time constants), "
            f"got {type(neuron).__name__}; give such a layer's weights an explicit scale instead."
        )
    lam_mem = decay(neuron.tau_mem, neuron.dt, jnp.float32)
    lam_syn = decay(neuron.tau_syn, neuron.dt, jnp.float32)
    alpha = isinstance(neuron, AlphaLIF)

    def body(state, _):
        h, i, u = state
        if alpha:  # the input enters H, H feeds I
            return (lam_syn * h, lam_syn * i + (1 - lam_syn) * h, lam_mem * u + (1 - lam_mem) * i), u
        return (h, lam_syn * i, lam_mem * u + (1 - lam_mem) * i), u

    one, zero = jnp.ones_like(lam_mem), jnp.zeros_like(lam_mem)
    start = (one, zero, zero) if alpha else (zero, one, zero)
    _, eps = jax.lax.scan(body, start, None, length=n_steps)
    return jnp.sum(jnp.square(eps), axis=0) * jnp.asarray(neuron.dt, jnp.float32)
