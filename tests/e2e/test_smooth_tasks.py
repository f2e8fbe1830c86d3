"""Smooth exact gradients on the experiments' tasks: theta networks on digits/MNIST files and the QIF tasks."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad
import snnsad.experiments
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

from ..helpers import check_pseudospike_gradient, smooth_events, write_idx


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

    def batched(estimator):  # one compiled program per estimator (eagerly, every operation compiles alone)
        return eqx.filter_jit(snnsad.Batched(estimator))

    _, g0 = batched(events.Pseudospikes(pseudospikes=False))(events.pseudo_ttfs_cross_entropy, net, x, y, jr.key(0))
    _, g1 = batched(events.Pseudospikes())(events.pseudo_ttfs_cross_entropy, net, x, y, jr.key(0))
    assert all(float(jnp.abs(w).max()) == 0.0 for w in g0.weights)
    assert all(float(jnp.abs(w).max()) > 0.0 for w in g1.weights)
    _, history = train(net, data["train"], data["test"], epochs=4, batch=100, lr=4e-3, seed=0, progress=False)
    assert history[-1]["accuracy"] > 0.5
    assert history[-1]["silent_hidden_neurons"] < 0.5


def test_theta_runs_on_mnist_shaped_files_and_resume_from_their_checkpoint(tmp_path, standard_promotion):
    """The MNIST branch of `smooth-exact` on synthetic IDX files (40 random 28 x 28 images): the recipe's
    784-input network trains one epoch, its record is saved, and a second call loads it instead of training
    (the same record, no new history); asked for a second epoch, it resumes from the first epoch's checkpoint
    (the first epoch's record unchanged); a missing folder is refused before any work."""
    from snnsad.experiments._theta_training import train_seed

    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 0x08)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8), 0x08)
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
    # the run folder checkpoints every epoch: asking for two epochs continues from the first one
    assert (tmp_path / "seeds" / "mnist_seed_0-run" / "checkpoint.eqx").exists()
    _, longer = train_seed(folder, 0, data, hidden=(12,), epochs=2, batch=20, lr=4e-3, dataset="mnist", progress=False)
    assert len(longer["history"]) == 3 and longer["history"][1] == record["history"][1]
    with pytest.raises(FileNotFoundError, match="mnist-path"):
        snnsad.experiments.reproduce(["smooth-exact"], str(tmp_path / "out"), mnist_path=str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        snnsad.experiments.reproduce(["smooth-exact"], str(tmp_path / "out"), fashion_mnist=str(tmp_path / "missing"))


def test_qif_network_and_recurrent_gradients_equal_central_differences(x64):
    """A QIF SmoothNetwork (spike-train inputs) and the recurrent QIF task (pseudospike trains of two
    neurons): gradients equal central differences to 1e-6 away from event-count changes."""
    x = events.events_from_lists([0.2, 0.5, 1.1, 1.4, 2.0], [0, 1, 2, 0, 1], dtype=np.float64)
    net = events.SmoothNetwork.dense(
        (3, 6, 3), key=jr.key(0), neuron=events.QIF(), w_scale=40.0, t_end=4.0, dtype=jnp.float64
    )
    assert int(smooth_events(net, x)[0][0].sum()) > 2
    check_pseudospike_gradient(net, x, 1, events.pseudo_ttfs_cross_entropy, 16, seed=0)
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
