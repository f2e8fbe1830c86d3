"""The event-driven simulator's pieces: crossing solvers, overflow, heads, encoding, the discrete twin, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad
from snnsad import events
from snnsad.events._solver import flow, layer_config, next_crossing


def _cfg(tau_mem, newton_steps=40):
    return layer_config(tau_mem, 5.0, 1.0, 30.0, 8, "multi", newton_steps)


def test_closed_form_crossing_equals_newton_and_lies_on_threshold(x64):
    """For tau_mem = 2 tau_syn the quadratic-in-exp(-t/tau_mem) crossing equals safeguarded Newton's
    (1e-10 ms) and V(t*) = theta to 1e-10, on 2000 random states; the found/not-found decision agrees."""
    rng = np.random.default_rng(0)
    v = jnp.asarray(rng.uniform(-1, 0.99, 2000))
    i = jnp.asarray(rng.uniform(-2, 6, 2000))
    horizon = jnp.asarray(rng.uniform(0.1, 30, 2000))
    able = jnp.ones(2000, bool)
    closed = next_crossing(v, i, horizon, _cfg(10.0), able)
    # a tau_mem a hair away from 2 tau_syn takes the Newton path on (numerically) the same dynamics
    newton = next_crossing(v, i, horizon, _cfg(10.0 * (1 + 1e-13)), able)
    found = jnp.isfinite(closed)
    assert bool(jnp.all(found == jnp.isfinite(newton)))
    assert 100 < int(found.sum()) < 1900
    assert float(jnp.max(jnp.abs(jnp.where(found, closed - newton, 0.0)))) < 1e-10
    v_at, _ = flow(v, i, jnp.where(found, closed, 0.0), _cfg(10.0))
    assert float(jnp.max(jnp.abs(jnp.where(found, v_at - 1.0, 0.0)))) < 1e-10


def test_overflow_is_flagged_and_makes_outputs_nan():
    """More spikes than `max_spikes` never truncate silently: the flag is set, every output is NaN and so is
    every entry of the gradient (EventProp and implicit; it was exactly 0 behind a NaN loss)."""
    net = events.EventNetwork.dense((2, 4, 2), key=jr.key(0), init=[(6.0, 0.1), (0.5, 0.1)], max_spikes=[3, 4])
    x = events.events_from_lists([1.0, 2.0], [0, 1])
    out = net(x)
    assert bool(out.overflow)
    assert bool(jnp.all(jnp.isnan(out.output)))
    for est in (events.EventProp(), events.ImplicitSpikeTimes()):  # the gradient too: a loop that checks it stops
        value, g = eqx.filter_jit(est)(events.vmax_cross_entropy, net, x, jnp.asarray(1))
        assert np.isnan(float(value)) and all(bool(jnp.all(jnp.isnan(la.weight))) for la in g.layers)
    hidden = net.layers[0]
    roomy = events.EventNetwork([events.EventLayer(hidden.weight, max_spikes=200), net.layers[1]], head="vmax")
    out = roomy(x)
    assert not bool(out.overflow) and bool(jnp.all(jnp.isfinite(out.output)))
    assert int(jnp.sum(jnp.isfinite(out.spikes[0].times))) > 3


def test_silent_output_neuron_gets_exactly_zero_eventprop_gradient():
    """TTFS head, label = an output neuron with inhibitory weights only (it never fires): no spike of
    it can move, so EventProp's gradient on its weights is exactly 0, while the other rows are not."""
    net = events.EventNetwork.dense((3, 6, 3), key=jr.key(1), head="ttfs", init=[(2.5, 0.5), (1.5, 0.3)])
    w = net.layers[1].weight
    net = eqx.tree_at(lambda n: n.layers[1].weight, net, w.at[2].set(-jnp.abs(w[2])))
    x = events.events_from_lists([0.5, 3.0, 6.0], [0, 1, 2])
    out = net(x)
    assert float(out.output[2]) == net.t_end  # silent: reads t_end
    assert bool(jnp.all(out.output[:2] < net.t_end))
    _, g = eqx.filter_jit(events.EventProp())(events.ttfs_cross_entropy, net, x, jnp.asarray(2))
    assert bool(jnp.all(g.layers[1].weight[2] == 0))
    assert float(jnp.linalg.norm(g.layers[1].weight[:2])) > 0


