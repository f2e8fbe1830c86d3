"""Event-driven LIF networks (`EventLayer`, `EventNetwork`), their heads and losses."""

import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._checks import check_choice
from .._losses import class_index
from .._trainable import hyperparameter
from ._eventprop import eventprop_layer, implicit_layer
from ._gradient import AbstractEventGradient, AbstractEventNetwork, EventProp
from ._solver import LayerConfig, LayerSettings, is_double

Head = Literal["ttfs", "vmax"]
MODES = ("multi", "single")


class EventTrain(NamedTuple):
    """Spike events of one example: `times` ascending (`inf` in unused slots) and source `index`.

    A batch carries a leading axis on both arrays. Build one from lists with `events_from_lists`.
    """

    times: Array
    index: Array


class EventOutput(NamedTuple):
    """What an `EventNetwork` returns for one example.

    `output`: the head's value per output neuron, first-spike times (`ttfs`; a silent neuron reads
    `t_end`) or the readout's maximum voltage (`vmax`). `spikes`: each spiking layer's output
    events. `overflow`: some layer had more spikes than its `max_spikes` (every output is NaN).
    """

    output: Array
    spikes: tuple[EventTrain, ...]
    overflow: Array


def _check_positive(name, value, where):
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: `{name}` must be a positive finite number, got {value!r}.")
    return float(value)


def _positive_scalar(name, value, where) -> Any:
    """A positive finite number, given as a Python number or a concrete 0-d array."""
    try:
        number = float(np.asarray(value)) if np.ndim(value) == 0 else None
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        number = None
    if number is None or isinstance(value, bool):
        raise ValueError(f"{where}: `{name}` must be a positive finite number, got {value!r}.")
    return _check_positive(name, number, where)


class EventLayer(eqx.Module):
    """Dense (optionally recurrent) layer of continuous-time LIF neurons, simulated event by event.

    `weight` (n, n_in) and `recurrent` (n, n) are trained. The time constants (ms by convention)
    and the threshold are hyper-parameters (`snnsad.nn.hyperparameter`: arrays, never trained, a new
    value never recompiles); `mode`, `max_spikes` and `newton_steps` are static settings.
    `mode="multi"` resets V to 0 at each spike; `"single"` lets each neuron spike at most once;
    `"readout"` never spikes (a leaky integrator whose maximum voltage is read out).

    Where `tau_mem = 2 tau_syn` at construction the crossings are found in closed form (else by
    safeguarded Newton); constants changed afterwards (`eqx.tree_at`) must keep that ratio (a run-time
    error says so), while any other pair may change freely.
    """

    weight: Array
    recurrent: Array | None
    mode: str = eqx.field(static=True)
    max_spikes: int = eqx.field(static=True)
    newton_steps: int = eqx.field(static=True)
    closed_form: bool = eqx.field(static=True)
    tau_mem: Array = hyperparameter()
    tau_syn: Array = hyperparameter()
    threshold: Array = hyperparameter()

    def __init__(
        self,
        weight,
        recurrent=None,
        *,
        tau_mem=20.0,
        tau_syn=5.0,
        threshold=1.0,
        mode="multi",
        max_spikes=64,
        newton_steps=32,
    ):
        where = "EventLayer"
        self.weight = jnp.asarray(weight)
        if self.weight.ndim != 2:
            raise ValueError(f"{where}: `weight` must be (n, n_in), got shape {self.weight.shape}.")
        n = self.weight.shape[0]
        if recurrent is not None:
            recurrent = jnp.asarray(recurrent, self.weight.dtype)
            if recurrent.shape != (n, n):
                raise ValueError(f"{where}: `recurrent` must be ({n}, {n}), got shape {recurrent.shape}.")
        self.recurrent = recurrent
        tau_mem = _positive_scalar("tau_mem", tau_mem, where)
        tau_syn = _positive_scalar("tau_syn", tau_syn, where)
        self.tau_mem, self.tau_syn = tau_mem, tau_syn
        self.threshold = _positive_scalar("threshold", threshold, where)
        self.closed_form = is_double(tau_mem, tau_syn)
        check_choice("mode", mode, (*MODES, "readout"), where=where)
        if mode == "readout" and recurrent is not None:
            raise ValueError(f"{where}: a readout layer cannot be recurrent; pass recurrent=None.")
        self.mode = mode
        if not isinstance(max_spikes, int) or max_spikes < 1:
            raise ValueError(f"{where}: `max_spikes` must be a positive int, got {max_spikes!r}.")
        self.max_spikes = max_spikes
        if not isinstance(newton_steps, int) or newton_steps < 1:
            raise ValueError(f"{where}: `newton_steps` must be a positive int, got {newton_steps!r}.")
        self.newton_steps = newton_steps

    @property
    def size(self) -> int:
        return self.weight.shape[0]

    def settings(self, t_end: float) -> LayerSettings:
        return LayerSettings(float(t_end), self.max_spikes, self.mode, self.newton_steps, self.closed_form)

    def constants(self) -> tuple[Array, Array, Array]:
        """`(tau_mem, tau_syn, threshold)` in the weights' dtype; with the closed-form solver, checked
        at run time to keep `tau_mem = 2 tau_syn`."""
        dtype = self.weight.dtype
        tm, ts, theta = (jnp.asarray(c, dtype) for c in (self.tau_mem, self.tau_syn, self.threshold))
        if self.closed_form:
            tm = eqx.error_if(
                tm,
                jnp.abs(tm - 2 * ts) > 1e-6 * tm,
                "EventLayer: this layer was built with tau_mem = 2 tau_syn (crossings in closed form) and its "
                "constants no longer keep that ratio; build a new EventLayer with the new constants.",
            )
        return tm, ts, theta

    def config(self, t_end: float) -> LayerConfig:
        """The solver's view of this layer: its constants and static settings."""
        return LayerConfig(*self.constants(), self.settings(t_end))

    def __call__(
        self, x: EventTrain, t_end: float, gradient: AbstractEventGradient | None = None
    ) -> tuple[Array, Array, Array, Array]:
        """`(out_times, out_index, peak, overflow)` of one example (`peak`: readout layers only), its event
        loop differentiated by `gradient` (default `EventProp()`)."""
        gradient = EventProp() if gradient is None else gradient
        args = (self.weight, self.recurrent, x.times, x.index, self.constants(), self.settings(t_end))
        return gradient.layer(implicit_layer, eventprop_layer, *args)


