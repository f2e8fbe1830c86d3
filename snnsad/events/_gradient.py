"""The event-driven networks' protocol, and the way their exact gradient is computed as a value.

As diffrax passes `adjoint=` to `diffeqsolve`, an event network is called with `gradient=`, an
`AbstractEventGradient`: each layer runs its event loop through `gradient.layer(solve, adjoint,
*args)`, which decides how that loop is differentiated. The same object is the estimator:
`value, grads = EventProp()(loss_fn, net, x, y)`.
"""

import abc
from collections.abc import Callable
from typing import Any, TypeVar

import equinox as eqx
from jaxtyping import PRNGKeyArray, PyTree

from .._custom_types import Scalar
from ..estimators._base import AbstractEstimator

_T = TypeVar("_T")


class AbstractEventNetwork(eqx.Module):
    """What the event-driven gradients need of a model: `net(x, *, key=None, gradient=None) -> output`.

    `x` is one example's input events (`snnsad.events.EventTrain`, or `SyncEvents` where the network
    takes them); `gradient` is the `AbstractEventGradient` whose `layer` runs each layer's event loop
    (`None`: the network's default); `key` draws whatever the network samples (none for the
    deterministic networks here). `EventNetwork` (current-based LIF) and `SmoothNetwork` (theta / QIF
    neurons with pseudospikes) implement it, so `sample_grads`, `gradient_stats`, `Batched` and `fit`
    take them with an event gradient.
    """

    @abc.abstractmethod
    def __call__(
        self, x: Any, *, key: PRNGKeyArray | None = None, gradient: "AbstractEventGradient | None" = None
    ) -> Any:
        """Simulate one example."""


class AbstractEventGradient(AbstractEstimator[AbstractEventNetwork, Any]):
    """How the exact gradient of an event-driven network is computed: a value, not a string tag.

    One abstract method, `layer(solve, adjoint, *args)`: run one layer's event loop so that it is
    differentiated by this method. `solve(*args)` is the loop itself (autodiff through it gives the
    implicit-function spike-time derivatives); `adjoint(*args)` is the same loop with a hand-written
    adjoint backward pass, or `None` where the layer has none. As an estimator it takes any
    `AbstractEventNetwork`: `value, grads = gradient(loss_fn, net, x, y)` (`key` is passed on to the
    network, which draws its noise from it if it has any).
    """

    @abc.abstractmethod
    def layer(self, solve: Callable[..., _T], adjoint: Callable[..., _T] | None, *args: Any) -> _T:
        """The outputs of `solve(*args)`, differentiated by this method."""

    def check(self, net) -> None:
        """Raise a clear `TypeError` unless `net` is an event-driven network (`AbstractEventNetwork`)."""
        if not isinstance(net, AbstractEventNetwork):
            raise TypeError(
                f"{type(self).__name__}: `net` must be an event-driven network (snnsad.events.AbstractEventNetwork: "
                f"EventNetwork, SmoothNetwork or your own), got {type(net).__name__}."
            )

    def objective(
        self,
        loss_fn: Callable[[Any, Any], Scalar],
        params: PyTree,
        static: PyTree,
        x: Any,
        y: Any,
        key: PRNGKeyArray | None,
    ) -> tuple[Scalar, Scalar]:
        value = loss_fn(eqx.combine(params, static)(x, key=key, gradient=self), y)
        return value, value


class EventProp(AbstractEventGradient):
    """Exact gradient of an `EventNetwork` by the adjoint method (Wunderlich & Pehle 2021); `key` unused.

    Each layer's backward pass runs the adjoint ODE in closed form between events with the jump
    conditions at spikes (see `snnsad.events._eventprop`), keeping O(events) memory. Zero wherever no
    spike moves: a silent output neuron gets exactly zero gradient. Needs layers with an adjoint
    (`EventLayer`); for theta / QIF networks use `Pseudospikes` or `ImplicitSpikeTimes`.
    """

    def layer(self, solve: Callable[..., _T], adjoint: Callable[..., _T] | None, *args: Any) -> _T:
        if adjoint is None:
            raise TypeError(
                "EventProp: this layer has no adjoint (EventProp is derived for current-based LIF layers, "
                "snnsad.events.EventLayer); differentiate it with ImplicitSpikeTimes() or Pseudospikes()."
            )
        return adjoint(*args)


class ImplicitSpikeTimes(AbstractEventGradient):
    """Exact gradient of an event network by autodiff through the event loop, each crossing time
    differentiated by the implicit-function theorem `dt*/dp = -(dV/dp) / V'(t*)`; `key` unused.

    The same gradient as `EventProp` (to float rounding) at O(events x neurons) memory. On a
    `SmoothNetwork` it is the plain exact gradient, `Pseudospikes(pseudospikes=False)`.
    """

    def layer(self, solve: Callable[..., _T], adjoint: Callable[..., _T] | None, *args: Any) -> _T:
        del adjoint
        return solve(*args)
