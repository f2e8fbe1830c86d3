import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import snnsad

from .helpers import run_without_typechecker

STOCH = snnsad.Stochastic(snnsad.Sigmoid(5.0))


def _net(key, sizes=(4, 6, 5, 3), **kw):
    kw.setdefault("spike_fn", STOCH)
    kw.setdefault("gain", 5.0)
    return snnsad.feedforward(sizes, key=key, **kw)


def test_trace_shapes(getkey):
    net = _net(getkey())
    trace = net(jr.uniform(getkey(), (9, 4)), key=getkey())
    assert trace.output.shape == (9, 3)
    assert [s.shape for s in trace.spikes] == [(9, 6), (9, 5)]
    assert [d.shape for d in trace.drive] == [(9, 6), (9, 5)]
    assert all(((p >= 0) & (p <= 1)).all() for p in trace.prob)


def test_forced_reproduces_a_given_pattern(getkey):
    net = _net(getkey())
    x = jr.uniform(getkey(), (10, 4))
    noise = net.sample_noise(getkey(), 10)
    pattern = tuple(jr.bernoulli(getkey(), 0.3, (10, n)).astype(jnp.float32) for n in net.sizes)
    trace = net.simulate(x, noise, forced=pattern)
    for s, f in zip(trace.spikes, pattern):
        np.testing.assert_array_equal(s, f)
    # Forcing the sampled spikes reproduces the sampled run exactly.
    sampled = net.simulate(x, noise)
    again = net.simulate(x, jax.tree.map(jnp.zeros_like, noise), forced=sampled.spikes)
    np.testing.assert_array_equal(again.output, sampled.output)
    for a, b in zip(again.drive, sampled.drive):
        np.testing.assert_array_equal(a, b)


