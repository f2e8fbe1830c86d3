"""Training: SMORMS3, a jitted training step for any estimator, evaluation, checkpoints and resume."""

import csv
import io
import json
import os
import struct
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from ._data import batches
from ._estimators import AbstractEstimator, Batched
from ._io import atomic_write_bytes, atomic_write_text, run_info
from ._nn import Network
from ._parallel import replicate, shard

# ----------------------------------------------------------------------------- SMORMS3


class SMORMS3State(NamedTuple):
    mem: Any
    g: Any
    g2: Any


def smorms3(learning_rate: float | optax.Schedule = 1e-3, eps: float = 1e-16) -> optax.GradientTransformation:
    r"""SMORMS3 (Simon Funk, 2015), the optimiser of the paper's experiments.

    Per parameter, with memory ``mem`` (initially 1) and running moments ``g``, ``g2``:

        r = 1 / (mem + 1);  g = (1 - r) g + r grad;  g2 = (1 - r) g2 + r grad^2
        x = g^2 / (g2 + eps);  update = -grad * min(lr, x) / (sqrt(g2) + eps);  mem = 1 + mem (1 - x)

    ``learning_rate`` may be a float, an array or an optax schedule of the step count.
    """

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return (SMORMS3State(jax.tree.map(jnp.ones_like, params), zeros, zeros), jnp.zeros((), jnp.int32))

    def update(grads, state, params=None):
        del params
        (st, count) = state
        lr = learning_rate(count) if callable(learning_rate) else learning_rate

        def leaf(grad, mem, g, g2):
            r = 1 / (mem + 1)
            g = (1 - r) * g + r * grad
            g2 = (1 - r) * g2 + r * jnp.square(grad)
            x = jnp.square(g) / (g2 + eps)
            upd = -grad * jnp.minimum(jnp.asarray(lr, grad.dtype), x) / (jnp.sqrt(g2) + eps)
            return upd, 1 + mem * (1 - x), g, g2

        out = jax.tree.map(leaf, grads, st.mem, st.g, st.g2)
        updates, mem, g, g2 = jax.tree.transpose(jax.tree.structure(grads), jax.tree.structure((0, 0, 0, 0)), out)
        return updates, (SMORMS3State(mem, g, g2), count + 1)

    return optax.GradientTransformation(init, update)


# ----------------------------------------------------------------------------- checkpoints

_MAGIC = b"SNNSADCK"


def save_checkpoint(path: str, tree, meta: dict) -> None:
    """Write ``tree`` (arrays) and ``meta`` (JSON) to one file, atomically."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    header = json.dumps(meta).encode()
    atomic_write_bytes(path, _MAGIC + struct.pack("<Q", len(header)) + header + buf.getvalue())


def load_checkpoint(path: str, like) -> tuple[Any, dict]:
    """Read a checkpoint written by :func:`save_checkpoint`; ``like`` gives the structure."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8:
        raise ValueError(f"load_checkpoint: {path!r} is not an snnsad checkpoint.")
    (n,) = struct.unpack("<Q", data[len(_MAGIC) : len(_MAGIC) + 8])
    start = len(_MAGIC) + 8
    meta = json.loads(data[start : start + n].decode())
    tree = eqx.tree_deserialise_leaves(io.BytesIO(data[start + n :]), like)
    return tree, meta


# ----------------------------------------------------------------------------- training loop


@eqx.filter_jit
def _eval_chunk(loss_fn, metric_fn, net, xs, ys, key):
    keys = jr.split(key, xs.shape[0])

    def one(x, y, k):
        trace = net(x, key=k)
        m = metric_fn(trace.output, y) if metric_fn is not None else jnp.zeros(())
        return loss_fn(trace, y), m

    return jax.vmap(one)(xs, ys, keys)


@eqx.filter_jit(donate="all-except-first")
def _train_step(step_inputs, net, opt_state):
    # Module-level, so repeated fit() calls with the same estimator, loss and optimiser reuse the
    # compile. The network and optimiser state are donated: XLA updates their buffers in place
    # (on accelerators this halves their memory); everything else comes in the first argument.
    batched, loss_fn, optimizer, xs, ys, key = step_inputs
    value, grads = batched(loss_fn, net, xs, ys, key)
    updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(net, eqx.is_array))
    return eqx.apply_updates(net, updates), opt_state, value


def evaluate(net: Network, data, loss_fn: Callable, metric_fn: Callable | None, *, key, batch_size: int = 256) -> dict:
    """Mean loss (and metric, e.g. accuracy) over a data set, one stochastic forward pass per example."""
    losses, metrics = [], []
    for i, idx in enumerate(batches(len(data), batch_size, seed=0, shuffle=False, drop_last=False)):
        xs, ys = data.batch(idx)
        loss, metric = _eval_chunk(loss_fn, metric_fn, net, jnp.asarray(xs), jnp.asarray(ys), jr.fold_in(key, i))
        losses.append(np.asarray(loss))
        metrics.append(np.asarray(metric))
    out = {"loss": float(np.concatenate(losses).mean())}
    if metric_fn is not None:
        out["metric"] = float(np.concatenate(metrics).mean())
    return out