class EventNetwork(AbstractEventNetwork):
    """Feed-forward stack of `EventLayer`s ending in a head: `net(x) -> EventOutput`.

    ```python
    net = snnsad.events.EventNetwork.dense((5, 200, 3), key=key, head="vmax")
    out = net(x)                       # x: EventTrain of one example
    value, grads = snnsad.events.EventProp()(snnsad.events.vmax_cross_entropy, net, x, y)
    ```
    """

    layers: tuple[EventLayer, ...]
    t_end: float = eqx.field(static=True)
    head: str = eqx.field(static=True)

    def __init__(self, layers, *, t_end: float = 30.0, head: Head = "vmax"):
        self.layers = tuple(layers)
        if not self.layers or not all(isinstance(la, EventLayer) for la in self.layers):
            raise TypeError("EventNetwork: `layers` must be a non-empty sequence of EventLayer.")
        self.t_end = _check_positive("t_end", t_end, "EventNetwork")
        check_choice("head", head, ("ttfs", "vmax"), where="EventNetwork")
        self.head = head
        last = self.layers[-1].mode
        if (head == "vmax") != (last == "readout"):
            raise ValueError(
                f"EventNetwork: head {head!r} needs the last layer's mode to be "
                f"{'readout' if head == 'vmax' else 'multi or single'}, got {last!r}."
            )
        for k, la in enumerate(self.layers[:-1]):
            if la.mode == "readout":
                raise ValueError(f"EventNetwork: only the last layer can be a readout (layer {k} is).")
        for k in range(1, len(self.layers)):
            if self.layers[k].weight.shape[1] != self.layers[k - 1].size:
                raise ValueError(
                    f"EventNetwork: layer {k} takes {self.layers[k].weight.shape[1]} inputs but layer {k - 1} "
                    f"has {self.layers[k - 1].size} neurons."
                )

    @classmethod
    def dense(
        cls,
        sizes: Sequence[int],
        *,
        key: PRNGKeyArray,
        head: Head = "vmax",
        init: Sequence[Any] | None = None,
        recurrent: bool = False,
        mode: str = "multi",
        output_mode: str | None = None,
        max_spikes: int | Sequence[int] = 64,
        t_end: float = 30.0,
        dtype=jnp.float32,
        **neuron,
    ):
        """`sizes = (n_in, hidden..., n_out)`; `init[k] = (mean, std)` of layer k's weights (default `(0, 1/sqrt(fan_in))`).

        `max_spikes` is one int or one per spiking layer; `neuron` passes `tau_mem`, `tau_syn`,
        `threshold`, `newton_steps` to every layer. `recurrent=True` gives hidden layers recurrent
        weights `N(0, 1/sqrt(n))`. `mode` is the hidden layers' (`"multi"` or `"single"`);
        `output_mode` the output layer's with a `ttfs` head (default: `mode`; `"single"` suffices
        for a first-spike loss and keeps the event count small).
        """
        sizes = tuple(sizes)
        if len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(f"EventNetwork.dense: `sizes` must be positive ints (n_in, ..., n_out), got {sizes!r}.")
        n_layers = len(sizes) - 1
        init = [(0.0, 1 / math.sqrt(f)) for f in sizes[:-1]] if init is None else list(init)
        if len(init) != n_layers:
            raise ValueError(
                f"EventNetwork.dense: `init` needs one (mean, std) per layer ({n_layers}), got {len(init)}."
            )
        caps = [max_spikes] * n_layers if isinstance(max_spikes, int) else list(max_spikes)
        layers = []
        keys = jr.split(key, 2 * n_layers)
        for k in range(n_layers):
            mean, std = init[k]
            w = mean + std * jr.normal(keys[2 * k], (sizes[k + 1], sizes[k]), dtype)
            last = k == n_layers - 1
            rec = None
            if recurrent and not last:
                rec = jr.normal(keys[2 * k + 1], (sizes[k + 1],) * 2, dtype) / math.sqrt(sizes[k + 1])
            layer_mode = ("readout" if head == "vmax" else output_mode or mode) if last else mode
            layers.append(EventLayer(w, rec, mode=layer_mode, max_spikes=caps[min(k, len(caps) - 1)], **neuron))
        return cls(layers, t_end=t_end, head=head)

    def _arrays(self) -> list[Array]:
        """Every layer's trained arrays (what an overflow makes NaN in the gradient)."""
        return [a for la in self.layers for a in (la.weight, la.recurrent) if a is not None]

    def __call__(
        self, x: EventTrain, *, key: PRNGKeyArray | None = None, gradient: AbstractEventGradient | None = None
    ) -> EventOutput:
        """Simulate one example.

        **Arguments:**

        - `x`: one example's input events, `EventTrain(times, index)` (1-D, `inf` in unused slots).
        - `key`: unused (the network is deterministic); accepted for the estimators' signature.
        - `gradient`: how every layer's event loop is differentiated: `EventProp()` (the default) or
          `ImplicitSpikeTimes()`.

        **Returns:**

        An `EventOutput`: the head's value per output neuron, each hidden layer's spikes (and the output
        layer's, with a `ttfs` head) and the overflow flag (every output NaN when set).
        """
        del key
        if gradient is not None and not isinstance(gradient, AbstractEventGradient):
            raise TypeError(
                f"EventNetwork: `gradient` must be an snnsad.events.AbstractEventGradient (EventProp() or "
                f"ImplicitSpikeTimes()), got {gradient!r}."
            )
        if not isinstance(x, EventTrain):
            raise TypeError(f"EventNetwork: `x` must be an EventTrain(times, index), got {type(x).__name__}.")
        if x.times.ndim != 1 or x.index.shape != x.times.shape:
            raise ValueError(
                f"EventNetwork: one example's events are 1-D `times` and `index` of equal length, got shapes "
                f"{x.times.shape} and {x.index.shape} (vmap or snnsad.Batched handles a batch)."
            )
        n_in = self.layers[0].weight.shape[1]
        x = EventTrain(
            checked_times(x.times, x.index, n_in, "EventNetwork", "snnsad.events.events_from_lists"), x.index
        )
        spikes, overflow = [], jnp.zeros((), bool)
        for la in self.layers[:-1]:
            times, index, _, flag = la(x, self.t_end, gradient)
            x = EventTrain(times, index)
            spikes.append(x)
            overflow = overflow | flag
        times, index, peak, flag = self.layers[-1](x, self.t_end, gradient)
        overflow = overflow | flag
        if self.head == "vmax":
            return EventOutput(nan_if(overflow, peak, *self._arrays()), tuple(spikes), overflow)
        spikes.append(EventTrain(times, index))
        n = self.layers[-1].size
        first = jnp.min(
            jnp.where(index[None, :] == jnp.arange(n, dtype=index.dtype)[:, None], times[None, :], jnp.inf), axis=1
        )
        first = jnp.where(jnp.isinf(first), jnp.asarray(self.t_end, first.dtype), first)
        return EventOutput(nan_if(overflow, first, *self._arrays()), tuple(spikes), overflow)


