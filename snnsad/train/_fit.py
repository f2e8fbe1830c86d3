"""Training: a jitted step for any estimator, evaluation, and `fit` with checkpoints and resume."""

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import PRNGKeyArray

from .._io import earlier_commits, run_info, write_run
from .._parallel import replicate, shard
from .._timing import CompileMeter
from .._trainable import trainable
from ..data._datasets import SpikeDataset, batches
from ..estimators._base import AbstractEstimator, Batched
from ..events._network import EventTrain
from ._callbacks import Callback, Checkpointing, EpochInfo, ProgressPrinter, StartInfo, StepInfo
from ._progress import progress_bar

OutputLoss = Callable[[Any, Any], Any]
"""`(output, y) -> scalar` for one example, where `output` is what the model returns (a `Trace`, an
`EventOutput`, ...): the losses and metrics `fit` and `evaluate` take."""


@eqx.filter_jit
def _eval_chunk(loss_fn, metric_fn, net, xs, ys, key):
    keys = jr.split(key, jax.tree.leaves(ys)[0].shape[0])

    def one(x, y, k):
        trace = net(x, key=k)
        m = metric_fn(trace, y) if metric_fn is not None else jnp.zeros(())
        return loss_fn(trace, y), m

    return jax.vmap(one)(xs, ys, keys)


def _step(batched: Batched, loss_fn, optimizer, net, opt_state, xs, ys, key):
    """One training step, the one `fit` and `fit_cells` share: estimate, update, finiteness flags.

    Returns the updated network and optimiser state, the batch's loss and the flags `[loss, gradient,
    update]` (each `True` when finite)."""
    value, grads = batched(loss_fn, net, xs, ys, key)
    updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(net, trainable(net)))
    finite = jnp.stack([jnp.isfinite(value), _all_finite(grads), _all_finite(updates)])
    return eqx.apply_updates(net, updates), opt_state, value, finite


@eqx.filter_jit(donate="all-except-first")
def _train_step(step_inputs, net, opt_state):
    # Module-level, so repeated fit() calls with the same estimator, loss and optimiser reuse the
    # compile. The network and optimiser state are donated: XLA updates their buffers in place
    # (on accelerators this halves their memory); everything else comes in the first argument.
    batched, loss_fn, optimizer, xs, ys, key = step_inputs
    return _step(batched, loss_fn, optimizer, net, opt_state, xs, ys, key)


_QUANTITIES = ("loss", "gradient", "parameter update")


def _copy(tree):
    return jax.tree.map(lambda a: jnp.array(a, copy=True) if eqx.is_array(a) else a, tree)


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree) if eqx.is_inexact_array(leaf)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _check_inputs(xs, epoch: int, index: int, examples, axis: int) -> None:
    """Raise `ValueError` naming the examples of a batch whose inputs hold NaN or inf (checked on the host).

    Event trains (`snnsad.events.EventTrain`) mark their unused slots with `+inf` times: there only NaN
    and `-inf` are refused (the network itself checks that times are ascending and non-negative).
    """
    padded = isinstance(xs, EventTrain)
    bad = np.zeros(len(np.asarray(examples)), bool)
    for a in map(np.asarray, jax.tree.leaves(xs)):
        if np.issubdtype(a.dtype, np.inexact):
            a = np.moveaxis(a, axis, 0) if a.ndim > axis else a
            a = a.reshape(a.shape[0], -1)
            bad |= (np.isnan(a) | np.isneginf(a)).any(axis=1) if padded else ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise ValueError(
            f"fit: the inputs of examples {np.asarray(examples)[bad][:5].tolist()} (epoch {epoch}, step {index}) "
            "hold NaN or infinite values; clean the data set (snnsad never trains on them)."
        )


def _check_finite(finite: jax.Array, epoch: int, index: int, out_dir: str | None) -> None:
    """Raise `FloatingPointError` if a step's finiteness flags (loss, gradient, update) show a NaN or inf."""
    flags = np.asarray(finite)
    if flags.all():
        return
    quantity = _QUANTITIES[int(np.argmin(flags))]
    kept = f"the last good checkpoint in {out_dir!r} is kept" if out_dir else "nothing was saved"
    raise FloatingPointError(
        f"fit: the {quantity} became NaN or infinite at epoch {epoch}, step {index}; training stopped and {kept}. "
        "Check the data for NaN/inf values, the loss for log(0), or lower the learning rate."
    )


