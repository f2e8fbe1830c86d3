"""Callbacks for `snnsad.fit`: a small protocol, and the run's checkpoint/resume, progress, logging,
early stopping and best-model keeping built on it.

`fit(..., callbacks=[...])` calls, for every callback, `on_start(StartInfo)` once before the first
step (a callback may return a new `StartInfo`: restored state, a later first epoch),
`on_step(StepInfo)` after each training step and `on_epoch(EpochInfo)` after each epoch's record
(training loss, validation and test metrics, seconds) is complete; a callback may add entries to
that record. `on_epoch` returning `True` stops training after that epoch. `fit`'s own callbacks
(`Checkpointing` for `out_dir`, `ProgressPrinter` for `progress`) wrap yours: they restore state
before your `on_start` and write the record after your `on_epoch` has added to it. Subclass
`Callback` and override any method:

```python
class PrintNorm(snnsad.train.Callback):
    def on_epoch(self, info):
        print(info.epoch, optax.global_norm(eqx.filter(info.net, eqx.is_inexact_array)))

snnsad.fit(..., callbacks=[snnsad.train.EarlyStopping("val_metric", mode="max", patience=5), PrintNorm()])
```
"""

import json
import math
import os
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import numpy as np

from .._checks import check_choice
from .._io import atomic_write_text
from .._trainable import trainable
from ._checkpoint import checkpoint_meta, load_checkpoint, save_checkpoint
from ._progress import epoch_bar


class StartInfo(NamedTuple):
    """What `on_start` sees and may replace: the network and optimiser state training starts from,
    the history of the epochs already run, and the first epoch to run (0 unless resumed)."""

    net: Any
    opt_state: Any
    history: list
    epoch: int


class StepInfo(NamedTuple):
    """What `on_step` sees: epoch and step indices, the step's loss (a JAX scalar: converting it to a
    float waits for the step), the network and the optimiser state after the update. `net` and
    `opt_state` are valid during the call only (the next step reuses their buffers): copy what you
    keep, e.g. `jax.tree.map(jnp.copy, eqx.filter(info.net, eqx.is_array))`."""

    epoch: int
    step: int
    loss: Any
    net: Any
    opt_state: Any


class EpochInfo(NamedTuple):
    """What `on_epoch` sees: the epoch, its record (`train_loss`, `val_loss`, `val_metric`, ...; a
    callback may add entries, which the later callbacks, the history and `metrics.json` then hold),
    the whole history so far, and copies of the network and the optimiser state at the end of the
    epoch (safe to keep)."""

    epoch: int
    record: dict
    history: list
    net: Any
    opt_state: Any


class Callback:
    """Base class: override `on_start`, `on_step` and/or `on_epoch` (all do nothing by default)."""

    def on_start(self, info: StartInfo) -> StartInfo | None:
        """Once before training; return a `StartInfo` to replace the state training starts from."""
        return None

    def on_step(self, info: StepInfo) -> None:
        """After every training step."""

    def on_epoch(self, info: EpochInfo) -> bool | None:
        """After every epoch; return `True` to stop training."""
        return None


def _check_monitor(where: str, monitor: str, mode: str) -> None:
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"{where}: `monitor` must name a record entry such as 'val_metric', got {monitor!r}.")
    check_choice("mode", mode, ("min", "max"), where=where)