def test_discrete_twin_converges_to_the_event_network():
    """The Heaviside twin's spike counts and readout maxima approach the event network's as dt shrinks
    (0.5 -> 0.05 -> 0.01 ms), and at 0.01 ms the hidden spike counts agree within 3 % on average."""
    x, _ = events.yinyang_events(16, seed=2)
    net = events.EventNetwork.dense((5, 30, 3), key=jr.key(2), init=[(1.5, 0.78), (0.93, 0.1)], max_spikes=[120, 1])
    out = jax.vmap(net)(x)
    n_event = np.asarray(jnp.sum(jnp.isfinite(out.spikes[0].times), axis=1))
    assert n_event.mean() > 3
    errors = []
    for dt in (0.5, 0.05, 0.01):
        twin = events.discrete_twin(net, dt, snnsad.Heaviside())
        raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
        trace = jax.vmap(twin)(raster)
        count = np.asarray(jnp.sum(trace.spikes[0], axis=(1, 2)))
        vmax = np.asarray(jnp.max(trace.output, axis=1))
        errors.append((np.abs(count - n_event).mean(), np.abs(vmax - np.asarray(out.output)).max()))
    assert errors[0][0] > errors[1][0] > errors[2][0]
    assert errors[0][1] > errors[1][1] > errors[2][1]
    assert errors[2][0] < 0.03 * n_event.mean()


