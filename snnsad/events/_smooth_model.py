"""Feed-forward theta / QIF networks with pseudospikes, their loss, image encoding and the estimator."""

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._losses import class_index
from ._gradient import AbstractEventGradient, AbstractEventNetwork, ImplicitSpikeTimes
from ._network import EventTrain, checked_times, nan_if
from ._smooth_network import first_times, pseudo_rates, run_layer
from ._smooth_neurons import AbstractSmoothNeuron, Theta

_T = TypeVar("_T")


class SyncEvents(NamedTuple):
    """Input events in synchronous groups: group `l` fires every input neuron with `members[:, l] = 1` at
    `times[l]` (`inf` unused). The layer receives `W @ members[:, l]` at once: one event per group, not
    per input neuron (Klos & Memmesheimer's virtual input neurons for intensity-binned images)."""

    times: Array
    members: Array


class SmoothOutput(NamedTuple):
    """What a `SmoothNetwork` returns for one example.

    `first`: first spike time of each output neuron, ordinary if it spiked in the trial, else its
    first pseudospike (or `t_end` without pseudospikes). `ordinary`: whether it spiked. `counts`:
    spikes per neuron of every layer. `overflow`: a layer exceeded `max_spikes` (outputs NaN).
    """

    first: Array
    ordinary: Array
    counts: tuple[Array, ...]
    overflow: Array
    t_end: Array