def evaluate(
    net, data, loss_fn: OutputLoss, metric_fn: OutputLoss | None, *, key: PRNGKeyArray, batch_size: int = 256
) -> dict:
    """Mean loss (and metric, e.g. accuracy) over a data set, one stochastic forward pass per example.

    `loss_fn` and `metric_fn` both take `(output, y)`, `output` being what `net(x, key=key)` returns (a
    `Trace`: lift output metrics with `snnsad.losses.on_output`; an event network's output); `data` is a
    data set with `len()` and `batch(indices)`, its inputs any pytree.
    """
    losses, metrics = _over_data(
        data, batch_size, lambda xs, ys, i: _eval_chunk(loss_fn, metric_fn, net, xs, ys, jr.fold_in(key, i))
    )
    out = {"loss": float(losses.mean())}
    if metric_fn is not None:
        out["metric"] = float(metrics.mean())
    return out


def _over_data(data, batch_size: int, chunk) -> tuple[np.ndarray, np.ndarray]:
    """`chunk(xs, ys, i) -> (losses, metrics)` over every example of `data` in order, in chunks of `batch_size`.

    The per-example arrays of all chunks are concatenated along their last axis (the examples');
    `evaluate` and `snnsad.train.fit_cells` (one row per cell) share this loop.
    """
    losses, metrics = [], []
    for i, idx in enumerate(batches(len(data), batch_size, seed=0, shuffle=False, drop_last=False)):
        xs, ys = jax.tree.map(jnp.asarray, data.batch(idx))
        loss, metric = chunk(xs, ys, i)
        losses.append(np.asarray(loss))
        metrics.append(np.asarray(metric))
    return np.concatenate(losses, axis=-1), np.concatenate(metrics, axis=-1)


def freeze(optimizer: optax.GradientTransformation, *names: str) -> optax.GradientTransformation:
    """`optimizer` for every trained parameter except those named `names`, which stay as they are.

    A parameter is named by the last field of its path (`"threshold"`, `"weight"`,
    `"recurrent_weight"`, ...). The reference implementations of the paper train weights only;
    snnsad trains thresholds too, so the paper's setups use `freeze(opt, "threshold")`:

    ```python
    opt = snnsad.train.freeze(snnsad.train.smorms3(5e-3), "threshold")
    fitted = snnsad.fit(net, data, optimizer=opt, ...)
    ```
    """
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"freeze: name the parameters to keep fixed, e.g. freeze(opt, 'threshold'); got {names!r}.")

    def labels(params):
        def label(path, _leaf):
            named = bool(path) and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name in names
            return "frozen" if named else "trained"

        return jax.tree_util.tree_map_with_path(label, params)

    return optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()}, labels)


def project(projection: Callable[[Any], Any]) -> optax.GradientTransformation:
    """An optax transformation that keeps the parameters in a set: chain it after an optimiser.

    The update becomes `projection(params + update) - params`, so after `apply_updates` the
    parameters are `projection(params + update)` (to rounding): e.g. a `SmoothNetwork`'s initial
    phases clipped into range after every step,

    ```python
    opt = optax.chain(optax.adabelief(4e-3), snnsad.train.project(net.clip_phases_of))
    ```

    `projection` receives what `fit` gives its optimiser: the trained parameters, shaped like the
    network with `None` at every leaf that is not trained (`eqx.filter(net, snnsad.nn.trainable(net))`).
    """
    if not callable(projection):
        raise TypeError(f"project: `projection` must be a callable params -> params, got {projection!r}.")

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("project: the optimiser needs the parameters (`optimizer.update(grads, state, params)`).")
        projected = projection(eqx.apply_updates(params, updates))
        return jax.tree.map(lambda new, old: new - old, projected, params), state

    return optax.GradientTransformation(init, update)


class FitResult(NamedTuple):
    """The trained network, one record per epoch, and the optimiser state (pass it back to continue)."""

    net: Any
    history: list[dict]
    opt_state: optax.OptState


@contextlib.contextmanager
def _in_context(where: Callable[[], str]):
    """Re-raise a check that failed inside compiled code (`eqx.error_if`, e.g. a label out of range) as a
    `ValueError` whose first line is its message and says where in the run it happened (`where()`, formatted
    only then: nothing is added to a step that succeeds)."""
    try:
        yield
    except eqx.EquinoxRuntimeError as err:
        lines = [ln for ln in str(err).splitlines() if ln.startswith("equinox.EquinoxRuntimeError: ")]
        message = lines[0].removeprefix("equinox.EquinoxRuntimeError: ") if lines else str(err)
        raise ValueError(f"fit: {message} (in the {where()})") from err


