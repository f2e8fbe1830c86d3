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

from .helpers import check_pseudospike_gradient, smooth_events, write_idx


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


@pytest.mark.slow
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
        assert int(sum(c.sum() for c in smooth_events(net, x)[0])) > 5
        check_pseudospike_gradient(net, x, int(labels[k]), events.pseudo_ttfs_cross_entropy, 10, seed=k)


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


def test_mnist_idx_files_are_read_from_a_path(tmp_path, monkeypatch):
    """`load_mnist` reads the four standard IDX files (plain or gzipped) built here; missing, truncated and
    non-IDX files raise with the fix. `load_fashion_mnist()` finds the same files where the system package
    would put them (the folder list pointed here) and, with none there, says how to get them."""
    import gzip

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", images, 0x08)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 0x08)
    x, y = snnsad.data.load_mnist(str(tmp_path), "train")
    assert x.shape == (5, 28, 28) and x.dtype == np.float32 and np.allclose(x * 255, images)
    assert np.array_equal(y, labels)
    raw = (tmp_path / "train-labels-idx1-ubyte").read_bytes()
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(raw)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images, 0x08)
    assert np.array_equal(snnsad.data.load_mnist(str(tmp_path), "test")[1], labels)
    import snnsad.data._mnist as mnist_module

    monkeypatch.setattr(mnist_module, "FASHION_MNIST_FOLDERS", (str(tmp_path / "nothing"), str(tmp_path)))
    assert snnsad.data.find_fashion_mnist() == str(tmp_path)
    fx, fy = snnsad.data.load_fashion_mnist(None, "test")
    assert np.allclose(fx * 255, images) and np.array_equal(fy, labels)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_FOLDERS", (str(tmp_path / "nothing"),))
    assert snnsad.data.find_fashion_mnist() is None
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        snnsad.data.load_fashion_mnist()
    with pytest.raises(FileNotFoundError, match="does not download"):
        snnsad.data.load_mnist(str(tmp_path / "nothing"))
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        snnsad.data.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(raw[:-2])
    with pytest.raises(ValueError, match="truncated"):
        snnsad.data.read_idx(str(tmp_path / "short"))


def test_smooth_neuron_constants_are_hyperparameters_and_new_values_never_recompile():
    """Theta's `tau`, `i0` and QIF's `tau`, `alpha` are arrays outside `trainable`: one jitted
    `Pseudospikes()` step, traced once per neuron kind, serves new constants (Theta 6/pi, 5/4 -> 1.5, 1.1;
    QIF alpha 10 -> 4) with results equal, bit for bit, to a network built with them (the same program),
    and the results differ; a traced out-of-range constant is refused when the program runs."""
    x = events.events_from_lists([0.1, 0.2, 0.4, 0.5, 0.9], [0, 1, 2, 0, 1])
    traces = []

    @eqx.filter_jit
    def step(net):
        traces.append(type(net.neuron).__name__)
        return events.Pseudospikes()(events.pseudo_ttfs_cross_entropy, net, x, jnp.asarray(1))

    for neuron, new, field in (
        (events.Theta(), events.Theta(1.5, 1.1), lambda m: (m.tau, m.i0)),
        (events.QIF(), events.QIF(1.0, 4.0), lambda m: (m.tau, m.alpha)),
    ):
        spec = snnsad.nn.trainable(neuron)
        assert not any(jax.tree.leaves(spec))
        kw = dict(key=jr.key(0), w_scale=8.0, t_end=2.0)
        net = events.SmoothNetwork.dense((3, 5, 2), neuron=neuron, **kw)
        fresh = events.SmoothNetwork.dense((3, 5, 2), neuron=new, **kw)
        if net.phases is not None:  # the same initial phases in both (they are trained, not constants)
            fresh = eqx.tree_at(lambda n: n.phases, fresh, net.phases)
        first, _ = step(net)
        moved, g_moved = step(eqx.tree_at(lambda n: field(n.neuron), net, field(new)))
        built, g_built = step(fresh)
        assert float(moved) == float(built) != float(first)
        np.testing.assert_array_equal(np.asarray(g_moved.weights[0]), np.asarray(g_built.weights[0]))
        assert g_moved.neuron.tau is None
    assert traces == ["Theta", "QIF"]
    with pytest.raises(Exception, match="must be a finite number > 0.25"):
        jax.block_until_ready(jax.jit(lambda i0: events.Theta(1.0, i0).period)(jnp.asarray(0.1)))
