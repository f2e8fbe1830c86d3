"""Ready-made training setups for ``snnsad train``: data set, network, loss, estimator by name."""

import json
import os

import jax.random as jr
import numpy as np
import optax

from ._data import SHD, SpikeDataset, randman_preset, split_indices, yinyang_spikes
from ._escape import FastSigmoid, Sigmoid
from ._estimators import Autodiff, ScoreFunction, StochasticAD
from ._losses import ActivityRegulariser, accuracy_max_over_time, make_loss, max_over_time_cross_entropy
from ._neurons import LIF, LeakyIntegrator
from ._nn import feedforward
from ._spikes import Stochastic, Surrogate
from ._train import smorms3

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


def paper_network(sizes, spike_fn, *, dt: float = 2e-3, seed: int = 0):
    """The paper's classification setup: LIF layers (tau_mem 20 ms, tau_syn 10 ms, multiplicative
    reset) and a leaky readout (tau_mem 200 ms), fluctuation-driven init for 5 Hz inputs with target
    sigma_U 1.0 (deterministic spikes) or 1.3 (stochastic spikes)."""
    lif = LIF(tau_mem=20e-3, tau_syn=10e-3, dt=dt, reset="zero")
    readout = LeakyIntegrator(tau_mem=200e-3, tau_syn=10e-3, dt=dt)
    sigma_u = 1.3 if spike_fn.stochastic else 1.0
    return feedforward(
        tuple(sizes),
        key=jr.key(seed),
        spike_fn=spike_fn,
        neuron=lif,
        readout=readout,
        init="fluctuation",
        rate=5.0,
        sigma_u=sigma_u,
    )


SHD_CONV = ((16, 21, 10), (32, 7, 3), (64, 7, 3))  # (filters, kernel, stride) of the paper's three layers


def shd_conv_network(
    spike_fn,
    *,
    n_channels: int = 700,
    n_classes: int = 20,
    n_steps: int = 350,
    dt: float = 2e-3,
    rate: float = 5.0,
    hidden_rate: float = 10.0,
    seed: int = 0,
    conv=SHD_CONV,
    recurrent_kernel_size: int = 5,
):
    """The paper's SHD network: three 1-D convolutional recurrent LIF layers over the channel axis
    (filters 16/32/64, kernels 21/7/7, strides 10/3/3, recurrent kernel 5 with same padding;
    tau_mem 20 ms, tau_syn 10 ms, detached multiplicative reset) and a leaky readout whose tau_mem
    is the trial length. Fluctuation-driven init with target sigma_U 1.0 (deterministic spikes) or
    1.3 (stochastic spikes) for inputs at ``rate`` Hz (measure it on the data:
    ``rate = mean(x) / dt``) and hidden layers at ``hidden_rate`` Hz (default 10 Hz: the paper's
    activity regulariser allows 7 spikes per 0.7 s); the recurrent kernel takes 10% of the variance.
    """
    from ._nn import Conv1D, Network, Readout, fluctuation_std

    lif = LIF(tau_mem=20e-3, tau_syn=10e-3, dt=dt, reset="zero")
    sigma_u = 1.3 if spike_fn.stochastic else 1.0
    keys = jr.split(jr.key(seed), len(conv) + 1)
    layers, channels, length = [], 1, n_channels
    for i, (key, (filters, kernel, stride)) in enumerate(zip(keys, conv)):
        in_rate = rate if i == 0 else hidden_rate
        if kernel > length:
            raise ValueError(
                f"shd_conv_network: a kernel of {kernel} does not fit {length} positions; "
                f"n_channels={n_channels} is too small for conv={conv}."
            )
        std = fluctuation_std(lif, channels * kernel, in_rate, sigma_u) * 0.9**0.5
        rstd = fluctuation_std(lif, filters * recurrent_kernel_size, hidden_rate, sigma_u) * 0.1**0.5
        layer = Conv1D(
            channels,
            length,
            filters,
            kernel,
            stride,
            recurrent_kernel_size,
            neuron=lif,
            spike_fn=spike_fn,
            key=key,
            std=std,
            recurrent_std=rstd,
        )
        layers.append(layer)
        channels, length = filters, layer.out_length
    readout_neuron = LeakyIntegrator(tau_mem=n_steps * dt, tau_syn=10e-3, dt=dt)
    std = fluctuation_std(readout_neuron, layers[-1].size, hidden_rate, 1.0)
    return Network(layers, Readout(layers[-1].size, n_classes, key=keys[-1], neuron=readout_neuron, std=std))


def input_rate(data, dt: float, n: int = 64) -> float:
    """Mean input rate (Hz) of the first ``n`` examples of a data set with ``batch(indices)``."""
    xs, _ = data.batch(np.arange(min(n, len(data))))
    rate = float(np.mean(xs)) / dt
    if not rate > 0:
        raise ValueError(f"input_rate: the first {min(n, len(data))} examples contain no spikes; check the data.")
    return rate


def _split(data: SpikeDataset, fraction: float, seed: int):
    rest, held = split_indices(len(data), fraction, seed)
    return SpikeDataset(*data.batch(rest)), SpikeDataset(*data.batch(held))


def build(cfg: dict):
    """``(train, val, test, net, loss_fn, estimator, optimizer)`` for a config."""
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
        train, val = _Subset(full, tr_idx), _Subset(full, va_idx)
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


class _Subset:
    def __init__(self, data, indices):
        self.data, self.indices = data, indices

    def __len__(self):
        return len(self.indices)

    def batch(self, idx):
        return self.data.batch(self.indices[idx])


metric_fn = accuracy_max_over_time
