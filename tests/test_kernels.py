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
