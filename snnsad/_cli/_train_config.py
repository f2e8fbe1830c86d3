"""The configuration of `snnsad train`: data set, network, loss, estimator by name."""

import json
import math
import os

import optax

from ..data import SHD, SpikeDataset, Subset, check_classes, randman_preset, split_indices, yinyang_spikes
from ..escape import FastSigmoid, Sigmoid
from ..estimators import Autodiff, LocalScoreFunction, ScoreFunction, StochasticAD
from ..experiments import SHD_NU, input_rate, paper_network, shd_conv_network
from ..losses import ActivityRegulariser, accuracy_max_over_time, make_loss, max_over_time_cross_entropy, on_output
from ..spikes import Stochastic, Surrogate
from ..train import smorms3

DATASETS = ("randman", "yinyang", "shd")
ESTIMATORS = {
    "det-sg": "deterministic network, SuperSpike surrogate (beta=10, peak 1).",
    "sg": "stochastic network, matched sigmoid surrogate (stochastic SG).",
    "superspike-sg": "stochastic network, SuperSpike surrogate.",
    "stochastic-ad": "stochastic network, unbiased coupled-flip stochastic AD (--flips).",
    "score": "stochastic network, score function (--samples).",
    "local-score": "stochastic network, per-neuron score function for the last hidden layer (--samples; no regulariser).",
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


def parse_hidden(value, where: str = "--hidden"):
    """`"128,128"` (the flag's form, also accepted in a config file) -> `[128, 128]`; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        return [int(h) for h in value.split(",")]
    except ValueError:
        raise ValueError(f"{where} must be comma-separated layer sizes, e.g. 128,128; got {value!r}.") from None


def load_config(path: str | None, overrides: dict) -> dict:
    """Defaults < config file (JSON) < command-line flags that were given. `hidden` is a list of layer
    sizes or the flag's comma-separated string, in either place."""
    cfg = dict(DEFAULTS)
    if path:
        if not os.path.exists(path):
            raise FileNotFoundError(f"--config: no file at {path!r}.")
        with open(path) as f:
            try:
                file_cfg = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"--config {path!r} is not valid JSON ({err}); write the settings as a JSON object."
                ) from None
        if not isinstance(file_cfg, dict):
            raise ValueError(f"--config {path!r} must hold one JSON object of settings, got {type(file_cfg).__name__}.")
        unknown = set(file_cfg) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"--config {path!r}: unknown keys {sorted(unknown)}; known: {sorted(DEFAULTS)}.")
        cfg.update(file_cfg)
        cfg["hidden"] = parse_hidden(cfg["hidden"], f"--config {path!r}: `hidden`")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    cfg["hidden"] = parse_hidden(cfg["hidden"])
    _check_types(cfg, f"--config {path!r}" if path else "config")
    if cfg["architecture"] == "conv" and cfg["dataset"] != "shd":
        raise ValueError("architecture 'conv' is the paper's SHD network; use it with dataset 'shd'.")
    if cfg["estimator"] not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {cfg['estimator']!r}.")
    if cfg["estimator"] == "local-score" and cfg["reg_strength"]:
        raise ValueError(
            "estimator 'local-score' needs a loss of the readout alone; the activity regulariser reads the hidden "
            f"spikes: set reg_strength 0 (got {cfg['reg_strength']!r}) or use 'score'."
        )
    return cfg


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


# key -> (what it must be, the check): every value of a config is checked before anything is built.
_RULES = {
    "dataset": (f"one of {DATASETS}", lambda v: v in DATASETS),
    "estimator": (f"one of {sorted(ESTIMATORS)}", lambda v: v in ESTIMATORS),
    "epochs": ("an int >= 0", lambda v: _is_int(v) and v >= 0),
    "batch_size": ("an int >= 1", lambda v: _is_int(v) and v >= 1),
    "lr": ("a finite number > 0", lambda v: _is_number(v) and v > 0),
    "optimizer": ("'adam' or 'smorms3'", lambda v: v in ("adam", "smorms3")),
    "seed": ("an int", _is_int),
    "hidden": (
        "a non-empty list of ints >= 1",
        lambda v: isinstance(v, list) and v and all(_is_int(h) and h >= 1 for h in v),
    ),
    "beta": ("a finite number > 0", lambda v: _is_number(v) and v > 0),
    "flips": ("an int >= 1", lambda v: _is_int(v) and v >= 1),
    "samples": ("an int >= 2", lambda v: _is_int(v) and v >= 2),
    "samples_per_class": ("an int >= 1", lambda v: _is_int(v) and v >= 1),
    "val_fraction": ("a number in (0, 1)", lambda v: _is_number(v) and 0 < v < 1),
    "shd_train": ("a path or null", lambda v: v is None or isinstance(v, str)),
    "shd_test": ("a path or null", lambda v: v is None or isinstance(v, str)),
    "n_steps": ("an int >= 1 or null", lambda v: v is None or (_is_int(v) and v >= 1)),
    "reg_strength": ("a finite number >= 0", lambda v: _is_number(v) and v >= 0),
    "reg_threshold": ("a finite number >= 0", lambda v: _is_number(v) and v >= 0),
    "architecture": ("'dense', 'conv' or null", lambda v: v in (None, "dense", "conv")),
}


