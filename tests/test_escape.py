import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnsad

ESCAPES = {
    "sigmoid": lambda: snnsad.Sigmoid(3.0),
    "fast_sigmoid": lambda: snnsad.FastSigmoid(2.5),
    "arctan": lambda: snnsad.Arctan(1.7),
    "erf": lambda: snnsad.Erf(0.6),
    "boxcar": lambda: snnsad.Boxcar(1.3),
    "triangle": lambda: snnsad.Triangle(0.9),
    "exponential": lambda: snnsad.Exponential(0.3, 0.5),
    "step": lambda: snnsad.Step(),
}


def _points(escape):
    # Points away from kinks (the pdf of boxcar/triangle/exponential is discontinuous or kinked there).
    x = jnp.linspace(-3.0, 3.0, 601, dtype=jnp.float64) + 0.00123
    if isinstance(escape, snnsad.Boxcar):
        x = x[jnp.abs(jnp.abs(x) - escape.width / 2) > 1e-3]
    if isinstance(escape, snnsad.Exponential):
        x = x[jnp.abs(x - escape.delta * jnp.log(1 / escape.p0)) > 1e-3]
    return x


@pytest.mark.parametrize("name", ESCAPES)
def test_pdf_is_derivative_of_cdf(name, x64):
    escape = ESCAPES[name]()
    x = _points(escape)
    grad = jax.vmap(jax.grad(escape.cdf))(x)
    np.testing.assert_allclose(escape.pdf(x), grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ESCAPES)
def test_cdf_is_a_distribution_function(name, x64):
    escape = ESCAPES[name]()
    x = jnp.linspace(-50.0, 50.0, 2001, dtype=jnp.float64)
    F = np.asarray(escape.cdf(x))
    assert np.all((F >= 0) & (F <= 1))
    assert np.all(np.diff(F) >= -1e-15)
    far = np.asarray(escape.cdf(jnp.array([-1e8, 1e8], dtype=jnp.float64)))
    assert far[1] == pytest.approx(1.0, abs=1e-6)
    if not isinstance(escape, snnsad.Exponential):  # the exponential rate has no lower saturation
        assert far[0] == pytest.approx(0.0, abs=1e-6)
    pdf = np.asarray(escape.pdf(x))
    assert np.all(pdf >= 0)
    assert pdf.max() <= float(escape.peak(jnp.float64)) * (1 + 1e-12)


@pytest.mark.parametrize("name", [n for n in ESCAPES if n not in ("step", "exponential")])
def test_peak_is_pdf_at_zero(name, x64):
    escape = ESCAPES[name]()
    assert float(escape.pdf(jnp.zeros((), jnp.float64))) == pytest.approx(float(escape.peak(jnp.float64)), rel=1e-12)


def test_exponential_peak_at_saturation(x64):
    escape = snnsad.Exponential(0.25, 0.5)
    x_sat = 0.5 * np.log(4.0)
    assert float(escape.pdf(jnp.asarray(x_sat - 1e-12))) == pytest.approx(2.0, rel=1e-9)
    assert float(escape.peak(jnp.float64)) == 2.0


STEEP = {
    "sigmoid": snnsad.Sigmoid(1e4),
    "fast_sigmoid": snnsad.FastSigmoid(1e4),
    "arctan": snnsad.Arctan(1e4),
    "erf": snnsad.Erf(1e-4),
    "boxcar": snnsad.Boxcar(1e-4),
    "triangle": snnsad.Triangle(1e-4),
    "exponential": snnsad.Exponential(0.5, 1e-4),
    "step": snnsad.Step(),
}


@pytest.mark.parametrize("name", STEEP)
def test_float32_safe_at_steep_escape(name):
    """|beta x| up to 1e4 (and far beyond) in float32: no overflow, no NaN, in values and gradients."""
    escape = STEEP[name]
    x = jnp.concatenate([jnp.linspace(-1.0, 1.0, 2001), jnp.array([0.0, -1e30, 1e30, 1e-38, -1e-38])]).astype(
        jnp.float32
    )
    for fn in (escape.cdf, escape.pdf, escape.log_cdf, escape.log_sf, escape.pdf_over_cdf, escape.pdf_over_sf):
        out = fn(x)
        assert out.dtype == jnp.float32
        assert not np.any(np.isnan(np.asarray(out))), fn
    assert np.all(np.isfinite(np.asarray(escape.cdf(x))))
    assert np.all(np.isfinite(np.asarray(escape.pdf(x))))
    assert np.all(np.isfinite(np.asarray(jax.vmap(jax.grad(escape.cdf))(x))))


