r"""Neural tangent kernels of surrogate gradient learning (Eilers, Memmesheimer & Goedeke, NeurIPS 2024).

Fully connected networks in the NTK parametrisation, `h1 = sigma_w / sqrt(n0) W1 x + sigma_b b1`,
`h(l+1) = sigma_w / sqrt(n_l) W(l+1) phi(h_l) + sigma_b b(l+1)`, every entry of `W` and `b`
standard normal, one linear output. In the infinite-width limit (`depth` hidden layers, output
at layer `depth + 1`):

    Sigma1(x, x') = sigma_w^2 x.x' / n0 + sigma_b^2                     (NNGP kernel)
    Sigma(l+1)    = sigma_w^2 E[phi(u) phi(v)] + sigma_b^2,  (u, v) ~ N(0, Sigma(l) on {x, x'})
    Theta(l+1)    = Sigma(l+1) + Theta(l) sigma_w^2 E[phi'(u) phi'(v)]   (the ordinary NTK)
    I(l+1)        = Sigma(l+1) + I(l)     sigma_w^2 E[phi'(u) psi(v)]    (the SG-NTK)

with `Theta1 = I1 = Sigma1`. `psi` is the surrogate derivative used in place of `phi'` in the
backward pass; the SG-NTK `I(x, x') = J(x) J~(x')^T` (true Jacobian at `x` times surrogate
Jacobian at `x'`) is asymmetric. For `phi = sign`, `phi' = 2 delta`, so `E[phi'(u) phi'(v)]` is
infinite on the diagonal (the ordinary NTK is ill-posed) while `E[2 delta(u) psi(v)]` is finite:
the SG-NTK exists. All arithmetic is numpy float64.
"""

import functools
import math
from typing import NamedTuple

import numpy as np

from .._escape import AbstractEscape, Erf

_SQRT2PI = math.sqrt(2 * math.pi)


class ErfActivation(NamedTuple):
    """`phi(x) = erf(m x)`, `phi'(x) = 2 m / sqrt(pi) exp(-m^2 x^2)`; tends to `sign` as `m` grows."""

    m: float

    def phi(self, x):
        from scipy.special import erf

        return erf(self.m * x)

    def dphi(self, x):
        return 2 * self.m / math.sqrt(math.pi) * np.exp(-((self.m * x) ** 2))


class SignActivation(NamedTuple):
    """`phi(x) = sign(x)`; its derivative is `2 delta(x)` (handled analytically)."""

    def phi(self, x):
        return np.sign(x)


class SurrogateDerivative(NamedTuple):
    """SurrogateDerivative derivative `psi(x) = height * escape.pdf(x)`: `height = 2` for `sign` (its jump).

    `SurrogateDerivative(Erf(1 / (sqrt(2) m)))` is the derivative of `erf(m x)`.
    """

    escape: AbstractEscape
    height: float = 2.0

    def psi(self, x):
        import jax
        import jax.numpy as jnp

        with jax.enable_x64(True):  # float64 whatever the global setting
            return self.height * np.asarray(self.escape.pdf(jnp.asarray(x, jnp.float64)), np.float64)


class Kernels(NamedTuple):
    """Kernels between the points of `x1` (rows) and `x2` (columns) at the network's output.

    `nngp`: Sigma; `ntk`: Theta (`None` for `sign`: ill-posed); `sg_ntk`: I = J(x1) J~(x2)^T;
    `sg_sg`: the symmetric surrogate-surrogate kernel J~(x1) J~(x2)^T (`None` without a surrogate or with
    `analytic_kernels(..., sg_sg=False)`).
    """

    nngp: np.ndarray
    ntk: np.ndarray | None
    sg_ntk: np.ndarray | None
    sg_sg: np.ndarray | None


def _bivariate(q1, q2, c):
    """Cholesky factors for `(u, v) ~ N(0, [[q1, c], [c, q2]])`: `u = a z1`, `v = b z1 + d z2`."""
    a = np.sqrt(q1)
    b = c / a
    d = np.sqrt(np.maximum(q2 - b**2, 0.0))
    return a, b, d