def nan_if(flag, x, *params):
    """`x`, every entry NaN where `flag` is set, and NaN derivatives in `x` and in every array of `params`.

    `x + m (1 + sum(params))` with `m = NaN if flag else 0`: unset, the value and every derivative are
    unchanged (`m = 0`); set, a loss of the output and its gradient are NaN, so a training loop that
    checks gradients stops (a `where` would leave an exactly-zero gradient behind the NaN value).
    """
    mask = jnp.where(flag, jnp.nan, 0.0).astype(x.dtype)
    total = sum((jnp.sum(p).astype(x.dtype) for p in params), jnp.zeros((), x.dtype))
    return x + mask * (1 + total)


def checked_times(times, index, n_in: int, where: str, build: str):
    """`times`, with a run-time error if any is NaN or negative, they are not ascending, or an `index`
    (None for synchronous groups) lies outside `[0, n_in)`."""
    bad = jnp.any(jnp.isnan(times) | (times < 0)) | jnp.any(times[1:] < times[:-1])
    if index is not None:
        bad = bad | jnp.any((index < 0) | (index >= n_in))
    return eqx.error_if(
        times,
        bad,
        f"{where}: input events must have times >= 0, not NaN, in ascending order (inf for unused slots), and "
        f"source indices in [0, {n_in}); build them with {build}.",
    )