def test_log_probabilities_are_stable(x64):
    """Against scipy's independent log-space implementations, including far tails."""
    from scipy import special

    x = np.linspace(-200.0, 200.0, 801)
    sig, erf = snnsad.Sigmoid(3.0), snnsad.Erf(0.6)
    np.testing.assert_allclose(sig.log_cdf(jnp.asarray(x)), special.log_expit(3.0 * x), rtol=1e-12)
    np.testing.assert_allclose(sig.log_sf(jnp.asarray(x)), special.log_expit(-3.0 * x), rtol=1e-12)
    # 1e-10: jax's log_ndtr uses an asymptotic series in the far lower tail (scipy's is more exact).
    np.testing.assert_allclose(erf.log_cdf(jnp.asarray(x)), special.log_ndtr(x / 0.6), rtol=1e-10)
    np.testing.assert_allclose(erf.log_sf(jnp.asarray(x)), special.log_ndtr(-x / 0.6), rtol=1e-10)


@pytest.mark.parametrize("name", ESCAPES)
def test_hazard_ratios(name, x64):
    escape = ESCAPES[name]()
    x = _points(escape)
    F, f = np.asarray(escape.cdf(x)), np.asarray(escape.pdf(x))
    ok = (F > 1e-6) & (F < 1 - 1e-6)
    np.testing.assert_allclose(np.asarray(escape.pdf_over_cdf(x))[ok], f[ok] / F[ok], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(escape.pdf_over_sf(x))[ok], f[ok] / (1 - F[ok]), rtol=1e-9)


def test_array_valued_parameters():
    """One steepness per neuron: parameters broadcast against one time step's drive (n,)."""
    escape = snnsad.Sigmoid(jnp.array([1.0, 2.0, 4.0]))
    x = jnp.full((3,), 0.5)
    expected = jax.nn.sigmoid(jnp.array([0.5, 1.0, 2.0]))
    np.testing.assert_allclose(escape.cdf(x), expected, rtol=1e-6)
    np.testing.assert_allclose(escape.pdf(x), jnp.array([1.0, 2.0, 4.0]) * expected * (1 - expected), rtol=1e-6)
    np.testing.assert_allclose(
        jax.vmap(escape.cdf)(jnp.full((5, 3), 0.5)), jnp.broadcast_to(expected, (5, 3)), rtol=1e-6
    )


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda v: snnsad.Sigmoid(v), "beta"),
        (lambda v: snnsad.FastSigmoid(v), "beta"),
        (lambda v: snnsad.Arctan(v), "alpha"),
        (lambda v: snnsad.Erf(v), "sigma"),
        (lambda v: snnsad.Boxcar(v), "width"),
        (lambda v: snnsad.Triangle(v), "width"),
        (lambda v: snnsad.Exponential(0.5, v), "delta"),
        (lambda v: snnsad.Exponential(v, 1.0), "p0"),
    ],
)
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_non_positive_parameters_are_rejected(make, arg, value):
    with pytest.raises(ValueError, match=arg):
        make(value)


def test_exponential_p0_is_a_probability():
    with pytest.raises(ValueError, match="p0"):
        snnsad.Exponential(1.5, 1.0)


def test_parameters_are_arrays_so_new_values_do_not_recompile():
    import equinox as eqx

    @jax.jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def f(escape, x):
        return escape.cdf(x)

    x = jnp.ones(3)
    for beta in (1.0, 2.0, 30.0):
        f(snnsad.Sigmoid(beta), x)


def test_a_traced_bad_parameter_is_caught_when_the_compiled_code_runs():
    """Under jit a parameter is a tracer, so the check cannot run at construction: it runs (eqx.error_if)
    when the compiled code does, and names the parameter."""

    @jax.jit
    def prob(beta):
        return snnsad.Sigmoid(beta).cdf(jnp.asarray(0.5))

    assert float(prob(jnp.asarray(2.0))) > 0.5
    with pytest.raises(Exception, match="`beta` must be finite and > 0"):
        jax.block_until_ready(prob(jnp.asarray(-1.0)))