def gaussian_expectation(f, g, q1, q2, c, *, n: int = 96) -> np.ndarray:
    """`E[f(u) g(v)]` for `(u, v) ~ N(0, [[q1, c], [c, q2]])` by two-dimensional Gauss-Hermite quadrature.

    `q1`, `q2`, `c` broadcast to one shape; `n` nodes per dimension (exact for polynomials of
    degree < 2n; smooth integrands converge fast, steep ones slowly).
    """
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / _SQRT2PI
    a, b, d = (np.asarray(t, np.float64)[..., None, None] for t in _bivariate(*np.broadcast_arrays(q1, q2, c)))
    u = a * z[:, None]
    v = b * z[:, None] + d * z[None, :]
    return np.einsum("...ij,i,j->...", f(u) * g(v), w, w)


def delta_expectation(g, q1, q2, c, *, n: int = 96) -> np.ndarray:
    """`E[2 delta(u) g(v)]` for `(u, v)` centred Gaussian with variances `q1`, `q2` and covariance `c`.

    The derivative of a sign unit is `2 delta(u)`, so this is the expectation that the sign network's
    kernels need: `2 p_u(0) E[g(v) | u = 0]` with `v | u = 0 ~ N(0, q2 - c^2 / q1)`, by `n`-node
    Gauss-Hermite quadrature (`g` vectorised over a trailing node axis).
    """
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / _SQRT2PI
    s = np.sqrt(np.maximum(q2 - c**2 / q1, 0.0))[..., None]
    return 2 / np.sqrt(2 * np.pi * q1) * np.einsum("...i,i->...", g(s * z), w)


def _kinks(escape: AbstractEscape) -> list[float]:
    """Where the surrogate's pdf has a kink or a jump (quadrature panels end there), from its shape."""
    from .._escape import Boxcar, Exponential, FastSigmoid, Triangle

    if isinstance(escape, Triangle):
        w = float(escape.width)
        return [-w, 0.0, w]
    if isinstance(escape, Boxcar):
        w = float(escape.width)
        return [-w / 2, w / 2]
    if isinstance(escape, Exponential):
        return [float(escape.delta) * math.log(1 / float(escape.p0))]
    if isinstance(escape, FastSigmoid):
        return [0.0]
    return []


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)


def _peak(surrogate: SurrogateDerivative) -> float:
    """The largest value of `psi` (float64 whatever the global setting)."""
    import jax

    with jax.enable_x64(True):
        return surrogate.height * float(surrogate.escape.peak(np.float64))


def _pairwise(fn, *arrays) -> np.ndarray:
    """`fn(*scalars)` at every entry of the broadcast `arrays`, the distinct argument tuples computed once."""
    b = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in arrays))
    cache: dict = {}
    out = np.empty(b[0].shape)
    for index in np.ndindex(out.shape):
        args = tuple(float(a[index]) for a in b)
        if args not in cache:
            cache[args] = fn(*args)
        out[index] = cache[args]
    return out


def _psi_padded(surrogate: SurrogateDerivative, v: np.ndarray) -> np.ndarray:
    """`psi(v)`, evaluated on `v` padded to a power-of-two length: every call reuses a few compiled shapes."""
    size = 1 << max(int(v.size - 1).bit_length(), 6)
    return surrogate.psi(np.pad(v, (0, size - v.size)))[: v.size]


def gaussian_mean(surrogate: SurrogateDerivative, variance: float, *, rtol: float = 1e-10) -> float:
    """`E[psi(v)]` for `v ~ N(0, variance)`, by adaptive composite Gauss-Legendre quadrature.

    Panels of 20 nodes end at the surrogate's kinks (`Triangle`, `Boxcar`, `FastSigmoid`, `Exponential`)
    and are at most half the narrower of the Gaussian's and the surrogate's widths long; they are
    halved until two successive estimates agree to `rtol` (relative to the surrogate's peak height),
    else a `ValueError` says the accuracy cannot be reached.
    """
    height = _peak(surrogate)
    if variance <= 0:
        return float(surrogate.psi(np.zeros(1))[0])
    sd = math.sqrt(variance)
    reach = 10 * sd  # the normal weight beyond 10 sd is below 1e-23 of the total
    ends = sorted({-reach, reach, *(k for k in _kinks(surrogate.escape) if -reach < k < reach)})
    step = min(sd, 1 / height if height > 0 else sd) / 2
    previous = None
    for _ in range(14):
        edges = np.concatenate(
            [np.linspace(a, b, max(1, math.ceil((b - a) / step)) + 1)[:-1] for a, b in zip(ends[:-1], ends[1:])]
            + [np.asarray([ends[-1]])]
        )
        mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
        v = (mid[:, None] + half[:, None] * _GL_NODES[None, :]).ravel()
        w = (half[:, None] * _GL_WEIGHTS[None, :]).ravel()
        gauss = np.exp(-0.5 * (v / sd) ** 2) / (sd * _SQRT2PI)
        value = float(np.sum(w * gauss * _psi_padded(surrogate, v)))
        if previous is not None and abs(value - previous) <= rtol * max(height, 1e-300):
            return value
        previous, step = value, step / 2
    raise ValueError(
        f"gaussian_mean: E[psi(v)] for {surrogate!r} at variance {variance:g} did not converge to rtol={rtol:g} "
        f"(last two estimates {previous:.12g}, {value:.12g}); ask for a looser rtol."
    )