def _check_types(cfg: dict, where: str) -> None:
    for key, (what, ok) in _RULES.items():
        if not ok(cfg[key]):
            raise ValueError(f"{where}: `{key}` must be {what}, got {cfg[key]!r}.")


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
        n_out, rate = 15, None
    elif cfg["dataset"] == "yinyang":
        steps = cfg["n_steps"] or 50
        train, val, test = (yinyang_spikes(n, steps, seed=seed + i) for i, n in enumerate((5000, 1000, 1000)))
        n_out, rate = 3, None
    else:
        _need_shd(cfg)
        steps = cfg["n_steps"] or 350
        full = SHD(cfg["shd_train"], n_steps=steps, dt=2e-3, preload=True)
        tr_idx, va_idx = full.split(cfg["val_fraction"], seed)
        train, val = Subset(full, tr_idx), Subset(full, va_idx)
        test = SHD(cfg["shd_test"], n_steps=steps, dt=2e-3, preload=True) if cfg["shd_test"] else None
        check_classes(full, test)
        n_out, rate = full.n_classes, input_rate(train, 2e-3)
    net = network(cfg, n_out, rate)
    per = "layer" if cfg["dataset"] == "shd" else "neuron"  # the paper's SHD bound acts on each layer's mean count
    regs = (
        [ActivityRegulariser(cfg["reg_strength"], cfg["reg_threshold"], "upper", 2, per)] if cfg["reg_strength"] else []
    )
    loss_fn = make_loss(max_over_time_cross_entropy, regs)
    estimator = {
        "stochastic-ad": StochasticAD(cfg["flips"]),
        "score": ScoreFunction(cfg["samples"]),
        "local-score": LocalScoreFunction(cfg["samples"]),
    }.get(cfg["estimator"], Autodiff())
    return train, val, test, net, loss_fn, estimator, optimizer(cfg)


def _need_shd(cfg: dict) -> None:
    if not cfg["shd_train"]:
        raise ValueError(
            "dataset 'shd' needs --shd-train PATH (and --shd-test PATH): the standard shd_train.h5 / "
            "shd_test.h5 files of Cramer et al. 2022, which snnsad never downloads."
        )


def n_classes(cfg: dict) -> int:
    """The number of classes of a config's data set (an SHD file's labels are read, not its spikes)."""
    if cfg["dataset"] == "shd":
        _need_shd(cfg)
        return SHD(cfg["shd_train"], n_steps=cfg["n_steps"] or 350, dt=2e-3).n_classes
    return {"randman": 15, "yinyang": 3}[cfg["dataset"]]


def network(cfg: dict, n_out: int, rate: float | None = None):
    """A config's network (`n_out` classes; `rate`: the SHD conv net's initialisation rate, measured on the
    training data by `build`; any value gives the same structure)."""
    beta, seed = cfg["beta"], cfg["seed"]
    if cfg["estimator"] == "det-sg":
        spike = Surrogate(FastSigmoid(beta), scale=1.0)
    elif cfg["estimator"] == "superspike-sg":
        spike = Stochastic(Sigmoid(beta), FastSigmoid(beta), scale=1.0)
    else:
        spike = Stochastic(Sigmoid(beta))
    if cfg["dataset"] == "shd" and cfg["architecture"] in (None, "conv"):
        steps = cfg["n_steps"] or 350
        rate = SHD_NU if rate is None else rate
        return shd_conv_network(spike, n_classes=n_out, n_steps=steps, dt=2e-3, rate=rate, seed=seed)
    n_in, dt = {"randman": (20, 2e-3), "yinyang": (5, 1e-3), "shd": (700, 2e-3)}[cfg["dataset"]]
    return paper_network((n_in, *cfg["hidden"], n_out), spike, dt=dt, seed=seed)


def optimizer(cfg: dict) -> optax.GradientTransformation:
    return smorms3(cfg["lr"]) if cfg["optimizer"] == "smorms3" else optax.adam(cfg["lr"])


metric_fn = on_output(accuracy_max_over_time)