def _show(idx) -> str:
    idx = np.asarray(idx).tolist()
    return str(idx) if len(idx) <= 8 else "[" + ", ".join(map(str, idx[:8])) + f", ... ({len(idx)} in all)]"


def fit(
    net,
    train,
    *,
    estimator: AbstractEstimator | Batched,
    loss_fn: OutputLoss,
    optimizer: optax.GradientTransformation,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    val=None,
    test=None,
    metric_fn: OutputLoss | None = None,
    out_dir: str | None = None,
    resume: bool | Literal["as_saved"] = True,
    progress: bool = True,
    config: dict | None = None,
    mesh=None,
    opt_state: optax.OptState | None = None,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train `net` with any estimator; one jitted step (estimate, update) per batch.

    **Arguments:**

    - `net`: any model the estimator takes: an `snnsad.nn.AbstractNetwork`, a callable model for
      `Autodiff`, an event network (`snnsad.events.AbstractEventNetwork`) for an event gradient.
    - `train`, `val`, `test`: data sets with `len()` and `batch(indices) -> (xs, ys)`
      (`snnsad.data.SpikeDataset`, `snnsad.data.SHD`); `xs` may be any pytree with the examples on
      its leading axis (rasters, or `snnsad.events.EventTrain`s).
    - `estimator`: an estimator or a `snnsad.Batched` of one (to choose its `batch_axis`).
    - `loss_fn`, `metric_fn`: `(output, y) -> scalar` per example (`output` is what `net` returns:
      a `Trace`, an `EventOutput`, ...).
    - `optimizer`: an optax transformation; it updates exactly `snnsad.nn.trainable` of `net` (never
      time constants or escape parameters).
    - `epochs`, `batch_size`, `seed`: the run (batches and noise keys are functions of them).
    - `out_dir`, `resume`, `config`: where to write the run and resume it from (below).
    - `progress`: a progress bar per epoch (tqdm on a terminal) and one line per epoch.
    - `mesh`: an `snnsad.device_mesh` for data-parallel steps.
    - `opt_state`: continue from an earlier `fit` (its `FitResult.opt_state`; default
      `optimizer.init`), so training in stages keeps the optimiser's moments.
    - `callbacks`: `snnsad.train.Callback`s (below).

    **Returns:**

    A `FitResult`: the trained network, one record per epoch and the optimiser state. A record holds
    `epoch`, `train_loss`, `val_loss`/`val_metric` and `test_...` where those sets are given, `seconds`
    (the epoch's wall time) and `compile_seconds` (the part of it JAX spent tracing and compiling:
    most of the first epoch on a cold cache, about 0 after it).

    Batches and noise keys are pure
    functions of `(seed, epoch, step)`, so a run resumed from its checkpoint in `out_dir`
    (written atomically after every epoch) equals the uninterrupted run bit for bit on CPU. A
    checkpoint is resumed only with the same run settings, a network of the same size and the same
    hyper-parameters (time constants, escape steepness: any array not trained); `resume="as_saved"`
    continues with the checkpoint's hyper-parameters instead of refusing, `resume=False` starts over. With
    `out_dir` the config, a metrics history (JSON and CSV) and `checkpoint.eqx` are written.
    A NaN or infinite loss, gradient or update stops training with a `FloatingPointError` naming
    the epoch and step; the checkpoint of the last good epoch stays on disk.
    With a `mesh` (`snnsad.device_mesh`) every batch is split across its devices (data
    parallel; `batch_size` must be a multiple of the device count) and the state is replicated.
    `callbacks` (`snnsad.train.Callback`) see the start, every step and every epoch's record (to
    which they may add entries); one returning `True` from `on_epoch` stops training after that
    epoch (`EarlyStopping`, `KeepBest`, `BestCheckpoint`, `MetricsLogger` are built in). Resume and
    the per-epoch line are callbacks too (`Checkpointing`, `ProgressPrinter`), installed by `out_dir`
    and `progress`; they run around yours (restore before, write after).
    """
    callbacks = tuple(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: every callback must be a snnsad.train.Callback, got {cb!r}.")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"fit: need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}.")
    for name, split in (("train", train), ("val", val), ("test", test)):
        if isinstance(split, SpikeDataset):
            split.check(f"fit: `{name}`")
    if len(train) < batch_size:
        raise ValueError(f"fit: the training set has {len(train)} examples, fewer than batch_size={batch_size}.")
    batched = estimator if isinstance(estimator, Batched) else Batched(estimator)
    if opt_state is None:
        opt_state = optimizer.init(eqx.filter(net, trainable(net)))
    # fit's own callbacks wrap the user's: they restore before the user's on_start and write the
    # epoch's record after the user's on_epoch has added to it.
    outer: list[Callback] = []
    if out_dir:
        # What must match for a checkpoint to be resumed; `epochs` is left out: a finished run can
        # be extended by asking for more.
        settings = {k: v for k, v in (config or {}).items() if k != "epochs"}
        run = json.loads(
            json.dumps({**settings, "seed": seed, "batch_size": batch_size, "n_train": len(train)}, default=str)
        )
        outer.append(Checkpointing(out_dir, run, resume=resume))
    if progress:
        outer.append(ProgressPrinter())
    start = StartInfo(net, opt_state, [], 0)
    for cb in (*outer, *callbacks):
        start = cb.on_start(start) or start
    net, opt_state, history, start_epoch = start.net, start.opt_state, list(start.history), start.epoch
    # a finished run that is only loaded keeps its record (the commit that trained it, its epochs); one that
    # trains keeps the commits that trained its earlier epochs beside the current one
    if out_dir and not (history and start_epoch >= epochs and os.path.exists(os.path.join(out_dir, "config.json"))):
        record = {**(config or {}), "seed": seed, "epochs": epochs, "batch_size": batch_size}
        earlier = earlier_commits(out_dir) if history else []
        if earlier:
            earlier = [c for c in earlier if c != run_info()["commit"]]
        write_run(out_dir, {**record, "earlier_commits": earlier} if earlier else record)
    on_epoch = (*callbacks, *outer)

    # The train step donates the buffers of the network and optimiser state: it gets its own copies
    # (distinct even where the caller's tree shares one array), so the caller's `net` stays valid.
    net, opt_state = _copy((net, opt_state))
    if mesh is not None:
        net, opt_state = replicate((net, opt_state), mesh)
    root = jr.key(seed)
    steps_per_epoch = len(train) // batch_size
    with CompileMeter() as compiling:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            compiling.seconds()  # what compiled between epochs (callbacks) is not this epoch's
            idx_iter = batches(len(train), batch_size, seed=seed, epoch=epoch)
            if progress:  # without tqdm (the [data] extra): one line per epoch
                idx_iter = progress_bar(idx_iter, f"epoch {epoch + 1}/{epochs}", total=steps_per_epoch)
            losses = []
            for i, idx in enumerate(idx_iter):
                xs, ys = train.batch(idx)
                _check_inputs(xs, epoch, i, idx, batched.batch_axis)
                xs, ys = jax.tree.map(jnp.asarray, (xs, ys))
                if mesh is not None:
                    xs, ys = shard((xs, ys), mesh)
                key = jr.fold_in(root, epoch * steps_per_epoch + i)
                with _in_context(lambda: f"training step {i} of epoch {epoch} (examples {_show(idx)})"):
                    net, opt_state, value, finite = _train_step(
                        (batched, loss_fn, optimizer, xs, ys, key), net, opt_state
                    )
                    _check_finite(finite, epoch, i, out_dir)  # before the next step runs on a non-finite network
                losses.append(value)
                for cb in callbacks:
                    cb.on_step(StepInfo(epoch, i, value, net, opt_state))
            record = {"epoch": epoch, "train_loss": float(np.mean(np.asarray(jnp.stack(losses))))}
            for name, data in (("val", val), ("test", test)):
                if data is not None:
                    with _in_context(lambda: f"evaluation of `{name}` after epoch {epoch}"):
                        ev = evaluate(net, data, loss_fn, metric_fn, key=jr.fold_in(jr.key(seed + 1), epoch))
                    record[f"{name}_loss"] = ev["loss"]
                    if "metric" in ev:
                        record[f"{name}_metric"] = ev["metric"]
            record["seconds"] = time.perf_counter() - t0
            record["compile_seconds"] = compiling.seconds()  # within `seconds`: tracing and compiling
            history.append(record)
            # the user's callbacks get copies (the next step donates, i.e. reuses, the buffers of `net` and
            # `opt_state`); fit's own use them before that step and keep no reference
            info = EpochInfo(epoch, record, history, *(_copy((net, opt_state)) if callbacks else (net, opt_state)))
            stop = [bool(cb.on_epoch(info)) for cb in on_epoch]
            if any(stop):
                if progress:
                    print(f"stopped after epoch {epoch} by a callback", flush=True)
                break
    return FitResult(net, history, cast(optax.OptState, opt_state))
