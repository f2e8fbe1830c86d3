r"""Neuron models as pure ``init`` + ``step`` functions (the step is what ``lax.scan`` runs).

Discrete-time current-based LIF, ``lambda_syn = exp(-dt / tau_syn)``, ``lambda_mem = exp(-dt / tau_mem)``:

    s[t]   = spike_fn(U[t] - theta)
    I[t+1] = lambda_syn I[t] + W x[t] (+ V s[t] if recurrent)
    U[t+1] = lambda_mem U[t] + (1 - lambda_mem) I[t]        then the reset with s[t]

Resets: ``"subtract"`` (``U[t+1] -= theta s[t]``), ``"zero"`` (multiplicative,
``U[t+1] *= 1 - s[t]``; the paper's classification networks), ``"leak"`` (only the leak term is
reset, ``U[t+1] = lambda_mem (1 - s[t]) U[t] + (1 - lambda_mem) I[t]``; the paper's spike-train
network) and ``"none"``. With ``detach_reset=True`` (default, as in the paper) no gradient flows
through the reset.

Time constants and ``dt`` are hyper-parameters (array fields, no gradient); the threshold is an
ordinary differentiable parameter.
"""

import abc
from collections.abc import Callable
from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._checks import check_positive, float_array

Reset = Literal["subtract", "zero", "leak", "none"]
RESETS = ("subtract", "zero", "leak", "none")

# emit(drive) -> (spikes, probability): supplied by the layer, which owns the spike function,
# the noise of this time step and any forced spikes or flips. An emit whose attribute `binary` is
# True promises 0/1 spikes; neurons may then apply a detached reset as a boolean select, which
# saves one byte per (step, neuron) for the backward pass instead of a float.
Emit = Callable[[Array], tuple[Array, Array]]


class LIFState(NamedTuple):
    """Synaptic current ``I`` and membrane potential ``U``."""

    I: Array
    U: Array


class StepOutput(NamedTuple):
    """What one step records: spikes, drive ``U - theta`` and firing probability."""

    spikes: Array
    drive: Array
    prob: Array


def decay(tau: Array, dt: Array, dtype) -> Array:
    """``exp(-dt / tau)`` in ``dtype``, without gradient (time constants are hyper-parameters)."""
    tau = jax.lax.stop_gradient(jnp.asarray(tau, dtype))
    dt = jax.lax.stop_gradient(jnp.asarray(dt, dtype))
    return jnp.exp(-dt / tau)


class AbstractNeuron(eqx.Module):
    """A neuron model: ``init(n, dtype) -> state`` and ``step(state, current, emit, recurrent)``."""

    @abc.abstractmethod
    def init(self, n: int, dtype=jnp.float32):
        """Initial state for ``n`` neurons."""

    @abc.abstractmethod
    def step(self, state, current: Array, emit: Emit, recurrent: Callable[[Array], Array] | None = None):
        """One time step: returns ``(new_state, StepOutput)``."""


class LIF(AbstractNeuron):
    """Current-based leaky integrate-and-fire neuron (see the module docstring for the equations).

    ```python
    lif = snnsad.LIF(tau_mem=10e-3, tau_syn=5e-3, dt=1e-3, reset="leak")
    ```
    """

    tau_mem: Array = eqx.field(converter=float_array)
    tau_syn: Array = eqx.field(converter=float_array)
    dt: Array = eqx.field(converter=float_array)
    threshold: Array = eqx.field(converter=float_array)
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        tau_mem: ArrayLike = 10e-3,
        tau_syn: ArrayLike = 5e-3,
        dt: ArrayLike = 1e-3,
        threshold: ArrayLike = 1.0,
        reset: str = "subtract",
        detach_reset: bool = True,
    ):
        for name, value in (("tau_mem", tau_mem), ("tau_syn", tau_syn), ("dt", dt)):
            check_positive(name, value, where="LIF")
        if reset not in RESETS:
            raise ValueError(f"LIF: `reset` must be one of {RESETS}, got {reset!r}.")
        self.tau_mem, self.tau_syn, self.dt = tau_mem, tau_syn, dt
        self.threshold = threshold
        self.reset = reset
        self.detach_reset = bool(detach_reset)

    def init(self, n, dtype=jnp.float32):
        zeros = jnp.zeros((n,), dtype)
        return LIFState(zeros, zeros)

    def step(self, state, current, emit, recurrent=None):
        dtype = state.U.dtype
        lam_mem = decay(self.tau_mem, self.dt, dtype)
        lam_syn = decay(self.tau_syn, self.dt, dtype)
        theta = jnp.asarray(self.threshold, dtype)
        drive = state.U - theta
        spikes, prob = emit(drive)
        r = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        syn = lam_syn * state.I + current
        if recurrent is not None:
            syn = syn + recurrent(spikes)
        leak = lam_mem * state.U
        mem = leak + (1 - lam_mem) * state.I
        if self.reset == "none":
            pass
        elif self.detach_reset and getattr(emit, "binary", False):
            # 0/1 spikes: the same numbers and gradients as the products below, but the backward
            # pass keeps a boolean mask per step instead of a float spike train
            reset_to = {
                "subtract": lambda: mem - theta,
                "zero": lambda: jnp.zeros_like(mem),
                "leak": lambda: mem - leak,
            }
            mem = jnp.where(r > 0, reset_to[self.reset](), mem)
        elif self.reset == "subtract":
            mem = mem - theta * r
        elif self.reset == "zero":
            mem = mem * (1 - r)
        elif self.reset == "leak":
            mem = mem - leak * r
        return LIFState(syn, mem), StepOutput(spikes, drive, prob)


