import json
import os
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import snnsad
from snnsad import data, losses
from snnsad.train import load_checkpoint, save_checkpoint, smorms3


def test_smorms3_matches_hand_computed_steps():
    """Two steps by hand from Funk's equations (mem=1, g=g2=0 at start, lr=0.1, eps=1e-16)."""
    opt = smorms3(0.1)
    params = {"w": jnp.asarray([1.0, 2.0])}
    state = opt.init(params)
    u1, state = opt.update({"w": jnp.asarray([0.5, -1.0])}, state)
    # step 1: r = 1/2; g = [0.25, -0.5]; g2 = [0.125, 0.5]; x = g^2/g2 = [0.5, 0.5]; lr = min(0.1, x) = 0.1
    np.testing.assert_allclose(u1["w"], [-0.5 * 0.1 / np.sqrt(0.125), 1.0 * 0.1 / np.sqrt(0.5)], rtol=1e-6)
    np.testing.assert_allclose(state[0].mem["w"], [1.5, 1.5])  # pyright: ignore[reportAttributeAccessIssue]
    u2, state = opt.update({"w": jnp.asarray([0.2, 0.3])}, state)
    # step 2: r = 1/2.5 = 0.4; g = 0.6 g + 0.4 grad; g2 = 0.6 g2 + 0.4 grad^2
    g = np.array([0.6 * 0.25 + 0.4 * 0.2, 0.6 * -0.5 + 0.4 * 0.3])
    g2 = np.array([0.6 * 0.125 + 0.4 * 0.04, 0.6 * 0.5 + 0.4 * 0.09])
    x = g**2 / g2
    np.testing.assert_allclose(u2["w"], -np.array([0.2, 0.3]) * np.minimum(0.1, x) / np.sqrt(g2), rtol=1e-6)
    np.testing.assert_allclose(state[0].mem["w"], 1 + 1.5 * (1 - x), rtol=1e-6)  # pyright: ignore[reportAttributeAccessIssue]


def test_smorms3_on_a_network_pytree():
    net = snnsad.feedforward((3, 4, 2), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(5.0)))
    opt = smorms3(1e-2)
    params = eqx.filter(net, eqx.is_array)
    state = opt.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, state = opt.update(grads, state)
    assert jax.tree.structure(updates) == jax.tree.structure(params)


LOSS = losses.make_loss(losses.max_over_time_cross_entropy)


