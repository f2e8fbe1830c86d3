"""Train many networks of one structure at once: one vmapped step for every cell of a grid.

`fit_cells` is `snnsad.fit` for a list of networks that differ only in their array values (initial
weights, and hyper-parameters such as a surrogate's steepness): their arrays are stacked on a leading
axis and one jitted step, vmapped over that axis, trains them all (the step is `fit`'s own, vmapped).
Each cell keeps `fit`'s semantics: its own seed gives its batch order (`snnsad.data.batches(n, batch,
seed=seed, epoch=epoch)`), its noise keys and its validation keys, so a cell trained here equals `fit` with that seed up to float
rounding (vmapped products sum in another order). A cell whose loss, gradient or update turns NaN or
infinite is frozen at its state before that step and reported as diverged (its history ends with its
last complete epoch, as `fit`'s does); the others go on. A
checkpoint of all cells is written atomically after every epoch, and a rerun resumes from it.

Where it pays: on an accelerator, one 20-128-10 network at batch 250 leaves the device mostly idle, and
stacking the 27 runs of a robustness grid row (9 steepnesses x 3 seeds) into one step is how the grid's
432 runs fit a device lease. On 2 CPU cores it does not: a step over 9 cells costs about 11 single
steps (measured on the robustness network), so `robustness` trains cells one by one there by default.
"""

import json
import os
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from .._io import write_run
from .._losses import LossFn
from .._trainable import trainable
from ..data._datasets import batches
from ..estimators._base import AbstractEstimator, Batched
from ._callbacks import write_history
from ._checkpoint import load_checkpoint, save_checkpoint
from ._fit import _eval_chunk, _over_data, _step, progress_bar


class CellsResult(NamedTuple):
    """Per cell: the trained network, one record per epoch, and `None` or why it stopped (diverged)."""

    nets: list
    histories: list[list[dict]]
    diverged: list[str | None]


