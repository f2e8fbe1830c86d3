r"""Spike functions with custom derivative rules: the local gradient estimators.

A spike function maps the membrane drive `x = u - theta` (and, for stochastic ones, a uniform
`noise` of the same shape) to float spikes in `x.dtype`. Its derivative rule is what makes it
an estimator:

| spike function | forward | derivative `ds/dx` |
|---|---|---|
| `Heaviside()` | `H(x)` | `0` (the true derivative, a.e.) |
| `Surrogate(F, scale)` | `H(x)` | `F'(x)` (rescaled to peak `scale` if given) |
| `Stochastic(F, G)` | `1[noise < F(x)]` | `G'(x)`, `G = F` by default (matched SG) |
| `SmoothedStochastic` | `1[noise < F(x)]` | `F'(x) w(s, p)`, `w` from the smoothing strategy |
| `Expected(F)` | `F(x)` | `F'(x)` (smoothed probabilistic model) |

Rules are implemented with `jax.custom_jvp` (one linear tangent rule), so both reverse mode
(`grad`, `vjp`) and forward mode (`jvp`, `jacfwd`) work. Escape-function parameters receive
no gradient through a rule (they are hyper-parameters).
"""

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._checks import check_choice, check_positive, float_array
from ._custom_types import Strategy, Weighting
from ._escape import AbstractEscape, Arctan, FastSigmoid, Sigmoid
from ._trainable import hyperparameter


@jax.custom_jvp
def with_slope(x: Array, value: Array, slope: Array) -> Array:
    """Return `value` whose derivative with respect to `x` is `slope` (elementwise).

    The first-order tangent is `slope * dx`: tangents of `value` and `slope` are ignored, so
    no first derivative flows through them. Higher-order derivatives differentiate the rule, so
    they see how `slope` depends on its inputs. This single rule underlies every spike function.
    """
    del x, slope
    return value


@with_slope.defjvp
def _with_slope_jvp(primals, tangents):
    x, value, slope = primals
    dx, _, _ = tangents
    return value, slope * dx


def _rule(x: Array, value: Array, slope: Array) -> Array:
    # The slope keeps its own dependence on x: first derivatives are exactly `slope`, and
    # differentiating an SG field again (Jacobian asymmetry) sees how the slope itself changes.
    return with_slope(x, jax.lax.stop_gradient(value), slope)


def _heaviside(x: Array) -> Array:
    return (x > 0).astype(x.dtype)


def _require_noise(name: str, x: Array, noise: Array | None) -> Array:
    if noise is None:
        raise ValueError(
            f"{name} is stochastic and needs `noise` (uniform in [0, 1), same shape as x). "
            "Call the network as `net(x, key=key)`, or pass noise=jax.random.uniform(key, x.shape)."
        )
    if jnp.shape(noise) != jnp.shape(x):
        raise ValueError(f"{name}: `noise` has shape {jnp.shape(noise)}, expected {jnp.shape(x)}.")
    return jnp.asarray(noise, x.dtype)


def _scaled_pdf(escape: AbstractEscape, scale: Array | None, x: Array) -> Array:
    pdf = escape.pdf(x)
    if scale is None:
        return pdf
    return pdf * (jnp.asarray(scale, x.dtype) / escape.peak(x.dtype))


def _check_scale(scale, escape, where):
    if scale is None:
        return None
    check_positive("scale", scale, where=where)
    if escape is not None and not isinstance(escape, AbstractEscape):
        raise TypeError(f"{where}: expected an escape function from snnsad.escape, got {escape!r}.")
    return float_array(scale)


class AbstractSpikeFunction(eqx.Module):
    """A spike function `s = f(x, noise)` with a custom derivative rule.

    Declared by every spike function: `stochastic` (does the forward pass sample, so that its
    (time, neuron) sites are random variables for the whole-network estimators? Those are the
    subclasses of `AbstractStochasticSpikeFunction`), `discrete` (is the output 0/1, so
    that holding it fixed for the pathwise derivative is exact?), `__call__` and
    `probability(x)`, the firing probability of the forward pass (`H(x)` when deterministic).
    """

    stochastic: ClassVar[bool] = False
    discrete: ClassVar[bool] = True

    @abc.abstractmethod
    def __call__(self, x: Array, noise: Array | None = None) -> Array:
        """Spikes (float, `x.dtype`)."""

    @abc.abstractmethod
    def probability(self, x: Array) -> Array:
        """Firing probability of the forward pass."""