def _setup(n=96):
    d = data.randman(3, 8, 20, samples_per_class=n // 3, alpha=2.0, seed=0)
    lif = snnsad.LIF.paper()
    net = snnsad.feedforward(
        (8, 16, 3),
        key=jr.key(0),
        spike_fn=snnsad.Stochastic(snnsad.Sigmoid(10.0)),
        neuron=lif,
        init="fluctuation",
        rate=25.0,
    )
    return d, net, LOSS


OPTIMIZER = smorms3(1e-2)  # one object, so every fit() below reuses the same compiled step


def _fit(net, d, loss_fn, out, epochs, **kw):
    return snnsad.fit(
        net,
        d,
        estimator=snnsad.StochasticAD(2),
        loss_fn=loss_fn,
        optimizer=OPTIMIZER,
        epochs=epochs,
        batch_size=16,
        seed=5,
        val=d,
        metric_fn=losses.on_output(losses.accuracy_max_over_time),
        out_dir=out,
        progress=False,
        **kw,
    )


@pytest.mark.slow
def test_resume_equals_uninterrupted_run_bit_for_bit(tmp_path):
    d, net, loss_fn = _setup(48)
    full = _fit(net, d, loss_fn, str(tmp_path / "full"), 3)
    _fit(net, d, loss_fn, str(tmp_path / "split"), 1)  # interrupted after 1 epoch ...
    config = tmp_path / "split" / "config.json"  # (as if that epoch had been trained by another commit)
    config.write_text(json.dumps({**json.loads(config.read_text()), "commit": "0" * 40}))
    resumed = _fit(net, d, loss_fn, str(tmp_path / "split"), 3)  # ... and resumed from its checkpoint
    assert json.loads(config.read_text())["earlier_commits"] == ["0" * 40]  # the resumed run keeps it
    before = config.read_text()
    again = _fit(net, d, loss_fn, str(tmp_path / "split"), 2)  # finished: loaded, not trained, record kept
    assert len(again.history) == 3 and config.read_text() == before
    for a, b in zip(
        jax.tree.leaves(eqx.filter(full.net, eqx.is_array)), jax.tree.leaves(eqx.filter(resumed.net, eqx.is_array))
    ):
        np.testing.assert_array_equal(a, b)
    strip = lambda h: [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in h]  # noqa: E731
    assert strip(full.history) == strip(resumed.history)
    for name in ("config.json", "metrics.json", "metrics.csv", "checkpoint.eqx"):
        assert os.path.exists(tmp_path / "split" / name)
    assert len(json.loads((tmp_path / "split" / "metrics.json").read_text())) == 3
    # A checkpoint of a different run is never resumed silently.
    with pytest.raises(ValueError, match=r"different run \(changed: \['seed'\]\)"):
        snnsad.fit(
            net, d, estimator=snnsad.StochasticAD(2), loss_fn=loss_fn, optimizer=OPTIMIZER, epochs=4,
            batch_size=16, seed=6, out_dir=str(tmp_path / "split"), progress=False,
        )  # fmt: skip


@pytest.mark.slow
def test_train_step_donates_its_state_and_fit_keeps_the_callers_network(tmp_path):
    from snnsad.train._fit import _train_step

    d, net, loss_fn = _setup(32)
    before = [np.asarray(a).copy() for a in jax.tree.leaves(eqx.filter(net, eqx.is_array))]
    res = _fit(net, d, loss_fn, str(tmp_path), 1)
    after = jax.tree.leaves(eqx.filter(net, eqx.is_array))  # usable: fit trained its own copy
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(res.net.layers[0].weight, net.layers[0].weight)  # pyright: ignore[reportAttributeAccessIssue]
    # The step itself updates the network and optimiser state in place (their buffers are donated).
    params = eqx.filter(res.net, snnsad.nn.trainable(res.net))
    state = jax.tree.map(lambda a: a.copy(), (res.net, OPTIMIZER.init(params)))
    xs, ys = (jnp.asarray(a) for a in d.batch(np.arange(16)))
    batched = snnsad.Batched(snnsad.StochasticAD(2))
    new_net, _, _, _ = _train_step((batched, loss_fn, OPTIMIZER, xs, ys, jr.key(0)), *state)
    assert state[0].layers[0].weight.is_deleted() and not new_net.layers[0].weight.is_deleted()


def test_fit_takes_a_batched_estimator_and_returns_its_optimiser_state():
    """``fit(estimator=Batched(est))`` trains exactly as ``fit(estimator=est)`` (a wrapper is not wrapped
    twice); the returned optimiser state has taken every step and can be passed back in."""
    d, net, loss_fn = _setup(32)
    kw = dict(loss_fn=loss_fn, optimizer=OPTIMIZER, epochs=1, batch_size=16, seed=5, progress=False)
    plain = snnsad.fit(net, d, estimator=snnsad.StochasticAD(2), **kw)
    wrapped = snnsad.fit(net, d, estimator=snnsad.Batched(snnsad.StochasticAD(2)), **kw)
    for a, b in zip(jax.tree.leaves(plain.net), jax.tree.leaves(wrapped.net), strict=True):
        np.testing.assert_array_equal(a, b)
    steps = len(d) // 16
    assert steps >= 1 and int(plain.opt_state[1]) == steps  # SMORMS3's step count
    more = snnsad.fit(plain.net, d, estimator=snnsad.StochasticAD(2), opt_state=plain.opt_state, **kw)
    assert int(more.opt_state[1]) == 2 * steps


def test_failed_checkpoint_write_keeps_the_last_good_one(tmp_path, monkeypatch):
    path = str(tmp_path / "ck.eqx")
    tree = {"a": jnp.arange(3.0)}
    save_checkpoint(path, tree, {"epoch": 1})

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"a": jnp.arange(3.0) + 10}, {"epoch": 2})
    monkeypatch.undo()
    restored, meta = load_checkpoint(path, tree)
    assert meta == {"epoch": 1}
    np.testing.assert_array_equal(restored["a"], [0.0, 1.0, 2.0])
    assert os.listdir(tmp_path) == ["ck.eqx"]  # no temporary file left behind