def _gaussian_psi(surrogate: SurrogateDerivative | None) -> tuple[float, float] | None:
    """`(amplitude, sd)` of a Gaussian-shaped surrogate `amplitude exp(-x^2 / (2 sd^2))` (an `Erf` escape), or None."""
    if surrogate is not None and isinstance(surrogate.escape, Erf):
        sd = float(surrogate.escape.sigma)
        return surrogate.height / (sd * math.sqrt(2 * math.pi)), sd
    return None


def erf_erf(m: float, q1, q2, c):
    """Closed form `E[erf(m u) erf(m v)] = (2/pi) arcsin(2 m^2 c / sqrt((1 + 2 m^2 q1)(1 + 2 m^2 q2)))`."""
    return 2 / np.pi * np.arcsin(2 * m**2 * c / np.sqrt((1 + 2 * m**2 * q1) * (1 + 2 * m**2 * q2)))


def gauss_gauss(a1: float, s1: float, a2: float, s2: float, q1, q2, c):
    """Closed form `E[a1 exp(-u^2 / (2 s1^2)) a2 exp(-v^2 / (2 s2^2))] = a1 a2 / sqrt(det(Id + D Sigma))`,
    `D = diag(1 / s1^2, 1 / s2^2)`: the expectation of two Gaussian-shaped derivatives (erf', an `Erf` pdf)."""
    al, be = 1 / s1**2, 1 / s2**2
    return a1 * a2 / np.sqrt((1 + al * q1) * (1 + be * q2) - al * be * c**2)


def sign_sign(q1, q2, c):
    """Closed form `E[sign(u) sign(v)] = (2/pi) arcsin(c / sqrt(q1 q2))`."""
    return 2 / np.pi * np.arcsin(np.clip(c / np.sqrt(q1 * q2), -1, 1))


