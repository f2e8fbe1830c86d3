r"""Whole-network gradient estimators with one call signature.

    value, grads = estimator(loss_fn, net, x, y, key)

`loss_fn(trace, y) -> scalar` is per example (lift a loss of the output with
`snnsad.losses.on_output`); `grads` has the structure of
`eqx.filter(net, snnsad.nn.trainable(net))`: weights, biases, thresholds and a custom module's
own parameters, with `None` at hyper-parameters (time constants, escape parameters). Every
estimator is jit- and vmap-compatible (vmap over `x, y, key` for a batch, or over `key` alone
for gradient statistics). `Autodiff` takes any callable model `model(x, key=key) ->
trace`; the others need an `snnsad.nn.AbstractNetwork`.
"""

import abc
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray, PyTree

from .._checks import check_count
from .._custom_types import Label, Scalar
from .._trace import Trace
from .._trainable import trainable
from ..nn._network import AbstractNetwork

Model = TypeVar("Model")
"""The kind of model an estimator differentiates (`AbstractNetwork`, any callable, an event network)."""
Out = TypeVar("Out")
"""What that model returns for one example, and so what the estimator's `loss_fn` reads (`Trace`, ...)."""


def partition(net: PyTree) -> tuple[PyTree, PyTree]:
    """`(params, static)`: the trained parameters (`snnsad.nn.trainable`) and everything else."""
    return eqx.partition(net, trainable(net))


def map_in_chunks(f: Callable, xs: PyTree, chunk_size: int | None) -> PyTree:
    """`f` over the leading axis of `xs`: all at once (`jax.vmap`) when `chunk_size` is None, else
    `chunk_size` at a time (`jax.lax.map`), which bounds the memory of the estimators' extra runs."""
    if chunk_size is None:
        return jax.vmap(f)(xs)
    return jax.lax.map(f, xs, batch_size=chunk_size)


def require_key(key: PRNGKeyArray | None, where: str) -> PRNGKeyArray:
    """`key`, or a clear `ValueError` when a sampling estimator gets none."""
    if key is None:
        raise ValueError(
            f"{where}: needs a PRNG key to sample its noise, e.g. estimator(loss_fn, net, x, y, jr.key(0))."
        )
    return key


def require_stochastic(net: AbstractNetwork, where: str) -> None:
    """Raise a clear `ValueError` for a network without a stochastic layer (nothing to differentiate the expectation of)."""
    if not any(net.stochastic):
        raise ValueError(
            f"{where}: the network has no stochastic layer (spike functions {[type(f).__name__ for f in net.spike_fns]}), "
            "so its sites are not random and this estimator has nothing to estimate; use Autodiff() for a "
            "deterministic network, or give a layer a stochastic spike function (e.g. snnsad.Stochastic)."
        )


def require_network(net, where: str) -> None:
    """Raise a clear `TypeError` unless `net` implements the estimators' protocol."""
    if not isinstance(net, AbstractNetwork):
        raise TypeError(
            f"{where}: `net` must implement snnsad.nn.AbstractNetwork (got {type(net).__name__}): subclass it and "
            "implement `sizes`, `spike_fns` and `simulate(x, noise, *, forced, flips, fixed_spikes) -> Trace` "
            "(docs/howto.md, 'Bring your own model'). Autodiff() alone takes any callable model."
        )


