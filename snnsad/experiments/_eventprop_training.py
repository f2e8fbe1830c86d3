"""Training event-driven networks on Yin-Yang with EventProp through `snnsad.fit`: the recipe, per-seed runs that resume."""

import json
import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from .. import events
from ..data import SpikeDataset
from ..train import Callback, EpochInfo, KeepBest, atomic_write_text, fit, save_checkpoint
from ._results import load_network

RECIPE: dict[str, Any] = dict(
    hidden=200,
    tau_mem=20.0,
    tau_syn=5.0,
    threshold=1.0,
    t_end=30.0,
    lr=2e-3,
    lr_genn=5e-3,
    decay=0.95,
    decay_steps=1000,
    batch=32,
    init=((1.5, 0.78), (0.93, 0.1)),
    max_spikes=400,
    newton_steps=12,
    tau0=0.5,
    tau1=6.4,
    alpha=3e-3,
)
"""genn_eventprop's Yin-Yang parameters (tnowotny/genn_eventprop, `simulator_yinyang.py`), with W&P's TTFS loss
(tau0, tau1, alpha). genn decays the learning rate by 0.95 once per epoch of 1000 batches of 32
(`decay_steps`); `train` decays once per epoch of its own data unless given `decay_steps`.

One deviation: Adam's learning rate is 2e-3, not genn's 5e-3 (`lr_genn`). With 5e-3, 10 seeds reached
0.940 +- 0.059 (best-validation epoch): hidden and output neurons fell silent for every input, where
the exact gradient is zero, and most seeds' accuracy collapsed after epoch 2-4
(`results/eventprop-full-lr5e-3`)."""


def yinyang_network(key, head: Any = "ttfs", dtype=jnp.float32):
    """5-200-3 network of the recipe; a `ttfs` head's output neurons spike once (only the first spike counts)."""
    r = RECIPE
    return events.EventNetwork.dense(
        (5, r["hidden"], 3),
        key=key,
        head=head,
        output_mode="single",
        init=r["init"],
        max_spikes=[r["max_spikes"], 16],
        t_end=r["t_end"],
        tau_mem=r["tau_mem"],
        tau_syn=r["tau_syn"],
        threshold=r["threshold"],
        newton_steps=r["newton_steps"],
        dtype=dtype,
    )


def loss_of(head) -> Any:
    if head == "vmax":
        return events.vmax_cross_entropy
    r = RECIPE
    return lambda out, y: events.ttfs_cross_entropy(out, y, tau0=r["tau0"], tau1=r["tau1"], alpha=r["alpha"])


@eqx.filter_jit
def outputs(net, x):
    return jax.vmap(net)(x)


def _fired(net, out) -> jax.Array:
    """Per hidden neuron: did it fire for any of the examples of `out` (a batch of `outputs`)?"""
    hidden = out.spikes[0]
    n_hidden = net.layers[0].size
    return (
        jnp.zeros((n_hidden,), bool)
        .at[jnp.where(jnp.isfinite(hidden.times), hidden.index, n_hidden)]
        .set(True, mode="drop")
    )


def evaluate(net, x, y) -> dict:
    out = outputs(net, x)
    acc = jax.vmap(lambda o, label: events.event_accuracy(o, label, net.head))(out, y)
    loss = jax.vmap(loss_of(net.head))(out, y)
    spikes = jnp.sum(jnp.isfinite(out.spikes[0].times), axis=1)
    fired = _fired(net, out)
    result: dict[str, Any] = {
        "accuracy": float(jnp.mean(acc)),
        "loss": float(jnp.mean(loss)),
        "hidden_spikes_per_example": float(jnp.mean(spikes)),
        "overflow_fraction": float(jnp.mean(out.overflow)),
        "active_hidden_fraction": float(jnp.mean(fired)),
    }
    if net.head == "ttfs":
        result["silent_output_fraction"] = [float(v) for v in jnp.mean(out.output >= net.t_end, axis=0)]
    return result


class _Validation(Callback):
    """Adds the experiment's validation measures (`evaluate`, prefixed `val_`) to each epoch's record."""

    def __init__(self, x_val, y_val):
        self.x_val, self.y_val = x_val, y_val

    def on_epoch(self, info: EpochInfo) -> None:
        info.record.update({f"val_{k}": v for k, v in evaluate(info.net, self.x_val, self.y_val).items()})


def rewire_silent(net, x, key):
    """genn_eventprop's remedy for silent hidden neurons (`REWIRE_SILENT`): every hidden neuron that fires
    for none of the inputs `x` gets its input weights drawn afresh from the recipe's initial
    distribution (its other weights and the optimiser's moments stay). Returns `(net, n_rewired)`.

    A neuron silent for every input has exactly zero EventProp gradient on all of its weights, so
    gradient descent alone can never bring it back; redrawn input weights make most such neurons fire again.
    """
    silent = ~_fired(net, outputs(net, x))
    w = net.layers[0].weight
    mean, std = RECIPE["init"][0]
    fresh = mean + std * jr.normal(key, w.shape, w.dtype)
    net = eqx.tree_at(lambda n: n.layers[0].weight, net, jnp.where(silent[:, None], fresh, w))
    return net, int(jnp.sum(silent))


