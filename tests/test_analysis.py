"""Gradient statistics (snnsad.analysis): sample_grads and gradient_stats."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad

ce_loss = snnsad.losses.ce_loss
STOCH = snnsad.Stochastic(snnsad.Sigmoid(3.0))


def test_gradient_stats_basic_properties(getkey):
    ref = {"a": jnp.asarray([1.0, 0.0]), "b": jnp.zeros((2, 2))}
    samples = {"a": jnp.asarray([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]]), "b": jnp.zeros((4, 2, 2))}
    stats = snnsad.gradient_stats(samples, ref)
    assert set(stats) == {"all", "['a']", "['b']"}
    a = stats["['a']"]
    assert float(a.bias_norm) == 0.0 and float(a.relative_error) == 0.0
    assert float(a.cosine_of_mean) == pytest.approx(1.0)
    assert float(a.mean_cosine) == pytest.approx(1 / np.sqrt(2))
    assert float(a.variance) == pytest.approx(4 / 3)  # ddof=1 variance of +-1
    b = stats["['b']"]  # all zeros: safe, no NaN
    assert all(np.isfinite(v) for k, v in b.as_dict().items() if k != "max_z_at")
    assert float(b.mean_cosine) == 0.0 and float(b.max_z) == 0.0
    with pytest.raises(ValueError, match="leading sample axis"):
        snnsad.gradient_stats(ref, ref)


def test_sample_grads_validates_keys():
    net = snnsad.feedforward((3, 2, 2), key=jr.key(0), spike_fn=STOCH)
    with pytest.raises(ValueError, match="chunk_size"):
        snnsad.sample_grads(
            snnsad.Autodiff(), ce_loss, net, jnp.ones((3, 3)), jnp.asarray(0), jr.split(jr.key(0), 4), chunk_size=0
        )


@pytest.mark.slow
def test_sample_grads_draws_independent_estimates_in_one_call(getkey):
    """Every key gives its own estimate (distinct draws), each equal to a direct call with that key."""
    net = snnsad.feedforward((3, 4, 2), key=getkey(), spike_fn=STOCH)
    x, y, keys = jr.uniform(getkey(), (6, 3)), jnp.asarray(1), jr.split(getkey(), 5)
    values, grads = snnsad.sample_grads(snnsad.StochasticAD(2), ce_loss, net, x, y, keys, chunk_size=2)
    assert values.shape == (5,) and grads.layers[0].weight.shape == (5, 4, 3)
    assert len({float(v) for v in values}) > 1
    value, grad = eqx.filter_jit(snnsad.StochasticAD(2))(ce_loss, net, x, y, keys[3])
    np.testing.assert_allclose(values[3], value, rtol=1e-6)
    np.testing.assert_allclose(grads.layers[0].weight[3], grad.layers[0].weight, rtol=1e-5, atol=1e-7)
    stats = snnsad.gradient_stats(snnsad.nn.parameters(grads), snnsad.nn.parameters(grad))
    assert float(stats["all"].variance) > 0 and stats["all"].n_samples == 5
    assert jax.tree.structure(jax.tree.map(lambda g: g[0], grads)) == jax.tree.structure(grad)


def test_gradient_stats_propagates_nan_and_names_the_worst_component():
    """NaN estimates never look perfect; bias within atol is not counted; max_z_at names the culprit."""
    ref = {"a": jnp.asarray([1.0, 0.0]), "b": jnp.zeros((2, 2))}
    nan = {"a": jnp.full((4, 2), jnp.nan), "b": jnp.zeros((4, 2, 2))}
    stats = snnsad.gradient_stats(nan, ref)
    for key in ("all", "['a']"):
        st = stats[key]
        assert np.isnan(float(st.relative_error)) and np.isnan(float(st.max_z)) and np.isnan(float(st.mean_cosine))
    # b[1, 0] is off by 1e-3 with zero spread (z = inf); b[0, 1] by 1e-21, below the tolerance (z = 0).
    b = jnp.zeros((4, 2, 2)).at[:, 1, 0].set(1e-3).at[:, 0, 1].set(1e-21)
    samples = {"a": jnp.asarray([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]]), "b": b}
    stats = snnsad.gradient_stats(samples, ref)
    assert float(stats["all"].max_z) == np.inf and stats["all"].max_z_at == "['b'][1, 0]"
    assert stats["['a']"].max_z_at == "['a'][0]" and float(stats["['a']"].max_z) == 0.0
    loose = snnsad.gradient_stats(samples, ref, atol=1e-2)  # a stated tolerance covers the 1e-3 offset
    assert float(loose["all"].max_z) == 0.0