def gaussian_psi_psi(surrogate: SurrogateDerivative, q1: float, q2: float, c: float, *, rtol: float = 1e-10) -> float:
    """`E[psi(u) psi(v)]` for `(u, v) ~ N(0, [[q1, c], [c, q2]])`, by adaptive composite Gauss-Legendre quadrature.

    Written `v = a u + tau z` (`a = c / q1`, `tau^2 = q2 - c^2 / q1`, `z ~ N(0, 1)` independent of `u`), the
    outer integral runs over `z`, the inner one over `u` with panels that end at the surrogate's kinks in
    both factors: at `k` for `psi(u)` and at `(k - tau z) / a` for `psi(a u + tau z)`, so every panel holds a
    smooth integrand and the rule's cost does not grow as the correlation tends to 1 (`tau = 0` included).
    Panels of 20 nodes start at most the narrowest scale long (the Gaussians' and the surrogate's widths,
    the latter over `|a|` in `u`; the inner integral is smooth in `z` except where a moving kink meets a
    fixed one, and the `z` panels end there) and are halved until two successive estimates agree to
    `rtol` (relative to the squared peak of `psi`), else a `ValueError` says the accuracy cannot be reached.
    """
    height = _peak(surrogate)
    if q1 <= 0 or q2 <= 0:  # one factor is psi(0)
        at_zero = float(surrogate.psi(np.zeros(1))[0])
        return at_zero * (gaussian_mean(surrogate, max(q1, q2), rtol=rtol) if max(q1, q2) > 0 else at_zero)
    sd, a = math.sqrt(q1), c / q1
    tau = math.sqrt(max(q2 - c * c / q1, 0.0))
    reach = 10 * sd
    kinks = np.asarray(_kinks(surrogate.escape), np.float64)
    scale = 1 / height if height > 0 else sd
    step_u = min(sd, scale, scale / abs(a) if a != 0 else math.inf)
    step_z = min(1.0, scale / tau if tau > 0 else 1.0)
    previous = value = None
    last_two = (math.nan, math.nan)
    for _ in range(4):
        if tau > 0:
            # the inner integral is smooth in z except where a moving kink meets a fixed one
            meet = ((kinks[None, :] - a * kinks[:, None]) / tau).ravel()
            z_ends = sorted({-10.0, 10.0, *(float(m) for m in meet if -10 < m < 10)})
            z_edges = np.concatenate(
                [
                    np.linspace(lo, hi, max(1, math.ceil((hi - lo) / step_z)) + 1)[:-1]
                    for lo, hi in zip(z_ends, z_ends[1:])
                ]
                + [np.asarray([z_ends[-1]])]
            )
            zm, zh = (z_edges[1:] + z_edges[:-1]) / 2, (z_edges[1:] - z_edges[:-1]) / 2
            z = (zm[:, None] + zh[:, None] * _GL_NODES[None, :]).ravel()
            wz = (zh[:, None] * _GL_WEIGHTS[None, :]).ravel() * np.exp(-0.5 * z * z) / _SQRT2PI
        else:
            z, wz = np.zeros(1), np.ones(1)
        base = np.linspace(-reach, reach, math.ceil(2 * reach / step_u) + 1)
        fixed = kinks[np.abs(kinks) < reach]
        moving = (kinks[None, :] - tau * z[:, None]) / a if a != 0 else np.zeros((len(z), 0))
        edges = np.sort(
            np.concatenate(
                [np.broadcast_to(np.concatenate([base, fixed]), (len(z), len(base) + len(fixed))),
                 np.clip(moving, -reach, reach)], axis=1,
            ),
            axis=1,
        )  # fmt: skip
        mid, half = (edges[:, 1:] + edges[:, :-1]) / 2, (edges[:, 1:] - edges[:, :-1]) / 2
        u = mid[..., None] + half[..., None] * _GL_NODES  # (z, panels, nodes)
        wu = half[..., None] * _GL_WEIGHTS * np.exp(-0.5 * (u / sd) ** 2) / (sd * _SQRT2PI)
        v = a * u + tau * z[:, None, None]
        both = _psi_padded(surrogate, np.concatenate([u.ravel(), v.ravel()]))
        psi_u, psi_v = both[: u.size].reshape(u.shape), both[u.size :].reshape(u.shape)
        value = float(np.sum(wz * np.sum(wu * psi_u * psi_v, axis=(1, 2))))
        if previous is not None and abs(value - previous) <= rtol * max(height, 1e-300) ** 2:
            return value
        if previous is not None:
            last_two = (previous, value)
        previous, step_u, step_z = value, step_u / 2, step_z / 2
    raise ValueError(
        f"gaussian_psi_psi: E[psi(u) psi(v)] for {surrogate!r} at q1={q1:g}, q2={q2:g}, c={c:g} did not converge to "
        f"rtol={rtol:g} (last two estimates {last_two[0]:.15g}, {last_two[1]:.15g}); ask for a looser rtol."
    )


def _surrogate_surrogate(surrogate, q1, q2, c, rtol: float) -> np.ndarray:
    """`E[psi(u) psi(v)]` on the (x1, x2) grid, each distinct `(q1, q2, c)` by `gaussian_psi_psi`."""
    return _pairwise(lambda q1, q2, c: gaussian_psi_psi(surrogate, q1, q2, c, rtol=rtol), q1, q2, c)