@pytest.mark.slow
def test_killed_writer_never_leaves_a_corrupt_checkpoint(tmp_path):
    """A process writing 20 MB checkpoints in a loop is killed with SIGKILL; the file on disk is always a complete one."""
    path = str(tmp_path / "ck.eqx")
    script = (
        "import jax.numpy as jnp, sys\n"
        "from snnsad.train import save_checkpoint\n"
        "i = 0\n"
        "while True:\n"
        "    save_checkpoint(sys.argv[1], {'a': jnp.full((5_000_000,), float(i))}, {'epoch': i})\n"
        "    print(i, flush=True)\n"
        "    i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, path], stdout=subprocess.PIPE, text=True)
    for _ in range(3):  # let it complete a few writes, then kill it mid-way through the next one
        proc.stdout.readline()
    proc.kill()
    proc.wait()
    proc.stdout.close()
    restored, meta = load_checkpoint(path, {"a": jnp.zeros((5_000_000,))})
    assert np.all(np.asarray(restored["a"]) == meta["epoch"])
    d, net, loss_fn = _setup(48)
    # fit() clears temporary files a killed writer may have left in its output folder.
    open(tmp_path / ".tmp-stale", "wb").close()
    _fit(net, d, loss_fn, str(tmp_path), 1, resume=False)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


# Short training runs: every gradient estimator must actually train a stochastic SNN.


def _task(key, n=64, T=20, n_in=10):
    """Two classes, each a frozen random spike raster; examples are the class raster with 10% of spikes jittered off."""
    kc, kl, kd = jr.split(key, 3)
    rasters = jr.bernoulli(kc, 0.15, (2, T, n_in)).astype(jnp.float32)
    labels = jr.bernoulli(kl, 0.5, (n,)).astype(jnp.int32)
    keep = jr.bernoulli(kd, 0.9, (n, T, n_in)).astype(jnp.float32)
    return rasters[labels] * keep, labels


@pytest.mark.slow
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
    opt_state = optim.init(eqx.filter(net, snnsad.nn.trainable(net)))
    batched = snnsad.Batched(estimator)

    @eqx.filter_jit
    def step(net, opt_state, key):
        value, grads = batched(snnsad.losses.ce_loss, net, xs, ys, key)
        updates, opt_state = optim.update(grads, opt_state, eqx.filter(net, snnsad.nn.trainable(net)))
        return eqx.apply_updates(net, updates), opt_state, value

    @eqx.filter_jit
    def expected_loss(net):
        keys = jr.split(jr.key(99), 8)
        return jnp.mean(jax.vmap(lambda k: batched(snnsad.losses.ce_loss, net, xs, ys, k)[0])(keys))

    start = float(expected_loss(net))
    for key in jr.split(jr.key(2), 80):
        net, opt_state, _ = step(net, opt_state, key)
    end = float(expected_loss(net))
    assert start > 0.5  # the untrained network is far from solving the task
    print(f"expected loss {start:.3f} -> {end:.3f}")
    assert end < 0.4 * start, (start, end)


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    """Results written atomically are readable like any other file (mode 0666 minus the umask), not
    private to the writer as the temporary file they start as."""
    from snnsad._io import _umask, atomic_write_text

    path = tmp_path / "results.json"
    atomic_write_text(str(path), "{}")
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_freeze_keeps_the_named_parameters_and_trains_the_rest():
    """`freeze(opt, "threshold")`: after training steps the thresholds are bit-identical and the weights moved."""
    net = snnsad.feedforward((4, 6, 3), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(5.0)))
    d = data.randman(3, 4, 10, samples_per_class=8, alpha=2.0, seed=0)
    fitted = snnsad.fit(
        net, d, estimator=snnsad.Autodiff(), loss_fn=snnsad.losses.ce_loss,
        optimizer=snnsad.train.freeze(optax.sgd(0.5), "threshold"), epochs=2, batch_size=8, progress=False,
    )  # fmt: skip
    before, after = snnsad.nn.parameters(net), snnsad.nn.parameters(fitted.net)
    for path in before:
        same = bool(jnp.array_equal(before[path], after[path]))
        assert same == path.endswith("threshold"), path
    with pytest.raises(ValueError, match="name the parameters"):
        snnsad.train.freeze(optax.sgd(0.1))


