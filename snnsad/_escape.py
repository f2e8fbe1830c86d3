"""Escape-noise functions: firing probability `F(x)` and its derivative `F'(x)`, `x = u - theta`.

Every surrogate derivative in snnsad is the `pdf` of one of these modules, and `cdf` is its
antiderivative. A stochastic neuron fires with probability `cdf(u - theta)`; a surrogate-gradient
neuron back-propagates `pdf(u - theta)`. Naming a surrogate by its escape function removes the
usual ambiguity of scale ("sigmoid surrogate with slope 25" means different things in different
libraries); `snnsad.spikes.from_peer` converts the peers' names.

All parameters are array fields (a new value never triggers a recompile) and may be arrays that
broadcast against `x` (e.g. one steepness per neuron). Every function is safe in float32 for
`|beta x|` up to at least `1e4`: no overflow, no NaN.
"""

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._checks import check_positive, check_probability
from ._trainable import hyperparameter


def _param(value: ArrayLike, x: Array) -> Array:
    """A hyper-parameter in the dtype of `x` (avoids dtype promotion and keeps float64 exact)."""
    return jnp.asarray(value, dtype=x.dtype)


def _safe_div(num: Array, den: Array) -> Array:
    """`num / den` with 0 where `den == 0` (double-where, so gradients stay finite)."""
    nonzero = den != 0
    return jnp.where(nonzero, num / jnp.where(nonzero, den, 1), 0)


def _safe_log(x: Array) -> Array:
    """`log(x)` with `-inf` at 0 and finite gradients everywhere."""
    positive = x > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, x, 1)), -jnp.inf)


class AbstractEscape(eqx.Module):
    """An escape-noise function: `cdf(x)` is the firing probability, `pdf(x)` its derivative.

    Subclasses implement `cdf`, `pdf` and `peak` (the maximum of `pdf`, used to
    rescale a surrogate to a given peak). `log_cdf`/`log_sf` (log firing / non-firing
    probability) have safe generic defaults that subclasses override with stable closed forms.
    """

    @abc.abstractmethod
    def cdf(self, x: Array) -> Array:
        """Firing probability `F(x)` in `[0, 1]`."""

    @abc.abstractmethod
    def pdf(self, x: Array) -> Array:
        """Derivative `F'(x) >= 0`."""

    @abc.abstractmethod
    def peak(self, dtype=jnp.float32) -> Array:
        """Maximum of `pdf` over `x`."""

    def log_cdf(self, x: Array) -> Array:
        """`log F(x)`; `-inf` where `F(x) == 0`."""
        return _safe_log(self.cdf(x))

    def log_sf(self, x: Array) -> Array:
        """`log(1 - F(x))`; `-inf` where `F(x) == 1`."""
        return _safe_log(1 - self.cdf(x))

    def pdf_over_cdf(self, x: Array) -> Array:
        """`F'(x) / F(x)` (0 where `F(x) == 0`)."""
        return _safe_div(self.pdf(x), self.cdf(x))

    def pdf_over_sf(self, x: Array) -> Array:
        """`F'(x) / (1 - F(x))` (0 where `F(x) == 1`)."""
        return _safe_div(self.pdf(x), 1 - self.cdf(x))


