"""`snnsad evaluate RUN_DIR` and `snnsad plot RUN_DIR`: what a finished `snnsad train` run holds."""

import json
import os
from typing import Any, NamedTuple

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..data import SHD
from ..nn import trainable
from ..train import atomic_write_text, evaluate
from . import _train_config as recipes


def _read_json(run_dir: str, name: str, missing: str):
    """`run_dir/name` parsed, or `FileNotFoundError` saying the folder has no `name` and `missing`."""
    path = os.path.join(run_dir, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_dir!r} has no {name}: {missing}.")
    with open(path) as f:
        return json.load(f)


def _run_config(run_dir: str, stored: dict | None = None) -> dict:
    """The run's `snnsad train` settings, checked, from its `config.json` (or `stored`, that file already read)."""
    settings = _read_json(run_dir, "config.json", "not a `snnsad train` run folder") if stored is None else stored
    return recipes.load_config(None, {k: settings[k] for k in recipes.DEFAULTS if k in settings})


def load_run(run_dir: str):
    """`(cfg, (train, val, test), net, loss_fn, epoch, meta)` of a `snnsad train` run, its checkpoint loaded."""
    from ..train import load_checkpoint

    cfg = _run_config(run_dir)
    ckpt = os.path.join(run_dir, "checkpoint.eqx")
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f"{run_dir!r} has no checkpoint.eqx: the run never finished an epoch.")
    train, val, test, net, loss_fn, _, optimizer = recipes.build(cfg)
    (net, _), meta = load_checkpoint(ckpt, (net, optimizer.init(eqx.filter(net, trainable(net)))))
    return cfg, (train, val, test), net, loss_fn, int(meta["epoch"]), meta


class Run(NamedTuple):
    """A `snnsad train` run read back: the trained `net` (its checkpoint's last epoch), the run's `config`
    (every setting, versions and commit, as `config.json` holds them), the per-epoch `history`
    (`metrics.json`) and the `epoch` the checkpoint holds (0-based)."""

    net: Any
    config: dict
    history: list
    epoch: int


def open_run(run_dir: str) -> Run:
    """A `snnsad train` run folder read back into Python: `Run(net, config, history, epoch)`.

    The network is rebuilt from the run's settings (no data set is generated or read, except an SHD
    file's labels for its number of classes) and its checkpoint loaded into it; a folder that is not
    a run, or has no checkpoint yet, is refused with what is missing.

    ```python
    run = snnsad.cli.load_run("runs/randman-sg")
    trace = run.net(x, key=key)
    ```
    """
    from ..train import load_checkpoint

    stored = _read_json(run_dir, "config.json", "not a `snnsad train` run folder")
    cfg = _run_config(run_dir, stored)
    ckpt = os.path.join(run_dir, "checkpoint.eqx")
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f"{run_dir!r} has no checkpoint.eqx: the run never finished an epoch.")
    net = recipes.network(cfg, recipes.n_classes(cfg))
    opt_state = recipes.optimizer(cfg).init(eqx.filter(net, trainable(net)))
    (net, _), meta = load_checkpoint(ckpt, (net, opt_state))
    history_path = os.path.join(run_dir, "metrics.json")
    history = _read_json(run_dir, "metrics.json", "no epoch recorded") if os.path.isfile(history_path) else []
    return Run(net, stored, history, int(meta["epoch"]))


def export_run(run_dir: str, path: str) -> str:
    """Write a `snnsad train` run's trained network as a NIR graph file (`snnsad.nir.to_nir`)."""
    from ..nir import require_nir, to_nir

    nir = require_nir()  # before any work
    _, _, net, _, _, _ = load_run(run_dir)
    nir.write(path, to_nir(net))
    return path


def evaluate_run(run_dir: str, data: str | None = None) -> dict:
    """Rebuild a `snnsad train` run from its config, load its checkpoint and evaluate it.

    Evaluates on the run's test split (or `data`: an HDF5 file in the SHD layout, for SHD runs),
    with the noise key `fit` used for its last epoch, so a stochastic network scores exactly what
    `train` recorded. Writes `RUN_DIR/evaluation.json` and returns its contents.
    """
    cfg, (_, val, test), net, loss_fn, epoch, meta = load_run(run_dir)
    if data is not None:
        if cfg["dataset"] != "shd":
            raise ValueError(f"--data applies to SHD runs; this run's data set is {cfg['dataset']!r} (generated).")
        steps = cfg["n_steps"] or 350
        target, name = SHD(data, n_steps=steps, dt=2e-3, preload=True), data
    else:
        target, name = (test, "test") if test is not None else (val, "val")
    key = jr.fold_in(jr.key(cfg["seed"] + 1), epoch)  # fit's evaluation key of that epoch
    ev = evaluate(net, target, loss_fn, recipes.metric_fn, key=key)
    recorded = next((h for h in meta.get("history", []) if h.get("epoch") == epoch), {})
    out = {
        "run": run_dir,
        "epoch": epoch,
        "data": name,
        "examples": len(target),
        "loss": ev["loss"],
        "accuracy": ev.get("metric"),
        "recorded_accuracy": recorded.get(f"{name}_metric") if data is None else None,
    }
    atomic_write_text(os.path.join(run_dir, "evaluation.json"), json.dumps(out, indent=2))
    return out


def plot_run(run_dir: str) -> str:
    """Loss and accuracy curves of a run from its `metrics.json`, written to `RUN_DIR/curves.png`."""
    history = _read_json(run_dir, "metrics.json", "not a run folder, or no epoch finished")
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = [h["epoch"] + 1 for h in history]
    for split in ("train", "val", "test"):
        if f"{split}_loss" in history[0]:
            axes[0].plot(epochs, [h[f"{split}_loss"] for h in history], label=split)
        if f"{split}_metric" in history[0]:
            axes[1].plot(epochs, [h[f"{split}_metric"] for h in history], label=split)
    axes[0].set(xlabel="epoch", ylabel="loss")
    axes[0].set_title("a  loss", loc="left", fontsize=9)
    axes[1].set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
    axes[1].set_title("b  accuracy", loc="left", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = os.path.join(run_dir, "curves.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_activity(run_dir: str, example: int = 0) -> list[str]:
    """The trained network's activity on one test example (validation when the run has no test split):
    `RUN_DIR/raster.png` (input and every layer), `membrane.png` (first layer) and `rates.png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import plot

    cfg, (_, val, test), net, _, epoch, _ = load_run(run_dir)
    data = test if test is not None else val
    if not 0 <= example < len(data):
        raise ValueError(f"--example {example}: the run's {'test' if test is not None else 'validation'} split has "
                         f"{len(data)} examples.")  # fmt: skip
    xs, _ = data.batch(np.array([example]))
    x = jnp.asarray(xs[0])
    trace = net(x, key=jr.fold_in(jr.key(cfg["seed"] + 1), epoch))
    dt = float(net.layers[0].neuron.dt)
    paths = [os.path.join(run_dir, name) for name in ("raster.png", "membrane.png", "rates.png")]
    for fig in (
        plot.raster(trace, inputs=x, dt=dt, save=paths[0]),
        plot.membrane(trace, layer=0, dt=dt, save=paths[1]),
        plot.rate_histogram(trace, dt=dt, save=paths[2]),
    ):
        plt.close(fig)
    return paths