def _improves(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether `value` beats `best` (`None`: nothing yet) by more than `min_delta` in direction `mode`."""
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _value(where: str, record: dict, monitor: str) -> float:
    if monitor not in record:
        raise KeyError(
            f"{where}: the epoch record has no {monitor!r} (it has {sorted(record)}); pass `val` (and "
            "`metric_fn`) to fit for 'val_loss'/'val_metric', or monitor 'train_loss'."
        )
    return float(record[monitor])


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    `mode="min"` for losses, `"max"` for accuracies. `best` and `best_epoch` hold the best value seen.
    """

    def __init__(self, monitor: str = "val_loss", *, mode: str = "min", patience: int = 5, min_delta: float = 0.0):
        _check_monitor("EarlyStopping", monitor, mode)
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: `patience` must be an int >= 1, got {patience!r}.")
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"EarlyStopping: `min_delta` must be finite and >= 0, got {min_delta!r}.")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.best, self.best_epoch, self.stopped_epoch = None, None, None

    def on_epoch(self, info: EpochInfo) -> bool:
        value = _value("EarlyStopping", info.record, self.monitor)
        if _improves(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch = value, info.epoch
        if self.best_epoch is not None and info.epoch - self.best_epoch >= self.patience:
            self.stopped_epoch = info.epoch
            return True
        return False


class BestCheckpoint(Callback):
    """Write `(net, opt_state)` to `path` (atomically, with `snnsad.train.save_checkpoint`) whenever
    `monitor` improves; the header records the epoch and the record. Load it with
    `snnsad.train.load_checkpoint(path, (net, opt_state))`."""

    def __init__(self, path: str, monitor: str = "val_metric", *, mode: str = "max"):
        _check_monitor("BestCheckpoint", monitor, mode)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"BestCheckpoint: the folder of {path!r} does not exist; create it first.")
        self.path, self.monitor, self.mode = path, monitor, mode
        self.best, self.best_epoch = None, None

    def on_epoch(self, info: EpochInfo) -> None:
        value = _value("BestCheckpoint", info.record, self.monitor)
        if _improves(value, self.best, self.mode):
            self.best, self.best_epoch = value, info.epoch
            save_checkpoint(self.path, (info.net, info.opt_state), {"epoch": info.epoch, "record": info.record})


class MetricsLogger(Callback):
    """Write the history to `folder/metrics.json` and `folder/metrics.csv` after every epoch (atomically).

    `fit(out_dir=...)` does this already; the logger is for runs without `out_dir` or a second copy.
    """

    def __init__(self, folder: str):
        os.makedirs(folder, exist_ok=True)
        self.folder = folder

    def on_epoch(self, info: EpochInfo) -> None:
        write_history(self.folder, info.history)


def write_history(folder: str, history: list[dict]) -> None:
    """`metrics.json` and `metrics.csv` (one row per epoch, the union of the records' keys) in `folder`."""
    import csv
    import io

    atomic_write_text(os.path.join(folder, "metrics.json"), json.dumps(history, indent=2))
    keys = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(os.path.join(folder, "metrics.csv"), buf.getvalue())


class KeepBest(Callback):
    """Keep (in memory) a copy of the network of the epoch where `monitor` was best; the earliest on ties.

    `net` is that network (`None` before the first epoch), `best` its value and `best_epoch` its epoch.
    The in-memory twin of `BestCheckpoint`, for runs whose result is the best-validation model.
    """

    def __init__(self, monitor: str = "val_metric", *, mode: str = "max"):
        _check_monitor("KeepBest", monitor, mode)
        self.monitor, self.mode = monitor, mode
        self.net, self.best, self.best_epoch = None, None, None

    def on_epoch(self, info: EpochInfo) -> None:
        value = _value("KeepBest", info.record, self.monitor)
        if _improves(value, self.best, self.mode):
            self.net, self.best, self.best_epoch = info.net, value, info.epoch


