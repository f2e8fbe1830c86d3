"""Surrogate gradients are not gradients: loop integrals and Jacobian asymmetry (paper, E2)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import ortho_group

import snnsad
from snnsad.spikes import with_slope


def _net_output(theta, beta_fwd, beta_sg, x=1.0):
    """g = s(w x), h_i = s(v_i g), y = s(u1 h1 + u2 h2); forward sigma(beta_fwd z), derivative sigma' at beta_sg."""
    fwd, sg = snnsad.Sigmoid(beta_fwd), snnsad.Sigmoid(beta_sg)

    def s(z):
        return with_slope(z, fwd.cdf(z), sg.pdf(z))

    w, v1, v2, u1, u2 = theta
    g = s(w * x)
    h1, h2 = s(v1 * g), s(v2 * g)
    return s(u1 * h1 + u2 * h2)


def _plane():
    rot = ortho_group.rvs(5, random_state=124)
    return jnp.asarray(rot[0]), jnp.asarray(rot[1])


@pytest.mark.parametrize("beta_sg", [1.0, 5.0, 20.0])
def test_sg_loop_integral_is_nonzero_and_exact_gradient_is_conservative(beta_sg, x64):
    d1, d2 = _plane()
    center = jnp.zeros(5, jnp.float64)
    sg_field = jax.grad(lambda th: _net_output(th, 1e4, beta_sg))
    exact_field = jax.grad(lambda th: _net_output(th, beta_sg, beta_sg))  # the smooth net's true gradient
    sg = snnsad.analysis.loop_integral(sg_field, center, d1, d2, 1.8, n_points=4000)
    exact = snnsad.analysis.loop_integral(exact_field, center, d1, d2, 1.8, n_points=4000)
    assert abs(float(exact.total)) < 1e-8
    assert abs(float(sg.total)) > 1e-3
    assert sg.accumulated.shape == (4000,)


def test_sg_loop_integral_grows_with_surrogate_steepness(x64):
    d1, d2 = _plane()
    center = jnp.zeros(5, jnp.float64)
    totals = [
        abs(
            float(
                snnsad.analysis.loop_integral(
                    jax.grad(lambda th, b=b: _net_output(th, 1e4, b)), center, d1, d2, 1.8, n_points=4000
                ).total
            )
        )
        for b in (1.0, 5.0, 20.0)
    ]
    assert totals[0] < totals[1] < totals[2], totals


def test_jacobian_asymmetric_exactly_when_steepness_differs(x64):
    theta = jnp.asarray([0.3, -0.4, 0.5, 0.7, -0.2], jnp.float64)
    same = snnsad.analysis.jacobian_asymmetry(jax.grad(lambda th: _net_output(th, 3.0, 3.0)), theta)
    diff = snnsad.analysis.jacobian_asymmetry(jax.grad(lambda th: _net_output(th, 10.0, 3.0)), theta)
    assert float(same) < 1e-12
    assert float(diff) > 1e-3


def test_loop_integral_validates_arguments():
    with pytest.raises(ValueError, match="same shape|one shape"):
        snnsad.analysis.loop_integral(lambda t: t, jnp.zeros(3), jnp.ones(2), jnp.ones(3), 1.0)
    # A rotational field x -> (-y, x) integrates to 2 pi r^2 around a circle.
    li = snnsad.analysis.loop_integral(
        lambda t: jnp.asarray([-t[1], t[0]]),
        jnp.zeros(2),
        jnp.asarray([1.0, 0.0]),
        jnp.asarray([0.0, 1.0]),
        2.0,
        n_points=64,
    )
    assert float(li.total) == pytest.approx(2 * np.pi * 4, rel=1e-5)