class AbstractStochasticSpikeFunction(AbstractSpikeFunction):
    """A spike function that samples `s = 1[noise < F(x)]` with the escape function `F = escape`.

    Subclasses declare `escape` and implement `__call__` (the forward sample and its derivative
    rule). Provided here, from `escape`: the firing probability, the log-probability of a sampled
    spike (for the score function and exact enumeration) and the flip rate `F'(x) w(s, p)` of the
    coupled-spike-flip estimator.
    """

    stochastic: ClassVar[bool] = True
    escape: eqx.AbstractVar[AbstractEscape]

    def probability(self, x: Array) -> Array:
        return self.escape.cdf(x)

    def log_prob(self, spikes: Array, x: Array) -> Array:
        """`log P(s)` per site, `s log F(x) + (1 - s) log(1 - F(x))`, from logits (stable)."""
        escape = jax.lax.stop_gradient(self.escape)
        return jnp.where(spikes > 0, escape.log_cdf(x), escape.log_sf(x))

    def flip_rate(self, spikes: Array, x: Array, weighting: Weighting = "two_sided") -> Array:
        """`r = F'(x) w(s, F(x))`: the rate of a spike flip under `weighting` (see `smoothing_rate`)."""
        return smoothing_rate(jax.lax.stop_gradient(self.escape), weighting, spikes, x)


def sample_spikes(
    spike_fn: AbstractSpikeFunction,
    x: Array,
    noise: Array | None,
    *,
    forced: Array | None = None,
    flip: Array | None = None,
    fixed: bool = False,
) -> tuple[Array, Array]:
    """`(spikes, probability)` at one time step, the way every simulator of the estimators' protocol emits them.

    `forced` replaces the sample (teacher forcing, no gradient through it); `flip` (0/1) flips
    sampled spikes where it is 1, everything else still coupled through `noise` (as `s + f (1 - 2s)`, so a
    derivative in `f` at 0 is the derivative along each site's flip); `fixed=True`
    holds discrete spikes fixed for differentiation (the pathwise term of stochastic AD). A custom
    network calls this in its time step to implement `simulate(x, noise, forced=, flips=,
    fixed_spikes=)`.
    """
    prob = spike_fn.probability(x)
    if forced is not None:
        return jax.lax.stop_gradient(forced.astype(x.dtype)), prob
    spikes = spike_fn(x, noise)
    if flip is not None:
        # s + f (1 - 2s): exactly the flipped 0/1 spike for f in {0, 1}, the same derivative in s as a
        # `where`, and differentiable in `f` (at f = 0: the loss's derivative along a flip of each site)
        spikes = spikes + flip.astype(spikes.dtype) * (1 - 2 * spikes)
    if fixed and spike_fn.discrete:
        spikes = jax.lax.stop_gradient(spikes)
    return spikes, prob


class Heaviside(AbstractSpikeFunction):
    """`H(x)` with its true derivative, 0 almost everywhere (no learning through spikes)."""

    def __call__(self, x, noise=None):
        return _rule(x, _heaviside(x), jnp.zeros_like(x))

    def probability(self, x):
        return _heaviside(x)


class Surrogate(AbstractSpikeFunction):
    """Deterministic surrogate gradient: forward `H(x)`, backward `escape.pdf(x)`.

    With `scale` the surrogate derivative is rescaled to peak `scale` (e.g. `scale=1` gives
    SuperSpike's `1 / (1 + beta|x|)^2` from `FastSigmoid(beta)`).

    ```python
    spike = snnsad.Surrogate(snnsad.FastSigmoid(10.0), scale=1.0)
    jax.grad(spike)(jnp.array(0.0))  # 1.0
    ```
    """

    escape: AbstractEscape = hyperparameter(converter=None)
    scale: Array | None = hyperparameter(converter=None)

    def __init__(self, escape: AbstractEscape, scale: ArrayLike | None = None):
        self.scale = _check_scale(scale, escape, "Surrogate")
        if not isinstance(escape, AbstractEscape):
            raise TypeError(f"Surrogate: `escape` must be an snnsad escape function, got {escape!r}.")
        self.escape = escape

    def __call__(self, x, noise=None):
        return _rule(x, _heaviside(x), _scaled_pdf(self.escape, self.scale, x))

    def probability(self, x):
        return _heaviside(x)