class Sigmoid(AbstractEscape):
    r"""Logistic escape noise `F(x) = sigma(beta x)`, `F'(x) = beta sigma(beta x) (1 - sigma(beta x))`.

    The pdf peaks at `beta / 4`. This is the paper's escape function; its pdf is the "sigmoid"
    surrogate of snnTorch `sigmoid(slope=beta)` and SpikingJelly `Sigmoid(alpha=beta)`.

    ```python
    F = snnsad.Sigmoid(beta=10.0)
    F.cdf(jnp.array(0.0))  # 0.5
    ```
    """

    beta: Array = hyperparameter()

    def __init__(self, beta: ArrayLike = 1.0):
        self.beta = check_positive("beta", beta, where="Sigmoid")

    def cdf(self, x):
        return jax.nn.sigmoid(_param(self.beta, x) * x)

    def pdf(self, x):
        z = _param(self.beta, x) * x
        return _param(self.beta, x) * jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)

    def peak(self, dtype=jnp.float32):
        return jnp.asarray(self.beta, dtype) / 4

    def log_cdf(self, x):
        return jax.nn.log_sigmoid(_param(self.beta, x) * x)

    def log_sf(self, x):
        return jax.nn.log_sigmoid(-_param(self.beta, x) * x)

    def pdf_over_cdf(self, x):
        return _param(self.beta, x) * jax.nn.sigmoid(-_param(self.beta, x) * x)

    def pdf_over_sf(self, x):
        return _param(self.beta, x) * jax.nn.sigmoid(_param(self.beta, x) * x)


class FastSigmoid(AbstractEscape):
    r"""SuperSpike escape noise `F(x) = (1 + beta x / (1 + beta |x|)) / 2`.

    `F'(x) = beta / (2 (1 + beta |x|)^2)`, peak `beta / 2`. Zenke & Ganguli's SuperSpike
    surrogate `1 / (1 + beta |x|)^2` (snnTorch `fast_sigmoid(slope=beta)`, spyx
    `superspike(beta)`) is this pdf rescaled to peak 1: `Surrogate(FastSigmoid(beta), scale=1)`.
    """

    beta: Array = hyperparameter()

    def __init__(self, beta: ArrayLike = 1.0):
        self.beta = check_positive("beta", beta, where="FastSigmoid")

    def cdf(self, x):
        z = _param(self.beta, x) * x
        return (1 + z / (1 + jnp.abs(z))) / 2

    def pdf(self, x):
        beta = _param(self.beta, x)
        return beta / (2 * jnp.square(1 + jnp.abs(beta * x)))

    def peak(self, dtype=jnp.float32):
        return jnp.asarray(self.beta, dtype) / 2


class Arctan(AbstractEscape):
    r"""Arctangent escape noise `F(x) = 1/2 + arctan(alpha x) / pi`, `F'(x) = alpha / (pi (1 + (alpha x)^2))`.

    Peak `alpha / pi`. snnTorch `atan(alpha=a)` equals `Arctan(pi a / 2)` exactly; spyx
    `arctan(k)` is `Surrogate(Arctan(k), scale=1/pi)`.
    """

    alpha: Array = hyperparameter()

    def __init__(self, alpha: ArrayLike = 1.0):
        self.alpha = check_positive("alpha", alpha, where="Arctan")

    def cdf(self, x):
        return 0.5 + jnp.arctan(_param(self.alpha, x) * x) / math.pi

    def pdf(self, x):
        alpha = _param(self.alpha, x)
        return alpha / (math.pi * (1 + jnp.square(alpha * x)))

    def peak(self, dtype=jnp.float32):
        return jnp.asarray(self.alpha, dtype) / math.pi


class Erf(AbstractEscape):
    r"""Gaussian escape noise `F(x) = Phi(x / sigma)` (the normal cdf), `F'(x)` the normal pdf.

    Peak `1 / (sigma sqrt(2 pi))`. This is the escape function of a threshold neuron with additive
    Gaussian membrane noise of standard deviation `sigma`.
    """

    sigma: Array = hyperparameter()

    def __init__(self, sigma: ArrayLike = 1.0):
        self.sigma = check_positive("sigma", sigma, where="Erf")

    def cdf(self, x):
        return jax.scipy.special.ndtr(x / _param(self.sigma, x))

    def pdf(self, x):
        sigma = _param(self.sigma, x)
        return jnp.exp(-jnp.square(x / sigma) / 2) / (sigma * math.sqrt(2 * math.pi))

    def peak(self, dtype=jnp.float32):
        return 1 / (jnp.asarray(self.sigma, dtype) * math.sqrt(2 * math.pi))

    def log_cdf(self, x):
        return _log_ndtr(x / _param(self.sigma, x))

    def log_sf(self, x):
        return _log_ndtr(-x / _param(self.sigma, x))