class AbstractEstimator(eqx.Module, Generic[Model, Out]):
    """`value, grads = estimator(loss_fn, net, x, y, key)`.

    Generic in the model it differentiates and the output `loss_fn` reads: the discrete-time
    estimators are `AbstractEstimator[AbstractNetwork, Trace]`, `Autodiff` takes any callable model,
    the event-driven gradients (`snnsad.events.AbstractEventGradient`) take event networks and their
    outputs. An estimator implements `objective(loss_fn, params, static, x, y, key) ->
    (surrogate, value)`: a scalar whose gradient with respect to `params` (the trained parameters, see
    `partition`) is the estimate, and the loss value. `__call__` differentiates it; `Batched`
    differentiates the batch mean of it in one backward pass, so the weight gradient of a batch is one
    GEMM rather than a per-example gradient each. `check(net)` refuses a model the estimator cannot
    differentiate, with a clear error; the default accepts any callable model.
    """

    @abc.abstractmethod
    def objective(
        self,
        loss_fn: Callable[[Out, Any], Scalar],
        params: PyTree,
        static: PyTree,
        x: PyTree,
        y: Label,
        key: PRNGKeyArray | None,
    ) -> tuple[Scalar, Scalar]:
        """`(surrogate, value)`: `grad(surrogate)` is the estimate, `value` the loss estimate."""

    def check(self, net) -> None:
        """Raise a clear error if `net` cannot be used with this estimator (default: it must be callable)."""
        if not callable(net):
            raise TypeError(
                f"{type(self).__name__}: `net` must be a callable model, model(x, key=key) -> output; got {net!r}."
            )

    def __call__(
        self, loss_fn: Callable[[Out, Any], Scalar], net: Model, x: PyTree, y: Label, key: PRNGKeyArray | None = None
    ) -> tuple[Scalar, PyTree]:
        """The loss value (an estimate of E[L] for stochastic networks) and the gradient estimate.

        **Arguments:**

        - `loss_fn`: `loss_fn(output, y) -> scalar` for one example (for the discrete-time networks,
          `output` is a `Trace`; lift a loss of the readout with `snnsad.losses.on_output`).
        - `net`: the model; its trained parameters are `snnsad.nn.trainable(net)`.
        - `x`, `y`: one example and its target (vmap, or `snnsad.Batched`, for a batch).
        - `key`: the PRNG key of the noise; `None` where nothing is sampled.

        **Returns:**

        `(value, grads)`, with `grads` shaped like `eqx.filter(net, snnsad.nn.trainable(net))`.
        """
        self.check(net)
        params, static = partition(net)

        def surrogate(p):
            return self.objective(loss_fn, p, static, x, y, key)

        (_, value), grads = jax.value_and_grad(surrogate, has_aux=True)(params)
        return value, grads


class AbstractNetworkEstimator(AbstractEstimator[AbstractNetwork, Trace]):
    """An estimator of the gradient of an expected loss that needs the network protocol,
    `snnsad.nn.AbstractNetwork` (noise, sites, teacher forcing, flips): `ScoreFunction`,
    `StochasticAD`, `ExactEnumeration`, `MixedEstimator`, `LocalScoreFunction`."""

    def check(self, net) -> None:
        """Raise a clear `TypeError` unless `net` implements `snnsad.nn.AbstractNetwork`."""
        require_network(net, type(self).__name__)


class Autodiff(AbstractEstimator[Callable[..., Any], Any]):
    r"""Backpropagation through the spike functions' own derivative rules.

    With `snnsad.Surrogate` layers this is the deterministic surrogate gradient; with
    `snnsad.Stochastic` the stochastic SG (a smoothed stochastic derivative); with
    `snnsad.Expected` the smoothed probabilistic model. Cost: one forward + backward pass.
    Biased for `dE[L]/dtheta` beyond a single layer of stochastic neurons. Takes any callable
    model `model(x, key=key) -> trace` (no protocol needed).
    """

    def objective(self, loss_fn, params, static, x, y, key):
        value = loss_fn(eqx.combine(params, static)(x, key=key), y)
        return value, value


class Averaged(AbstractEstimator):
    r"""The mean of `n_draws` independent estimates of `estimator`, each with its own key.

    `Averaged(est, R)` has the bias of `est` (none for an unbiased one) and `1/R` of its variance per
    example, at `R` times its cost. Its use is to take an estimator's noise out of a comparison: train
    with `Averaged(LocalScoreFunction(2), 8)` beside `Averaged(Autodiff(), 8)` on the same stochastic
    network, batches and optimiser, and what remains between them is the direction of the gradient (the
    true gradient of the expected loss against the surrogate gradient's), not its noise. The objective is
    the mean of the estimator's objectives over `jr.split(key, n_draws)`, so the estimate is exactly the
    mean of the estimates with those keys, and it composes with `Batched`, `fit` and `sample_grads`.

    **Arguments:**

    - `estimator`: any snnsad estimator (it checks the model, as it would alone).
    - `n_draws`: the number of independent estimates averaged, >= 1.
    - `chunk_size`: draws evaluated at once (`jax.lax.map`), bounding memory; `None` evaluates all of
      them at once (`jax.vmap`).
    """

    estimator: AbstractEstimator
    n_draws: int = eqx.field(static=True)
    chunk_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if not isinstance(self.estimator, AbstractEstimator):
            raise TypeError(f"Averaged: `estimator` must be an snnsad estimator, got {self.estimator!r}.")
        check_count("n_draws", self.n_draws, where="Averaged")
        check_count("chunk_size", self.chunk_size, where="Averaged", optional=True)

    def check(self, net) -> None:
        """The averaged estimator's own check."""
        self.estimator.check(net)

    def objective(self, loss_fn, params, static, x, y, key):
        keys = jr.split(require_key(key, "Averaged"), self.n_draws)
        surrogates, values = map_in_chunks(
            lambda k: self.estimator.objective(loss_fn, params, static, x, y, k), keys, self.chunk_size
        )
        return jnp.mean(surrogates), jnp.mean(values)


