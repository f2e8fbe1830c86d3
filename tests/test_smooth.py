"""Smooth exact gradients: theta and QIF neurons, pseudospikes, continuity, gradients and the tasks."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import snnsad
from snnsad import events
from snnsad.experiments._qif_tasks import (
    SINGLE,
    rnn_loss,
    rnn_outputs,
    rnn_problem,
    silent_seed,
    single_neuron_inputs,
    single_neuron_output,
    train_single_neuron,
)


def _qif_rhs(t, u):
    return [u[0] * (u[0] - 1.0) + u[1], -2.0 * u[1]]


def test_qif_flow_and_spike_time_match_an_ode_solver(x64):
    """Analytic flow and next spike time vs scipy's RK45 at rtol 1e-11 on 120 random states (positive, zero
    and negative current; V in N(0, 2)). Voltage to 1e-7 relative; spike time to 1e-4 relative (the
    solver stops at V = 1e6, which a QIF reaches about 1e-6 before blowing up)."""
    model = events.QIF()
    rng = np.random.default_rng(0)
    kinds = {"spike": 0, "flow": 0, "none": 0}
    for _ in range(120):
        v0, i0, h = rng.normal() * 2, rng.normal() * 3, rng.uniform(0.05, 3.0)
        state = model.initial(1, jnp.float64, v0, i0)
        wait = float(model.time_to_spike(state)[0])
        blowup = lambda t, u: u[0] - 1e6
        blowup.terminal = True
        sol = solve_ivp(_qif_rhs, (0, 30.0), [v0, i0], rtol=1e-11, atol=1e-12, events=blowup, dense_output=True)
        t_ode = sol.t_events[0][0] if sol.status == 1 else np.inf
        if np.isinf(t_ode):
            assert np.isinf(wait)
            kinds["none"] += 1
        else:
            assert abs(wait - t_ode) < 1e-4 * t_ode + 1e-6
            kinds["spike"] += 1
        if h < min(wait, t_ode) - 1e-3:
            v = float(model.voltage(model.flow(state, jnp.asarray(h)))[0])
            assert abs(v - sol.sol(h)[0]) < 1e-7 * (1 + abs(v))
            kinds["flow"] += 1
    assert min(kinds.values()) > 10, kinds


@pytest.mark.parametrize("voltage", [0.3, 2.0, -1.5])
def test_qif_gradients_are_finite_and_continuous_across_zero_current(x64, voltage):
    """Positive, zero and negative current share one formula (a series near 0): d(flow)/dI and d(spike
    time)/dI at I = 0 equal their values at I = +-1e-9 to 1e-7."""
    model = events.QIF()

    def flowed(i):
        return model.voltage(model.flow(model.initial(1, jnp.float64, voltage, i), jnp.asarray(0.7)))[0]

    def wait(i):
        return model.time_to_spike(model.initial(1, jnp.float64, voltage, i + 3.0))[0]

    for f in (flowed, wait):
        g = jax.grad(f)
        values = [float(g(jnp.asarray(i))) for i in (0.0, 1e-9, -1e-9)]
        assert all(np.isfinite(values))
        assert max(values) - min(values) < 1e-7 * (1 + abs(values[0]))


def test_theta_phase_transfer_is_voltage_addition(x64):
    """H(phi, w) = Phi(Phi^-1(phi) + w): H(phi, 0) = phi, H(H(phi, a), b) = H(phi, a + b), the voltage of
    H(phi, w) is V(phi) + w, and H leaves phases 0 and P alone (a spike's V = +-inf is not moved)."""
    theta = events.Theta()
    phi = jnp.linspace(0.05, theta.period - 0.05, 50)
    a, b = 0.7, -1.3
    assert float(jnp.max(jnp.abs(theta.transfer(phi, 0.0) - phi))) < 1e-12
    both = theta.transfer(theta.transfer(phi, a), b)
    assert float(jnp.max(jnp.abs(both - theta.transfer(phi, a + b)))) < 1e-10
    v = theta.voltage(theta.transfer(phi, a))
    assert float(jnp.max(jnp.abs(v - (theta.voltage(phi) + a)) / (1 + jnp.abs(v)))) < 1e-9
    ends = theta.transfer(jnp.asarray([0.0, theta.period]), 2.0)
    assert abs(float(ends[0])) < 1e-12 and abs(float(ends[1]) - theta.period) < 1e-12


@eqx.filter_jit
def _events(net, x):
    out = net(x)
    return out.counts, out.ordinary


def _order(net, x):
    counts, ordinary = _events(net, x)
    return [np.asarray(c) for c in counts], np.asarray(ordinary)


def _check_fd(net, x, y, loss, n_entries, seed, h=1e-6, rtol=1e-6):
    params, static = eqx.partition(net, eqx.is_inexact_array)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    _, grads = events.Pseudospikes()(loss, net, x, y)
    g_flat, _ = jax.flatten_util.ravel_pytree(grads)
    f = jax.jit(lambda p: loss(eqx.combine(unravel(p), static)(x), y))
    base = _order(net, x)
    rng = np.random.default_rng(seed)
    checked = 0
    for j in rng.choice(flat.size, n_entries, replace=False):
        e = jnp.zeros_like(flat).at[j].set(h)
        moved = [_order(eqx.combine(unravel(flat + s * e), static), x) for s in (1, -1)]
        if any(
            not all(np.array_equal(a, b) for a, b in zip(m[0], base[0])) or not np.array_equal(m[1], base[1])
            for m in moved
        ):
            continue  # an event appears, leaves or changes hands between the two evaluations
        fd = (f(flat + e) - f(flat - e)) / (2 * h)
        assert abs(float(fd) - float(g_flat[j])) < rtol * (1 + abs(float(fd))), (int(j), float(fd), float(g_flat[j]))
        checked += 1
    assert checked >= n_entries // 2
    return checked


def test_theta_network_gradient_equals_central_differences(x64):
    """Three-layer theta network on 2 digits with active hidden layers (w_scale 3): Pseudospikes'
    gradient (autodiff through the event loop) equals float64 central differences (h = 1e-6) to 1e-6 on
    20 random parameters; entries whose perturbation changes any spike count are skipped (at most half)."""
    from snnsad.data import load_digits_split

    images, labels = load_digits_split(0)["test"]
    xs = events.encode_images(images[:4], dtype=np.float64)
    net = events.SmoothNetwork.dense((64, 20, 20, 10), key=jr.key(3), w_scale=3.0, dtype=jnp.float64)
    for k in range(2):
        x = events.SyncEvents(xs.times[k], xs.members[k])
        assert int(sum(c.sum() for c in net(x).counts)) > 5
        _check_fd(net, x, int(labels[k]), events.pseudo_ttfs_cross_entropy, 10, seed=k)


def test_qif_network_and_recurrent_gradients_equal_central_differences(x64):
    """A QIF SmoothNetwork (spike-train inputs) and the recurrent QIF task (pseudospike trains of two
    neurons): gradients equal central differences to 1e-6 away from event-count changes."""
    x = events.events_from_lists([0.2, 0.5, 1.1, 1.4, 2.0], [0, 1, 2, 0, 1], dtype=np.float64)
    net = events.SmoothNetwork.dense(
        (3, 6, 3), key=jr.key(0), neuron=events.QIF(), w_scale=40.0, t_end=4.0, dtype=jnp.float64
    )
    assert int(net(x).counts[0].sum()) > 2
    _check_fd(net, x, 1, events.pseudo_ttfs_cross_entropy, 16, seed=0)
    problem = rnn_problem(0)
    w = jnp.asarray(np.random.default_rng(1).normal(0, 0.5, (10, 10)))

    @jax.jit
    def loss(w):
        return rnn_loss(rnn_outputs(w, problem), problem["targets"])

    g = jax.grad(loss)(w)
    for i, j in [(0, 3), (1, 5), (0, 7), (1, 2), (0, 9)]:
        e = jnp.zeros_like(w).at[i, j].set(1e-6)
        fd = (loss(w + e) - loss(w - e)) / 2e-6
        assert abs(float(fd - g[i, j])) < 1e-6 * (1 + abs(float(fd)))


def _single(w, t1=1.0):
    p = {"w": jnp.stack([w, jnp.asarray(0.0)]), "t": jnp.stack([jnp.asarray(t1), jnp.asarray(9.0)])}
    return p


def test_loss_is_continuous_where_a_spike_leaves_and_across_order_changes(x64):
    """One QIF neuron (seed 2's fixed inputs). (1) The first input's weight is bisected to the value where
    the output's first spike crosses T = 10: the loss with pseudospikes differs by < 1e-8 across it and
    its derivative is finite and the same on both sides (1e-6). (2) The first input's time swept over
    [0, 10] on 4001 points, crossing all 20 fixed inputs: no loss step exceeds 1.5 x max|dL/dt| x spacing
    (a jump would not shrink with the grid)."""
    fixed = single_neuron_inputs(2)
    targets = jnp.asarray(SINGLE["targets"])

    def outputs(w, t1=1.0):
        return single_neuron_output(_single(w, t1), fixed)

    def loss(w, t1=1.0):
        return jnp.mean((outputs(w, t1) - targets) ** 2)

    first = jax.jit(lambda w: outputs(w)[0])
    lo, hi = 0.0, 20.0
    assert float(first(lo)) > SINGLE["t_end"] > float(first(hi))
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(first(mid)) > SINGLE["t_end"] else (lo, mid)
    (v_lo, g_lo), (v_hi, g_hi) = (jax.value_and_grad(loss)(jnp.asarray(w)) for w in (lo, hi))
    assert abs(float(v_hi - v_lo)) < 1e-8
    assert np.isfinite(float(g_lo)) and abs(float(g_lo - g_hi)) < 1e-6 * (1 + abs(float(g_lo)))
    ts = jnp.linspace(0.0, 10.0, 4001)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(lambda t: loss(jnp.asarray(3.0), t))))(ts)
    steps = jnp.abs(jnp.diff(values))
    assert float(steps.max()) <= 1.5 * float(jnp.abs(grads).max()) * float(ts[1] - ts[0])


