"""Sharded and single-device results agree (4 virtual CPU devices, in a subprocess so XLA_FLAGS applies)."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np, optax
    import snnsad
    assert len(jax.devices()) == 4, jax.devices()
    mesh = snnsad.device_mesh()
    net = snnsad.feedforward((6, 16, 3), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(5.0)), gain=3.0)
    xs = jr.uniform(jr.key(1), (8, 12, 6))
    ys = jnp.arange(8) % 3
    loss_fn = snnsad.losses.ce_loss
    for est in (snnsad.Autodiff(), snnsad.StochasticAD(4), snnsad.ScoreFunction(4)):
        batched = jax.jit(lambda net, xs, ys, key: snnsad.Batched(est)(loss_fn, net, xs, ys, key))
        v1, g1 = batched(net, xs, ys, jr.key(2))
        xs_s, ys_s = snnsad.shard((xs, ys), mesh)
        assert len(xs_s.sharding.device_set) == 4
        v2, g2 = batched(snnsad.replicate(net, mesh), xs_s, ys_s, jr.key(2))
        np.testing.assert_allclose(v1, v2, rtol=1e-5)
        for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Sharded variance study: the same samples, split over the devices.
    keys = jr.split(jr.key(3), 16)
    _, s1 = snnsad.sample_grads(snnsad.StochasticAD(2), loss_fn, net, xs[0], ys[0], keys)
    _, s2 = snnsad.sample_grads(snnsad.StochasticAD(2), loss_fn, net, xs[0], ys[0], keys, mesh=mesh)
    for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(s2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Data-parallel training equals single-device training.
    data = snnsad.data.SpikeDataset(np.asarray(jr.uniform(jr.key(4), (32, 12, 6))), np.arange(32) % 3)
    kw = dict(estimator=snnsad.Autodiff(), loss_fn=loss_fn, optimizer=optax.sgd(0.1), epochs=2, batch_size=8, progress=False)
    a = snnsad.fit(net, data, **kw).net
    b = snnsad.fit(net, data, mesh=mesh, **kw).net
    assert len(b.layers[0].weight.sharding.device_set) == 4  # trained on the mesh
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
    try:
        snnsad.shard(jnp.zeros((6, 2)), mesh)
    except ValueError as err:
        assert "multiple of 4" in str(err)
    else:
        raise AssertionError("expected a ValueError")
    print("SHARDED-OK")
    """
)


@pytest.mark.slow
def test_sharded_and_single_device_results_agree():
    # the run's own XLA flags (e.g. `make test`'s optimisation level) plus 4 virtual devices
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip()
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SHARDED-OK" in out.stdout
