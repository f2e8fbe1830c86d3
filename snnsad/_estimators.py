r"""Whole-network gradient estimators with one call signature.

    value, grads = estimator(loss_fn, net, x, y, key)

``loss_fn(trace, y) -> scalar`` is per example; ``grads`` has the structure of
``eqx.filter(net, eqx.is_array)``. Every estimator is jit- and vmap-compatible (vmap over
``x, y, key`` for a batch, or over ``key`` alone for gradient statistics).

Gradients are taken with respect to the network's weights, biases and thresholds; time constants
and escape-function parameters are hyper-parameters (stop-gradient, zero entries).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray, PyTree

from ._nn import Network, Trace
from ._spikes import smoothing_rate

LossFn = Callable[[Trace, PyTree], Array]


def _params_and_static(net):
    return eqx.partition(net, eqx.is_array)


def _check_net(net, where):
    if not isinstance(net, Network):
        raise TypeError(f"{where}: `net` must be an snnsad.Network, got {type(net).__name__}.")


class AbstractEstimator(eqx.Module):
    """``value, grads = estimator(loss_fn, net, x, y, key)``.

    An estimator implements ``objective(loss_fn, params, static, x, y, key) -> (surrogate, value)``:
    a scalar whose gradient with respect to ``params`` (``eqx.partition(net, eqx.is_array)``) is the
    estimate, and the loss value. ``__call__`` differentiates it; :class:`Batched` differentiates
    the batch mean of it in one backward pass, so weight gradients of a batch are one GEMM rather
    than a per-example gradient each. An estimator that cannot be written so may override
    ``__call__`` alone (then :class:`Batched` vmaps it and averages).
    """

    def objective(self, loss_fn: LossFn, params: PyTree, static: PyTree, x: Array, y: PyTree, key: PRNGKeyArray | None):
        """``(surrogate, value)``: ``grad(surrogate)`` is the estimate, ``value`` the loss estimate."""
        raise NotImplementedError(f"{type(self).__name__} implements __call__ only.")

    def __call__(self, loss_fn: LossFn, net, x: Array, y: PyTree, key: PRNGKeyArray | None):
        """Loss value (an estimate of E[L] for stochastic networks) and gradient estimate.

        ``net`` must be an :class:`~snnsad.Network` (checked, with a clear error)."""
        _check_net(net, type(self).__name__)
        params, static = _params_and_static(net)

        def surrogate(p):
            return self.objective(loss_fn, p, static, x, y, key)

        (_, value), grads = jax.value_and_grad(surrogate, has_aux=True)(params)
        return value, grads


def _has_objective(estimator) -> bool:
    return type(estimator).objective is not AbstractEstimator.objective


class Autodiff(AbstractEstimator):
    r"""Backpropagation through the spike functions' own derivative rules.

    With :class:`~snnsad.Surrogate` layers this is the deterministic surrogate gradient; with
    :class:`~snnsad.Stochastic` the stochastic SG (a smoothed stochastic derivative); with
    :class:`~snnsad.Expected` the smoothed probabilistic model. Cost: one forward + backward pass.
    Biased for ``dE[L]/dtheta`` beyond a single layer of stochastic neurons.
    """

    def objective(self, loss_fn, params, static, x, y, key):
        value = loss_fn(eqx.combine(params, static)(x, key=key), y)
        return value, value


def _stochastic_sites(net: Network) -> list[int]:
    return [i for i, st in enumerate(net.stochastic) if st]


def _n_sites(net: Network, n_steps: int) -> int:
    return sum(n_steps * net.sizes[i] for i in _stochastic_sites(net))


def _unflatten_sites(net: Network, flat: Array, n_steps: int) -> tuple:
    """A flat vector over all stochastic sites -> per-layer ``(T, n_l)`` arrays (None elsewhere)."""
    out, offset = [], 0
    for i, size in enumerate(net.sizes):
        if net.stochastic[i]:
            out.append(flat[offset : offset + n_steps * size].reshape(n_steps, size))
            offset += n_steps * size
        else:
            out.append(None)
    return tuple(out)


def _flatten_sites(net: Network, per_layer) -> Array:
    return jnp.concatenate([per_layer[i].reshape(-1) for i in _stochastic_sites(net)])


class ExactEnumeration(AbstractEstimator):
    r"""Ground truth: ``E[L] = sum_patterns P(pattern) L(pattern)`` over all spike patterns.

    Every pattern of the ``K`` stochastic (time, neuron) sites is teacher-forced through
    ``simulate(..., forced=pattern)`` (vmapped, in chunks of ``chunk_size`` patterns so memory stays
    bounded), with ``P(pattern) = prod_n p_n^{s_n} (1 - p_n)^{1 - s_n}`` evaluated along the
    forced trajectory (log-space, from logits). The gradient of this sum is the exact gradient of
    the expected loss. Cost: ``2^K`` forward passes; refuses ``K > max_sites``. ``key`` is unused.
    """

    max_sites: int = eqx.field(static=True, default=20)
    chunk_size: int = eqx.field(static=True, default=4096)

    def __check_init__(self):
        if not isinstance(self.max_sites, int) or not 1 <= self.max_sites <= 30:
            raise ValueError(f"ExactEnumeration: `max_sites` must be an int in [1, 30], got {self.max_sites!r}.")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1 or self.chunk_size & (self.chunk_size - 1):
            raise ValueError(f"ExactEnumeration: `chunk_size` must be a power of two, got {self.chunk_size!r}.")

    def __call__(self, loss_fn, net, x, y, key=None):
        return super().__call__(loss_fn, net, x, y, key)

    def objective(self, loss_fn, params, static, x, y, key=None):
        net = eqx.combine(params, static)
        n_steps = x.shape[0]
        k = _n_sites(net, n_steps)
        if k == 0:
            raise ValueError("ExactEnumeration: the network has no stochastic layer; use Autodiff().")
        if k > self.max_sites:
            raise ValueError(
                f"ExactEnumeration: the network has {k} stochastic sites (T={n_steps} x neurons "
                f"{[net.sizes[i] for i in _stochastic_sites(net)]}), more than max_sites={self.max_sites}; "
                f"2^{k} patterns is too many. Use a smaller network or raise max_sites."
            )
        n_patterns = 2**k
        chunk = min(self.chunk_size, n_patterns)
        n_chunks = n_patterns // chunk  # both powers of two
        bits = jnp.arange(k, dtype=jnp.uint32)
        noise = tuple(jnp.zeros((n_steps, n), net.dtype) for n in net.sizes)

        def expected_loss(p):
            model = eqx.combine(p, static)

            def one(index):
                flat = ((index >> bits) & 1).astype(net.dtype)
                trace = model.simulate(x, noise, forced=_unflatten_sites(model, flat, n_steps))
                return jnp.exp(model.log_prob(trace)) * loss_fn(trace, y)

            def chunk_sum(start):
                return jnp.sum(jax.vmap(one)(start + jnp.arange(chunk, dtype=jnp.uint32)))

            starts = jnp.arange(n_chunks, dtype=jnp.uint32) * chunk
            return jnp.sum(jax.lax.map(chunk_sum, starts))

        value = expected_loss(params)
        return value, value


class ScoreFunction(AbstractEstimator):
    r"""REINFORCE / likelihood-ratio estimator with the pathwise term.

    .. math:: \frac{dE[L]}{d\theta} = E\Big[\frac{\partial L}{\partial\theta}\Big|_{s}
              + (L - b)\, \frac{\partial \log P(s)}{\partial\theta}\Big]

    with ``log P(s) = sum_n s_n log p_n + (1 - s_n) log(1 - p_n)`` computed from logits, averaged
    over ``n_samples`` trajectories. Baselines: ``"leave_one_out"`` (``b_i`` = mean of the other
    samples' losses; unbiased, needs ``n_samples >= 2``), ``"mean"`` (all samples, so the score
    term shrinks by ``(N-1)/N``: slightly biased) or ``None`` (unbiased, high variance).
    Cost: ``n_samples`` forward + backward passes.
    """

    n_samples: int = eqx.field(static=True, default=16)
    baseline: str | None = eqx.field(static=True, default="leave_one_out")

    def __check_init__(self):
        if not isinstance(self.n_samples, int) or self.n_samples < 1:
            raise ValueError(f"ScoreFunction: `n_samples` must be a positive int, got {self.n_samples!r}.")
        if self.baseline not in ("leave_one_out", "mean", None):
            raise ValueError(
                f"ScoreFunction: `baseline` must be 'leave_one_out', 'mean' or None, got {self.baseline!r}."
            )
        if self.baseline == "leave_one_out" and self.n_samples < 2:
            raise ValueError("ScoreFunction: the leave_one_out baseline needs n_samples >= 2.")

    def objective(self, loss_fn, params, static, x, y, key):
        keys = jr.split(key, self.n_samples)
        n = self.n_samples

        def objective(p):
            model = eqx.combine(p, static)

            def one(k):
                trace = model.simulate(x, model.sample_noise(k, x.shape[0]), fixed_spikes=True)
                return loss_fn(trace, y), model.log_prob(trace)

            losses, logps = jax.vmap(one)(keys)
            held = jax.lax.stop_gradient(losses)
            if self.baseline == "leave_one_out":
                base = (jnp.sum(held) - held) / (n - 1)
            elif self.baseline == "mean":
                base = jnp.mean(held)
            else:
                base = jnp.zeros_like(held)
            surrogate = jnp.mean(losses + (held - base) * logps)
            return surrogate, jnp.mean(held)

        return objective(params)


class StochasticAD(AbstractEstimator):
    r"""Unbiased stochastic AD by coupled spike flips (ARCHITECTURE.md section 3).

    .. math:: \frac{dE[L]}{d\theta} = E\Big[\frac{\partial L}{\partial\theta}\Big|_{s}
              + \sum_n \frac{\partial p_n}{\partial\theta}\Big|_{s}\, w_n D_n\Big]

    ``D_n = L(s_n = 1) - L(s_n = 0)``: the loss difference when site ``n``'s spike is flipped and
    every later spike is re-simulated with the same noise. ``w_n`` is the smoothing weight
    (``weighting="two_sided"``: ``1/(2(1-p_n))`` for ``s_n = 0``, ``1/(2 p_n)`` for ``s_n = 1``;
    ``"right"``/``"left"`` flip only silent/firing sites at full weight). With
    ``dp_n/dtheta = F'(x_n) dx_n/dtheta`` and ``M = n_flips`` sites drawn from ``q_n`` (``proposal=
    "weighted"``: ``q_n = r_n / R``, ``r_n = F'(x_n) w_n``; ``"uniform"``: uniform over sites with
    ``r_n > 0``), all parameters come from one vector-Jacobian product of the teacher-forced run:

        g = grad [ L(theta; s fixed) + sum_n stop_gradient(c_n) x_n(theta; s fixed) ],
        c_n = sum_{m: n_m = n} r_n D_{n_m} / (M q_n)

    ``n_flips="all"`` flips every site once (no sampling; cost grows with the number of sites).
    Unbiased for every network of this toolkit; cost about ``M + 3`` forward passes (one forward
    with its VJP, plus ``M`` flipped forwards, vmapped in chunks of ``chunk_size``).
    """

    n_flips: int | str = eqx.field(static=True, default=8)
    weighting: str = eqx.field(static=True, default="two_sided")
    proposal: str = eqx.field(static=True, default="weighted")
    chunk_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.n_flips != "all" and (not isinstance(self.n_flips, int) or self.n_flips < 1):
            raise ValueError(f"StochasticAD: `n_flips` must be a positive int or 'all', got {self.n_flips!r}.")
        if self.weighting not in ("two_sided", "right", "left"):
            raise ValueError(
                f"StochasticAD: `weighting` must be 'two_sided', 'right' or 'left', got {self.weighting!r}."
            )
        if self.proposal not in ("weighted", "uniform"):
            raise ValueError(f"StochasticAD: `proposal` must be 'weighted' or 'uniform', got {self.proposal!r}.")

    def objective(self, loss_fn, params, static, x, y, key):
        net = eqx.combine(params, static)
        n_steps = x.shape[0]
        noise_key, site_key = jr.split(key)
        noise = jax.lax.stop_gradient(net).sample_noise(noise_key, n_steps, net.dtype)
        stochastic = _stochastic_sites(net)
        # The pathwise term: the loss with every sampled spike held fixed.
        pathwise = net.simulate(x, noise, fixed_spikes=True)
        loss = loss_fn(pathwise, y)
        held = jax.lax.stop_gradient(loss)
        if not stochastic:
            return loss, held
        trace = jax.lax.stop_gradient(pathwise)

        # Flip intensities r_n = F'(x_n) w_n of every stochastic site.
        rates = []
        for i in stochastic:
            escape = jax.lax.stop_gradient(net.layers[i].spike_fn.escape)
            rates.append(smoothing_rate(escape, self.weighting, trace.spikes[i], trace.drive[i]).reshape(-1))
        rate = jnp.concatenate(rates)
        spikes = _flatten_sites(net, trace.spikes)
        n_sites = rate.shape[0]
        active = rate > 0

        if self.n_flips == "all":
            sites = jnp.arange(n_sites)
            coef_per_draw = rate  # q_n = 1 for every site, M = 1 per site
        else:
            m = self.n_flips
            # Inverse-cdf sampling: M uniforms and a binary search instead of M x K Gumbel draws.
            weight = rate if self.proposal == "weighted" else active.astype(rate.dtype)
            cdf = jnp.cumsum(weight)
            total = cdf[-1]
            u = jr.uniform(site_key, (m,), rate.dtype) * total
            sites = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n_sites - 1)
            q = weight[sites] / total  # proposal probability of each draw
            coef_per_draw = jnp.where(q > 0, rate[sites] / (m * jnp.where(q > 0, q, 1)), 0)
            # No site can flip (every p in {0, 1}): the jump term is exactly zero.
            coef_per_draw = jnp.where(jnp.any(active), coef_per_draw, 0)

        model = jax.lax.stop_gradient(net)

        def flipped_loss(site):
            flat = jnp.zeros((n_sites,), net.dtype).at[site].set(1)
            flipped = model.simulate(x, noise, flips=_unflatten_sites(model, flat, n_steps))
            return loss_fn(flipped, y)

        if self.chunk_size is None:
            alt = jax.vmap(flipped_loss)(sites)
        else:
            alt = jax.lax.map(flipped_loss, sites, batch_size=self.chunk_size)
        jump = (alt - held) * (1 - 2 * spikes[sites])  # L(s=1) - L(s=0)
        coef = jax.lax.stop_gradient(jnp.zeros((n_sites,), loss.dtype).at[sites].add(coef_per_draw * jump))
        # The jump term: sum_n c_n x_n(theta), whose gradient is sum_n c_n dx_n/dtheta (spikes fixed).
        jumps = sum(
            jnp.sum(c * pathwise.drive[i]) for i, c in enumerate(_unflatten_sites(net, coef, n_steps)) if c is not None
        )
        return loss + jumps, held


class Batched(AbstractEstimator):
    """Apply ``estimator`` to a batch: ``value, grads = Batched(est)(loss_fn, net, xs, ys, key)``.

    ``xs`` carries the batch on axis ``batch_axis`` (0: ``(B, T, n)``, the default; 1: time-major
    ``(T, B, n)``, which saves a transpose when the data already come that way), ``ys`` on axis 0.
    Each example gets its own key (``jr.split(key, B)``) and the returned value and gradient are
    batch means. For an estimator with an ``objective`` (all of snnsad's) the batch mean of the
    objectives is differentiated in one backward pass (weight gradients of the whole batch are one
    GEMM); otherwise per-example estimates are vmapped and averaged. Composes with jit.
    """

    estimator: AbstractEstimator
    batch_axis: int = eqx.field(static=True, default=0)

    def __check_init__(self):
        if self.batch_axis not in (0, 1):
            raise ValueError(f"Batched: `batch_axis` must be 0 (B, T, n) or 1 (T, B, n), got {self.batch_axis!r}.")

    def __call__(self, loss_fn, net, x, y, key):
        axis = self.batch_axis
        arrays = jax.tree.leaves(x)
        if axis == 1 and not (len(arrays) == 1 and arrays[0].ndim >= 2):
            raise ValueError("Batched(batch_axis=1): `x` must be one time-major (T, B, n) array.")
        batch = arrays[0].shape[axis]
        keys = jr.split(key, batch)
        est = self.estimator
        if not _has_objective(est):
            values, grads = jax.vmap(lambda xi, yi, ki: est(loss_fn, net, xi, yi, ki), in_axes=(axis, 0, 0))(x, y, keys)
            return jnp.mean(values), jax.tree.map(lambda g: jnp.mean(g, axis=0), grads)
        _check_net(net, f"Batched({type(est).__name__})")
        params, static = _params_and_static(net)
        # Time-major batch (T, B, n): every layer's currents and spikes keep the batch on axis 1, where
        # lax.scan wants it, so only the input is transposed (once, if it is not time-major already)
        # instead of every layer's arrays.
        time_major = axis == 0 and isinstance(x, (jax.Array, np.ndarray)) and x.ndim >= 2
        xs, x_axis = (jnp.swapaxes(jnp.asarray(x), 0, 1), 1) if time_major else (x, axis)

        def mean_objective(p):
            surrogates, values = jax.vmap(
                lambda xi, yi, ki: est.objective(loss_fn, p, static, xi, yi, ki), in_axes=(x_axis, 0, 0)
            )(xs, y, keys)
            return jnp.mean(surrogates), jnp.mean(values)

        (_, value), grads = jax.value_and_grad(mean_objective, has_aux=True)(params)
        return value, grads
