import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad
from snnsad.spikes import smoothing_weight

from .helpers import assert_unbiased

ESC = snnsad.Sigmoid(4.0)
SG = snnsad.FastSigmoid(3.0)


def _drive_and_noise(key, n=400, dtype=jnp.float64):
    kx, kn = jr.split(key)
    return jr.normal(kx, (n,), dtype), jr.uniform(kn, (n,), dtype)


def _vjp(spike_fn, x, noise):
    out, pullback = jax.vjp(lambda x: spike_fn(x, noise), x)
    return out, pullback(jnp.ones_like(x))[0]


def test_heaviside_forward_and_zero_derivative(x64, getkey):
    x, noise = _drive_and_noise(getkey())
    s, g = _vjp(snnsad.Heaviside(), x, noise)
    np.testing.assert_array_equal(s, (x > 0).astype(x.dtype))
    np.testing.assert_array_equal(g, 0)


@pytest.mark.parametrize("scale", [None, 1.0, 0.3])
def test_surrogate_vjp_is_escape_pdf(scale, x64, getkey):
    x, noise = _drive_and_noise(getkey())
    s, g = _vjp(snnsad.Surrogate(SG, scale=scale), x, noise)
    np.testing.assert_array_equal(s, (x > 0).astype(x.dtype))
    # The VJP equals the gradient of the smooth counterpart F (rescaled to the requested peak).
    smooth = jax.vmap(jax.grad(SG.cdf))(x)
    factor = 1.0 if scale is None else scale / float(SG.peak(jnp.float64))
    np.testing.assert_allclose(g, factor * smooth, rtol=1e-12)
    if scale is not None:
        assert float(jax.grad(snnsad.Surrogate(SG, scale=scale))(jnp.zeros((), jnp.float64))) == pytest.approx(scale)


@pytest.mark.parametrize("surrogate", [None, SG])
def test_stochastic_forward_samples_and_vjp(surrogate, x64, getkey):
    x, noise = _drive_and_noise(getkey())
    s, g = _vjp(snnsad.Stochastic(ESC, surrogate), x, noise)
    np.testing.assert_array_equal(s, (noise < ESC.cdf(x)).astype(x.dtype))
    matched = ESC if surrogate is None else surrogate
    np.testing.assert_allclose(g, jax.vmap(jax.grad(matched.cdf))(x), rtol=1e-10)


def test_sample_spikes_flips_exactly_and_is_differentiable_along_a_flip(x64, getkey):
    """`sample_spikes(..., flip=f)` gives exactly the flipped 0/1 spikes for f in {0, 1}; its derivative in the
    drive is the spike function's (times -1 where flipped), and in `f` at 0 it is `1 - 2s` (the direction of
    each site's flip: what `benchmarks/surrogate_control_variate.py` back-propagates)."""
    x, noise = _drive_and_noise(getkey())
    fn = snnsad.Stochastic(ESC)
    flip = (jr.uniform(getkey(), x.shape) < 0.3).astype(x.dtype)
    s, _ = snnsad.spikes.sample_spikes(fn, x, noise)
    flipped, _ = snnsad.spikes.sample_spikes(fn, x, noise, flip=flip)
    np.testing.assert_array_equal(flipped, np.where(flip > 0, 1 - s, s))
    weights = jr.normal(getkey(), x.shape, x.dtype)
    along = jax.grad(lambda f: jnp.sum(weights * snnsad.spikes.sample_spikes(fn, x, noise, flip=f)[0]))
    np.testing.assert_array_equal(along(jnp.zeros_like(x)), weights * (1 - 2 * s))
    by_drive = jax.grad(lambda v: jnp.sum(weights * snnsad.spikes.sample_spikes(fn, v, noise, flip=flip)[0]))(x)
    np.testing.assert_allclose(by_drive, weights * (1 - 2 * flip) * jax.vmap(jax.grad(ESC.cdf))(x), rtol=1e-10)


@pytest.mark.parametrize("strategy", ["two_sided", "right", "left", "straight_through"])
def test_smoothed_stochastic_vjp(strategy, x64, getkey):
    x, noise = _drive_and_noise(getkey())
    s, g = _vjp(snnsad.SmoothedStochastic(ESC, strategy), x, noise)
    p = ESC.cdf(x)
    np.testing.assert_array_equal(s, (noise < p).astype(x.dtype))
    expected = jax.vmap(jax.grad(ESC.cdf))(x) * smoothing_weight(strategy, s, p)
    np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-300)


def test_straight_through_smoothing_is_the_matched_stochastic_sg(x64, getkey):
    x, noise = _drive_and_noise(getkey())
    _, a = _vjp(snnsad.SmoothedStochastic(ESC, "straight_through"), x, noise)
    _, b = _vjp(snnsad.Stochastic(ESC), x, noise)
    np.testing.assert_array_equal(a, b)