def test_forced_spikes_carry_no_gradient(getkey):
    net = _net(getkey(), readout=False)
    x = jr.uniform(getkey(), (6, 4))
    forced = tuple(jnp.ones((6, n)) for n in net.sizes)
    grads = eqx.filter_grad(lambda net: jnp.sum(net.simulate(x, net.sample_noise(jr.key(0), 6), forced=forced).output))(
        net
    )
    assert all(np.all(np.asarray(g) == 0) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("t_flip", [0, 3, 7])
def test_flips_change_exactly_the_flipped_site_and_stay_coupled(t_flip, getkey):
    net = _net(getkey(), recurrent=True)
    T = 10
    x = jr.uniform(getkey(), (T, 4))
    noise = net.sample_noise(getkey(), T)
    base = net.simulate(x, noise)
    flips = (jnp.zeros((T, 6)).at[t_flip, 2].set(1), jnp.zeros((T, 5)))
    flipped = net.simulate(x, noise, flips=flips)
    # The flipped site changes.
    assert flipped.spikes[0][t_flip, 2] == 1 - base.spikes[0][t_flip, 2]
    # Nothing before the flip time changes, in any layer.
    for a, b in zip(flipped.spikes, base.spikes):
        np.testing.assert_array_equal(a[:t_flip], b[:t_flip])
    # Every other site is re-sampled with the same noise along the new trajectory.
    for layer, (s, p, n) in enumerate(zip(flipped.spikes, flipped.prob, noise)):
        coupled = (n < p).astype(s.dtype)
        if layer == 0:
            coupled = coupled.at[t_flip, 2].set(1 - coupled[t_flip, 2])
        np.testing.assert_array_equal(s, coupled)


def test_flip_propagates_downstream(getkey):
    net = _net(getkey(), gain=12.0)
    T = 12
    x = jr.uniform(getkey(), (T, 4))
    noise = net.sample_noise(getkey(), T)
    base = net.simulate(x, noise)
    masks = jnp.eye(4 * 6).reshape(24, 4, 6)
    masks = jnp.concatenate([masks, jnp.zeros((24, T - 4, 6))], axis=1)  # one flip among the first 4 steps
    outs = eqx.filter_jit(jax.vmap(lambda m: net.simulate(x, noise, flips=(m, jnp.zeros((T, 5)))).output))(masks)
    changed = np.any(np.asarray(outs) != np.asarray(base.output)[None], axis=(1, 2))
    assert changed.sum() > 0


@pytest.mark.slow
def test_jit_vmap_grad(getkey):
    net = _net(getkey())
    xs = jr.uniform(getkey(), (8, 7, 4))
    keys = jr.split(getkey(), 8)

    @eqx.filter_jit
    def batch_loss(net, xs, keys):
        return jnp.mean(jax.vmap(lambda x, k: jnp.sum(net(x, key=k).output ** 2))(xs, keys))

    loss, grads = eqx.filter_value_and_grad(batch_loss)(net, xs, keys)
    assert np.isfinite(float(loss))
    assert np.any(np.asarray(grads.layers[0].weight) != 0)
    # vmap over keys for one example gives different samples; same key gives the same sample.
    outs = jax.vmap(lambda k: net(xs[0], key=k).spikes[0])(keys)
    assert not np.array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(net(xs[0], key=keys[0]).spikes[0], outs[0])


def test_changing_beta_tau_or_learning_rate_does_not_recompile(getkey):
    net = _net(getkey())
    x = jr.uniform(getkey(), (7, 4))
    key = getkey()
    optim = optax.inject_hyperparams(optax.sgd)(learning_rate=jnp.asarray(0.1))
    params = eqx.filter(net, eqx.is_array)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def step(net, opt_state, x, key):
        value, grads = snnsad.Autodiff()(lambda tr, y: jnp.sum(tr.output**2), net, x, None, key)
        updates, opt_state = optim.update(grads, opt_state)
        return eqx.apply_updates(net, updates), opt_state, value

    opt_state = optim.init(params)
    net, opt_state, _ = step(net, opt_state, x, key)
    net = eqx.tree_at(lambda n: n.layers[0].spike_fn.escape.beta, net, jnp.asarray(20.0, jnp.float32))
    net, opt_state, _ = step(net, opt_state, x, key)
    net = eqx.tree_at(lambda n: n.layers[1].neuron.tau_mem, net, jnp.asarray(3e-3, jnp.float32))
    net, opt_state, _ = step(net, opt_state, x, key)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(0.01, jnp.float32)  # pyright: ignore[reportAttributeAccessIssue]
    step(net, opt_state, x, key)


def test_swap_spike_function_without_rebuild(getkey):
    net = _net(getkey())
    det = eqx.tree_at(lambda n: [l.spike_fn for l in n.layers], net, [snnsad.Surrogate(snnsad.FastSigmoid(10.0))] * 2)
    assert det.stochastic == (False, False)
    trace = det(jr.uniform(getkey(), (5, 4)))  # no key needed for a deterministic network
    assert trace.output.shape == (5, 3)


@pytest.mark.slow
def test_checkpointed_scan_gives_the_same_gradients(getkey):
    k = getkey()
    net, net_ckpt = _net(k, recurrent=True), _net(k, recurrent=True, checkpoint=True)
    x, key = jr.uniform(getkey(), (15, 4)), getkey()
    loss = lambda tr, y: jnp.sum(tr.output**2)
    _, g1 = eqx.filter_jit(snnsad.Autodiff())(loss, net, x, None, key)
    _, g2 = eqx.filter_jit(snnsad.Autodiff())(loss, net_ckpt, x, None, key)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_unrolled_scan_gives_the_same_trace_and_gradients(getkey):
    """``unroll`` (not dividing T = 15) changes how the loop is compiled, not what it computes."""
    k = getkey()
    net, net_unrolled = _net(k, recurrent=True), _net(k, recurrent=True, unroll=4)
    x, key = jr.uniform(getkey(), (15, 4)), getkey()
    loss = lambda tr, y: jnp.sum(tr.output**2)
    np.testing.assert_array_equal(net(x, key=key).spikes[0], net_unrolled(x, key=key).spikes[0])
    _, g1 = eqx.filter_jit(snnsad.Autodiff())(loss, net, x, None, key)
    _, g2 = eqx.filter_jit(snnsad.Autodiff())(loss, net_unrolled, x, None, key)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_fluctuation_init_hits_target_membrane_std(getkey):
    """Membrane std of non-spiking LIF neurons driven by Bernoulli inputs at `rate` is sigma_u.

    500 neurons with independent weights, std estimated over 400 steps after burn-in; the estimate's
    relative standard error is about 3 percent, so 10 percent is about 3 standard errors.
    """
    rate, dt, n_in, n = 20.0, 1e-3, 200, 500
    neuron = snnsad.LIF(tau_mem=10e-3, tau_syn=5e-3, dt=dt, threshold=1e6, reset="none")
    net = snnsad.feedforward(
        (n_in, n),
        key=getkey(),
        spike_fn=snnsad.Heaviside(),
        neuron=neuron,
        readout=False,
        init="fluctuation",
        rate=rate,
        sigma_u=1.0,
    )
    x = jr.bernoulli(getkey(), rate * dt, (500, n_in)).astype(jnp.float32)
    u = net(x).drive[0][100:] + 1e6
    u = u - u.mean(0, keepdims=True)  # fluctuations around each neuron's mean
    assert float(jnp.sqrt(jnp.mean(u**2))) == pytest.approx(1.0, rel=0.1)


@pytest.mark.slow
def test_conv1d_shd_network_shapes(getkey):
    lif = snnsad.LIF.paper()
    spike = snnsad.Stochastic(snnsad.Sigmoid(10.0))
    k = jr.split(getkey(), 4)
    l1 = snnsad.Conv1D(1, 700, 16, 21, 10, 5, neuron=lif, spike_fn=spike, key=k[0])
    l2 = snnsad.Conv1D(16, l1.out_length, 32, 7, 3, 5, neuron=lif, spike_fn=spike, key=k[1])
    l3 = snnsad.Conv1D(32, l2.out_length, 64, 7, 3, 5, neuron=lif, spike_fn=spike, key=k[2])
    net = snnsad.Network([l1, l2, l3], snnsad.Readout(l3.size, 20, key=k[3]))
    assert net.sizes == (16 * 68, 32 * 21, 64 * 5)
    trace = net(jr.bernoulli(getkey(), 0.05, (4, 700)).astype(jnp.float32), key=getkey())
    assert trace.output.shape == (4, 20)


@pytest.mark.parametrize("c_in, c_out", [(2, 3), (9, 10)])  # patches, then one product per tap (C_in >= 8)
def test_conv1d_projection_and_recurrence_match_explicit_sums(c_in, c_out, x64, getkey):
    """Conv1D's projection (stride 2) and recurrent convolution (same padding) equal explicit sums in float64,
    in both of `_conv`'s forms (gathered patches for few input channels, a product per kernel tap for many)."""
    layer = snnsad.Conv1D(
        c_in, 9, c_out, 3, 2, 3, neuron=snnsad.LIF(), spike_fn=snnsad.Heaviside(), key=getkey(), dtype=jnp.float64
    )
    x = jr.normal(getkey(), (4, c_in * 9), jnp.float64)
    K = np.asarray(layer.kernel)
    xr = np.asarray(x).reshape(4, c_in, 9)
    ref = np.zeros((4, c_out, layer.out_length))
    for t in range(4):
        for o in range(c_out):
            for j in range(layer.out_length):
                ref[t, o, j] = np.sum(K[o] * xr[t, :, 2 * j : 2 * j + 3])
    np.testing.assert_allclose(layer.project(x), ref.reshape(4, -1), rtol=1e-12)
    s = np.asarray(jr.bernoulli(getkey(), 0.5, (c_out * layer.out_length,)), np.float64)
    R, sr = np.asarray(layer.recurrent_kernel), s.reshape(c_out, -1)
    padded = np.pad(sr, ((0, 0), (1, 1)))
    rec = np.array([[np.sum(R[o] * padded[:, j : j + 3]) for j in range(layer.out_length)] for o in range(c_out)])
    np.testing.assert_allclose(layer.recurrent_current(jnp.asarray(s)), rec.reshape(-1), rtol=1e-12)


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.slow
def test_bad_inputs_give_clear_errors():
    """Bad inputs to a network, as a user meets them: each error names the argument, the value and the fix."""
    run_without_typechecker(
        """
        import jax.numpy as jnp, jax.random as jr, pytest, snnsad

        net = snnsad.feedforward((4, 6, 5, 3), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(4.0)))
        key = jr.key(1)
        x = jr.uniform(jr.key(2), (5, 4))
        with pytest.raises(ValueError, match=r"`x` has shape \\(5, 3\\)"):
            net(x[:, :3], key=key)
        with pytest.raises(ValueError, match="`x` has shape"):
            net(x[0], key=key)
        with pytest.raises(TypeError, match="`x` must be a floating-point"):
            net(jnp.ones((5, 4), jnp.int32), key=key)
        with pytest.raises(ValueError, match="key"):
            net(x)
        noise = net.sample_noise(key, 5)
        with pytest.raises(ValueError, match="`noise` must be a tuple of 2"):
            net.simulate(x, noise[:1])
        with pytest.raises(ValueError, match=r"noise\\[1\\]"):
            net.simulate(x, (noise[0], noise[1][:4]))
        with pytest.raises(ValueError, match=r"noise\\[0\\]` must lie in \\[0, 1\\)"):
            net.simulate(x, (noise[0] + 1.0, noise[1]))
        with pytest.raises(ValueError, match=r"forced\\[0\\]` must lie in \\[0, 1\\]"):
            net.simulate(x, noise, forced=(2 * jnp.ones((5, 6)), None))
        with pytest.raises(ValueError, match="flips"):
            net.simulate(x, noise, flips=(jnp.zeros((5, 6)),))
        with pytest.raises(ValueError, match="reset"):
            snnsad.LIF(reset="soft")
        with pytest.raises(ValueError, match="strategy"):
            snnsad.SmoothedStochastic(snnsad.Sigmoid(1.0), "both")
        with pytest.raises(ValueError, match="weighting"):
            snnsad.StochasticAD(4, weighting="both")
        with pytest.raises(TypeError, match="escape function goes inside one, e.g. snnsad.Stochastic"):
            snnsad.feedforward((3, 4, 2), key=key, spike_fn=snnsad.Sigmoid(5.0))
        """
    )


def test_bad_construction_gives_clear_errors(getkey):
    with pytest.raises(ValueError, match="layer 0 has 6 neurons but layer 1 expects 5"):
        snnsad.Network(
            [
                snnsad.Dense(4, 6, neuron=snnsad.LIF(), spike_fn=STOCH, key=getkey()),
                snnsad.Dense(5, 2, neuron=snnsad.LIF(), spike_fn=STOCH, key=getkey()),
            ]
        )
    with pytest.raises(ValueError, match="out_size"):
        snnsad.Dense(4, 0, neuron=snnsad.LIF(), spike_fn=STOCH, key=getkey())
    with pytest.raises(ValueError, match="spike_fn"):
        snnsad.feedforward((4, 5, 5, 2), key=getkey(), spike_fn=[STOCH] * 3)
    with pytest.raises(ValueError, match="init"):
        snnsad.feedforward((4, 5, 2), key=getkey(), spike_fn=STOCH, init="xavier")
    with pytest.raises(ValueError, match=r"`unroll` must be a positive int .* got 0"):
        snnsad.feedforward((4, 5, 2), key=getkey(), spike_fn=STOCH, unroll=0)


def test_smooth_network_gradient_matches_finite_differences(x64, getkey):
    """With Expected (smoothed probabilistic model) layers the whole network is smooth: autodiff of
    every weight, threshold and the readout path agrees with float64 central differences."""
    lif = snnsad.LIF(tau_mem=4e-3, tau_syn=3e-3, dt=1e-3, reset="subtract", detach_reset=False)
    net = snnsad.feedforward(
        (3, 4, 3, 2),
        key=getkey(),
        spike_fn=snnsad.Expected(snnsad.Sigmoid(3.0)),
        neuron=lif,
        recurrent=[True, False],
        gain=2.0,
        dtype=jnp.float64,
    )
    x = jr.uniform(getkey(), (8, 3), jnp.float64)
    params, static = eqx.partition(net, eqx.is_array)
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    def loss(flat):
        trace = eqx.combine(unravel(flat), static)(x)
        return jnp.sum(jnp.sin(trace.output)) + jnp.sum(trace.spikes[0] ** 2)

    grad = jax.jit(jax.grad(loss))(flat)
    h = 1e-6
    eye = jnp.eye(flat.size, dtype=jnp.float64)
    fd = jax.jit(jax.vmap(lambda e: (loss(flat + h * e) - loss(flat - h * e)) / (2 * h)))(eye)
    # Time constants and escape parameters are hyper-parameters (stop-gradient): compare the rest.
    hyper = jax.flatten_util.ravel_pytree(
        eqx.tree_at(
            lambda p: (
                [l.neuron.tau_mem for l in p.layers]
                + [l.neuron.tau_syn for l in p.layers]
                + [l.neuron.dt for l in p.layers]
                + [l.spike_fn.escape.beta for l in p.layers]
                + [p.readout.neuron.tau_mem, p.readout.neuron.tau_syn, p.readout.neuron.dt]
            ),
            jax.tree.map(jnp.zeros_like, params),
            replace_fn=jnp.ones_like,
        )
    )[0]
    keep = ~np.asarray(hyper, bool)
    np.testing.assert_allclose(np.asarray(grad)[keep], np.asarray(fd)[keep], rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(np.asarray(grad)[~keep], 0)


@pytest.mark.slow
def test_deterministic_limit_of_a_network(getkey):
    """Same noise, growing escape steepness: the stochastic network's forward pass and its SG (with the
    deterministic SG's surrogate) become exactly those of the deterministic network."""
    sg = snnsad.FastSigmoid(10.0)
    k = getkey()
    det = snnsad.feedforward((4, 8, 6, 3), key=k, spike_fn=snnsad.Surrogate(sg), gain=4.0)
    x = jr.uniform(getkey(), (20, 4))
    key = getkey()
    loss = lambda tr, y: jnp.sum(tr.output**2)
    _, g_det = eqx.filter_jit(snnsad.Autodiff())(loss, det, x, None, key)
    out_det = det(x, key=key).output
    diffs = []
    for beta in (3.0, 30.0, 1e6):
        sto = eqx.tree_at(
            lambda n: [l.spike_fn for l in n.layers], det, [snnsad.Stochastic(snnsad.Sigmoid(beta), sg)] * 2
        )
        diffs.append(float(jnp.abs(sto(x, key=key).output - out_det).max()))
        _, g = eqx.filter_jit(snnsad.Autodiff())(loss, sto, x, None, key)
    assert diffs[0] > 0 and diffs[-1] == 0
    w, w_det = snnsad.nn.parameters(g), snnsad.nn.parameters(g_det)
    assert any(np.any(np.asarray(v) != 0) for v in w_det.values())
    for name in w_det:
        np.testing.assert_allclose(w[name], w_det[name], rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------------------ what is trained


def test_adamw_on_the_trainable_set_leaves_hyperparameters_bit_identical(getkey, standard_promotion):
    """200 steps of optax.adamw (weight decay on) through trainable(net): every time constant, dt and
    escape/surrogate parameter is bit-identical afterwards, while every weight, bias and threshold moved."""
    lif = snnsad.LIF.paper(dt=1e-3)
    spike = snnsad.Stochastic(snnsad.Sigmoid(10.0), snnsad.FastSigmoid(5.0), scale=1.0)
    net = snnsad.feedforward((4, 8, 8, 3), key=getkey(), spike_fn=spike, neuron=lif, recurrent=[True, False], bias=True)
    x, key = jr.uniform(getkey(), (20, 4)), getkey()
    opt = optax.adamw(1e-2, weight_decay=0.1)
    spec = snnsad.nn.trainable(net)
    state = opt.init(eqx.filter(net, spec))

    @eqx.filter_jit
    def step(net, state, key):
        _, grads = snnsad.Autodiff()(snnsad.losses.ce_loss, net, x, jnp.asarray(1), key)
        updates, state = opt.update(grads, state, eqx.filter(net, snnsad.nn.trainable(net)))
        return eqx.apply_updates(net, updates), state

    trained = net
    for i in range(200):
        trained, state = step(trained, state, jr.fold_in(key, i))
    hyper = eqx.filter(net, jax.tree.map(lambda t: not t, spec))
    hyper_after = eqx.filter(trained, jax.tree.map(lambda t: not t, spec))
    names = {jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(hyper)}
    assert {".layers[0].neuron.tau_mem", ".layers[0].spike_fn.escape.beta", ".readout.neuron.dt"} <= names
    assert ".layers[0].spike_fn.surrogate.beta" in names and ".layers[0].spike_fn.scale" in names
    for a, b in zip(jax.tree.leaves(hyper), jax.tree.leaves(hyper_after), strict=True):
        np.testing.assert_array_equal(a, b)
    before, after = snnsad.nn.parameters(net), snnsad.nn.parameters(trained)
    assert {".layers[0].bias", ".layers[0].recurrent_weight", ".layers[1].neuron.threshold"} <= set(before)
    for name in before:
        assert np.any(np.asarray(before[name]) != np.asarray(after[name])), name


def test_trainable_covers_custom_modules_and_gradients_skip_hyperparameters(getkey):
    """A custom module's arrays are trained unless it declares them hyper-parameters; estimators return
    None at hyper-parameters, and ``parameters`` works on gradients as on the network."""

    class Scaled(eqx.Module):
        gain: jax.Array
        tau: jax.Array = snnsad.nn.hyperparameter()

    tree = {"mine": Scaled(jnp.ones(3), 5.0), "net": _net(getkey())}
    spec = snnsad.nn.trainable(tree)
    assert spec["mine"].gain is True and spec["mine"].tau is False
    assert spec["net"].layers[0].weight is True and spec["net"].layers[0].neuron.tau_syn is False
    net = tree["net"]
    _, grads = eqx.filter_jit(snnsad.Autodiff())(
        snnsad.losses.ce_loss, net, jr.uniform(getkey(), (6, 4)), jnp.asarray(0), getkey()
    )
    assert grads.layers[0].neuron.tau_mem is None and grads.layers[0].spike_fn.escape.beta is None
    assert set(snnsad.nn.parameters(grads)) == set(snnsad.nn.parameters(net))


def test_with_spike_fns_swaps_every_layer_or_one_per_layer(getkey):
    net = _net(getkey())
    det = net.with_spike_fns(snnsad.Heaviside())
    assert all(isinstance(fn, snnsad.Heaviside) for fn in det.spike_fns) and not any(det.stochastic)
    mixed = net.with_spike_fns([snnsad.Heaviside(), STOCH])
    assert mixed.stochastic == (False, True)
    np.testing.assert_array_equal(mixed.layers[0].weight, net.layers[0].weight)  # pyright: ignore[reportAttributeAccessIssue]
    with pytest.raises(ValueError, match="2 spiking layers"):
        net.with_spike_fns([STOCH] * 3)


def _reference_conv2d(frames, kernel, stride, padding, pool, mode):
    """`lax.conv_general_dilated` (NCHW) and `lax.reduce_window` pooling: a reference independent of Conv2D's
    patches-and-einsum form."""
    out = jax.lax.conv_general_dilated(frames, kernel, stride, [(padding, padding)] * 2)
    if pool:
        init, op = (-jnp.inf, jax.lax.max) if mode == "max" else (0.0, jax.lax.add)
        out = jax.lax.reduce_window(out, init, op, (1, 1, pool, pool), (1, 1, pool, pool), "VALID")
        out = out if mode == "max" else out / (pool * pool)
    return out


@pytest.mark.parametrize("stride, padding, pool, mode", [((1, 1), 0, None, "max"), ((2, 1), 1, 2, "max"),
                                                          ((1, 2), 2, 3, "avg")])  # fmt: skip
def test_conv2d_equals_a_reference_convolution_and_its_gradients(stride, padding, pool, mode, x64, getkey):
    """Conv2D's currents (all steps at once) equal `lax.conv_general_dilated` (+ `reduce_window` pooling) in
    float64, their gradient with respect to the kernel equals autodiff of that reference, and the recurrent
    convolution (same padding) equals the reference at stride 1."""
    lif = snnsad.LIF()
    layer = snnsad.Conv2D(3, (11, 9), 4, (3, 2), stride, padding, pool, recurrent_kernel_size=3, neuron=lif,
                          spike_fn=snnsad.Heaviside(), key=getkey(), pool_mode=mode, dtype=jnp.float64)  # fmt: skip
    x = jr.normal(getkey(), (5, 3 * 11 * 9), jnp.float64)
    s = jr.bernoulli(getkey(), 0.3, (layer.size,)).astype(jnp.float64)

    @eqx.filter_jit  # one program (eagerly every operation compiles alone)
    def both(layer, x, s):
        frames = x.reshape(5, 3, 11, 9)
        ref = lambda k: _reference_conv2d(frames, k, stride, padding, pool, mode)  # noqa: E731
        ours = lambda k: eqx.tree_at(lambda m: m.kernel, layer, k).project(x)  # noqa: E731
        grads = [jax.grad(lambda k, f=f: jnp.sum(jnp.sin(f(k))))(layer.kernel) for f in (ours, ref)]
        grid = s.reshape(1, layer.channels, *layer.out_shape)
        rec = _reference_conv2d(grid, layer.recurrent_kernel, (1, 1), 1, None, mode).reshape(-1)
        return ours(layer.kernel), ref(layer.kernel), grads, layer.recurrent_current(s), rec

    got, want, (g, g_ref), rec_got, rec_want = both(layer, x, s)
    assert want.shape[1:] == (layer.channels, *layer.out_shape)
    np.testing.assert_allclose(got, want.reshape(5, -1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rec_got, rec_want, rtol=1e-12, atol=1e-12)


def test_conv2d_refuses_impossible_shapes(getkey):
    kw = dict(neuron=snnsad.LIF(), spike_fn=snnsad.Heaviside(), key=getkey())
    with pytest.raises(ValueError, match="exceeds"):
        snnsad.Conv2D(1, (4, 4), 2, 5, **kw)
    with pytest.raises(ValueError, match="odd"):
        snnsad.Conv2D(1, (8, 8), 2, 3, recurrent_kernel_size=2, **kw)
    with pytest.raises(ValueError, match="pool"):
        snnsad.Conv2D(1, (8, 8), 2, 3, pool=7, **kw)
    with pytest.raises(ValueError, match="pool_mode"):
        snnsad.Conv2D(1, (8, 8), 2, 3, pool=2, pool_mode="median", **kw)


@pytest.mark.slow
def test_a_conv2d_network_learns_an_nmnist_shaped_task(standard_promotion):
    """Frames of N-MNIST's shape (2 polarities x 34 x 34, as tonic's ToFrame gives them), 3 synthetic classes (a
    noisy blob of events in one of three places, jittered): Conv2D (4 filters of 5 x 5, stride 3, 2 x 2 max
    pooling) -> leaky readout, 4 epochs of `fit` on 60 examples: test accuracy on 60 fresh ones from below 0.5
    to above 0.6 (chance 1/3; seed 0)."""
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 3, n)
        x = (rng.random((n, 12, 2, 34, 34)) < 0.01).astype(np.float32)  # background events
        for i, c in enumerate(y):
            cy, cx = (8, 8) if c == 0 else (8, 25) if c == 1 else (25, 16)
            cy, cx = cy + rng.integers(-2, 3), cx + rng.integers(-2, 3)
            x[i, :, c % 2, cy - 3 : cy + 4, cx - 3 : cx + 4] = rng.random((12, 7, 7)) < 0.5
        return snnsad.data.SpikeDataset(x.reshape(n, 12, -1), y.astype(np.int32))

    train, test = make(60), make(60)
    k1, k2 = jr.split(jr.key(0))
    spike = snnsad.Surrogate(snnsad.FastSigmoid(5.0), scale=1.0)
    conv = snnsad.Conv2D(2, (34, 34), 4, 5, stride=3, pool=2, neuron=snnsad.LIF(threshold=0.5), spike_fn=spike,
                         key=k1, std=0.5)  # fmt: skip
    net = snnsad.Network([conv], snnsad.Readout(conv.size, 3, key=k2))
    loss = snnsad.losses.on_output(snnsad.losses.max_over_time_cross_entropy)
    acc = snnsad.losses.on_output(snnsad.losses.accuracy_max_over_time)
    fitted = snnsad.fit(net, train, estimator=snnsad.Autodiff(), loss_fn=loss, optimizer=optax.adam(2e-2), epochs=4,
                        batch_size=20, seed=0, progress=False)  # fmt: skip
    before = snnsad.train.evaluate(net, test, loss, acc, key=jr.key(1))["metric"]
    after = snnsad.train.evaluate(fitted.net, test, loss, acc, key=jr.key(1))["metric"]
    assert before < 0.5 and after > 0.6  # measured 0.32 -> 0.97
