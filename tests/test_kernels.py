"""`snnsad.kernels`: closed forms against quadrature, the layer recursion against finite networks."""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.special import erf

import snnsad
from snnsad import kernels as K

SUR = K.SurrogateDerivative(snnsad.Erf(0.5))


def _moments(n=40, seed=0):
    rng = np.random.default_rng(seed)
    q1, q2 = rng.uniform(0.3, 2.0, n), rng.uniform(0.3, 2.0, n)
    return q1, q2, rng.uniform(-0.9, 0.9, n) * np.sqrt(q1 * q2)


@pytest.mark.parametrize("m", [0.5, 1.0, 2.0])
def test_closed_forms_equal_quadrature(m):
    """erf-erf and Gaussian-Gaussian expectations in closed form equal 300-node Gauss-Hermite to 1e-10."""
    q1, q2, c = _moments()
    quad = K.gaussian_expectation(lambda u: erf(m * u), lambda v: erf(m * v), q1, q2, c, n=300)
    np.testing.assert_allclose(K.erf_erf(m, q1, q2, c), quad, rtol=0, atol=1e-10)
    a, s = 2 * m / math.sqrt(math.pi), 1 / (math.sqrt(2) * m)  # erf' as a Gaussian shape
    quad = K.gaussian_expectation(lambda u: a * np.exp(-((m * u) ** 2)), SUR.psi, q1, q2, c, n=300)
    np.testing.assert_allclose(K.gauss_gauss(a, s, 2 / math.sqrt(2 * math.pi * 0.25), 0.5, q1, q2, c), quad, atol=1e-10)


def test_sign_closed_form_matches_monte_carlo():
    """E[sign(u) sign(v)] = (2/pi) arcsin(rho): against 200,000 Gaussian samples, within 5 standard errors."""
    q1, q2, c = 1.3, 0.7, 0.4
    rng = np.random.default_rng(1)
    z = rng.standard_normal((200_000, 2))
    u = math.sqrt(q1) * z[:, 0]
    v = c / math.sqrt(q1) * z[:, 0] + math.sqrt(q2 - c**2 / q1) * z[:, 1]
    prod = np.sign(u) * np.sign(v)
    assert abs(prod.mean() - K.sign_sign(q1, q2, c)) < 5 * prod.std() / math.sqrt(len(prod))


def test_sign_sg_ntk_is_the_large_m_limit_and_the_ntk_is_ill_posed():
    """For sign the ordinary NTK is undefined (None) while the SG-NTK exists, is asymmetric, and is the
    limit of erf(m x)'s SG-NTK: the difference falls by about 5x from m = 20 to 100 (as 1/m); the NTK
    diagonal of erf(m x) grows without bound (as m^2 for two hidden layers)."""
    a = np.linspace(0, 2 * np.pi, 7, endpoint=False)
    x = np.stack([np.cos(a), np.sin(a)], 1) * np.linspace(0.5, 2.0, 7)[:, None]  # unequal norms: I is asymmetric
    sign = K.analytic_kernels(x, x, depth=2, activation=K.SignActivation(), surrogate=SUR)
    assert sign.ntk is None and np.abs(sign.sg_ntk - sign.sg_ntk.T).max() > 1e-2
    diffs, diags = [], []
    for m in (20.0, 100.0):
        k = K.analytic_kernels(x, x, depth=2, activation=K.ErfActivation(m), surrogate=SUR)
        diffs.append(np.abs(k.sg_ntk - sign.sg_ntk).max())
        diags.append(np.diag(k.ntk).mean())
    assert 3 < diffs[0] / diffs[1] < 7 and 15 < diags[1] / diags[0] < 30


