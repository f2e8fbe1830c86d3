"""Training an initially silent theta network with pseudospikes through `snnsad.fit` (Klos & Memmesheimer's MNIST recipe)."""

import json
import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from ..data import SpikeDataset
from ..events import (
    AbstractEventNetwork,
    Pseudospikes,
    SmoothNetwork,
    SyncEvents,
    encode_images,
    flip_members,
    pseudo_ttfs_cross_entropy,
)
from ..train import Callback, EpochInfo, atomic_write_text, fit, project, save_checkpoint
from ._results import load_network

THETA_RECIPE: dict[str, Any] = dict(
    hidden=(100, 100),
    w_scale=0.5,
    t_end=2.0,
    levels=1,
    gamma=1e-2,
    batch=1000,
    lr=4e-3,
    tau_lr=100,
    b1=0.9,
    b2=0.999,
    p_flip=0.02,
    epochs=100,
    max_spikes=(100, 200, 40),
)
"""chklos/spikegd's MNIST configuration: 784-100-100-10 theta neurons (tau = 6 / pi, i0 = 5/4, period 6)
starting at half the period in trials of T = 2, inputs binarised at half intensity (one group firing at
`T log(1 / 0.99)`), weights uniform `+-0.5 / sqrt(fan_in)`, AdaBelief 4e-3 decayed by 1/e every 100
epochs, batch 1000, input flips with p = 0.02, loss gamma 1e-2; weights and initial phases trained."""


def theta_network(n_in: int, key, hidden=None, dtype=jnp.float32) -> SmoothNetwork:
    r = THETA_RECIPE
    hidden = tuple(r["hidden"] if hidden is None else hidden)
    sizes = (n_in, *hidden, 10)
    caps = list(r["max_spikes"][: len(sizes) - 2]) + [r["max_spikes"][-1]]
    caps = [max(c, n) for c, n in zip(caps, sizes[1:])]
    return SmoothNetwork.dense(sizes, key=key, w_scale=r["w_scale"], t_end=r["t_end"], max_spikes=caps, dtype=dtype)


def _batched_outputs(net, x: SyncEvents, pseudo: bool = True):
    return jax.vmap(lambda xi: net(xi, gradient=Pseudospikes(pseudo)))(x)


@eqx.filter_jit
def _evaluate_batch(net, x: SyncEvents, labels):
    out = _batched_outputs(net, x)
    t_end = net.t_end
    loss = jnp.mean(jax.vmap(pseudo_ttfs_cross_entropy)(out, labels))
    correct = jnp.argmin(out.first, axis=1) == labels
    ordinary = jnp.where(out.ordinary, out.first, t_end)  # pseudospikes ignored (silent outputs tie at T)
    correct_ord = (jnp.argmin(ordinary, axis=1) == labels) & jnp.any(out.ordinary, axis=1)
    hidden = jnp.concatenate([c for c in out.counts[:-1]], axis=1)  # (B, n_hidden_total)
    return loss, correct, correct_ord, hidden > 0, out.overflow


def evaluate(net, images, labels, batch: int = 500) -> dict:
    """Loss, accuracy with and without pseudospikes, hidden activity and silent hidden neurons."""
    r = THETA_RECIPE
    x_all = encode_images(images, levels=r["levels"], t_end=net.t_end)
    losses, correct, correct_ord, active, overflow = [], [], [], [], []
    for start in range(0, len(images), batch):
        sl = slice(start, start + batch)
        x = SyncEvents(x_all.times[sl], x_all.members[sl])
        out = _evaluate_batch(net, x, jnp.asarray(labels[sl]))
        for acc, v in zip((losses, correct, correct_ord, active, overflow), out):
            acc.append(np.asarray(v))
    active = np.concatenate(active)
    return {
        "loss": float(np.sum([l_ * len(c) for l_, c in zip(losses, correct)]) / len(images)),
        "accuracy": float(np.concatenate(correct).mean()),
        "accuracy_ordinary": float(np.concatenate(correct_ord).mean()),
        "hidden_active_fraction": float(active.mean()),
        "silent_hidden_neurons": float((~active.any(axis=0)).mean()),
        "overflow": bool(np.concatenate(overflow).any()),
    }


