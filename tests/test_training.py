"""Short training runs: gradient estimators must actually train a stochastic SNN."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
import pytest

import snnsad


def _task(key, n=64, T=20, n_in=10):
    """Two classes, each a frozen random spike raster; examples are the class raster with 10% of spikes jittered off."""
    kc, kl, kd = jr.split(key, 3)
    rasters = jr.bernoulli(kc, 0.15, (2, T, n_in)).astype(jnp.float32)
    labels = jr.bernoulli(kl, 0.5, (n,)).astype(jnp.int32)
    keep = jr.bernoulli(kd, 0.9, (n, T, n_in)).astype(jnp.float32)
    return rasters[labels] * keep, labels


def ce_loss(trace, y):
    return optax.softmax_cross_entropy_with_integer_labels(jnp.sum(trace.output, 0), y)


@pytest.mark.parametrize(
    "estimator", [snnsad.StochasticAD(8), snnsad.Autodiff()], ids=["stochastic_ad", "stochastic_sg"]
)
def test_training_reduces_the_loss(estimator, standard_promotion):
    """80 Adam steps on a 2-class task: the expected loss (mean over 8 noise draws of 64 examples) falls below 40% of its start."""
    xs, ys = _task(jr.key(0))
    lif = snnsad.LIF(tau_mem=10e-3, tau_syn=5e-3, dt=1e-3, reset="zero")
    net = snnsad.feedforward(
        (10, 16, 2),
        key=jr.key(1),
        spike_fn=snnsad.Stochastic(snnsad.Sigmoid(5.0)),
        neuron=lif,
        readout=snnsad.LeakyIntegrator(tau_mem=20e-3, tau_syn=5e-3),
        init="fluctuation",
        rate=150.0,
    )
    optim = optax.adam(2e-2)
    opt_state = optim.init(eqx.filter(net, eqx.is_array))
    batched = snnsad.Batched(estimator)

    @eqx.filter_jit
    def step(net, opt_state, key):
        value, grads = batched(ce_loss, net, xs, ys, key)
        updates, opt_state = optim.update(grads, opt_state, eqx.filter(net, eqx.is_array))
        return eqx.apply_updates(net, updates), opt_state, value

    @eqx.filter_jit
    def expected_loss(net):
        keys = jr.split(jr.key(99), 8)
        return jnp.mean(jax.vmap(lambda k: batched(ce_loss, net, xs, ys, k)[0])(keys))

    start = float(expected_loss(net))
    for key in jr.split(jr.key(2), 80):
        net, opt_state, _ = step(net, opt_state, key)
    end = float(expected_loss(net))
    assert start > 0.5  # the untrained network is far from solving the task
    print(f"expected loss {start:.3f} -> {end:.3f}")
    assert end < 0.4 * start, (start, end)