class Checkpointing(Callback):
    """Resume a run from `folder/checkpoint.eqx` and write it after every epoch (what `fit(out_dir=...)` installs).

    `on_start` restores `(net, opt_state)`, the history and the next epoch when `resume` and a
    checkpoint exist, after checking that the checkpoint belongs to the same run (`run`: the settings
    that must match, a JSON-able dict; `epochs` may differ, so a finished run can be extended), that
    its arrays fit the network given, and that the network's hyper-parameters (every array not trained:
    time constants, escape steepness, ...) equal the checkpoint's; `resume="as_saved"` skips the last
    check and continues with the checkpoint's values.
    `on_epoch` writes the checkpoint (atomically, checksummed) and `metrics.json`/`metrics.csv`.
    Temporary files of a write that was killed are removed when it starts.
    """

    def __init__(self, folder: str, run: dict, *, resume: bool | Literal["as_saved"] = True):
        self.folder, self.run, self.resume = folder, run, resume
        self.path = os.path.join(folder, "checkpoint.eqx")

    def on_start(self, info: StartInfo) -> StartInfo | None:
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise ValueError(f"fit: `out_dir` {self.folder!r} is a file, not a folder; choose a folder for the run.")
        os.makedirs(self.folder, exist_ok=True)
        for name in os.listdir(self.folder):  # temporary files of a write that was killed
            if name.startswith(".tmp-"):
                os.unlink(os.path.join(self.folder, name))
        if not (self.resume and os.path.exists(self.path)):
            return None
        stored = checkpoint_meta(self.path).get("run")  # the settings first: they name what changed
        if not isinstance(stored, dict) or stored != self.run:
            stored = stored if isinstance(stored, dict) else {}
            changed = sorted(k for k in set(stored) | set(self.run) if stored.get(k) != self.run.get(k))
            raise ValueError(
                f"fit: {self.folder!r} holds a checkpoint of a different run (changed: {changed}); "
                "resume=False (--restart) starts over, or choose another out_dir."
            )
        # the arrays are read and checked once, here: a damaged file, another network size or structure, or
        # NaN values are refused by load_checkpoint, naming the file
        (net, opt_state), meta = load_checkpoint(self.path, (info.net, info.opt_state))
        if self.resume != "as_saved":
            _check_same_hyperparameters(info.net, net, self.folder)
        return StartInfo(net, opt_state, meta["history"], meta["epoch"] + 1)

    def on_epoch(self, info: EpochInfo) -> None:
        meta = {"epoch": info.epoch, "history": info.history, "run": self.run}
        save_checkpoint(self.path, (info.net, info.opt_state), meta)
        write_history(self.folder, info.history)


def _show_value(v: np.ndarray) -> str:
    """A hyper-parameter's value for an error message: a number, else its shape (or repr, for an object)."""
    if v.size == 1 and np.issubdtype(v.dtype, np.number):
        return f"{v.item():.6g}"
    return f"an array of shape {v.shape}" if v.dtype != object else repr(v.item() if v.size == 1 else v)


def _check_same_hyperparameters(given, saved, folder: str) -> None:
    """Refuse to resume when the caller's hyper-parameters (every array not trained) differ from the checkpoint's."""
    fixed = jax.tree.map(lambda t: not t, trainable(given))
    pairs = zip(
        jax.tree_util.tree_leaves_with_path(eqx.filter(given, fixed)),
        jax.tree_util.tree_leaves(eqx.filter(saved, fixed)),
        strict=True,
    )
    for (path, a), b in pairs:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            raise ValueError(
                f"fit: the checkpoint in {folder!r} was trained with net{jax.tree_util.keystr(path)} = {_show_value(b)}, "
                f"the network given has {_show_value(a)}; resuming would silently train the checkpoint's. "
                "resume='as_saved' continues with the checkpoint's values, resume=False (--restart) starts over."
            )


class ProgressPrinter(Callback):
    """One line per epoch with its record (`key=value`), flushed; what `fit(progress=True)` installs."""

    def on_epoch(self, info: EpochInfo) -> None:
        items = info.record.items()
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items), flush=True)


class EpochProgress(Callback):
    """One progress bar over all `epochs` (for runs of many short epochs, e.g. one update each, where
    `fit(progress=True)`'s bar and line per epoch would flood the output): tqdm on a terminal,
    silent off it or without tqdm. It shows the last epoch's `train_loss` and closes after the last
    epoch (or when garbage collected, after a callback stopped training early).

    `snnsad.fit(..., epochs=3000, progress=False, callbacks=[EpochProgress(3000, "E4 seed 0")])`
    """

    def __init__(self, epochs: int, desc: str = "training"):
        self.epochs, self.desc = int(epochs), desc
        self._bar = None

    def on_start(self, info: StartInfo) -> None:
        self._bar = epoch_bar(self.epochs, self.desc)
        if self._bar is not None and info.epoch:
            self._bar.update(info.epoch)  # resumed

    def on_epoch(self, info: EpochInfo) -> None:
        if self._bar is None:
            return
        self._bar.set_postfix(train_loss=f"{info.record['train_loss']:.4g}", refresh=False)
        self._bar.update(1)
        if info.epoch + 1 >= self.epochs:
            self._bar.close()
            self._bar = None