def _expectations(activation, surrogate, q1, q2, c, rtol=1e-10, sg_sg=True):
    """(E[phi phi], E[phi' phi'] or None, E[phi' psi] or None, E[psi psi] or None) on the (x1, x2) grid."""
    gaussian = _gaussian_psi(surrogate)
    if isinstance(activation, ErfActivation):
        m = float(activation.m)
        s_erf, a_erf = 1 / (math.sqrt(2) * m), 2 * m / math.sqrt(math.pi)  # erf' = a exp(-x^2 / (2 s^2))
        pp = erf_erf(m, q1, q2, c)
        dd = gauss_gauss(a_erf, s_erf, a_erf, s_erf, q1, q2, c)
        if surrogate is None:
            return pp, dd, None, None
        if gaussian is not None:
            amp, sd = gaussian
            ds = gauss_gauss(a_erf, s_erf, amp, sd, q1, q2, c)
            ss = gauss_gauss(amp, sd, amp, sd, q1, q2, c)
        else:
            # E[erf'(u) psi(v)]: the Gaussian erf' integrates out of u in closed form, leaving a 1-D Gaussian
            # mean of psi (u | v ~ N(c v / q2, tau2); the erf' factor then tightens v's variance to V).
            def one(q1, q2, c):
                tau2 = max(q1 - c**2 / q2, 0.0)
                var = 1 / (1 / q2 + c**2 / (q2**2 * (s_erf**2 + tau2)))
                factor = a_erf * s_erf / math.sqrt(s_erf**2 + tau2) * math.sqrt(var / q2)
                return factor * gaussian_mean(surrogate, var, rtol=rtol)

            ds = _pairwise(one, q1, q2, c)
            ss = _surrogate_surrogate(surrogate, q1, q2, c, rtol) if sg_sg else None
        return pp, dd, ds, ss
    if isinstance(activation, SignActivation):
        pp = sign_sign(q1, q2, c)
        if surrogate is None:
            return pp, None, None, None
        if gaussian is not None:  # E[psi(v) | u = 0] of a Gaussian psi, closed form
            amp, sd = gaussian
            s2 = np.maximum(q2 - c**2 / q1, 0.0)
            ds = 2 / np.sqrt(2 * np.pi * q1) * amp / np.sqrt(1 + s2 / sd**2)
            ss = gauss_gauss(amp, sd, amp, sd, q1, q2, c)
        else:  # E[2 delta(u) psi(v)] = 2 p_u(0) E[psi(v) | u = 0], v | u = 0 ~ N(0, q2 - c^2 / q1)
            ds = _pairwise(
                lambda q1, q2, c: 2 / math.sqrt(2 * math.pi * q1)
                * gaussian_mean(surrogate, max(q2 - c**2 / q1, 0.0), rtol=rtol),
                q1, q2, c,
            )  # fmt: skip
            ss = _surrogate_surrogate(surrogate, q1, q2, c, rtol) if sg_sg else None
        return pp, None, ds, ss
    raise TypeError(f"analytic_kernels: `activation` must be ErfActivation or SignActivation, got {activation!r}.")


def analytic_kernels(
    x1,
    x2,
    *,
    depth: int,
    activation: ErfActivation | SignActivation,
    surrogate: SurrogateDerivative | None = None,
    sigma_w: float = 1.0,
    sigma_b: float = 0.1,
    quadrature_nodes: int | None = None,
    rtol: float = 1e-10,
    sg_sg: bool = True,
) -> Kernels:
    """The infinite-width NNGP, NTK and SG-NTK between `x1` `(n1, d)` and `x2` `(n2, d)` (module docstring).

    Closed forms for `erf`, `sign`, and Gaussian-shaped (`Erf`) surrogates. With another surrogate the
    SG-NTK's expectations reduce to one-dimensional Gaussian means of `psi` (`gaussian_mean`: adaptive,
    panels ending at the surrogate's kinks, to `rtol`); the surrogate-surrogate kernel `sg_sg` to two
    nested ones (`gaussian_psi_psi`, to `rtol`; `sg_sg=False` leaves that kernel out, `None`, and saves
    its time). No result is returned that misses `rtol` silently: where it cannot be reached a
    `ValueError` says so. `quadrature_nodes` (the former fixed Gauss-Hermite rule) has no effect any
    more and warns (`DeprecationWarning`); it will be removed.
    """
    if quadrature_nodes is not None:
        import warnings

        warnings.warn(
            "analytic_kernels: `quadrature_nodes` has no effect (every expectation is a closed form or adaptive "
            "quadrature to `rtol`); drop the argument.",
            DeprecationWarning,
            stacklevel=2,
        )
    if not 0 < rtol < 1:
        raise ValueError(f"analytic_kernels: `rtol` must be in (0, 1), got {rtol!r}.")
    x1, x2 = np.atleast_2d(np.asarray(x1, np.float64)), np.atleast_2d(np.asarray(x2, np.float64))
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"analytic_kernels: `x1` and `x2` need the same input size, got {x1.shape}, {x2.shape}.")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"analytic_kernels: `depth` (hidden layers) must be an int >= 1, got {depth!r}.")
    n0 = x1.shape[1]
    s11 = sigma_w**2 * np.sum(x1 * x1, 1) / n0 + sigma_b**2  # Sigma(x1, x1), per point
    s22 = sigma_w**2 * np.sum(x2 * x2, 1) / n0 + sigma_b**2
    s12 = sigma_w**2 * x1 @ x2.T / n0 + sigma_b**2
    theta = sg = sgsg = s12
    ntk_defined, sg_defined = True, surrogate is not None
    for _ in range(depth):
        q1, q2 = s11[:, None], s22[None, :]
        pp, dd, ds, ss = _expectations(activation, surrogate, q1, q2, s12, rtol, sg_sg)
        d11 = _expectations(activation, None, s11, s11, s11)[0]
        d22 = _expectations(activation, None, s22, s22, s22)[0]
        s12, s11, s22 = sigma_w**2 * pp + sigma_b**2, sigma_w**2 * d11 + sigma_b**2, sigma_w**2 * d22 + sigma_b**2
        if dd is None:
            ntk_defined = False
        else:
            theta = s12 + theta * sigma_w**2 * dd
        if sg_defined:
            sg = s12 + sg * sigma_w**2 * ds
            if sg_sg:
                assert ss is not None  # computed whenever asked for
                sgsg = s12 + sgsg * sigma_w**2 * ss
    return Kernels(
        s12,
        theta if ntk_defined else None,
        sg if sg_defined else None,
        sgsg if sg_defined and sg_sg else None,
    )