def test_yinyang_events_encoding():
    """Bias at the margin, features at margin + value (t_end - 2 margin), sorted, 5 distinct inputs."""
    x, y = events.yinyang_events(50, seed=0)
    feats, labels = snnsad.data.yinyang(50, seed=0)
    assert x.times.shape == (50, 5) and np.array_equal(np.asarray(y), labels)
    t = np.asarray(x.times, np.float64)
    assert np.all(np.diff(t, axis=1) >= 0)
    idx = np.asarray(x.index)
    assert np.all(np.sort(idx, axis=1) == np.arange(5))
    by_input = np.take_along_axis(t, np.argsort(idx, axis=1), 1)
    np.testing.assert_allclose(by_input[:, 0], 0.2, rtol=1e-6)
    np.testing.assert_allclose(by_input[:, 1:], 0.2 + feats * 29.6, rtol=1e-5)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: events.EventLayer(jnp.ones((3, 2)), mode="burst"), "`mode`"),
        (lambda: events.EventLayer(jnp.ones((3, 2)), tau_mem=-1.0), "`tau_mem`"),
        (lambda: events.EventLayer(jnp.ones((3, 2)), jnp.ones((2, 2))), "`recurrent` must be"),
        (lambda: events.EventLayer(jnp.ones((3, 2)), max_spikes=0), "`max_spikes`"),
        (lambda: events.EventNetwork([events.EventLayer(jnp.ones((3, 2)))], head="vmax"), "readout"),
        (lambda: events.EventNetwork([events.EventLayer(jnp.ones((3, 2)), mode="readout")], head="ttfs"), "head"),
        (lambda: events.EventNetwork.dense((3, 4, 2), key=jr.key(0), init=[(0, 1)]), "one \\(mean, std\\)"),
        (lambda: events.events_from_lists([1.0, 2.0, 3.0], [0, 1, 2], 2), "max_events"),
        (lambda: events.events_from_lists([1.0, np.nan], [0, 1]), "finite"),
        (lambda: events.to_raster(events.events_from_lists([1.0], [0]), 1, 0.0, 30.0), "`dt`"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_a_batch_given_to_one_example_call_is_refused():
    net = events.EventNetwork.dense((5, 4, 3), key=jr.key(0))
    x, _ = events.yinyang_events(4)
    with pytest.raises(ValueError, match="vmap"):
        net(x)
    with pytest.raises(TypeError, match="EventNetwork"):
        events.EventProp()(
            events.vmax_cross_entropy, snnsad.feedforward((2, 3, 2), key=jr.key(0), spike_fn=snnsad.Heaviside()), x, 0
        )


def test_hand_solved_readout_voltage_at_trial_end(x64):
    """One input at t0 into a leaky-integrator readout, L = V(T) (the maximum while V still rises):
    V(T) = w k(T - t0) with k(s) = tau_s / (tau_s - tau_m) (exp(-s / tau_s) - exp(-s / tau_m)), so
    dL/dw = k(T - t0) and dL/dt0 = -w k'(T - t0). EventProp and the implicit gradient equal these to 1e-12."""
    from snnsad.events._eventprop import eventprop_layer, implicit_layer

    tm, ts, t_end, t0, w = 20.0, 5.0, 30.0, 24.0, 0.7
    s = t_end - t0
    k = ts / (ts - tm) * (np.exp(-s / ts) - np.exp(-s / tm))
    dk = ts / (ts - tm) * (-np.exp(-s / ts) / ts + np.exp(-s / tm) / tm)
    layer = events.EventLayer(jnp.full((1, 1), w, jnp.float64), mode="readout", tau_mem=tm, tau_syn=ts)
    consts, settings = layer.constants(), layer.settings(t_end)
    index = jnp.zeros((1,), jnp.int32)
    for fn in (eventprop_layer, implicit_layer):
        value, (gw, gt) = jax.value_and_grad(
            lambda w_, t_: fn(w_, None, t_, index, consts, settings)[2][0], argnums=(0, 1)
        )(layer.weight, jnp.asarray([t0]))
        np.testing.assert_allclose(float(value), w * k, rtol=1e-12)
        np.testing.assert_allclose(float(gw[0, 0]), k, rtol=1e-12)
        np.testing.assert_allclose(float(gt[0]), -w * dk, rtol=1e-12)


def test_hand_solved_spike_time_of_one_lif(x64):
    """One input at t0 into one LIF with tau_mem = 2 tau_syn, L = its spike time. With u = exp(-(t - t0) / tau_m)
    the voltage is w (u - u^2), so u* = (1 + sqrt(1 - 4 theta / w)) / 2, t* = t0 - tau_m log u*, and
    dt*/dw = -tau_m (du*/dw) / u*, dt*/dt0 = 1. Both exact gradients equal these to 1e-10."""
    tm, ts, theta, t0, w = 10.0, 5.0, 1.0, 3.0, 5.0
    root = np.sqrt(1 - 4 * theta / w)
    u = (1 + root) / 2
    t_star = t0 - tm * np.log(u)
    du_dw = (4 * theta / w**2) / (4 * root)
    layer = events.EventLayer(jnp.full((1, 1), w, jnp.float64), mode="single", tau_mem=tm, tau_syn=ts, threshold=theta)
    net = events.EventNetwork([layer], head="ttfs", t_end=30.0)

    def spike_time(times, estimator_net, kind):
        return estimator_net(events.EventTrain(times, jnp.zeros((1,), jnp.int32)), gradient=kind).output[0]

    for kind in (events.EventProp(), events.ImplicitSpikeTimes()):
        value, g_net = jax.value_and_grad(lambda n, kind=kind: spike_time(jnp.asarray([t0]), n, kind))(net)
        np.testing.assert_allclose(float(value), t_star, rtol=1e-12)
        np.testing.assert_allclose(float(g_net.layers[0].weight[0, 0]), -tm * du_dw / u, rtol=1e-10)
        g_t = jax.grad(lambda t, kind=kind: spike_time(t, net, kind))(jnp.asarray([t0]))
        np.testing.assert_allclose(float(g_t[0]), 1.0, rtol=1e-10)


def test_eventprop_memory_does_not_grow_with_the_trial_length():
    """XLA's compiled temporary memory of an EventProp gradient is the same for a 30 ms and a 300 ms trial
    with the same event slots, while the discrete twin's surrogate gradient grows with the step count
    (compile-time analysis: exact, no timing)."""

    def temp_bytes(fn, net, inputs):
        params, static = eqx.partition(net, eqx.is_array)
        compiled = jax.jit(lambda p, i: fn(eqx.combine(p, static), i)).lower(params, inputs).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    x, y = events.yinyang_events(4, seed=0)
    sizes = {}
    for t_end in (30.0, 300.0):
        net = events.EventNetwork.dense(
            (5, 20, 3), key=jr.key(0), init=[(1.5, 0.78), (0.93, 0.1)], max_spikes=[80, 1], t_end=t_end
        )
        ep = temp_bytes(
            lambda n, xb: snnsad.Batched(events.EventProp())(events.vmax_cross_entropy, n, xb, y, jr.key(0))[1], net, x
        )
        twin = events.discrete_twin(net, 0.5, snnsad.Surrogate(snnsad.FastSigmoid(5.0)))
        raster = jnp.asarray(events.to_raster(x, 5, 0.5, t_end))
        loss = snnsad.losses.on_output(snnsad.losses.max_over_time_cross_entropy)
        sg = temp_bytes(lambda n, r: snnsad.Batched(snnsad.Autodiff())(loss, n, r, y, jr.key(0))[1], twin, raster)
        sizes[t_end] = (ep, sg)
    assert sizes[30.0][0] == sizes[300.0][0]
    assert sizes[300.0][1] > 5 * sizes[30.0][1]


@pytest.mark.parametrize(
    "times, index",
    [([1.0, np.nan], [0, 1]), ([-1.0, 2.0], [0, 1]), ([3.0, 2.0], [0, 1]), ([1.0, 2.0], [0, 7])],
    ids=["nan", "negative", "unsorted", "index"],
)
def test_bad_input_events_are_refused_at_run_time(times, index):
    """Events built by hand (not through events_from_lists) are checked: NaN, negative or unsorted times and
    out-of-range sources raise instead of being silently skipped or clamped."""
    net = events.EventNetwork.dense((3, 4, 2), key=jr.key(0))
    x = events.EventTrain(jnp.asarray(times, jnp.float32), jnp.asarray(index, jnp.int32))
    with pytest.raises(Exception, match="input events must have"):
        jax.block_until_ready(net(x).output)


def test_event_constants_are_hyperparameters_and_new_values_never_recompile():
    """`tau_mem`, `tau_syn` and `threshold` of an `EventLayer` are arrays outside `trainable` (EventProp's
    gradient has `None` there); one jitted EventProp step, traced once, serves new constants (20/5 ->
    30/7 -> 25/25, the equal-constants formulas, -> threshold 1.3) with no second trace, and each result
    equals, bit for bit, that of a network built with those constants; a closed-form layer
    (`tau_mem = 2 tau_syn`) whose constants leave that ratio raises at run time."""
    key = jr.key(0)
    x = events.events_from_lists([1.0, 2.0, 4.0, 5.5, 7.0, 8.0, 9.0, 10.0], [0, 1, 2, 3, 4, 0, 1, 2])
    traces = []

    @eqx.filter_jit
    def step(net):
        traces.append(1)
        return events.EventProp()(events.ttfs_cross_entropy, net, x, jnp.asarray(1))

    def built(tm, ts, theta=1.0):
        kw = dict(init=((1.5, 0.8), (0.9, 0.1)), tau_mem=tm, tau_syn=ts, threshold=theta)
        return events.EventNetwork.dense((5, 8, 3), key=key, head="ttfs", output_mode="single", **kw)

    def changed(net, tm, ts, theta=1.0):
        def where(n):
            return [c for la in n.layers for c in (la.tau_mem, la.tau_syn, la.threshold)]

        values = [jnp.asarray(v, jnp.float32) for _ in net.layers for v in (tm, ts, theta)]
        return eqx.tree_at(where, net, values)

    base = built(20.0, 5.0)
    spec = snnsad.nn.trainable(base.layers[0])
    assert spec.weight and not (spec.tau_mem or spec.tau_syn or spec.threshold)
    value, grads = step(base)
    assert grads.layers[0].tau_mem is None and grads.layers[0].threshold is None
    results = [float(value)]
    for consts in ((30.0, 7.0), (25.0, 25.0), (30.0, 7.0, 1.3)):
        value, grads = step(changed(base, *consts))
        fresh_value, fresh_grads = step(built(*consts))  # the same program: no trace either
        assert float(value) == float(fresh_value)
        np.testing.assert_array_equal(np.asarray(grads.layers[0].weight), np.asarray(fresh_grads.layers[0].weight))
        results.append(float(value))
    assert len(traces) == 1 and len(set(results)) == 4
    closed = built(10.0, 5.0)
    assert closed.layers[0].closed_form and not base.layers[0].closed_form
    with pytest.raises(Exception, match="no longer keep that ratio"):
        jax.block_until_ready(step(changed(closed, 20.0, 5.0)))