def test_initially_silent_qif_neuron_learns_both_target_spikes():
    """spikegd's single-neuron task from a silent start (first silent seed): both outputs within 0.05 of
    2.5 and 7.5 within 3000 SGD steps."""
    seed = silent_seed(0)
    with jax.enable_x64(True):
        start = single_neuron_output({"w": jnp.zeros(2), "t": jnp.asarray([1.0, 9.0])}, single_neuron_inputs(seed))
    assert float(start[0]) > SINGLE["t_end"]  # silent: both outputs are pseudospikes
    result = train_single_neuron(seed)
    assert result["first_step_within_0.05"] is not None and result["first_step_within_0.05"] < 3000
    assert np.all(np.abs(np.asarray(result["final_outputs"]) - np.asarray(SINGLE["targets"])) < 0.05)


def test_silent_theta_network_trains_on_digits_and_its_exact_gradient_is_zero(standard_promotion):
    """Untrained 64-50-10 theta network at half the period: every hidden neuron silent for every test
    digit and the gradient without pseudospikes exactly 0 on every layer, with pseudospikes non-zero on
    every layer; 4 epochs (batch 100) reach > 0.5 test accuracy (chance 0.1)."""
    from snnsad.data import load_digits_split
    from snnsad.experiments._theta_training import evaluate, theta_network, train

    data = load_digits_split(0)
    net = theta_network(64, jr.key(0), hidden=(50,))
    before = evaluate(net, *data["test"])
    assert before["silent_hidden_neurons"] == 1.0
    x = events.encode_images(data["test"][0][:32])
    y = jnp.asarray(data["test"][1][:32])
    batched = snnsad.Batched
    _, g0 = batched(events.Pseudospikes(pseudospikes=False))(events.pseudo_ttfs_cross_entropy, net, x, y, jr.key(0))
    _, g1 = batched(events.Pseudospikes())(events.pseudo_ttfs_cross_entropy, net, x, y, jr.key(0))
    assert all(float(jnp.abs(w).max()) == 0.0 for w in g0.weights)
    assert all(float(jnp.abs(w).max()) > 0.0 for w in g1.weights)
    _, history = train(net, data["train"], data["test"], epochs=4, batch=100, lr=4e-3, seed=0, progress=False)
    assert history[-1]["accuracy"] > 0.5
    assert history[-1]["silent_hidden_neurons"] < 0.5