class Prediction(NamedTuple):
    """Gaussian-process prediction of trained networks at test points: `mean` and `cov` (full matrix)."""

    mean: np.ndarray
    cov: np.ndarray


def kernel_regression(
    k_test_train, k_train_train, nngp_test_test, nngp_test_train, nngp_train_train, y, *, lr=None, steps=None
) -> Prediction:
    """Prediction of networks trained by gradient descent on `1/2 sum (f(X) - y)^2` in the kernel regime.

    `k` is the training kernel (the NTK, or the asymmetric SG-NTK `I`, whose transposes are kept:
    `k_test_train[i, j] = I(x_i, X_j)`), the output at initialisation a centred GP with the NNGP
    kernel. With `lr` and `steps` the prediction after that many discrete steps,
    `M = k(x, X) k(X, X)^{-1} (Id - (Id - lr k(X, X))^steps)`; without them, converged
    (`M = k(x, X) k(X, X)^{-1}`). Mean `M y`; covariance
    `Sigma(x, x) - M Sigma(X, x) - Sigma(x, X) M^T + M Sigma(X, X) M^T`.
    """
    k_tt = np.asarray(k_train_train, np.float64)
    m = np.linalg.solve(k_tt.T, np.asarray(k_test_train, np.float64).T).T  # k(x, X) k(X, X)^{-1}
    if (lr is None) != (steps is None):
        raise ValueError("kernel_regression: give both `lr` and `steps` (finite training) or neither (converged).")
    if lr is not None and steps is not None:
        step = np.eye(len(k_tt)) - lr * k_tt
        m = m @ (np.eye(len(k_tt)) - np.linalg.matrix_power(step, int(steps)))
    y = np.asarray(y, np.float64)
    cov = nngp_test_test - m @ nngp_test_train.T - nngp_test_train @ m.T + m @ nngp_train_train @ m.T
    return Prediction(m @ y, cov)


# ----------------------------------------------------------------------------- finite networks


def init_mlp(key, widths, dtype=None) -> list:
    """Standard-normal parameters `[(W1, b1), ..., (W_out, b_out)]` of an NTK-parametrised MLP.

    `widths = (n0, n1, ..., n_L, 1)`: input size, hidden widths, output size.
    """
    import jax.numpy as jnp
    import jax.random as jr

    dtype = jnp.float32 if dtype is None else dtype
    keys = jr.split(key, len(widths) - 1)
    return [
        (jr.normal(k, (n_out, n_in), dtype), jr.normal(jr.fold_in(k, 1), (n_out,), dtype))
        for k, n_in, n_out in zip(keys, widths[:-1], widths[1:])
    ]