@pytest.mark.slow
def test_empirical_kernels_converge_to_the_analytic_ones():
    """Empirical SG-NTK and NTK of erf_2 networks (float64, 8 initialisations each) against the recursion:
    the mean squared difference falls by a factor within 2 of the expected 10 from width 100 to 1000."""
    a = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    x = np.stack([np.cos(a), np.sin(a)], 1)
    act = K.ErfActivation(2.0)
    with jax.enable_x64(True):
        analytic = K.analytic_kernels(x, x, depth=2, activation=act, surrogate=SUR)
        mse = {}
        for w in (100, 1000):
            e = [K.empirical_kernels(K.init_mlp(jr.key(s), (2, w, w, 1), jnp.float64), x, x, activation=act,
                                     surrogate=SUR) for s in range(8)]  # fmt: skip
            mse[w] = np.mean([np.mean((k.sg_ntk - analytic.sg_ntk) ** 2) for k in e])
            assert np.mean([np.mean((k.ntk - analytic.ntk) ** 2) for k in e]) < 5 * mse[w]
    assert 5 < mse[100] / mse[1000] < 20


def test_kernel_regression_interpolates_and_has_zero_variance_at_the_training_points():
    """Converged kernel regression reproduces the targets and has no variance at the training points,
    for a symmetric and for the asymmetric SG-NTK; finite-step predictions tend to it."""
    a = np.linspace(0, 2 * np.pi, 9, endpoint=False)
    x = np.stack([np.cos(a), np.sin(a)], 1)
    y = np.sin(2 * a)
    k = K.analytic_kernels(x, x, depth=2, activation=K.SignActivation(), surrogate=SUR)
    for kernel in (k.sg_ntk, k.sg_sg):
        pred = K.kernel_regression(kernel, kernel, k.nngp, k.nngp, k.nngp, y)
        np.testing.assert_allclose(pred.mean, y, atol=1e-8)
        assert np.abs(pred.cov).max() < 1e-8
    lr = 0.5 / np.max(np.real(np.linalg.eigvals(k.sg_ntk)))
    late = K.kernel_regression(k.sg_ntk, k.sg_ntk, k.nngp, k.nngp, k.nngp, y, lr=lr, steps=100_000)
    np.testing.assert_allclose(late.mean, y, atol=1e-6)
    with pytest.raises(ValueError, match="both"):
        K.kernel_regression(k.sg_ntk, k.sg_ntk, k.nngp, k.nngp, k.nngp, y, lr=lr)


def test_the_old_name_of_the_surrogate_derivative_warns_and_still_resolves():
    """`kernels.Surrogate` was renamed `kernels.SurrogateDerivative` (`snnsad.Surrogate` is the spike function):
    the old name still resolves, with a DeprecationWarning; an unknown name is an AttributeError."""
    with pytest.warns(DeprecationWarning, match="SurrogateDerivative"):
        assert K.Surrogate is K.SurrogateDerivative
    with pytest.raises(AttributeError, match="no attribute"):
        _ = K.NoSuchKernel


def _numpy_pdf(esc):
    """An independent float64 NumPy pdf of each escape shape, with the module's own (float32-stored) parameters,
    and the points where it has a kink or a jump."""
    name = type(esc).__name__
    if name == "Triangle":
        w = float(esc.width)
        return (lambda x: np.maximum(0, 1 - np.abs(x) / w) / w), [-w, 0.0, w]
    if name == "Boxcar":
        w = float(esc.width)
        return (lambda x: np.where(np.abs(x) < w / 2, 1 / w, 0.0)), [-w / 2, w / 2]
    if name == "FastSigmoid":
        b = float(esc.beta)
        return (lambda x: b / (2 * (1 + b * np.abs(x)) ** 2)), [0.0]
    if name == "Sigmoid":
        b = float(esc.beta)
        return (lambda x: b / (4 * np.cosh(b * x / 2) ** 2)), []
    if name == "Arctan":
        a = float(esc.alpha)
        return (lambda x: a / (math.pi * (1 + (a * x) ** 2))), []
    p0, d = float(esc.p0), float(esc.delta)  # Exponential
    x_sat = d * math.log(1 / p0)
    return (lambda x: np.where(x < x_sat, p0 * np.exp(np.minimum(x, x_sat) / d) / d, 0.0)), [x_sat]