def test_overflow_makes_outputs_nan_and_bad_input_is_refused():
    """More spikes than `max_spikes` make every output NaN; bad settings and inputs raise naming the argument."""
    x = events.events_from_lists([0.1, 0.2, 0.3], [0, 0, 0])
    net = events.SmoothNetwork.dense((1, 3, 2), key=jr.key(0), w_scale=50.0, max_spikes=[1, 2], phase=0.0)
    out = net(x)
    assert bool(out.overflow) and bool(jnp.all(jnp.isnan(out.first)))
    with pytest.raises(ValueError, match="i0"):
        events.Theta(i0=0.2)
    with pytest.raises(ValueError, match="tau"):
        events.QIF(tau=-1.0)
    with pytest.raises(ValueError, match="members"):
        net(events.SyncEvents(jnp.zeros(1), jnp.zeros((5, 1))))
    with pytest.raises(TypeError, match="EventTrain or SyncEvents"):
        net(jnp.zeros(3))
    with pytest.raises(eqx.EquinoxRuntimeError, match="ascending order"):
        net(events.EventTrain(jnp.asarray([0.3, 0.1, 0.2]), jnp.zeros(3, jnp.int32)))
    with pytest.raises(eqx.EquinoxRuntimeError, match="source indices"):
        net(events.EventTrain(jnp.asarray([0.1, 0.2, 0.3]), jnp.asarray([0, 4, 0], jnp.int32)))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        events.encode_images(np.full((1, 4), 2.0))
    with pytest.raises(ValueError, match="phases"):
        events.SmoothNetwork(events.QIF(), [jnp.zeros((2, 1))], [jnp.zeros(2)])
    with pytest.raises(TypeError, match="SmoothNetwork"):
        events.Pseudospikes()(events.pseudo_ttfs_cross_entropy, object(), x, 0)