def progress_bar(iterable, desc: str, total: int | None = None):
    """``iterable`` with a transient tqdm bar, or unchanged when tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm comes with the [data] extra
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False)


class FitResult(NamedTuple):
    net: Network
    history: list[dict]


def fit(
    net: Network,
    train,
    *,
    estimator: AbstractEstimator,
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    val=None,
    test=None,
    metric_fn: Callable | None = None,
    out_dir: str | None = None,
    resume: bool = True,
    progress: bool = True,
    config: dict | None = None,
    mesh=None,
) -> FitResult:
    """Train ``net`` with any estimator; one jitted step (estimate, update) per batch.

    ``train``/``val``/``test`` are data sets with ``len()`` and ``batch(indices) -> (xs, ys)``
    (:class:`~snnsad.data.SpikeDataset`, :class:`~snnsad.data.SHD`). Batches and noise keys are pure
    functions of ``(seed, epoch, step)``, so a run resumed from its checkpoint in ``out_dir``
    (written atomically after every epoch) equals the uninterrupted run bit for bit on CPU. With
    ``out_dir`` the config, a metrics history (JSON and CSV) and ``checkpoint.eqx`` are written.
    With a ``mesh`` (:func:`snnsad.device_mesh`) every batch is split across its devices (data
    parallel; ``batch_size`` must be a multiple of the device count) and the state is replicated.
    """
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"fit: need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}.")
    if len(train) < batch_size:
        raise ValueError(f"fit: the training set has {len(train)} examples, fewer than batch_size={batch_size}.")
    batched = Batched(estimator)
    params = eqx.filter(net, eqx.is_array)
    opt_state = optimizer.init(params)
    history, start_epoch = [], 0
    ckpt = os.path.join(out_dir, "checkpoint.eqx") if out_dir else None
    # What must match for a checkpoint to be resumed (more epochs may be asked for).
    run = json.loads(
        json.dumps({**(config or {}), "seed": seed, "batch_size": batch_size, "n_train": len(train)}, default=str)
    )
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        for name in os.listdir(out_dir):  # temporary files of a write that was killed
            if name.startswith(".tmp-"):
                os.unlink(os.path.join(out_dir, name))
        if resume and os.path.exists(ckpt):
            (net, opt_state), meta = load_checkpoint(ckpt, (net, opt_state))
            stored = meta.get("run")
            if stored is not None and stored != run:
                changed = sorted(k for k in set(stored) | set(run) if stored.get(k) != run.get(k))
                raise ValueError(
                    f"fit: {out_dir!r} holds a checkpoint of a different run (changed: {changed}); "
                    "resume=False (--restart) starts over, or choose another out_dir."
                )
            history, start_epoch = meta["history"], meta["epoch"] + 1
        atomic_write_text(
            os.path.join(out_dir, "config.json"),
            json.dumps(
                {**(config or {}), "seed": seed, "epochs": epochs, "batch_size": batch_size, **run_info()},
                indent=2,
                default=str,
            ),
        )

    # The train step donates the buffers of the network and optimiser state: it gets its own copies
    # (distinct even where the caller's tree shares one array), so the caller's `net` stays valid.
    net, opt_state = jax.tree.map(lambda a: jnp.array(a, copy=True) if eqx.is_array(a) else a, (net, opt_state))
    if mesh is not None:
        net, opt_state = replicate((net, opt_state), mesh)
    root = jr.key(seed)
    steps_per_epoch = len(train) // batch_size
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        idx_iter = batches(len(train), batch_size, seed=seed, epoch=epoch)
        if progress:  # without tqdm (the [data] extra): one line per epoch
            idx_iter = progress_bar(idx_iter, f"epoch {epoch + 1}/{epochs}", total=steps_per_epoch)
        losses = []
        for i, idx in enumerate(idx_iter):
            xs, ys = train.batch(idx)
            xs, ys = jnp.asarray(xs), jnp.asarray(ys)
            if mesh is not None:
                xs, ys = shard((xs, ys), mesh)
            key = jr.fold_in(root, epoch * steps_per_epoch + i)
            net, opt_state, value = _train_step((batched, loss_fn, optimizer, xs, ys, key), net, opt_state)
            losses.append(value)
        record = {"epoch": epoch, "train_loss": float(np.mean(np.asarray(jnp.stack(losses))))}
        for name, data in (("val", val), ("test", test)):
            if data is not None:
                ev = evaluate(net, data, loss_fn, metric_fn, key=jr.fold_in(jr.key(seed + 1), epoch))
                record[f"{name}_loss"] = ev["loss"]
                if "metric" in ev:
                    record[f"{name}_metric"] = ev["metric"]
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        if progress:
            print(
                " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True
            )
        if out_dir:
            save_checkpoint(ckpt, (net, opt_state), {"epoch": epoch, "history": history, "run": run})
            _write_history(out_dir, history)
    return FitResult(net, history)


def _write_history(out_dir: str, history: list[dict]) -> None:
    atomic_write_text(os.path.join(out_dir, "metrics.json"), json.dumps(history, indent=2))
    keys = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(os.path.join(out_dir, "metrics.csv"), buf.getvalue())