def _jax_activation(activation, surrogate: SurrogateDerivative | None, use_surrogate: bool):
    """`phi` for JAX with its true derivative, or with the surrogate `psi` in the backward pass."""
    import jax
    import jax.numpy as jnp

    if isinstance(activation, ErfActivation):
        phi = lambda x: jax.scipy.special.erf(activation.m * x)  # noqa: E731
    elif isinstance(activation, SignActivation):
        phi = jnp.sign
    else:
        raise TypeError(f"mlp_apply: unknown activation {activation!r}.")
    if not use_surrogate:  # sign's JAX derivative is its a.e. derivative, 0: use it for the forward pass only
        return phi
    if surrogate is None:
        raise ValueError("mlp_apply: use_surrogate=True needs a `surrogate`.")

    @jax.custom_jvp
    def with_surrogate(x):
        return phi(x)

    @with_surrogate.defjvp
    def _jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        psi = surrogate.height * surrogate.escape.pdf(x)
        return phi(x), psi * dx

    return with_surrogate


def mlp_apply(params, x, *, activation, surrogate: SurrogateDerivative | None = None, use_surrogate: bool = False,
              sigma_w: float = 1.0, sigma_b: float = 0.1):  # fmt: skip
    """The scalar output of the NTK-parametrised MLP at one input `x` `(n0,)`.

    With `use_surrogate=True` the backward pass (and forward-mode derivative) uses the surrogate
    `psi` in place of `phi'`: its gradient is the surrogate gradient `J~`.
    """
    import jax.numpy as jnp

    phi = _jax_activation(activation, surrogate, use_surrogate)
    h = x
    for i, (w, b) in enumerate(params):
        pre = sigma_w / jnp.sqrt(h.shape[0]) * (w @ h) + sigma_b * b
        h = pre if i == len(params) - 1 else phi(pre)
    return h[0]


@functools.cache
def _empirical_jit():
    """`_empirical_traced` compiled once per network shape (eagerly, every operation of the reverse-mode Jacobians
    would be compiled on its own); built on first use, so importing this module does not import JAX."""
    import equinox as eqx

    return eqx.filter_jit(_empirical_traced)


def _empirical(params, x1, x2, activation, surrogate, sigma_w, sigma_b):
    return _empirical_jit()(params, x1, x2, activation, surrogate, sigma_w, sigma_b)


def _empirical_traced(params, x1, x2, activation, surrogate, sigma_w, sigma_b):
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(params)

    def f(theta, x, sg):
        return mlp_apply(
            unravel(theta), x, activation=activation, surrogate=surrogate, use_surrogate=sg, sigma_w=sigma_w,
            sigma_b=sigma_b,
        )  # fmt: skip

    def jac(xs, sg):
        return jax.vmap(lambda x: jax.grad(f)(flat, x, sg))(xs)

    x1, x2 = jnp.asarray(x1, flat.dtype), jnp.asarray(x2, flat.dtype)
    out1, out2 = jax.vmap(lambda x: f(flat, x, False))(x1), jax.vmap(lambda x: f(flat, x, False))(x2)
    ntk = sg_ntk = sg_sg = None
    if not isinstance(activation, SignActivation):
        j1 = jac(x1, False)
        ntk = j1 @ jac(x2, False).T
        sg_ntk = j1 @ jac(x2, True).T if surrogate is not None else None
    if surrogate is not None:
        sg_sg = jac(x1, True) @ jac(x2, True).T
    return out1, out2, ntk, sg_ntk, sg_sg


def empirical_kernels(params, x1, x2, *, activation, surrogate: SurrogateDerivative | None = None,
                      sigma_w: float = 1.0, sigma_b: float = 0.1):  # fmt: skip
    """The finite-width NTK `J(x1) J(x2)^T`, SG-NTK `J(x1) J~(x2)^T` and `J~(x1) J~(x2)^T` of one network.

    `J` holds the parameter gradients of the output with the true derivative, `J~` those with the
    surrogate in its place (both by reverse mode); each is a `(points, parameters)` matrix. Returns a `Kernels` whose
    `nngp` is the outer product of the outputs (one sample of the NNGP).
    """
    out1, out2, ntk, sg_ntk, sg_sg = _empirical(params, x1, x2, activation, surrogate, sigma_w, sigma_b)
    nngp = np.asarray(out1)[:, None] * np.asarray(out2)[None, :]
    ntk, sg_ntk, sg_sg = (None if k is None else np.asarray(k) for k in (ntk, sg_ntk, sg_sg))
    return Kernels(nngp, ntk, sg_ntk, sg_sg)