class Batched(eqx.Module):
    """Apply `estimator` to a batch: `value, grads = Batched(est)(loss_fn, net, xs, ys, key)`.

    `xs` carries the batch on axis `batch_axis` (0: `(B, T, n)`, the default; 1: time-major
    `(T, B, n)`, which saves a transpose when the data already come that way), `ys` on axis 0.
    Each example gets its own key (`jr.split(key, B)`; `key=None` for deterministic networks, whose
    estimators need none: a stochastic one then says it needs a key) and the returned value and gradient are
    batch means: the batch mean of the estimator's objectives is differentiated in one backward
    pass (weight gradients of the whole batch are one GEMM). A wrapper, not an estimator: it takes
    batches where an estimator takes one example. Composes with jit.
    """

    estimator: AbstractEstimator
    batch_axis: int = eqx.field(static=True, default=0)

    def __check_init__(self):
        if not isinstance(self.estimator, AbstractEstimator):
            raise TypeError(
                f"Batched: `estimator` must be an snnsad estimator (AbstractEstimator), got {self.estimator!r}."
            )
        if self.batch_axis not in (0, 1):
            raise ValueError(f"Batched: `batch_axis` must be 0 (B, T, n) or 1 (T, B, n), got {self.batch_axis!r}.")

    def __call__(
        self, loss_fn: Callable[[Any, Any], Scalar], net, x: PyTree, y: PyTree, key: PRNGKeyArray | None = None
    ) -> tuple[Scalar, PyTree]:
        """The batch means of the estimator's loss values and gradient estimates.

        **Arguments:**

        - `loss_fn`, `net`, `key`: as for the estimator.
        - `x`: the batch of inputs (a pytree; the batch on axis `batch_axis` of every leaf).
        - `y`: the targets, the batch on axis 0.

        **Returns:**

        `(value, grads)`: means over the batch, `grads` shaped like the estimator's.
        """
        axis = self.batch_axis
        arrays = jax.tree.leaves(x)
        if axis == 1 and not (len(arrays) == 1 and arrays[0].ndim >= 2):
            raise ValueError("Batched(batch_axis=1): `x` must be one time-major (T, B, n) array.")
        batch = arrays[0].shape[axis]
        if batch == 0:
            raise ValueError(
                f"Batched: `x` holds an empty batch (shape {arrays[0].shape}, batch axis {axis}); the mean over "
                "no examples is undefined: pass at least one example."
            )
        sizes = {a.shape[0] for a in jax.tree.leaves(y)} | {a.shape[axis] for a in arrays}
        if len(sizes) > 1:
            raise ValueError(
                f"Batched: `x` (batch axis {axis}) and `y` (axis 0) disagree on the batch size: {sorted(sizes)}; "
                "pass one target per example."
            )
        keys = None if key is None else jr.split(key, batch)  # None: the estimator says if it needs one
        est = self.estimator
        est.check(net)
        params, static = partition(net)
        # Time-major batch (T, B, n): every layer's currents and spikes keep the batch on axis 1, where
        # lax.scan wants it, so only the input is transposed (once, if it is not time-major already)
        # instead of every layer's arrays.
        time_major = axis == 0 and isinstance(x, (jax.Array, np.ndarray)) and x.ndim >= 2
        xs, x_axis = (jnp.swapaxes(jnp.asarray(x), 0, 1), 1) if time_major else (x, axis)

        def mean_objective(p):
            surrogates, values = jax.vmap(
                lambda xi, yi, ki: est.objective(loss_fn, p, static, xi, yi, ki),
                in_axes=(x_axis, 0, None if keys is None else 0),
            )(xs, y, keys)
            return jnp.mean(surrogates), jnp.mean(values)

        (_, value), grads = jax.value_and_grad(mean_objective, has_aux=True)(params)
        return value, grads