class Stochastic(AbstractStochasticSpikeFunction):
    """Stochastic surrogate gradient: forward `1[noise < F(x)]`, backward `G'(x)`.

    `F = escape`; `G = surrogate` or, by default, `F` itself (the *matched* stochastic SG).
    Matched, this is the smoothed stochastic derivative with the straight-through strategy
    (Gygax & Zenke 2025): for a single neuron it equals `d E[s] / dx = F'(x)` exactly.
    """

    escape: AbstractEscape = hyperparameter(converter=None)
    surrogate: AbstractEscape | None = hyperparameter(converter=None)
    scale: Array | None = hyperparameter(converter=None)

    def __init__(self, escape: AbstractEscape, surrogate: AbstractEscape | None = None, scale: ArrayLike | None = None):
        if not isinstance(escape, AbstractEscape):
            raise TypeError(f"Stochastic: `escape` must be an snnsad escape function, got {escape!r}.")
        if surrogate is not None and not isinstance(surrogate, AbstractEscape):
            raise TypeError(f"Stochastic: `surrogate` must be an escape function or None, got {surrogate!r}.")
        self.escape = escape
        self.surrogate = surrogate
        self.scale = _check_scale(scale, surrogate, "Stochastic")

    def __call__(self, x, noise=None):
        noise = _require_noise("Stochastic", x, noise)
        spikes = (noise < self.escape.cdf(x)).astype(x.dtype)
        surrogate = self.escape if self.surrogate is None else self.surrogate
        return _rule(x, spikes, _scaled_pdf(surrogate, self.scale, x))


_STRATEGIES = ("two_sided", "right", "left", "straight_through")


def smoothing_weight(strategy: Strategy, spikes: Array, p: Array) -> Array:
    r"""Weight `w(s, p)` of a smoothed stochastic derivative `ds/dp` of `s = 1[omega < p]`.

    `right`: `(1 - s) / (1 - p)`; `left`: `s / p`; `two_sided`: the average of both,
    `1/(2(1-p))` if `s = 0` and `1/(2p)` if `s = 1`; `straight_through`: 1. Each has
    `E[w] = 1 = dE[s]/dp` (Arya et al. 2022). Division is guarded where the weight is unused.
    """
    one = jnp.ones_like(p)
    fires = spikes > 0
    inv_p = jnp.where(p > 0, 1 / jnp.where(p > 0, p, one), 0)
    inv_q = jnp.where(p < 1, 1 / jnp.where(p < 1, 1 - p, one), 0)
    if strategy == "two_sided":
        return jnp.where(fires, inv_p, inv_q) / 2
    if strategy == "right":
        return jnp.where(fires, 0, inv_q)
    if strategy == "left":
        return jnp.where(fires, inv_p, 0)
    if strategy == "straight_through":
        return one
    raise ValueError(f"`strategy` must be one of {_STRATEGIES}, got {strategy!r}.")


def smoothing_rate(escape: AbstractEscape, strategy: Strategy, spikes: Array, x: Array) -> Array:
    """`F'(x) w(s, F(x))` computed stably (e.g. `beta (1 - p) / 2` for a firing sigmoid site)."""
    fires = spikes > 0
    if strategy == "straight_through":
        return escape.pdf(x)
    up = escape.pdf_over_sf(x)  # F' / (1 - p): the rate of a 0 -> 1 flip
    down = escape.pdf_over_cdf(x)  # F' / p: the rate of a 1 -> 0 flip
    if strategy == "two_sided":
        return jnp.where(fires, down, up) / 2
    if strategy == "right":
        return jnp.where(fires, 0, up)
    if strategy == "left":
        return jnp.where(fires, down, 0)
    raise ValueError(f"`strategy` must be one of {_STRATEGIES}, got {strategy!r}.")


