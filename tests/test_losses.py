import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import snnsad
from snnsad import losses


def test_cross_entropy_variants_match_optax():
    out = jnp.asarray(np.random.default_rng(0).normal(size=(7, 4)), jnp.float32)
    ce = lambda logits: optax.softmax_cross_entropy_with_integer_labels(logits, 2)  # noqa: E731
    np.testing.assert_allclose(losses.max_over_time_cross_entropy(out, 2), ce(out.max(0)), rtol=1e-6)
    np.testing.assert_allclose(losses.sum_over_time_cross_entropy(out, 2), ce(out.sum(0)), rtol=1e-6)
    np.testing.assert_allclose(losses.last_step_cross_entropy(out, 2), ce(out[-1]), rtol=1e-6)
    assert float(losses.accuracy_max_over_time(out, int(jnp.argmax(out.max(0))))) == 1.0


def test_van_rossum_distance(x64):
    T, n = 50, 3
    s = jnp.zeros((T, n), jnp.float64).at[10, 0].set(1)
    assert float(losses.van_rossum_distance(s, s)) == 0.0
    # One extra spike: sqrt(dt/tau * sum_k lam^(2k)) in closed form.
    lam = np.exp(-1e-3 / 10e-3)
    expected = np.sqrt(1e-3 / 10e-3 * np.sum(lam ** (2 * np.arange(T - 10))))
    assert float(losses.van_rossum_distance(s, jnp.zeros_like(s))) == pytest.approx(expected, rel=1e-12)
    # Symmetric, and closer for a spike shifted by 1 step than by 10.
    t1 = jnp.zeros_like(s).at[11, 0].set(1)
    t10 = jnp.zeros_like(s).at[20, 0].set(1)
    assert float(losses.van_rossum_distance(s, t1)) < float(losses.van_rossum_distance(s, t10))
    assert float(losses.van_rossum_distance(s, t1)) == pytest.approx(float(losses.van_rossum_distance(t1, s)))
    assert np.isfinite(np.asarray(jax.grad(lambda a: losses.van_rossum_distance(a, s))(s))).all()  # no NaN at 0


def test_spike_distances():
    s = jnp.asarray([[1.0, 0.0], [1.0, 1.0]])
    t = jnp.asarray([[0.0, 0.0], [1.0, 1.0]])
    assert float(losses.l2_spike_distance(s, t)) == 1.0
    assert float(losses.spike_count_mse(s, jnp.asarray([0.0, 1.0]))) == pytest.approx((4 + 0) / 2)


def _trace(counts_per_layer):
    spikes = tuple(
        jnp.asarray(np.stack([np.arange(5) < c for c in counts], axis=1), jnp.float32) for counts in counts_per_layer
    )
    return snnsad.Trace(output=jnp.zeros((5, 2)), spikes=spikes, drive=spikes, prob=spikes)


def test_activity_regularisers():
    trace = _trace([[0, 2, 5], [4]])
    upper = losses.ActivityRegulariser(0.1, 3.0, "upper", 2)
    assert float(upper(trace)) == pytest.approx(0.1 * ((0 + 0 + 4) / 3 + 1))
    lower = losses.ActivityRegulariser(1.0, 1.0, "lower", 1)
    assert float(lower(trace)) == pytest.approx((1 + 0 + 0) / 3 + 0)
    layer = losses.ActivityRegulariser(1.0, 2.0, "upper", 1, per="layer", layers=(0,))
    assert float(layer(trace)) == pytest.approx(7 / 3 - 2)
    loss_fn = losses.make_loss(losses.max_over_time_cross_entropy, [upper])
    assert float(loss_fn(trace, 0)) == pytest.approx(np.log(2) + float(upper(trace)), rel=1e-6)
    with pytest.raises(ValueError, match="bound"):
        losses.ActivityRegulariser(1.0, 1.0, "both")


def test_class_labels_are_checked():
    """A label out of range is caught when the compiled code runs (eqx.error_if); a float or
    multi-dimensional label at trace time. Before, indexing clamped them into a finite loss."""
    out = jnp.ones((5, 3))
    with pytest.raises(Exception, match=r"outside \[0, 3\)"):
        jax.block_until_ready(jax.jit(losses.max_over_time_cross_entropy)(out, jnp.asarray(3)))
    with pytest.raises(Exception, match=r"outside \[0, 3\)"):
        jax.block_until_ready(
            jax.jit(jax.vmap(losses.accuracy_max_over_time))(jnp.ones((2, 5, 3)), jnp.asarray([0, -1]))
        )
    with pytest.raises(TypeError, match="one integer class index"):
        losses.sum_over_time_cross_entropy(out, jnp.asarray(1.0))
    with pytest.raises(TypeError, match="one integer class index"):
        losses.accuracy_max_over_time(out, jnp.asarray([[1]]))


def test_psp_van_rossum_distance_is_the_papers_metric(x64):
    """Against an independent evaluation: numpy's full convolution with the authors' kernel (sampled at
    linspace(0, T dt, T)), truncated to the trial, 1/2 sum over time, mean over neurons."""
    rng = np.random.default_rng(0)
    s = (rng.uniform(size=(189, 7)) < 0.1).astype(np.float64)
    z = (rng.uniform(size=(189, 7)) < 0.2).astype(np.float64)
    t = np.linspace(0, 189e-3, 189)
    eps = 0.2 * (np.exp(-t / 10e-3) - np.exp(-t / 5e-3))
    expected = np.mean([0.5 * np.sum(np.convolve(s[:, n] - z[:, n], eps)[:189] ** 2) for n in range(7)])
    got = float(losses.psp_van_rossum_distance(jnp.asarray(s), jnp.asarray(z)))
    assert got == pytest.approx(expected, rel=1e-12)
    assert float(losses.psp_van_rossum_distance(jnp.asarray(z), jnp.asarray(z))) == 0.0
    half = float(losses.half_l2_spike_distance(jnp.asarray(s), jnp.asarray(z)))
    assert half == pytest.approx(0.5 * np.sum((s - z) ** 2) / 7)