class _Flipped(AbstractEventNetwork):
    """The network with the recipe's input flips drawn from the key: the training model `fit` sees.

    With a key (every training step draws one per example) each input's bin is flipped with
    probability `p_flip` (`flip_members`) before the network runs; the measurements (`evaluate`) run
    on the network itself, without flips."""

    net: SmoothNetwork
    p_flip: float = eqx.field(static=True)

    def __call__(self, x, *, key=None, gradient=None):
        if key is not None:
            x = flip_members(key, x, self.p_flip)
        return self.net(x, gradient=gradient)


class _Measures(Callback):
    """Adds `evaluate` on the test data to each epoch's record."""

    def __init__(self, test_data):
        self.test_data = test_data

    def on_epoch(self, info: EpochInfo) -> None:
        info.record.update(evaluate(info.net.net, *self.test_data))


def train(net, train_data, test_data, *, epochs, batch, lr, seed, pseudospikes=True, progress=True, out_dir=None):
    """`snnsad.fit` with `Pseudospikes(pseudospikes)` (`False`: the plain exact gradient), AdaBelief with exponential decay and the phases clipped into
    range after every step; returns the final network and one record per epoch (`epoch` counts the
    epochs trained: the first record, epoch 0, measures the initial network). With `out_dir` the run
    is checkpointed after every epoch and resumes from there (`fit`'s run folder)."""
    r = THETA_RECIPE
    images, labels = train_data
    x_all = encode_images(images, levels=r["levels"], t_end=net.t_end)
    steps_per_epoch = len(images) // batch
    schedule = optax.exponential_decay(lr, int(r["tau_lr"] * steps_per_epoch), 1 / np.e)
    opt = optax.chain(
        optax.adabelief(schedule, b1=r["b1"], b2=r["b2"]),
        project(lambda p: eqx.tree_at(lambda m: m.net, p, net.clip_phases_of(p.net))),
    )
    gamma = r["gamma"]
    fitted = fit(
        _Flipped(net, r["p_flip"]),
        SpikeDataset(x_all, np.asarray(labels)),
        estimator=Pseudospikes(pseudospikes),
        loss_fn=lambda out, y: pseudo_ttfs_cross_entropy(out, y, gamma=gamma),
        optimizer=opt,
        epochs=epochs,
        batch_size=batch,
        seed=seed,
        progress=progress,
        callbacks=[_Measures(test_data)],
        out_dir=out_dir,
        config={"experiment": "theta", "lr": lr, "pseudospikes": bool(pseudospikes)},
    )
    history: list[dict[str, Any]] = [dict(epoch=0, train_loss=None, **evaluate(net, *test_data))]
    history += [{**h, "epoch": h["epoch"] + 1} for h in fitted.history]
    return fitted.net.net, history


def train_seed(folder, seed, data: dict, *, hidden, epochs, batch, lr, dataset: str, pseudospikes=True, progress=True):
    """Train one seed, or load it when `folder` already holds the same run (checkpoint + JSON record).
    `pseudospikes=False` trains with the plain exact gradient (its files end in `_exact`)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{dataset}_seed_{seed}" + ("" if pseudospikes else "_exact"))
    n_in = int(np.prod(data["train"][0].shape[1:]))
    template = theta_network(n_in, jr.key(seed), hidden)
    settings: dict[str, Any] = {"hidden": list(template.weights[i].shape[0] for i in range(len(template.weights) - 1))}
    settings.update(epochs=epochs, batch=batch, lr=lr, dataset=dataset, n_train=len(data["train"][0]))
    if not pseudospikes:
        settings["pseudospikes"] = False
    if os.path.exists(path + ".eqx"):
        net, record = load_network(path + ".eqx", template)
        if record.get("settings") == settings:
            return net, record
    # the run folder keeps a checkpoint per epoch: an interrupted seed resumes from its last epoch
    net, history = train(template, data["train"], data["test"], epochs=epochs, batch=batch, lr=lr, seed=seed,
                         pseudospikes=pseudospikes, progress=progress, out_dir=path + "-run")  # fmt: skip
    record = {"seed": seed, "settings": settings, "history": history, "final": history[-1]}
    save_checkpoint(path + ".eqx", net, record)
    atomic_write_text(path + ".json", json.dumps(record, indent=2))
    return net, record