class SmoothedStochastic(AbstractStochasticSpikeFunction):
    """Smoothed stochastic derivative (Arya et al. 2022): forward `1[noise < F(x)]`, backward `F'(x) w(s, p)`.

    `strategy` picks `w` (see `smoothing_weight`): `"two_sided"` (default), `"right"`,
    `"left"` or `"straight_through"` (the last equals the matched `Stochastic`). Each
    is unbiased for `dE[s]/dx` of one neuron; through nonlinear maps all are biased.
    """

    strategy: Strategy = eqx.field(static=True)
    escape: AbstractEscape = hyperparameter(converter=None)

    def __init__(self, escape: AbstractEscape, strategy: Strategy = "two_sided"):
        if not isinstance(escape, AbstractEscape):
            raise TypeError(f"SmoothedStochastic: `escape` must be an snnsad escape function, got {escape!r}.")
        check_choice("strategy", strategy, _STRATEGIES, where="SmoothedStochastic")
        self.escape = escape
        self.strategy = strategy

    def __call__(self, x, noise=None):
        noise = _require_noise("SmoothedStochastic", x, noise)
        spikes = (noise < self.escape.cdf(x)).astype(x.dtype)
        return _rule(x, spikes, smoothing_rate(self.escape, self.strategy, spikes, x))


class Expected(AbstractSpikeFunction):
    """Smoothed probabilistic model: the expected spike `F(x)` instead of a sample.

    Exact for a single neuron; mean-field (`E[f(h)] ~ f(E[h])`) beyond one layer. Gradients are
    the ordinary derivatives `F'(x)`.
    """

    discrete: ClassVar[bool] = False
    escape: AbstractEscape = hyperparameter(converter=None)

    def __init__(self, escape: AbstractEscape):
        if not isinstance(escape, AbstractEscape):
            raise TypeError(f"Expected: `escape` must be an snnsad escape function, got {escape!r}.")
        self.escape = escape

    def __call__(self, x, noise=None):
        return self.escape.cdf(x)

    def probability(self, x):
        return self.escape.cdf(x)


_PEERS = {
    # (library, name): (escape from the peer's parameter, scale); documented in docs/surrogates.md.
    ("snntorch", "fast_sigmoid"): (lambda slope=25.0: FastSigmoid(slope), 1.0),
    ("snntorch", "sigmoid"): (lambda slope=25.0: Sigmoid(slope), None),
    ("snntorch", "atan"): (lambda alpha=2.0: Arctan(jnp.pi * jnp.asarray(alpha) / 2), None),
    ("spyx", "superspike"): (lambda k=25.0: FastSigmoid(k), 1.0),
    ("spyx", "arctan"): (lambda k=2.0: Arctan(k), 1 / jnp.pi),
    ("spikingjelly", "sigmoid"): (lambda alpha=4.0: Sigmoid(alpha), None),
    ("spikingjelly", "atan"): (lambda alpha=2.0: Arctan(jnp.pi * jnp.asarray(alpha) / 2), None),
}


def from_peer(library: str, name: str, **params) -> Surrogate:
    """The `Surrogate` with the same derivative as a peer library's surrogate.

    ```python
    snnsad.from_peer("snntorch", "fast_sigmoid", slope=25.0)
    # == Surrogate(FastSigmoid(25.0), scale=1.0): 1 / (1 + 25|x|)^2
    ```

    Known: snnTorch `fast_sigmoid(slope)`, `sigmoid(slope)`, `atan(alpha)`; spyx
    `superspike(k)`, `arctan(k)`; SpikingJelly `sigmoid(alpha)`, `atan(alpha)`.
    """
    key = (library.lower(), name.lower())
    if key not in _PEERS:
        known = ", ".join(f"{lib}/{n}" for lib, n in _PEERS)
        raise ValueError(f"from_peer: unknown surrogate {library!r}/{name!r}; known: {known}.")
    make, scale = _PEERS[key]
    try:
        escape = make(**params)
    except TypeError as err:
        raise TypeError(f"from_peer({library!r}, {name!r}): bad parameters {params}: {err}") from None
    return Surrogate(escape, scale=scale)