class SmoothNetwork(AbstractEventNetwork):
    """Feed-forward network of theta or QIF neurons with pseudospikes: `net(x) -> SmoothOutput`.

    ```python
    net = snnsad.events.SmoothNetwork.dense((64, 100, 10), key=key)     # theta, initially silent
    out = net(x)                                   # x: EventTrain or SyncEvents of one example
    value, grads = snnsad.events.Pseudospikes()(snnsad.events.pseudo_ttfs_cross_entropy, net, x, y)
    ```

    Trained: `weights[k]` (n_{k+1}, n_k) and, for neurons that train their initial state (theta
    neurons; `neuron.default_start()` is not None), the initial `phases[k]` of each layer (clip them
    into range after an update: `net.clip_phases()`, or chain `snnsad.train.project(net.clip_phases_of)`
    after the optimiser). `neuron` is any `AbstractSmoothNeuron` (`Theta`, `QIF`, your own); its
    constants are hyper-parameters (arrays, never trained: a new value does not recompile).
    """

    neuron: AbstractSmoothNeuron
    weights: tuple[Array, ...]
    phases: tuple[Array, ...] | None
    t_end: float = eqx.field(static=True)
    max_spikes: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, neuron, weights, phases=None, *, t_end: float = 2.0, max_spikes: int | Sequence[int] = 64):
        where = "SmoothNetwork"
        if not isinstance(neuron, AbstractSmoothNeuron):
            raise TypeError(
                f"{where}: `neuron` must be an snnsad.events.AbstractSmoothNeuron (Theta, QIF), got "
                f"{type(neuron).__name__}."
            )
        self.neuron = neuron
        self.weights = tuple(jnp.asarray(w) for w in weights)
        if not self.weights or any(w.ndim != 2 for w in self.weights):
            raise ValueError(f"{where}: `weights` must be a non-empty sequence of (n_out, n_in) matrices.")
        for k in range(1, len(self.weights)):
            if self.weights[k].shape[1] != self.weights[k - 1].shape[0]:
                raise ValueError(
                    f"{where}: layer {k} takes {self.weights[k].shape[1]} inputs but layer {k - 1} has "
                    f"{self.weights[k - 1].shape[0]} neurons."
                )
        if phases is not None:
            if neuron.default_start() is None:
                raise ValueError(
                    f"{where}: {type(neuron).__name__} neurons do not train their initial state (QIF layers start at "
                    "V = I = 0); pass phases=None."
                )
            phases = tuple(jnp.asarray(p, self.weights[0].dtype) for p in phases)
            shapes = [p.shape for p in phases]
            if shapes != [(w.shape[0],) for w in self.weights]:
                raise ValueError(f"{where}: `phases` must be one (n,) array per layer, got shapes {shapes}.")
        self.phases = phases
        if not isinstance(t_end, (int, float)) or not math.isfinite(t_end) or t_end <= 0:
            raise ValueError(f"{where}: `t_end` must be a positive finite number, got {t_end!r}.")
        self.t_end = float(t_end)
        caps = [max_spikes] * len(self.weights) if isinstance(max_spikes, int) else list(max_spikes)
        if len(caps) != len(self.weights) or not all(isinstance(c, int) and c > 0 for c in caps):
            raise ValueError(f"{where}: `max_spikes` must be a positive int or one per layer, got {max_spikes!r}.")
        self.max_spikes = tuple(caps)

    @classmethod
    def dense(
        cls,
        sizes: Sequence[int],
        *,
        key: PRNGKeyArray,
        neuron: AbstractSmoothNeuron | None = None,
        w_scale: float = 0.5,
        phase: float | None = None,
        t_end: float = 2.0,
        max_spikes: int | Sequence[int] = 64,
        dtype=jnp.float32,
    ):
        """`sizes = (n_in, hidden..., n_out)`; weights uniform in `+-w_scale / sqrt(fan_in)` (Klos &
        Memmesheimer). Theta neurons (default `Theta()`) start at `phase` (default `P / 2`: with
        `t_end < P / 2` every neuron is silent unless its input drives it)."""
        sizes = tuple(sizes)
        if len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(f"SmoothNetwork.dense: `sizes` must be positive ints (n_in, ..., n_out), got {sizes!r}.")
        neuron = Theta() if neuron is None else neuron
        keys = jr.split(key, len(sizes) - 1)
        weights = []
        for k, (fan_in, n) in enumerate(zip(sizes[:-1], sizes[1:])):
            width = w_scale / math.sqrt(fan_in)
            weights.append(jr.uniform(keys[k], (n, fan_in), dtype, -width, width))
        phases = None
        if neuron.default_start() is not None:
            start = neuron.default_start() if phase is None else phase
            phases = [jnp.full((n,), start, dtype) for n in sizes[1:]]
        return cls(neuron, weights, phases, t_end=t_end, max_spikes=max_spikes)

    def clip_phases(self) -> "SmoothNetwork":
        """The same network with initial phases clipped into range (`[0, P]` for theta neurons) after an
        optimiser step."""
        return self.clip_phases_of(self)

    def clip_phases_of(self, params: "SmoothNetwork") -> "SmoothNetwork":
        """`params` (this network, or its trained parameters: `None` where not trained) with the initial
        phases clipped into range by this network's neuron: the projection to chain after an optimiser,
        `optax.chain(opt, snnsad.train.project(net.clip_phases_of))`."""
        if params.phases is None:
            return params
        return eqx.tree_at(lambda m: m.phases, params, tuple(self.neuron.clip_start(p) for p in params.phases))

    def _initial(self, k: int):
        n, dtype = self.weights[k].shape[0], self.weights[k].dtype
        return self.neuron.initial(n, dtype, None if self.phases is None else self.phases[k])

    def __call__(
        self, x, *, key: PRNGKeyArray | None = None, gradient: AbstractEventGradient | None = None
    ) -> SmoothOutput:
        """Simulate one example.

        **Arguments:**

        - `x`: one example's input events, an `EventTrain` or `SyncEvents` (intensity-binned images).
        - `key`: unused (the network is deterministic); accepted for the estimators' signature.
        - `gradient`: `Pseudospikes()` (the default): silent outputs read their first pseudospike time,
          so the loss is continuous and spike creation has a gradient; `Pseudospikes(False)` or
          `ImplicitSpikeTimes()`: silent outputs read `t_end` (zero gradient). `EventProp()` is refused
          (these neurons have no adjoint).

        **Returns:**

        A `SmoothOutput`: first (pseudo)spike times of the output neurons, which spiked, spike counts per
        layer, the overflow flag and `t_end`.
        """
        del key
        gradient = Pseudospikes() if gradient is None else gradient
        if not isinstance(gradient, AbstractEventGradient):
            raise TypeError(
                f"SmoothNetwork: `gradient` must be an snnsad.events.AbstractEventGradient (Pseudospikes()), "
                f"got {gradient!r}."
            )
        pseudo = isinstance(gradient, Pseudospikes) and gradient.pseudospikes
        w0 = self.weights[0]
        if isinstance(x, SyncEvents):
            if x.members.ndim != 2 or x.members.shape != (w0.shape[1], x.times.shape[0]):
                raise ValueError(
                    f"SmoothNetwork: SyncEvents.members must be (n_in={w0.shape[1]}, groups={x.times.shape}), "
                    f"got {x.members.shape} (vmap or snnsad.Batched handles a batch)."
                )
            w_events, times = w0 @ x.members.astype(w0.dtype), x.times
        elif isinstance(x, EventTrain):
            if x.times.ndim != 1 or x.index.shape != x.times.shape:
                raise ValueError(
                    f"SmoothNetwork: one example's events are 1-D `times` and `index` of equal length, got "
                    f"{x.times.shape} and {x.index.shape} (vmap or snnsad.Batched handles a batch)."
                )
            w_events, times = w0[:, x.index], x.times
        else:
            raise TypeError(f"SmoothNetwork: `x` must be an EventTrain or SyncEvents, got {type(x).__name__}.")
        index = x.index if isinstance(x, EventTrain) else None
        build = "snnsad.events.events_from_lists or encode_images"
        times = checked_times(times, index, w0.shape[1], "SmoothNetwork", build)
        n_layers = len(self.weights)
        rates = jnp.zeros((w0.shape[1],), w0.dtype)
        counts, overflow = [], jnp.zeros((), bool)
        run = phase = period = None
        for k in range(n_layers):
            args = (self.neuron, self._initial(k), w_events, times, None, self.t_end, self.max_spikes[k])
            run = gradient.layer(run_layer, None, *args)
            counts.append(run.counts)
            overflow = overflow | run.overflow
            rates, phase, period = pseudo_rates(self.neuron, run, self.weights[k] @ rates)
            if k + 1 < n_layers:
                w_events, times = self.weights[k + 1][:, run.index], run.times
        assert run is not None
        first = first_times(run, phase if pseudo else None, period if pseudo else None, self.t_end)
        first = nan_if(overflow, first)
        return SmoothOutput(first, run.counts > 0, tuple(counts), overflow, jnp.asarray(self.t_end, first.dtype))