def events_from_lists(times, index, max_events: int | None = None, dtype=np.float32) -> EventTrain:
    """Sort one example's events and pad them to `max_events` (`inf` times, index 0)."""
    times = np.asarray(times, np.float64).ravel()
    index = np.asarray(index).ravel()
    if times.shape != index.shape:
        raise ValueError(f"events_from_lists: `times` and `index` differ in length ({times.size} vs {index.size}).")
    if np.any(~np.isfinite(times)) or np.any(times < 0):
        raise ValueError("events_from_lists: spike times must be finite and >= 0.")
    if index.size and (not np.issubdtype(index.dtype, np.integer) or index.min() < 0):
        raise ValueError("events_from_lists: `index` must hold non-negative integers.")
    k = times.size if max_events is None else max_events
    if times.size > k:
        raise ValueError(f"events_from_lists: {times.size} events do not fit `max_events={k}`; raise it.")
    order = np.argsort(times, kind="stable")
    t = np.full(k, np.inf)
    i = np.zeros(k, np.int32)
    t[: times.size], i[: times.size] = times[order], index[order]
    return EventTrain(jnp.asarray(t, dtype), jnp.asarray(i))


def ttfs_cross_entropy(out: EventOutput, label, *, tau0: float = 0.5, tau1: float = 6.4, alpha: float = 3e-3):
    """Wunderlich & Pehle's time-to-first-spike loss: `-log softmax(-t / tau0)[y] + alpha (exp(t_y / tau1) - 1)`."""
    t = out.output
    label = class_index(label, t.shape[-1], "ttfs_cross_entropy")
    t_y = t[label]
    return -jax.nn.log_softmax(-t / tau0)[label] + alpha * (jnp.exp(t_y / tau1) - 1)


def vmax_cross_entropy(out: EventOutput, label):
    """Cross-entropy of the softmax over the readout neurons' maximum voltages."""
    label = class_index(label, out.output.shape[-1], "vmax_cross_entropy")
    return -jax.nn.log_softmax(out.output)[label]


def event_accuracy(out: EventOutput, label, head: Head):
    """1 when the earliest output spike (`ttfs`) or the highest maximum voltage (`vmax`) is the label's neuron."""
    label = class_index(label, out.output.shape[-1], "event_accuracy")
    pred = jnp.argmin(out.output) if head == "ttfs" else jnp.argmax(out.output)
    return (pred == label).astype(out.output.dtype)