def test_expected_matches_finite_differences(x64, getkey):
    x = jr.normal(getkey(), (50,), jnp.float64)
    spike = snnsad.Expected(ESC)
    g = jax.vmap(jax.grad(spike))(x)
    h = 1e-6
    fd = (spike(x + h) - spike(x - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(spike(x), ESC.cdf(x))


@pytest.mark.parametrize(
    "spike_fn",
    [
        snnsad.Heaviside(),
        snnsad.Surrogate(SG),
        snnsad.Stochastic(ESC),
        snnsad.SmoothedStochastic(ESC),
        snnsad.Expected(ESC),
    ],
    ids=lambda f: type(f).__name__,
)
def test_forward_mode_matches_reverse_mode(spike_fn, x64, getkey):
    x, noise = _drive_and_noise(getkey(), n=7)
    fwd = jax.jacfwd(lambda x: spike_fn(x, noise))(x)
    rev = jax.jacrev(lambda x: spike_fn(x, noise))(x)
    np.testing.assert_allclose(fwd, rev, rtol=1e-12)
    assert fwd.dtype == x.dtype


@pytest.mark.parametrize(
    "spike_fn", [snnsad.Stochastic(ESC), snnsad.SmoothedStochastic(ESC)], ids=lambda f: type(f).__name__
)
def test_stochastic_without_noise_is_a_clear_error(spike_fn):
    with pytest.raises(ValueError, match="noise"):
        spike_fn(jnp.zeros(3))


def test_noise_of_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="noise"):
        snnsad.Stochastic(ESC)(jnp.zeros(3), jnp.zeros(4))


def test_spike_dtype_follows_drive():
    for dtype in (jnp.float32, jnp.bfloat16):
        x = jnp.linspace(-1, 1, 5).astype(dtype)
        assert snnsad.Stochastic(ESC)(x, jnp.full(x.shape, 0.5, dtype)).dtype == dtype
        assert snnsad.Surrogate(SG)(x).dtype == dtype


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="escape"):
        snnsad.Surrogate(3.0)
    with pytest.raises(ValueError, match="scale"):
        snnsad.Surrogate(SG, scale=-1.0)
    with pytest.raises((ValueError, TypeError), match="strategy"):  # ValueError without the test type checker
        snnsad.SmoothedStochastic(ESC, "both")


def test_single_stochastic_neuron_matched_sg_is_derivative_of_expected_output(getkey):
    """y ~ Bernoulli(F(w.x - theta)): the matched stochastic SG equals dE[y]/dw = F'(w.x - theta) x for every sample."""
    kw, kx, kn = jr.split(getkey(), 3)
    w, x = jr.normal(kw, (5,)), jr.normal(kx, (5,))
    theta = 0.3
    spike = snnsad.Stochastic(ESC)
    for noise in jr.uniform(kn, (20,)):
        sg = jax.grad(lambda w: spike(w @ x - theta, noise))(w)
        exact = jax.grad(lambda w: ESC.cdf(w @ x - theta))(w)
        np.testing.assert_allclose(sg, exact, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("strategy", ["two_sided", "right", "left", "straight_through"])
@pytest.mark.parametrize("drive", [-0.4, 0.05, 0.6])
def test_smoothed_stochastic_is_unbiased_for_one_neuron(strategy, drive, x64):
    """Monte Carlo mean of ds/dx over 20000 noise draws is within 4 standard errors of dE[s]/dx = F'(x).

    Fixed seed; the straight-through estimate is deterministic (zero spread), so it must match exactly.
    """
    x = jnp.asarray(drive, jnp.float64)
    noise = jr.uniform(jr.key(7), (20000,), jnp.float64)
    spike = snnsad.SmoothedStochastic(ESC, strategy)
    grads = jax.vmap(lambda n: jax.grad(spike)(x, n))(noise)
    assert_unbiased(grads, ESC.pdf(x), n_se=4.0, atol=1e-12)


def test_deterministic_limit(getkey):
    """As the escape steepness grows (same noise), stochastic spikes and the stochastic SG become the deterministic ones."""
    x = jr.normal(getkey(), (2000,)) * 0.5
    noise = jr.uniform(getkey(), (2000,))
    det, det_grad = _vjp(snnsad.Surrogate(SG), x, noise)
    mismatches = []
    for beta in (1.0, 10.0, 100.0, 1e4, 1e6):
        s, g = _vjp(snnsad.Stochastic(snnsad.Sigmoid(beta), SG), x, noise)
        mismatch = np.asarray(s != det)
        mismatches.append(int(mismatch.sum()))
        np.testing.assert_array_equal(g, det_grad)  # same surrogate: the SG is the same wherever it is evaluated
    assert mismatches == sorted(mismatches, reverse=True) and mismatches[0] > 100
    assert mismatches[-1] == 0


def test_from_peer_matches_documented_peer_formulas(x64):
    x = jnp.linspace(-2.0, 2.0, 81, dtype=jnp.float64)

    def d(spike):
        return jax.vmap(jax.grad(spike))(x)

    sig = jax.nn.sigmoid
    k = 25.0
    np.testing.assert_allclose(
        d(snnsad.from_peer("snntorch", "fast_sigmoid", slope=k)), 1 / (1 + k * jnp.abs(x)) ** 2, rtol=1e-12
    )
    np.testing.assert_allclose(
        d(snnsad.from_peer("spyx", "superspike", k=k)), 1 / (1 + k * jnp.abs(x)) ** 2, rtol=1e-12
    )
    np.testing.assert_allclose(
        d(snnsad.from_peer("snntorch", "sigmoid", slope=k)), k * sig(k * x) * sig(-k * x), rtol=1e-10
    )
    np.testing.assert_allclose(
        d(snnsad.from_peer("spikingjelly", "sigmoid", alpha=4.0)), 4 * sig(4 * x) * sig(-4 * x), rtol=1e-10
    )
    a = 2.0
    atan = (a / 2) / (1 + (jnp.pi * a * x / 2) ** 2)
    np.testing.assert_allclose(d(snnsad.from_peer("snntorch", "atan", alpha=a)), atan, rtol=1e-12)
    np.testing.assert_allclose(d(snnsad.from_peer("spikingjelly", "atan", alpha=a)), atan, rtol=1e-12)
    np.testing.assert_allclose(
        d(snnsad.from_peer("spyx", "arctan", k=a)), 1 / (jnp.pi * (1 + (a * x) ** 2)), rtol=1e-12
    )
    with pytest.raises(ValueError, match="unknown surrogate"):
        snnsad.from_peer("snntorch", "nonexistent")
