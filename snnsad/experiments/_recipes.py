"""The paper's networks: the classification setup and the SHD convolutional network, and the input rate they are initialised for."""

import jax.random as jr
import numpy as np

from .._layers import Conv1D, Readout, fluctuation_std
from .._network import Network, feedforward
from .._neurons import LIF, LeakyIntegrator


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
    1.3 (stochastic spikes) for inputs at `rate` Hz (measure it on the data:
    `rate = mean(x) / dt`) and hidden layers at `hidden_rate` Hz (default 10 Hz: the paper's
    activity regulariser allows 7 spikes per 0.7 s); the recurrent kernel takes 10% of the variance.
    """
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
    """Mean input rate (Hz) of the first `n` examples of a data set with `batch(indices)`."""
    xs, _ = data.batch(np.arange(min(n, len(data))))
    rate = float(np.mean(xs)) / dt
    if not rate > 0:
        raise ValueError(f"input_rate: the first {min(n, len(data))} examples contain no spikes; check the data.")
    return rate