class Perceptron(AbstractNeuron):
    """Memoryless unit: ``s[t] = spike_fn(W x[t] - theta)`` (no state, no reset)."""

    threshold: Array = eqx.field(converter=float_array)

    def __init__(self, threshold: ArrayLike = 0.0):
        self.threshold = threshold

    def init(self, n, dtype=jnp.float32):
        return ()

    def step(self, state, current, emit, recurrent=None):
        if recurrent is not None:
            raise ValueError("Perceptron: a memoryless unit cannot have recurrent weights.")
        drive = current - jnp.asarray(self.threshold, current.dtype)
        spikes, prob = emit(drive)
        return state, StepOutput(spikes, drive, prob)


class LeakyIntegrator(eqx.Module):
    """Non-spiking leaky-integrator readout with the LIF's synaptic and membrane filters.

    ``I[t+1] = lambda_syn I[t] + W x[t]``, ``U[t+1] = lambda_mem U[t] + (1 - lambda_mem) I[t]``;
    the readout at step ``t`` is ``U[t+1]``.
    """

    tau_mem: Array = eqx.field(converter=float_array)
    tau_syn: Array = eqx.field(converter=float_array)
    dt: Array = eqx.field(converter=float_array)

    def __init__(self, tau_mem: ArrayLike = 10e-3, tau_syn: ArrayLike = 5e-3, dt: ArrayLike = 1e-3):
        for name, value in (("tau_mem", tau_mem), ("tau_syn", tau_syn), ("dt", dt)):
            check_positive(name, value, where="LeakyIntegrator")
        self.tau_mem, self.tau_syn, self.dt = tau_mem, tau_syn, dt

    def init(self, n, dtype=jnp.float32):
        zeros = jnp.zeros((n,), dtype)
        return LIFState(zeros, zeros)

    def step(self, state, current):
        dtype = state.U.dtype
        lam_mem = decay(self.tau_mem, self.dt, dtype)
        lam_syn = decay(self.tau_syn, self.dt, dtype)
        new = LIFState(lam_syn * state.I + current, lam_mem * state.U + (1 - lam_mem) * state.I)
        return new, new.U


def psp_kernel_energy(neuron: LIF | LeakyIntegrator, n_steps: int = 10_000) -> Array:
    """``eps_hat = sum_k eps[k]^2 dt`` of the membrane response ``eps`` to one unit input spike.

    Computed from the discrete dynamics themselves, so the fluctuation-driven initialisation is
    exact for this simulator (it approaches ``tau_syn^2 / (2 (tau_syn + tau_mem))`` for small dt).
    """
    lam_mem = decay(neuron.tau_mem, neuron.dt, jnp.float32)
    lam_syn = decay(neuron.tau_syn, neuron.dt, jnp.float32)

    def body(state, _):
        i, u = state
        return (lam_syn * i, lam_mem * u + (1 - lam_mem) * i), u

    _, eps = jax.lax.scan(body, (jnp.ones_like(lam_mem), jnp.zeros_like(lam_mem)), None, length=n_steps)
    return jnp.sum(jnp.square(eps), axis=0) * jnp.asarray(neuron.dt, jnp.float32)
