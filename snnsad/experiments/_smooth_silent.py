"""Four answers to "no information about spike creation": the gradient of an initially silent theta network.

On the untrained, silent network and one batch: the exact gradient without pseudospikes (zero: no
spike moves), the gradient with pseudospikes, and on a discrete-time twin (the same weights and
phases, stepped every `dt`) the deterministic surrogate gradient, the matched stochastic SG and
`StochasticAD` of an escape-noise twin. Each is compared with the pseudospike gradient by layer.
"""

from typing import Any, ClassVar, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..escape import FastSigmoid, Sigmoid
from ..estimators import Autodiff, Batched, StochasticAD
from ..events import (
    Pseudospikes,
    SmoothNetwork,
    SmoothOutput,
    SyncEvents,
    Theta,
    first_spike_times,
    pseudo_ttfs_cross_entropy,
)
from ..neurons import AbstractNeuron
from ..nn import feedforward, hyperparameter
from ..spikes import Stochastic, Surrogate


class ThetaPhase(AbstractNeuron):
    """Discrete-time twin of `Theta`: each step the phase takes this step's input through `H`, advances by
    `dt` and spikes when it passes the period (`threshold`), resetting to 0 (detached reset)."""

    threshold: jax.Array
    dt: float = eqx.field(static=True)
    phase0: float = eqx.field(static=True)
    theta: Theta = hyperparameter(converter=None)
    accepts_recurrence: ClassVar[bool] = False

    def __init__(self, theta: Theta, dt: float, phase0: float):
        self.theta, self.dt, self.phase0 = theta, float(dt), float(phase0)
        self.threshold = jnp.asarray(theta.period)

    def init(self, n, dtype=jnp.float32):
        return jnp.full((n,), self.phase0, dtype)

    def _advance(self, phi, current):
        return self.theta.transfer(phi, current) + self.dt

    def drive(self, state, current):
        return self._advance(state, current) - self.threshold.astype(state.dtype)

    def update(self, state, current, spikes, *, binary=False):
        phi = jnp.minimum(self._advance(state, current), self.threshold.astype(state.dtype))
        return phi * (1 - jax.lax.stop_gradient(spikes))


def theta_twin(net: SmoothNetwork, dt: float, spike_fn):
    """The discrete-time twin of a theta `SmoothNetwork` (one initial phase per network, its first layer's)."""
    if not isinstance(net.neuron, Theta) or net.phases is None:
        raise ValueError("theta_twin: needs a theta SmoothNetwork with initial phases.")
    neuron = ThetaPhase(net.neuron, dt, float(net.phases[0][0]))
    sizes = (net.weights[0].shape[1], *(w.shape[0] for w in net.weights))
    twin = feedforward(
        sizes, key=jr.key(0), spike_fn=spike_fn, neuron=neuron, readout=False, dtype=net.weights[0].dtype
    )
    for k, w in enumerate(net.weights):
        twin = eqx.tree_at(lambda t, k=k: t.layers[k].weight, twin, w)
    return twin


def twin_raster(x: SyncEvents, n_in: int, dt: float, t_end: float):
    """`(B, T, n_in)` raster of synchronous groups: group `l`'s members fire in step `floor(times[l] / dt)`."""
    n_steps = int(round(t_end / dt))
    steps = jnp.floor(jnp.where(jnp.isfinite(x.times), x.times, t_end) / dt).astype(jnp.int32)
    onehot = jax.nn.one_hot(steps, n_steps, dtype=x.members.dtype)  # (B, L, T)
    return jnp.einsum("blt,bnl->btn", onehot, x.members)


def _twin_loss(dt, t_end):
    def loss(trace, y):
        first = first_spike_times(trace.output, dt)
        out = SmoothOutput(first, first < t_end, (), jnp.zeros((), bool), jnp.asarray(t_end, first.dtype))
        return pseudo_ttfs_cross_entropy(out, y)

    return loss


def _layer_stats(g, ref):
    rows = []
    for k, (a, b) in enumerate(zip(g, ref)):
        a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        rows.append(
            {
                "layer": k,
                "norm": float(na),
                "cosine_to_pseudospikes": float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0,
                "nonzero_fraction": float(np.mean(a != 0)),
            }
        )
    return rows


def silent_comparison(net: SmoothNetwork, x: SyncEvents, y, *, dt=0.02, beta_sg=10.0, beta_escape=10.0, n_noise=8):
    """Per-layer norm, cosine to the pseudospike gradient and fraction of non-zero entries of each gradient."""
    loss = cast(Any, pseudo_ttfs_cross_entropy)
    _, g_ps = eqx.filter_jit(Batched(Pseudospikes()))(loss, net, x, y, jr.key(0))
    _, g_exact = eqx.filter_jit(Batched(Pseudospikes(pseudospikes=False)))(loss, net, x, y, jr.key(0))
    ref = list(g_ps.weights)
    out: dict[str, Any] = {
        "pseudospikes": _layer_stats(ref, ref),
        "exact without pseudospikes": _layer_stats(list(g_exact.weights), ref),
    }
    raster = twin_raster(x, net.weights[0].shape[1], dt, net.t_end)
    twin_loss = cast(Any, _twin_loss(dt, net.t_end))
    twin = theta_twin(net, dt, Surrogate(FastSigmoid(beta_sg)))
    silent = jax.vmap(twin)(raster).output
    out["twin_spikes_per_example"] = float(jnp.sum(silent) / silent.shape[0])
    _, g = eqx.filter_jit(Batched(Autodiff()))(twin_loss, twin, raster, y, jr.key(0))
    out[f"deterministic SG (fast sigmoid {beta_sg:g})"] = _layer_stats([la.weight for la in g.layers], ref)
    twin = theta_twin(net, dt, Stochastic(Sigmoid(beta_escape)))
    for name, est in (
        (f"stochastic SG (sigmoid {beta_escape:g})", Autodiff()),
        (f"StochasticAD(8), sigmoid {beta_escape:g}", StochasticAD(8)),
    ):
        run = eqx.filter_jit(Batched(est))  # the twin and the data are arguments, not baked-in constants
        samples = [
            [la.weight for la in run(twin_loss, twin, raster, y, k)[1].layers] for k in jr.split(jr.key(1), n_noise)
        ]
        mean = [jnp.mean(jnp.stack(parts), axis=0) for parts in zip(*samples)]
        out[name + f", mean of {n_noise}"] = _layer_stats(mean, ref)
    return out