def _stack(trees):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def _cell(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


@eqx.filter_jit(donate="all-except-first")
def _cells_step(inputs, params, opt_state, alive):
    static, batched, loss_fn, optimizer, xs, ys, keys = inputs

    def one(p, state, x, y, key, ok):
        new_net, new_state, value, finite = _step(batched, loss_fn, optimizer, eqx.combine(p, static), state, x, y, key)
        keep = ok & jnp.all(finite)  # a cell that turns non-finite keeps its state before the step
        new_p = eqx.filter(new_net, eqx.is_array)
        pick = lambda new, old: jnp.where(keep, new, old)  # noqa: E731
        return jax.tree.map(pick, new_p, p), jax.tree.map(pick, new_state, state), value, keep

    return jax.vmap(one)(params, opt_state, xs, ys, keys, alive)


def _evaluate(params, static, data, loss_fn, metric_fn, keys, batch_size=256):
    """`snnsad.evaluate` of every cell (cell `c` with key `keys[c]`), vmapped over the cells."""
    one = jax.vmap(
        lambda p, x, y, k: _eval_chunk(loss_fn, metric_fn, eqx.combine(p, static), x, y, k), in_axes=(0, None, None, 0)
    )
    losses, metrics = _over_data(
        data, batch_size, lambda xs, ys, i: one(params, xs, ys, jax.vmap(lambda k: jr.fold_in(k, i))(keys))
    )
    return losses.mean(axis=1), metrics.mean(axis=1)


def fit_cells(
    nets: list,
    train,
    *,
    seeds: list[int],
    estimator: AbstractEstimator,
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    epochs: int,
    batch_size: int,
    val=None,
    metric_fn: LossFn | None = None,
    out_dir: str | None = None,
    progress: bool = True,
    config: dict | None = None,
) -> CellsResult:
    """Train every network of `nets` (one structure) with its seed in `seeds`, all in one vmapped step.

    Arguments as `snnsad.fit`'s; `seeds[c]` is cell `c`'s seed. With `out_dir`, the config, one history
    per cell (`cell_<c>/metrics.json` and `.csv`) and a checkpoint of all cells are written; the run resumes.
    """
    if not nets or len(nets) != len(seeds):
        raise ValueError(f"fit_cells: need one seed per network, got {len(nets)} networks and seeds {seeds!r}.")
    if epochs < 0 or batch_size < 1 or len(train) < batch_size:
        raise ValueError(
            f"fit_cells: need epochs >= 0 and 1 <= batch_size <= {len(train)}, got {epochs}, {batch_size}."
        )
    parts = [eqx.partition(net, eqx.is_array) for net in nets]
    static = parts[0][1]
    shapes = [jax.tree.map(lambda a: (a.shape, a.dtype), p) for p, _ in parts]
    for c, (p, s) in enumerate(parts):
        if jax.tree.structure(p) != jax.tree.structure(parts[0][0]) or s != static or shapes[c] != shapes[0]:
            raise ValueError(f"fit_cells: network {c} differs from network 0 in structure, static fields or shapes; "
                             "only array values may differ between cells.")  # fmt: skip
    params = _stack([p for p, _ in parts])
    opt_state = jax.vmap(lambda p: optimizer.init(eqx.filter(eqx.combine(p, static), trainable(nets[0]))))(params)
    alive = jnp.ones((len(nets),), bool)
    histories: list[list[dict]] = [[] for _ in nets]
    diverged: list[str | None] = [None] * len(nets)
    batched = Batched(estimator)
    run = json.loads(json.dumps({**(config or {}), "seeds": list(seeds), "batch_size": batch_size,
                                 "n_train": len(train)}, default=str))  # fmt: skip
    ckpt = os.path.join(out_dir, "checkpoint.eqx") if out_dir else ""
    start = 0
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        if os.path.exists(ckpt):
            (params, opt_state, alive), meta = load_checkpoint(ckpt, (params, opt_state, alive))
            if meta.get("run") != run:
                raise ValueError(
                    f"fit_cells: {out_dir!r} holds a checkpoint of a different run; choose another out_dir."
                )
            histories, diverged, start = meta["histories"], meta["diverged"], meta["epoch"] + 1
        write_run(out_dir, {**run, "epochs": epochs})
    steps = len(train) // batch_size
    roots = [jr.key(s) for s in seeds]
    for epoch in range(start, epochs):
        orders = [list(batches(len(train), batch_size, seed=s, epoch=epoch)) for s in seeds]
        losses, step_range = [], range(steps)
        if progress:
            step_range = progress_bar(step_range, f"epoch {epoch + 1}/{epochs} ({len(nets)} cells)")
        for i in step_range:
            xs, ys = zip(*(train.batch(order[i]) for order in orders), strict=True)
            keys = jnp.stack([jr.fold_in(r, epoch * steps + i) for r in roots])
            inputs = (static, batched, loss_fn, optimizer, jnp.asarray(np.stack(xs)), jnp.asarray(np.stack(ys)), keys)
            was = np.asarray(alive)
            params, opt_state, value, alive = _cells_step(inputs, params, opt_state, alive)
            for c in np.flatnonzero(was & ~np.asarray(alive)):
                diverged[c] = f"the loss, gradient or update became NaN or infinite at epoch {epoch}, step {i}"
            losses.append(np.asarray(value))
        mean_loss = np.mean(np.stack(losses), axis=0)
        if val is not None:
            val_keys = jnp.stack([jr.fold_in(jr.key(s + 1), epoch) for s in seeds])
            val_loss, val_metric = _evaluate(params, static, val, loss_fn, metric_fn, val_keys)
        for c in np.flatnonzero([d is None for d in diverged]):  # a diverged cell's history ends before it
            record: dict[str, Any] = {"epoch": epoch, "train_loss": float(mean_loss[c])}
            if val is not None:
                record["val_loss"] = float(val_loss[c])
                if metric_fn is not None:
                    record["val_metric"] = float(val_metric[c])
            histories[c].append(record)
        if out_dir:
            save_checkpoint(ckpt, (params, opt_state, alive),
                            {"epoch": epoch, "histories": histories, "diverged": diverged, "run": run})  # fmt: skip
            for c, history in enumerate(histories):
                os.makedirs(os.path.join(out_dir, f"cell_{c}"), exist_ok=True)
                write_history(os.path.join(out_dir, f"cell_{c}"), history)
    trained = [eqx.combine(_cell(params, c), static) for c in range(len(nets))]
    return CellsResult(trained, histories, diverged)