SHAPES = [
    snnsad.Triangle(0.8), snnsad.Boxcar(0.6), snnsad.FastSigmoid(3.0), snnsad.Sigmoid(4.0), snnsad.Arctan(2.0),
    snnsad.Exponential(0.5, 0.4),
]  # fmt: skip


@pytest.mark.parametrize("esc", SHAPES, ids=lambda e: type(e).__name__)
def test_sg_ntk_with_any_surrogate_equals_independent_quadrature(esc):
    """The SG-NTK's expectation of the true derivative against the surrogate, for erf(5 x) (a narrow derivative
    peak) and sign, with a non-Gaussian surrogate: within 1e-8 (relative) of SciPy's adaptive quadrature of the
    original integrals (two-dimensional for erf, split at the surrogate's kinks; the conditional mean for sign),
    on X = [[1, 0], [cos 1, sin 1]] at depth 1. With the former fixed 96-node rule Triangle(0.8) was 2.0058
    instead of 2.0386 at [0, 0]. The surrogate-surrogate kernel's expectation E[psi(u) psi(v)] (which that rule
    could not reach to 1e-10 for a kinked surrogate, and was refused) is within 1e-8 of SciPy's as well: a
    two-dimensional integral split at the kinks in both variables, one-dimensional at x = x'."""
    from scipy import integrate

    pdf, kinks = _numpy_pdf(esc)
    sur = K.SurrogateDerivative(esc)
    psi = lambda v: 2.0 * pdf(v)  # noqa: E731
    x = np.array([[1.0, 0.0], [math.cos(1), math.sin(1)]])
    q = 0.5 * x @ x.T + 0.01  # the first layer's NNGP kernel (sigma_w 1, sigma_b 0.1, n0 = 2)
    m, a = 5.0, 10 / math.sqrt(math.pi)
    for act in (K.ErfActivation(m), K.SignActivation()):
        k = K.analytic_kernels(x, x, depth=1, activation=act, surrogate=sur, sg_sg=isinstance(act, K.ErfActivation))
        assert (k.sg_sg is None) == isinstance(act, K.SignActivation)
        for i, j in ((0, 0), (0, 1)):
            q1, q2, c = q[i, i], q[j, j], q[i, j]
            det = q1 * q2 - c * c
            ends = sorted({-12.0, 12.0, *kinks})
            if isinstance(act, K.ErfActivation) and det < 1e-12 * q1 * q2:  # x = x': u = v, one dimension
                g = lambda u: a * math.exp(-((m * u) ** 2)) * float(psi(u)) * math.exp(-u * u / (2 * q1))  # noqa: E731
                ref = sum(
                    integrate.quad(g, v0, v1, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                    for v0, v1 in zip(ends, ends[1:])
                ) / math.sqrt(2 * math.pi * q1)
            elif isinstance(act, K.ErfActivation):  # E[erf'(u) psi(v)], (u, v) ~ N(0, [[q1, c], [c, q2]])
                dens = lambda u, v: math.exp(-(q2 * u * u - 2 * c * u * v + q1 * v * v) / (2 * det))  # noqa: E731
                f = lambda u, v: a * math.exp(-((m * u) ** 2)) * float(psi(v)) * dens(u, v)  # noqa: E731
                ref = sum(
                    integrate.dblquad(f, v0, v1, -1.5, 1.5, epsabs=1e-12, epsrel=1e-11)[0]
                    for v0, v1 in zip(ends, ends[1:])
                ) / (2 * math.pi * math.sqrt(det))
            elif det < 1e-12 * q1 * q2:  # sign at x = x': v = u = 0, E[2 delta(u) psi(u)] = 2 p_u(0) psi(0)
                ref = 2 / math.sqrt(2 * math.pi * q1) * float(psi(0.0))
            else:  # E[2 delta(u) psi(v)] = 2 p_u(0) E[psi(v) | u = 0]
                s2 = q2 - c * c / q1
                g = lambda v: float(psi(v)) * math.exp(-v * v / (2 * s2)) / math.sqrt(2 * math.pi * s2)  # noqa: E731
                ref = (
                    2
                    / math.sqrt(2 * math.pi * q1)
                    * sum(
                        integrate.quad(g, v0, v1, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                        for v0, v1 in zip(ends, ends[1:])
                    )
                )
            # depth 1: I = Sigma2 + Sigma1 E[phi' psi], Sigma2 = E[phi phi] + sigma_b^2 (closed forms)
            pp = (K.erf_erf(m, q1, q2, c) if isinstance(act, K.ErfActivation) else K.sign_sign(q1, q2, c)) + 0.01
            got = (k.sg_ntk[i, j] - pp) / c
            assert abs(got - ref) <= 1e-8 * abs(ref), (type(act).__name__, i, j, got, ref)
            if k.sg_sg is None:
                continue
            if det < 1e-12 * q1 * q2:  # E[psi(u)^2]
                g = lambda u: float(psi(u)) ** 2 * math.exp(-u * u / (2 * q1)) / math.sqrt(2 * math.pi * q1)  # noqa: E731
                ref = sum(
                    integrate.quad(g, v0, v1, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                    for v0, v1 in zip(ends, ends[1:])
                )
            else:
                f = lambda v, u: float(psi(u)) * float(psi(v)) * dens(u, v)  # noqa: E731
                ref = sum(
                    integrate.dblquad(f, u0, u1, v0, v1, epsabs=1e-12, epsrel=1e-11)[0]
                    for u0, u1 in zip(ends, ends[1:]) for v0, v1 in zip(ends, ends[1:])
                ) / (2 * math.pi * math.sqrt(det))  # fmt: skip
            got = (k.sg_sg[i, j] - pp) / c
            assert abs(got - ref) <= 1e-8 * abs(ref), ("sg_sg", i, j, got, ref)


def test_a_bad_rtol_is_refused_and_the_former_quadrature_setting_warns():
    """`rtol` outside (0, 1) is refused; `quadrature_nodes` (the former fixed Gauss-Hermite rule, which returned
    NaN silently at 400 nodes) no longer does anything and says so with a DeprecationWarning, the result
    unchanged."""
    x = np.eye(2)
    with pytest.raises(ValueError, match="rtol"):
        K.analytic_kernels(x, x, depth=1, activation=K.SignActivation(), surrogate=SUR, rtol=0.0)
    with pytest.warns(DeprecationWarning, match="quadrature_nodes"):
        old = K.analytic_kernels(x, x, depth=1, activation=K.SignActivation(), surrogate=SUR, quadrature_nodes=400)
    new = K.analytic_kernels(x, x, depth=1, activation=K.SignActivation(), surrogate=SUR)
    assert old.sg_ntk is not None and new.sg_ntk is not None
    np.testing.assert_array_equal(old.sg_ntk, new.sg_ntk)


def test_the_adaptive_rule_equals_the_closed_form_for_a_gaussian_surrogate(monkeypatch):
    """With the closed forms switched off, the one-dimensional adaptive rule gives the Gaussian (`Erf`) surrogate's
    SG-NTK to 1e-12, for erf and sign, through two hidden layers."""
    from snnsad.kernels import _kernels

    x = np.array([[1.0, 0.0], [math.cos(1), math.sin(1)], [0.3, -1.2]])
    for act in (K.ErfActivation(5.0), K.SignActivation()):
        closed = K.analytic_kernels(x, x, depth=2, activation=act, surrogate=SUR)
        with monkeypatch.context() as patch:
            patch.setattr(_kernels, "_gaussian_psi", lambda surrogate: None)
            numeric = K.analytic_kernels(x, x, depth=2, activation=act, surrogate=SUR, sg_sg=False)
        np.testing.assert_allclose(numeric.sg_ntk, closed.sg_ntk, rtol=1e-12)