def test_callbacks_see_every_step_and_epoch_and_can_stop_training(tmp_path, standard_promotion):
    """A callback sees each step (with the step's loss) and each epoch's record; EarlyStopping on a
    quantity that never improves stops after `patience` epochs; BestCheckpoint writes the best epoch's
    network, which loads back equal to the network of that epoch; MetricsLogger writes the history."""
    net = snnsad.feedforward((4, 6, 3), key=jr.key(0), spike_fn=snnsad.Surrogate(snnsad.FastSigmoid(5.0)))
    d = data.randman(3, 4, 10, samples_per_class=8, alpha=2.0, seed=0)
    seen, nets = [], {}

    class Spy(snnsad.train.Callback):
        def on_step(self, info):
            seen.append(("step", info.epoch, info.step, float(info.loss)))

        def on_epoch(self, info):
            seen.append(("epoch", info.epoch, sorted(info.record)))
            nets[info.epoch] = info.net

    class Constant(snnsad.train.Callback):  # a monitored quantity that never improves
        def on_epoch(self, info):
            info.record["flat"] = 1.0

    stop = snnsad.train.EarlyStopping("flat", mode="min", patience=2)
    best = snnsad.train.BestCheckpoint(str(tmp_path / "best.eqx"), "train_loss", mode="min")
    fitted = snnsad.fit(
        net, d, estimator=snnsad.Autodiff(), loss_fn=snnsad.losses.ce_loss, optimizer=optax.adam(1e-2), epochs=10,
        batch_size=8, progress=False, val=d, metric_fn=snnsad.losses.on_output(snnsad.losses.accuracy_max_over_time),
        callbacks=[Constant(), Spy(), stop, best, snnsad.train.MetricsLogger(str(tmp_path / "log"))],
    )  # fmt: skip
    assert len(fitted.history) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0
    assert [s[:3] for s in seen if s[0] == "step"][:3] == [("step", 0, 0), ("step", 0, 1), ("step", 0, 2)]
    assert sum(s[0] == "step" for s in seen) == 3 * (24 // 8)
    assert {"train_loss", "val_loss", "val_metric", "seconds", "compile_seconds"} <= set(seen[3][2])
    # the first epoch traces and compiles the step and the evaluation; the last one compiles nothing
    first, last = fitted.history[0], fitted.history[-1]
    assert 0 < first["compile_seconds"] <= first["seconds"] and last["compile_seconds"] == 0.0
    losses = [h["train_loss"] for h in fitted.history]
    assert best.best_epoch == int(np.argmin(losses))
    template = (net, optax.adam(1e-2).init(eqx.filter(net, snnsad.nn.trainable(net))))
    (loaded, _), meta = snnsad.train.load_checkpoint(str(tmp_path / "best.eqx"), template)
    assert meta["epoch"] == best.best_epoch
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(nets[best.best_epoch])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert len(json.loads((tmp_path / "log" / "metrics.json").read_text())) == 3
    with pytest.raises(KeyError, match="no 'val_metric'"):
        snnsad.fit(net, d, estimator=snnsad.Autodiff(), loss_fn=snnsad.losses.ce_loss, optimizer=optax.adam(1e-2),
                   epochs=1, batch_size=8, progress=False, callbacks=[snnsad.train.EarlyStopping("val_metric")])  # fmt: skip
    with pytest.raises(TypeError, match="Callback"):
        snnsad.fit(net, d, estimator=snnsad.Autodiff(), loss_fn=snnsad.losses.ce_loss, optimizer=optax.adam(1e-2),
                   epochs=1, batch_size=8, progress=False, callbacks=[print])  # fmt: skip


def test_on_start_restores_state_record_entries_reach_the_files_and_keep_best_holds_the_best_epoch(
    tmp_path, standard_promotion
):
    """`on_start` may replace the starting state: a callback that restores the network and epoch of a
    finished 2-epoch run and asks for 3 gives, weight for weight, the 3-epoch run resumed from its
    checkpoint (fit's own `Checkpointing`); an entry a callback adds to the epoch's record is in the
    returned history and in `metrics.json` (fit's writer runs after the user's callbacks); `KeepBest`
    holds the network of the best epoch (compared with the `on_epoch` copies, exactly)."""
    net = snnsad.feedforward((4, 6, 3), key=jr.key(0), spike_fn=snnsad.Surrogate(snnsad.FastSigmoid(5.0)))
    d = data.randman(3, 4, 10, samples_per_class=8, alpha=2.0, seed=0)
    opt = optax.adam(1e-2)
    kw = dict(estimator=snnsad.Autodiff(), loss_fn=snnsad.losses.ce_loss, optimizer=opt, batch_size=8)

    class Extra(snnsad.train.Callback):
        def on_epoch(self, info):
            info.record["extra"] = 10.0 + info.epoch

    two = snnsad.fit(net, d, epochs=2, progress=False, out_dir=str(tmp_path / "a"), **kw)
    resumed = snnsad.fit(net, d, epochs=3, progress=False, out_dir=str(tmp_path / "a"), callbacks=[Extra()], **kw)

    class Restore(snnsad.train.Callback):
        def on_start(self, info):
            assert info.epoch == 0 and info.history == []
            return snnsad.train.StartInfo(two.net, two.opt_state, two.history, 2)

    seen = {}

    class Keep(snnsad.train.Callback):
        def on_epoch(self, info):
            seen[info.epoch] = info.net

    best = snnsad.train.KeepBest("train_loss", mode="min")
    restored = snnsad.fit(net, d, epochs=3, progress=False, callbacks=[Restore(), Keep(), best], **kw)
    for a, b in zip(jax.tree.leaves(resumed.net), jax.tree.leaves(restored.net)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [h["epoch"] for h in restored.history] == [0, 1, 2]
    assert resumed.history[-1]["extra"] == 12.0 and "extra" not in resumed.history[0]
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())[-1]["extra"] == 12.0
    assert best.best_epoch == 2 and set(seen) == {2}
    for a, b in zip(jax.tree.leaves(best.net), jax.tree.leaves(seen[2])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_fit_trains_an_event_network_on_event_inputs(tmp_path, standard_promotion):
    """`fit` takes pytree inputs (a data set of `EventTrain`s, unused slots at +inf) and an event gradient: two
    epochs of `EventProp()` on a 5-8-3 Yin-Yang network equal, weight for weight, a hand-written loop of
    `Batched(EventProp())` steps over the same batches (same optimiser; float32, rtol 1e-6: the same
    programs, so equal to rounding), its evaluation reads the event accuracy, and a NaN in an input's event
    times is refused with the example named (the +inf padding is not)."""
    from snnsad import events

    x, y = events.yinyang_events(64, seed=0)
    train = data.SpikeDataset(x, y)
    net = events.EventNetwork.dense((5, 8, 3), key=jr.key(0), head="vmax", init=((1.5, 0.8), (0.9, 0.3)))
    opt = optax.sgd(5e-2)
    acc = lambda out, label: events.event_accuracy(out, label, "vmax")  # noqa: E731
    common = dict(estimator=events.EventProp(), loss_fn=events.vmax_cross_entropy, optimizer=opt, epochs=2,
                  batch_size=16, progress=False)  # fmt: skip
    out = snnsad.fit(net, train, val=train, metric_fn=acc, **common)

    ref, state = net, opt.init(eqx.filter(net, snnsad.nn.trainable(net)))
    step = eqx.filter_jit(lambda n, xs, ys: snnsad.Batched(events.EventProp())(events.vmax_cross_entropy, n, xs, ys))
    for epoch in range(2):
        for idx in data.batches(64, 16, seed=0, epoch=epoch):
            xs, ys = train.batch(idx)
            _, grads = step(ref, xs, jnp.asarray(ys))
            updates, state = opt.update(grads, state, eqx.filter(ref, snnsad.nn.trainable(ref)))
            ref = eqx.apply_updates(ref, updates)
    for a, b in zip(jax.tree.leaves(eqx.filter(out.net, eqx.is_array)), jax.tree.leaves(eqx.filter(ref, eqx.is_array)),
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not np.allclose(out.net.layers[0].weight, net.layers[0].weight)
    assert 0.0 <= out.history[-1]["val_metric"] <= 1.0 and np.isfinite(out.history[-1]["val_loss"])

    bad = data.SpikeDataset(events.EventTrain(x.times.at[3, 1].set(jnp.nan), x.index), y)
    with pytest.raises(ValueError, match=r"examples \[3\]"):
        snnsad.fit(net, bad, **{**common, "epochs": 1, "batch_size": 64})


def test_write_run_writes_config_results_and_figures_atomically(tmp_path):
    """`write_run` writes `config.json` (with versions, machine and commit), `results.json` and each figure,
    leaving no temporary file behind; numbers JSON cannot hold (numpy) are written as floats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    paths = snnsad.train.write_run(str(tmp_path / "run"), {"seed": 3}, {"acc": np.float32(0.5)}, {"curve.png": fig})
    assert paths == [str(tmp_path / "run" / "curve.png")] and os.path.getsize(paths[0]) > 100
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["seed"] == 3 and "jax" in config and "commit" in config
    assert json.loads((tmp_path / "run" / "results.json").read_text()) == {"acc": 0.5}
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "curve.png", "results.json"]
    assert not plt.fignum_exists(fig.number)


def test_project_keeps_parameters_in_their_set_after_each_update():
    """`project(fn)` chained after SGD: the updated parameters are `fn(params + sgd update)` (clipped into
    [0, 1] here: entries pushed out land on the bound, the others move by the plain SGD step, to float32
    rounding of `p + (fn(p + u) - p)`); the optimiser without parameters, or a non-callable, is refused."""
    opt = optax.chain(optax.sgd(1.0), snnsad.train.project(lambda p: jax.tree.map(lambda a: jnp.clip(a, 0.0, 1.0), p)))
    params = {"a": jnp.asarray([0.2, 0.5, 0.9]), "b": None}
    grads = {"a": jnp.asarray([0.5, 0.1, -0.5]), "b": None}
    updates, _ = opt.update(grads, opt.init(params), params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(np.asarray(new["a"]), [0.0, 0.4, 1.0], rtol=0, atol=1e-7)
    assert new["b"] is None
    with pytest.raises(ValueError, match="needs the parameters"):
        opt.update(grads, opt.init(params))
    with pytest.raises(TypeError, match="projection"):  # the run-time type check, or project's own
        snnsad.train.project(1.0)  # pyright: ignore[reportArgumentType]


def test_progress_bars_use_the_text_bar_where_ipywidgets_is_missing(monkeypatch):
    """`tqdm.auto` in a notebook without ipywidgets warns on every bar (TqdmWarning): without ipywidgets the
    text bar is used; with it, the notebook-aware one; without tqdm the iterable comes back unchanged."""
    import importlib.util

    import tqdm.auto
    import tqdm.std

    from snnsad.train import _progress

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name, *a))
    assert _progress._tqdm_class() is tqdm.std.tqdm
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "ipywidgets" else real(name, *a)
    )
    assert _progress._tqdm_class() is tqdm.auto.tqdm
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tqdm" else real(name, *a))
    items = [1, 2]
    assert snnsad.train.progress_bar(items, "x") is items


def test_compile_meter_counts_nested_compile_spans_once():
    """Spans of JAX's compile events are merged (a jit traced inside another's trace counts once);
    other events are ignored; `seconds()` forgets what it reported; outside the context nothing is heard."""
    from snnsad._timing import CompileMeter

    with CompileMeter() as meter:
        meter._listen("/jax/core/compile/jaxpr_trace_duration", 0.0, 2.0)
        meter._listen("/jax/core/compile/jaxpr_trace_duration", 0.5, 1.0)  # nested in the first
        meter._listen("/jax/core/compile/backend_compile_duration", 1.5, 3.0)  # overlaps the first
        meter._listen("/jax/core/compile/backend_compile_duration", 5.0, 6.0)
        meter._listen("/jax/compilation_cache/cache_retrieval_time_sec", 0.0, 100.0)  # not a compile span
        assert meter.seconds() == 4.0 and meter.seconds() == 0.0
        jax.jit(lambda x: x * 3.0 + 1.0)(jnp.ones(7))  # a fresh program: traced and compiled here
        assert meter.seconds() > 0.0
    jax.jit(lambda x: x * 5.0 - 1.0)(jnp.ones(7))
    assert meter.seconds() == 0.0


def test_epoch_progress_counts_epochs_from_a_resumed_start_and_closes_at_the_last(monkeypatch):
    """EpochProgress draws one bar over the run: it starts at the resumed epoch, advances once per
    epoch with the epoch's training loss, and closes after the last epoch."""
    from snnsad.train import _callbacks

    class Bar:
        def __init__(self, total, desc):
            self.total, self.desc, self.n, self.closed, self.postfix = total, desc, 0, False, None

        def update(self, k):
            self.n += k

        def set_postfix(self, **kw):
            self.postfix = kw

        def close(self):
            self.closed = True

    bars = []
    monkeypatch.setattr(_callbacks, "epoch_bar", lambda total, desc: bars.append(Bar(total, desc)) or bars[-1])
    cb = snnsad.train.EpochProgress(5, "run")
    cb.on_start(snnsad.train.StartInfo(None, None, [{}, {}], 2))
    (bar,) = bars
    assert (bar.total, bar.desc, bar.n) == (5, "run", 2)
    for epoch in (2, 3):
        cb.on_epoch(snnsad.train.EpochInfo(epoch, {"train_loss": 0.5}, [], None, None))
    assert bar.n == 4 and not bar.closed and bar.postfix == {"train_loss": "0.5", "refresh": False}
    cb.on_epoch(snnsad.train.EpochInfo(4, {"train_loss": 0.25}, [], None, None))
    assert bar.n == 5 and bar.closed