def pseudo_ttfs_cross_entropy(out: SmoothOutput, label, *, gamma: float = 1e-2) -> Array:
    """Klos & Memmesheimer's loss: cross-entropy of `softmax(-first)` plus `gamma (exp(t_label / T) - 1)`."""
    t = out.first
    label = class_index(label, t.shape[-1], "pseudo_ttfs_cross_entropy")
    return -jax.nn.log_softmax(-t)[label] + gamma * jnp.expm1(t[label] / out.t_end)


def smooth_accuracy(out: SmoothOutput, label) -> Array:
    """1 if the earliest output (ordinary or pseudo) is the label's."""
    label = class_index(label, out.first.shape[-1], "smooth_accuracy")
    return (jnp.argmin(out.first) == label).astype(out.first.dtype)


def encode_images(images, *, levels: int = 1, t_end: float = 2.0, dtype=np.float32) -> SyncEvents:
    """Intensity-binned time-to-first-spike code (Klos & Memmesheimer's MNIST input), as a batch of `SyncEvents`.

    `images` (B, ...) with values in [0, 1]. Intensities fall into `levels + 1` bins from bright to
    dark; bin `b < levels` fires at `t_end log(I_b / (I_b - theta))`, `I_b = levels - b`,
    `theta = 0.01 levels` (a LIF neuron's first spike under constant input), the darkest bin never.
    With `levels=1` pixels of intensity >= 0.5 fire at `t_end log(1 / 0.99)`, the others are silent.
    """
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    if np.any(~np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError("encode_images: `images` must hold finite intensities in [0, 1]; divide by the maximum.")
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"encode_images: `levels` must be a positive int, got {levels!r}.")
    bins = np.minimum(((1.0 - x) * (levels + 1)).astype(np.int64), levels)  # 0 = brightest
    drive = np.arange(levels, 0, -1, dtype=np.float64)
    times = t_end * np.log(drive / (drive - 0.01 * levels))
    members = (bins[:, :, None] == np.arange(levels)[None, None, :]).astype(dtype)
    return SyncEvents(jnp.asarray(np.broadcast_to(times, (len(x), levels)), dtype), jnp.asarray(members))


def flip_members(key: PRNGKeyArray, x: SyncEvents, p: float) -> SyncEvents:
    """Augmentation of Klos & Memmesheimer: each input's bin `b` becomes `levels - b` with probability `p`.

    For `levels = 1` a bright pixel turns dark and a dark one bright."""
    levels = x.members.shape[-1]
    bins = jnp.where(jnp.any(x.members > 0, axis=-1), jnp.argmax(x.members, axis=-1), levels)
    flip = jr.bernoulli(key, p, bins.shape)
    bins = jnp.where(flip, levels - bins, bins)
    members = (bins[..., None] == jnp.arange(levels).reshape((1,) * bins.ndim + (levels,))).astype(x.members.dtype)
    return SyncEvents(x.times, members)


class Pseudospikes(AbstractEventGradient):
    """Exact gradient of a `SmoothNetwork` by autodiff through its event loop; `key` unused.

    `pseudospikes=True` (default): silent outputs get their first pseudospike time, so the loss is
    continuous and spike creation has a gradient (Klos & Memmesheimer). `False`: silent outputs read
    `t_end` and get exactly zero gradient (the plain exact gradient, EventProp's answer;
    `ImplicitSpikeTimes()` is the same). On an `EventNetwork` (LIF neurons, no pseudospikes) it is
    `ImplicitSpikeTimes()`.
    """

    pseudospikes: bool = True

    def layer(self, solve: Callable[..., _T], adjoint: Callable[..., _T] | None, *args: Any) -> _T:
        return ImplicitSpikeTimes().layer(solve, adjoint, *args)
