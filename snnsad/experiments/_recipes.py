"""The paper's networks: the classification setup and the SHD convolutional network, and the input rate they are initialised for."""

import math

import jax.random as jr
import numpy as np

from ..neurons import LIF, LeakyIntegrator
from ..nn import Conv1D, Network, Readout, feedforward, fluctuation_std


def paper_network(sizes, spike_fn, *, dt: float = 2e-3, seed: int = 0, detach_reset: bool = True):
    """The paper's classification setup: LIF layers (tau_mem 20 ms, tau_syn 10 ms, multiplicative
    reset) and a leaky readout (tau_mem 200 ms), fluctuation-driven init for 5 Hz inputs with target
    sigma_U 1.0 (deterministic spikes) or 1.3 (stochastic spikes). `detach_reset=False` lets the
    gradient flow through the reset (Zenke & Vogels' "differentiable reset")."""
    lif = LIF.paper(dt=dt, detach_reset=detach_reset)
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


SHD_NU = 15.8  # Hz: `nu` of the authors' dataset/SHD.yaml, the input rate every layer's init assumes
SHD_CONV = ((16, 21, 10), (32, 7, 3), (64, 7, 3))  # (filters, kernel, stride) of the paper's three layers
RANDMAN_CONV = ((32, 11, 1), (64, 5, 1), (128, 5, 1))  # the authors' Randman config: 320/384/256 neurons


def conv_network(
    spike_fn,
    *,
    n_channels: int,
    n_classes: int,
    n_steps: int,
    conv,
    recurrent_kernel_size: int | None,
    dt: float = 2e-3,
    rate: float = 5.0,
    hidden_rate: float | None = None,
    readout_init: str = "authors",
    seed: int = 0,
):
    """Convolutional LIF layers over the channel axis and a leaky readout, as the authors' stork configs build them.

    `conv` lists `(filters, kernel, stride)` per layer (no padding); `recurrent_kernel_size`
    (odd, same padding) adds a recurrent convolution to every layer, `None` makes them
    feed-forward. LIF tau_mem 20 ms, tau_syn 10 ms, detached multiplicative reset; readout tau_mem
    the trial length. Fluctuation-driven init with target sigma_U 1.0 (deterministic spikes) or
    1.3 (stochastic) for inputs at `rate` Hz and hidden layers at `hidden_rate` Hz (default:
    `rate`, as the authors' initialiser uses one rate `nu` for every layer); a recurrent kernel
    takes 10 % of the variance. `readout_init="authors"`: `N(0, 1/fan_in)` (stork's
    `DistInitializer`, scaling 1/sqrt(k)); `"fluctuation"`: sigma_U 1 for hidden spikes at
    `hidden_rate` (snnsad's earlier choice, about 37x larger on SHD).
    """
    if readout_init not in ("authors", "fluctuation"):
        raise ValueError(f"conv_network: `readout_init` must be 'authors' or 'fluctuation', got {readout_init!r}.")
    hidden_rate = rate if hidden_rate is None else hidden_rate
    lif = LIF.paper(dt=dt)
    sigma_u = 1.3 if spike_fn.stochastic else 1.0
    keys = jr.split(jr.key(seed), len(conv) + 1)
    share = 0.9 if recurrent_kernel_size is not None else 1.0
    layers, channels, length = [], 1, n_channels
    for i, (key, (filters, kernel, stride)) in enumerate(zip(keys, conv)):
        in_rate = rate if i == 0 else hidden_rate
        if kernel > length:
            raise ValueError(
                f"conv_network: a kernel of {kernel} does not fit {length} positions; "
                f"n_channels={n_channels} is too small for conv={conv}."
            )
        std = fluctuation_std(lif, channels * kernel, in_rate, sigma_u) * share**0.5
        rstd = None
        if recurrent_kernel_size is not None:
            rstd = fluctuation_std(lif, filters * recurrent_kernel_size, hidden_rate, sigma_u) * (1 - share) ** 0.5
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
    fan_in = layers[-1].size
    if readout_init == "authors":
        std = 1 / math.sqrt(fan_in)
    else:
        std = fluctuation_std(readout_neuron, fan_in, hidden_rate, 1.0)
    return Network(layers, Readout(fan_in, n_classes, key=keys[-1], neuron=readout_neuron, std=std))


def shd_conv_network(
    spike_fn,
    *,
    n_channels: int = 700,
    n_classes: int = 20,
    n_steps: int = 350,
    dt: float = 2e-3,
    rate: float = SHD_NU,
    hidden_rate: float | None = None,
    seed: int = 0,
    conv=SHD_CONV,
    recurrent_kernel_size: int = 5,
    readout_init: str = "authors",
):
    """The paper's SHD network: three 1-D convolutional recurrent LIF layers over the channel axis
    (filters 16/32/64, kernels 21/7/7, strides 10/3/3, recurrent kernel 5 with same padding) and a
    leaky readout whose tau_mem is the trial length (`conv_network`). `rate` is the authors'
    `nu` for SHD (`SHD_NU`, 15.8 Hz; measure it on other data with `input_rate`)."""
    return conv_network(
        spike_fn,
        n_channels=n_channels,
        n_classes=n_classes,
        n_steps=n_steps,
        conv=conv,
        recurrent_kernel_size=recurrent_kernel_size,
        dt=dt,
        rate=rate,
        hidden_rate=hidden_rate,
        readout_init=readout_init,
        seed=seed,
    )


def randman_conv_network(spike_fn, *, n_classes: int = 15, n_units: int = 20, n_steps: int = 100, seed: int = 0):
    """The authors' Randman network: three feed-forward convolutional LIF layers (32/64/128 filters,
    kernels 11/5/5, stride 1, no padding: 320/384/256 neurons), nu = 5 Hz, readout `N(0, 1/256)`."""
    return conv_network(
        spike_fn,
        n_channels=n_units,
        n_classes=n_classes,
        n_steps=n_steps,
        conv=RANDMAN_CONV,
        recurrent_kernel_size=None,
        rate=5.0,
        seed=seed,
    )


def input_rate(data, dt: float, n: int = 64) -> float:
    """Mean input rate (Hz) of the first `n` examples of a data set with `batch(indices)`."""
    xs, _ = data.batch(np.arange(min(n, len(data))))
    rate = float(np.mean(xs)) / dt
    if not rate > 0:
        raise ValueError(f"input_rate: the first {min(n, len(data))} examples contain no spikes; check the data.")
    return rate