def _log_ndtr(z):
    # log Phi(z): log_ndtr in the lower tail, log1p(-Phi(-z)) where Phi(z) is close to 1.
    upper = z > 0
    return jnp.where(
        upper, jnp.log1p(-jax.scipy.special.ndtr(-jnp.abs(z))), jax.scipy.special.log_ndtr(jnp.where(upper, 0, z))
    )


class Boxcar(AbstractEscape):
    r"""Uniform escape noise on `[-width/2, width/2]`: `F(x) = clip(x / width + 1/2, 0, 1)`.

    `F'(x) = 1/width` inside the box and 0 outside (the straight-through estimator when
    `width = 1` and the surrogate is rescaled to peak 1).
    """

    width: Array = hyperparameter()

    def __init__(self, width: ArrayLike = 1.0):
        self.width = check_positive("width", width, where="Boxcar")

    def cdf(self, x):
        return jnp.clip(x / _param(self.width, x) + 0.5, 0, 1)

    def pdf(self, x):
        width = _param(self.width, x)
        return jnp.where(jnp.abs(x) < width / 2, 1 / width, jnp.zeros_like(x))

    def peak(self, dtype=jnp.float32):
        return 1 / jnp.asarray(self.width, dtype)


class Triangle(AbstractEscape):
    r"""Triangular escape density on `[-width, width]`: `F'(x) = max(0, 1 - |x|/width) / width`.

    `F(x) = (1 + z)^2 / 2` for `z = x/width in [-1, 0]` and `1 - (1 - z)^2 / 2` for
    `z in [0, 1]`. Peak `1 / width`.
    """

    width: Array = hyperparameter()

    def __init__(self, width: ArrayLike = 1.0):
        self.width = check_positive("width", width, where="Triangle")

    def cdf(self, x):
        z = jnp.clip(x / _param(self.width, x), -1, 1)
        return jnp.where(z < 0, jnp.square(1 + z) / 2, 1 - jnp.square(1 - z) / 2)

    def pdf(self, x):
        width = _param(self.width, x)
        return jnp.maximum(0, 1 - jnp.abs(x) / width) / width

    def peak(self, dtype=jnp.float32):
        return 1 / jnp.asarray(self.width, dtype)


class Exponential(AbstractEscape):
    r"""Exponential escape rate `F(x) = min(1, p0 exp(x / delta))` (Gerstner's escape noise).

    `F'(x) = F(x) / delta` below saturation and 0 above; peak `1 / delta` (at `F = 1`).
    Computed in log space, so large `x / delta` never overflows.
    """

    p0: Array = hyperparameter()
    delta: Array = hyperparameter()

    def __init__(self, p0: ArrayLike = 0.5, delta: ArrayLike = 1.0):
        check_probability("p0", p0, where="Exponential")
        self.p0 = check_positive("p0", p0, where="Exponential")
        self.delta = check_positive("delta", delta, where="Exponential")

    def _log_rate(self, x):
        return jnp.log(_param(self.p0, x)) + x / _param(self.delta, x)

    def cdf(self, x):
        return jnp.exp(jnp.minimum(self._log_rate(x), 0))

    def pdf(self, x):
        log_rate = self._log_rate(x)
        below = log_rate < 0
        return jnp.where(below, jnp.exp(jnp.where(below, log_rate, 0)) / _param(self.delta, x), 0)

    def peak(self, dtype=jnp.float32):
        return 1 / jnp.asarray(self.delta, dtype)

    def log_cdf(self, x):
        return jnp.minimum(self._log_rate(x), 0)


class Step(AbstractEscape):
    """The deterministic limit: `F(x) = H(x)` (1 for `x > 0`), `F'(x) = 0`."""

    def cdf(self, x):
        return (x > 0).astype(x.dtype)

    def pdf(self, x):
        return jnp.zeros_like(x)

    def peak(self, dtype=jnp.float32):
        return jnp.zeros((), dtype)