def _write_idx(path, array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_mnist_idx_files_are_read_from_a_path(tmp_path):
    """`load_mnist` reads the four standard IDX files (plain or gzipped) built here; missing, truncated and
    non-IDX files raise with the fix."""
    import gzip

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte", images, 0x08)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 0x08)
    x, y = snnsad.data.load_mnist(str(tmp_path), "train")
    assert x.shape == (5, 28, 28) and x.dtype == np.float32 and np.allclose(x * 255, images)
    assert np.array_equal(y, labels)
    raw = (tmp_path / "train-labels-idx1-ubyte").read_bytes()
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(raw)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images, 0x08)
    assert np.array_equal(snnsad.data.load_mnist(str(tmp_path), "test")[1], labels)
    with pytest.raises(FileNotFoundError, match="does not download"):
        snnsad.data.load_mnist(str(tmp_path / "nothing"))
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        snnsad.data.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(raw[:-2])
    with pytest.raises(ValueError, match="truncated"):
        snnsad.data.read_idx(str(tmp_path / "short"))


def test_theta_runs_on_mnist_shaped_files_and_resume_from_their_checkpoint(tmp_path, standard_promotion):
    """The MNIST branch of `smooth-exact` on synthetic IDX files (40 random 28 x 28 images): the recipe's
    784-input network trains one epoch, its record is saved, and a second call loads it instead of training
    (the same record, no new history); a missing folder is refused before any work."""
    from snnsad.experiments._theta_training import train_seed

    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 0x08)
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8), 0x08)
    data = {
        "train": snnsad.data.load_mnist(str(tmp_path), "train"),
        "test": snnsad.data.load_mnist(str(tmp_path), "test"),
    }
    folder = str(tmp_path / "seeds")
    net, record = train_seed(
        folder, 0, data, hidden=(12,), epochs=1, batch=20, lr=4e-3, dataset="mnist", progress=False
    )
    assert net.weights[0].shape == (12, 784) and len(record["history"]) == 2
    assert np.isfinite(record["final"]["loss"])
    again, second = train_seed(
        folder, 0, data, hidden=(12,), epochs=1, batch=20, lr=4e-3, dataset="mnist", progress=False
    )
    assert second == record and bool(jnp.all(again.weights[0] == net.weights[0]))
    with pytest.raises(FileNotFoundError, match="mnist-path"):
        snnsad.experiments.reproduce(["smooth-exact"], str(tmp_path / "out"), mnist_path=str(tmp_path / "missing"))