def train(net, x, y, x_val, y_val, *, epochs, seed, lr=None, decay_steps=None, progress=True, rewire=False):
    """`snnsad.fit` with `EventProp()` and Adam, the learning rate decayed by `decay` once per epoch, or
    every `decay_steps` steps when given.

    Returns the network of the epoch with the best validation accuracy (the earliest on ties), the
    network after the last epoch and the per-epoch history (validation metrics, including the
    fraction of hidden neurons that still fire: a neuron silent for every input gets exactly zero
    EventProp gradient and stays silent). With `rewire`, the hidden neurons silent for the whole
    training set after each epoch but the last get fresh input weights (`rewire_silent`; the epoch's
    record counts them as `rewired`); training then runs one `fit` per epoch, continuing the optimiser
    state (each epoch's batch order drawn from `(seed, epoch)`).
    """
    r = RECIPE
    every = len(y) // r["batch"] if decay_steps is None else decay_steps
    opt = optax.adam(optax.exponential_decay(r["lr"] if lr is None else lr, every, r["decay"], staircase=True))
    if rewire:
        return _train_rewiring(net, x, y, x_val, y_val, opt, epochs=epochs, seed=seed, progress=progress)
    best = KeepBest("val_accuracy", mode="max")
    fitted = fit(
        net,
        SpikeDataset(x, y),
        estimator=events.EventProp(),
        loss_fn=loss_of(net.head),
        optimizer=opt,
        epochs=epochs,
        batch_size=r["batch"],
        seed=seed,
        progress=progress,
        callbacks=[_Validation(x_val, y_val), best],
    )
    return (fitted.net if best.net is None else best.net), fitted.net, fitted.history


def _train_rewiring(net, x, y, x_val, y_val, opt, *, epochs, seed, progress):
    """`train` with `rewire_silent` after every epoch (one `fit` per epoch, one optimiser state)."""
    data, loss_fn, validation = SpikeDataset(x, y), loss_of(net.head), _Validation(x_val, y_val)
    best_net, best_acc, history, opt_state = net, -np.inf, [], None
    for epoch in range(epochs):
        fitted = fit(
            net,
            data,
            estimator=events.EventProp(),
            loss_fn=loss_fn,
            optimizer=opt,
            epochs=1,
            batch_size=RECIPE["batch"],
            seed=seed * 1000 + epoch,
            progress=progress,
            opt_state=opt_state,
            callbacks=[validation],
        )
        net, opt_state = fitted.net, fitted.opt_state
        record = {**fitted.history[0], "epoch": epoch}
        if record["val_accuracy"] > best_acc:  # the earliest epoch on ties, as KeepBest
            best_net, best_acc = net, record["val_accuracy"]
        if epoch + 1 < epochs:  # not after the last: the network returned is the one trained and validated
            net, record["rewired"] = rewire_silent(net, x, jr.fold_in(jr.key(seed + 3000), epoch))
        history.append(record)
    return best_net, net, history


def train_seed(
    folder, seed, *, n_train, n_test, epochs, lr=None, n_val=None, decay_steps=None, progress=True, rewire=False
):
    """Train one seed or load it if `folder` already holds it; returns (net, record).

    The network and its record go into one checkpoint (`seed_N.eqx`, atomic and checksummed);
    `seed_N.json` repeats the record for reading.

    Training data, weights and shuffling come from `seed`; validation (model selection, `n_val`
    samples, default `n_test`) and test sets are fresh draws (seeds `seed + 2000` and `seed + 1000`).
    The record's `test` entry scores the best-validation network on the test set, `test_last` the
    network after the last epoch. `decay_steps`, `rewire`: as `train`'s.
    """
    lr = RECIPE["lr"] if lr is None else lr
    n_val = n_test if n_val is None else n_val
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"seed_{seed}")
    template = yinyang_network(jr.key(seed))
    if os.path.exists(path + ".eqx"):
        net, record = load_network(path + ".eqx", template)
        saved = (record["epochs"], record["n_train"], record.get("lr"), record.get("n_val"), record.get("decay"))
        wanted = (epochs, n_train, lr, n_val, _decay(decay_steps, n_train))
        if saved == wanted and record["n_test"] == n_test and record.get("rewire", False) == rewire:
            return net, record
    x, y = events.yinyang_events(n_train, seed=seed)
    x_val, y_val = events.yinyang_events(n_val, seed=seed + 2000)
    x_test, y_test = events.yinyang_events(n_test, seed=seed + 1000)
    before = evaluate(template, x_test, y_test)
    net, last, history = train(
        template, x, y, x_val, y_val, epochs=epochs, seed=seed, lr=lr, decay_steps=decay_steps, progress=progress,
        rewire=rewire,
    )  # fmt: skip
    best_epoch = 1 + int(np.argmax([h["val_accuracy"] for h in history]))  # epochs trained by the best network
    record = {
        "seed": seed,
        "epochs": epochs,
        "n_train": n_train,
        "n_val": n_val,
        "n_test": n_test,
        "lr": lr,
        "decay": _decay(decay_steps, n_train),
        "rewire": rewire,
        "before": before,
        "history": history,
        "best_epoch": best_epoch,
        "test": evaluate(net, x_test, y_test),
        "test_last": evaluate(last, x_test, y_test),
    }
    save_checkpoint(path + ".eqx", net, record)
    atomic_write_text(path + ".json", json.dumps(record, indent=2))  # the same record, for reading
    return net, record


def _decay(decay_steps, n_train) -> dict:
    """The learning-rate schedule as a record entry."""
    return {
        "factor": RECIPE["decay"],
        "every_steps": n_train // RECIPE["batch"] if decay_steps is None else decay_steps,
    }
