"""The configuration of `snnsad train`: data set, network, loss, estimator by name."""

import json
import os

import optax

from .._data import SHD, SpikeDataset, Subset, randman_preset, split_indices, yinyang_spikes
from .._escape import FastSigmoid, Sigmoid
from .._estimators import Autodiff
from .._losses import ActivityRegulariser, accuracy_max_over_time, make_loss, max_over_time_cross_entropy, on_output
from .._score_function import ScoreFunction
from .._smorms3 import smorms3
from .._spikes import Stochastic, Surrogate
from .._stochastic_ad import StochasticAD
from ..experiments._recipes import input_rate, paper_network, shd_conv_network

DATASETS = ("randman", "yinyang", "shd")
ESTIMATORS = {
    "det-sg": "deterministic network, SuperSpike surrogate (beta=10, peak 1)",
    "sg": "stochastic network, matched sigmoid surrogate (stochastic SG)",
    "superspike-sg": "stochastic network, SuperSpike surrogate",
    "stochastic-ad": "stochastic network, unbiased coupled-flip stochastic AD (--flips)",
    "score": "stochastic network, score function (--samples)",
}
DEFAULTS = dict(
    dataset="randman",
    estimator="sg",
    epochs=20,
    batch_size=64,
    lr=1e-2,
    optimizer="adam",
    seed=0,
    hidden=[128],
    beta=10.0,
    flips=8,
    samples=8,
    samples_per_class=1000,
    val_fraction=0.1,
    shd_train=None,
    shd_test=None,
    n_steps=None,
    reg_strength=0.0,
    reg_threshold=7.0,
    architecture=None,
)


def load_config(path: str | None, overrides: dict) -> dict:
    """Defaults < config file (JSON) < command-line flags that were given."""
    cfg = dict(DEFAULTS)
    if path:
        if not os.path.exists(path):
            raise FileNotFoundError(f"--config: no file at {path!r}.")
        with open(path) as f:
            file_cfg = json.load(f)
        unknown = set(file_cfg) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"--config {path!r}: unknown keys {sorted(unknown)}; known: {sorted(DEFAULTS)}.")
        cfg.update(file_cfg)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if cfg["dataset"] not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {cfg['dataset']!r}.")
    if cfg["architecture"] not in (None, "dense", "conv"):
        raise ValueError(f"architecture must be 'dense' or 'conv', got {cfg['architecture']!r}.")
    if cfg["architecture"] == "conv" and cfg["dataset"] != "shd":
        raise ValueError("architecture 'conv' is the paper's SHD network; use it with dataset 'shd'.")
    if cfg["estimator"] not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {cfg['estimator']!r}.")
    return cfg


def _split(data: SpikeDataset, fraction: float, seed: int):
    rest, held = split_indices(len(data), fraction, seed)
    return SpikeDataset(*data.batch(rest)), SpikeDataset(*data.batch(held))


def build(cfg: dict):
    """`(train, val, test, net, loss_fn, estimator, optimizer)` for a config."""
    seed = cfg["seed"]
    if cfg["dataset"] == "randman":
        data = randman_preset(seed=seed, samples_per_class=cfg["samples_per_class"])
        rest, test = _split(data, 0.2, seed)
        train, val = _split(rest, cfg["val_fraction"], seed + 1)
        n_in, n_out, dt = 20, 15, 2e-3
    elif cfg["dataset"] == "yinyang":
        steps = cfg["n_steps"] or 50
        train, val, test = (yinyang_spikes(n, steps, seed=seed + i) for i, n in enumerate((5000, 1000, 1000)))
        n_in, n_out, dt = 5, 3, 1e-3
    else:
        if not cfg["shd_train"]:
            raise ValueError(
                "dataset 'shd' needs --shd-train PATH (and --shd-test PATH): the standard shd_train.h5 / "
                "shd_test.h5 files of Cramer et al. 2022, which snnsad never downloads."
            )
        steps = cfg["n_steps"] or 350
        full = SHD(cfg["shd_train"], n_steps=steps, dt=2e-3)
        tr_idx, va_idx = full.split(cfg["val_fraction"], seed)
        train, val = Subset(full, tr_idx), Subset(full, va_idx)
        test = SHD(cfg["shd_test"], n_steps=steps, dt=2e-3) if cfg["shd_test"] else None
        n_in, n_out, dt = 700, full.n_classes, 2e-3
    beta = cfg["beta"]
    if cfg["estimator"] == "det-sg":
        spike = Surrogate(FastSigmoid(beta), scale=1.0)
    elif cfg["estimator"] == "superspike-sg":
        spike = Stochastic(Sigmoid(beta), FastSigmoid(beta), scale=1.0)
    else:
        spike = Stochastic(Sigmoid(beta))
    if cfg["dataset"] == "shd" and cfg["architecture"] in (None, "conv"):
        rate = input_rate(train, dt)
        net = shd_conv_network(spike, n_classes=n_out, n_steps=steps, dt=dt, rate=rate, seed=seed)
    else:
        net = paper_network((n_in, *cfg["hidden"], n_out), spike, dt=dt, seed=seed)
    regs = [ActivityRegulariser(cfg["reg_strength"], cfg["reg_threshold"], "upper", 2)] if cfg["reg_strength"] else []
    loss_fn = make_loss(max_over_time_cross_entropy, regs)
    estimator = {"stochastic-ad": StochasticAD(cfg["flips"]), "score": ScoreFunction(cfg["samples"])}.get(
        cfg["estimator"], Autodiff()
    )
    optimizer = smorms3(cfg["lr"]) if cfg["optimizer"] == "smorms3" else optax.adam(cfg["lr"])
    return train, val, test, net, loss_fn, estimator, optimizer


metric_fn = on_output(accuracy_max_over_time)
