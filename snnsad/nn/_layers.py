r"""Spiking layers: an input projection for all time steps at once, a neuron model and a spike function.

A layer's `run` projects the whole input `(T, in_size)` with one GEMM (or convolution), then
`lax.scan` steps only the neuron state: per step the neuron's drive, the spike function's spikes
(`snnsad.spikes.sample_spikes`, which applies any forced spikes or flips), the recurrent
current the layer adds, and the neuron's update.
"""

import abc
import functools
import math
import operator

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from .._checks import check_count, check_positive
from .._custom_types import Current, Input, LayerArray
from .._neurons import PSP_NEURONS, AbstractNeuron, LeakyIntegrator, StepOutput, has_psp_kernel, psp_kernel_energy
from .._spikes import AbstractSpikeFunction, sample_spikes

# ----------------------------------------------------------------------------- initialisers


def normal_init(key: PRNGKeyArray, shape: tuple[int, ...], fan_in: int, gain: float = 1.0, dtype=jnp.float32):
    """`N(0, (gain / sqrt(fan_in))^2)` weights."""
    return gain / math.sqrt(fan_in) * jr.normal(key, shape, dtype)


def fluctuation_std(neuron: AbstractNeuron | LeakyIntegrator, fan_in: int, rate: float, sigma_u: float = 1.0) -> float:
    """Weight std giving membrane fluctuations `sigma_u` (Rossbroich, Gygax & Zenke 2022).

    For `fan_in` Poisson inputs at `rate` (Hz) and zero-mean weights, Campbell's theorem gives
    `Var[U] = fan_in * rate * sigma_w^2 * eps_hat` with `eps_hat` the energy of the PSP kernel
    (`snnsad.neurons.psp_kernel_energy`), so `sigma_w = sigma_u / sqrt(fan_in rate eps_hat)`.
    """
    check_positive("rate", rate, where="fluctuation_std")
    check_positive("sigma_u", sigma_u, where="fluctuation_std")
    if not has_psp_kernel(neuron):
        raise TypeError(
            f"fluctuation_std: needs an {PSP_NEURONS} neuron (it uses their time constants), "
            f"got {type(neuron).__name__}; use init='normal' with a `gain` for this neuron."
        )
    eps_hat = float(jnp.max(psp_kernel_energy(neuron)))
    return sigma_u / math.sqrt(fan_in * rate * eps_hat)


# ----------------------------------------------------------------------------- layers


class AbstractLayer(eqx.Module):
    """A spiking layer: an input projection for all steps, a neuron model and a spike function.

    Subclasses declare `neuron` and `spike_fn` and implement `in_size`, `size`, `project`
    (the feed-forward currents of all time steps at once) and `recurrent_current` (the current
    the layer's own spikes feed back, or `None` for a feed-forward layer). `run` is provided.
    """

    neuron: eqx.AbstractVar[AbstractNeuron]
    spike_fn: eqx.AbstractVar[AbstractSpikeFunction]

    @property
    @abc.abstractmethod
    def in_size(self) -> int:
        """Number of inputs per time step."""

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Number of neurons (flattened)."""

    @abc.abstractmethod
    def project(self, x: Input) -> LayerArray:
        """Feed-forward input currents `(T, size)` for all time steps at once."""

    @abc.abstractmethod
    def recurrent_current(self, spikes: Current) -> Current | None:
        """The current `V s` fed back by this step's spikes, or `None` for a feed-forward layer."""

    def run(
        self,
        x: Input,
        noise: LayerArray,
        forced: LayerArray | None = None,
        flips: LayerArray | None = None,
        *,
        fixed_spikes: bool = False,
        checkpoint: bool = False,
        unroll: int = 1,
    ) -> StepOutput:
        """Simulate this layer on one example.

        **Arguments:**

        - `x`: the layer's input, time-major `(T, in_size)`; projected for all time steps at once
          (`project`) before the scan, which carries only the neuron state and any recurrence.
        - `noise`: uniform `(T, size)` noise for a stochastic spike function (ignored otherwise).
        - `forced`, `flips`: `None` or `(T, size)` spikes to impose / 0/1 masks that flip the sampled
          spikes (see `AbstractNetwork.simulate`).
        - `fixed_spikes`: hold the spikes fixed for differentiation (stochastic AD's pathwise term).
        - `checkpoint`: recompute the scan body in the backward pass (`jax.checkpoint`) to save memory.
        - `unroll`: time steps per iteration of the scan (`lax.scan`'s `unroll`).

        **Returns:**

        A `StepOutput` of `(T, size)` arrays: spikes, drive `u - theta` and firing probability.
        """
        return self.run_projected(
            self.project(x), noise, forced, flips, fixed_spikes=fixed_spikes, checkpoint=checkpoint, unroll=unroll
        )

    def run_projected(
        self,
        currents: LayerArray,
        noise: LayerArray,
        forced: LayerArray | None = None,
        flips: LayerArray | None = None,
        *,
        fixed_spikes: bool = False,
        checkpoint: bool = False,
        unroll: int = 1,
    ) -> StepOutput:
        """`run` from the feed-forward currents `(T, size)` (what `project` returns) instead of the input:
        for callers that have them already, e.g. as one run's currents plus the projection of a change of
        its input. The other arguments and the result are `run`'s."""
        spike_fn = jax.lax.stop_gradient(self.spike_fn)
        # the threshold per neuron before the scan: its gradient is summed once, after it
        theta = jnp.broadcast_to(jnp.asarray(self.neuron.threshold, currents.dtype), (self.size,))
        neuron = eqx.tree_at(lambda m: m.threshold, self.neuron, theta)
        binary = forced is None and spike_fn.discrete  # 0/1 spikes: see AbstractNeuron.update

        def body(state, inputs):
            current, noise_t, forced_t, flip_t = inputs
            drive = neuron.drive(state, current)
            spikes, prob = sample_spikes(spike_fn, drive, noise_t, forced=forced_t, flip=flip_t, fixed=fixed_spikes)
            feedback = self.recurrent_current(spikes)
            total = current if feedback is None else current + feedback
            return neuron.update(state, total, spikes, binary=binary), StepOutput(spikes, drive, prob)

        if checkpoint:
            body = jax.checkpoint(body)
        state = neuron.init(self.size, currents.dtype)
        _, out = jax.lax.scan(body, state, (currents, noise, forced, flips), unroll=unroll)
        return out


class Dense(AbstractLayer):
    """Dense spiking layer `I += W x` (+ `V s` with `recurrent=True`), optional bias."""

    weight: Array
    bias: Array | None
    recurrent_weight: Array | None
    neuron: AbstractNeuron
    spike_fn: AbstractSpikeFunction

    def __init__(
        self,
        in_size: int,
        out_size: int,
        *,
        neuron: AbstractNeuron,
        spike_fn: AbstractSpikeFunction,
        key: PRNGKeyArray,
        recurrent: bool = False,
        bias: bool = False,
        std: float | None = None,
        recurrent_std: float | None = None,
        dtype=jnp.float32,
    ):
        check_count("in_size", in_size)
        check_count("out_size", out_size)
        if recurrent:
            _check_recurrence(neuron, "Dense")
        wkey, vkey = jr.split(key)
        std = 1 / math.sqrt(in_size) if std is None else std
        self.weight = std * jr.normal(wkey, (out_size, in_size), dtype)
        self.bias = jnp.zeros((out_size,), dtype) if bias else None
        if recurrent:
            rstd = 1 / math.sqrt(out_size) if recurrent_std is None else recurrent_std
            self.recurrent_weight = rstd * jr.normal(vkey, (out_size, out_size), dtype)
        else:
            self.recurrent_weight = None
        self.neuron = neuron
        self.spike_fn = spike_fn

    @property
    def in_size(self):
        return self.weight.shape[1]

    @property
    def size(self):
        return self.weight.shape[0]

    def project(self, x):
        currents = x @ self.weight.T
        return currents if self.bias is None else currents + self.bias[None, :]

    def recurrent_current(self, spikes):
        return None if self.recurrent_weight is None else self.recurrent_weight @ spikes


def _conv(x, kernel, stride, pad=0):
    """1-D cross-correlation: `x` (batch, C_in, L), `kernel` (C_out, C_in, K); GEMMs over the batch.

    Two forms, chosen by shape from one-off timings of E6's conv network (batch 400, 2 CPU cores; its
    training step 0.90 s with this choice, 1.08 s with patches everywhere, 0.92 s with taps everywhere,
    1.05 s with XLA's `conv_general_dilated`, which vmapped differentiates into a grouped convolution;
    E5's strided recurrent SHD network, batch 64, T = 100: 0.48 s against 0.67 s with patches everywhere;
    `benchmarks/workload_floors.py` times the E6 and E5 steps as they are):

    - `C_in >= 8`: one product per kernel tap, `sum_k kernel[:, :, k] @ x[:, :, k :: stride]`; the
      strided slices' transposes are pads, so the backward pass has no scatter;
    - fewer input channels (a first layer): gathered patches `x[:, :, index]` and one contraction over
      `C_in x K` (taps would be outer products).
    """
    if pad:
        x = jnp.pad(x, ((0, 0), (0, 0), (pad, pad)))
    size = kernel.shape[2]
    out_length = (x.shape[2] - size) // stride + 1
    if kernel.shape[1] >= 8:
        end = stride * (out_length - 1) + 1
        taps = [jnp.einsum("bil,oi->bol", x[:, :, k : k + end : stride], kernel[:, :, k]) for k in range(size)]
        return functools.reduce(operator.add, taps)
    index = stride * jnp.arange(out_length)[:, None] + jnp.arange(size)[None, :]
    patches = x[:, :, index]  # (batch, C_in, L_out, K)
    return jnp.einsum("bilk,oik->bol", patches, kernel)


class Conv1D(AbstractLayer):
    """1-D convolutional spiking layer over the neuron axis, with a recurrent convolution.

    Input per step: `in_channels * in_length` values (channel-major); output: `channels *
    out_length` neurons, `out_length = (in_length - kernel_size) // stride + 1` (no padding).
    The recurrent convolution (`recurrent_kernel_size`, same padding) maps the layer's spikes
    to its own currents; `recurrent_kernel_size=None` makes the layer feed-forward. This is the
    layer of the paper's SHD network (filters 16/32/64, kernels 21/7/7, strides 10/3/3, recurrent
    kernel 5).
    """

    kernel: Array
    recurrent_kernel: Array | None
    neuron: AbstractNeuron
    spike_fn: AbstractSpikeFunction
    in_channels: int = eqx.field(static=True)
    in_length: int = eqx.field(static=True)
    stride: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        in_length: int,
        channels: int,
        kernel_size: int,
        stride: int = 1,
        recurrent_kernel_size: int | None = 5,
        *,
        neuron: AbstractNeuron,
        spike_fn: AbstractSpikeFunction,
        key: PRNGKeyArray,
        std: float | None = None,
        recurrent_std: float | None = None,
        dtype=jnp.float32,
    ):
        for name, value in (
            ("in_channels", in_channels),
            ("in_length", in_length),
            ("channels", channels),
            ("kernel_size", kernel_size),
            ("stride", stride),
        ):
            check_count(name, value)
        if kernel_size > in_length:
            raise ValueError(f"Conv1D: `kernel_size`={kernel_size} exceeds `in_length`={in_length}.")
        if recurrent_kernel_size is not None and recurrent_kernel_size % 2 == 0:
            raise ValueError(
                f"Conv1D: `recurrent_kernel_size` must be odd (same padding), got {recurrent_kernel_size}."
            )
        if recurrent_kernel_size is not None:
            _check_recurrence(neuron, "Conv1D")
        wkey, vkey = jr.split(key)
        fan_in = in_channels * kernel_size
        std = 1 / math.sqrt(fan_in) if std is None else std
        self.kernel = std * jr.normal(wkey, (channels, in_channels, kernel_size), dtype)
        if recurrent_kernel_size is None:
            self.recurrent_kernel = None
        else:
            rstd = 1 / math.sqrt(channels * recurrent_kernel_size) if recurrent_std is None else recurrent_std
            self.recurrent_kernel = rstd * jr.normal(vkey, (channels, channels, recurrent_kernel_size), dtype)
        self.in_channels, self.in_length, self.stride = in_channels, in_length, stride
        self.neuron, self.spike_fn = neuron, spike_fn

    @property
    def channels(self):
        return self.kernel.shape[0]

    @property
    def out_length(self):
        return (self.in_length - self.kernel.shape[2]) // self.stride + 1

    @property
    def in_size(self):
        return self.in_channels * self.in_length

    @property
    def size(self):
        return self.channels * self.out_length

    def project(self, x):
        t = x.shape[0]
        out = _conv(x.reshape(t, self.in_channels, self.in_length), self.kernel, self.stride)
        return out.reshape(t, self.size)

    def recurrent_current(self, spikes):
        if self.recurrent_kernel is None:
            return None
        kernel = self.recurrent_kernel
        return _conv(spikes.reshape(1, self.channels, self.out_length), kernel, 1, kernel.shape[2] // 2).reshape(-1)


def _conv2d(x, kernel, stride: tuple[int, int], pad: int = 0):
    """2-D cross-correlation by patches and one contraction: `x` (batch, C_in, H, W), `kernel` (C_out, C_in, KH, KW);
    a GEMM under `vmap`, as `_conv`. (One product per tap, as `_conv` does for many channels, was slower in
    one-off timings: an N-MNIST-shaped layer, 2 -> 8 channels, 5 x 5 kernel, stride 2: 0.19 s against 0.12 s a step; for
    a second layer, 8 -> 16 channels, 3 x 3, it made no difference: 0.237 against 0.243 s for both layers.)"""
    if pad:
        x = jnp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = kernel.shape[2:]
    ho, wo = (x.shape[2] - kh) // stride[0] + 1, (x.shape[3] - kw) // stride[1] + 1
    iy = stride[0] * jnp.arange(ho)[:, None] + jnp.arange(kh)[None, :]  # (Ho, KH)
    ix = stride[1] * jnp.arange(wo)[:, None] + jnp.arange(kw)[None, :]  # (Wo, KW)
    patches = x[:, :, iy[:, None, :, None], ix[None, :, None, :]]  # (batch, C_in, Ho, Wo, KH, KW)
    return jnp.einsum("bihwyx,oiyx->bohw", patches, kernel)


def _conv2d_shape(shape, kernel, stride, padding: int) -> tuple[int, int]:
    """`(height, width)` of a valid 2-D cross-correlation's output."""
    h, w = ((n + 2 * padding - k) // st + 1 for n, k, st in zip(shape, kernel, stride))
    return h, w


def _pool2d(x, size: int, mode: str):
    """Non-overlapping `size` x `size` pooling of `x` (batch, C, H, W) (a remainder at the edges is dropped)."""
    b, c, h, w = x.shape
    x = x[:, :, : h // size * size, : w // size * size].reshape(b, c, h // size, size, w // size, size)
    return x.max(axis=(3, 5)) if mode == "max" else x.mean(axis=(3, 5))


class Conv2D(AbstractLayer):
    """2-D convolutional spiking layer (images, event-camera frames), with optional pooling and a recurrent convolution.

    Input per step: `in_channels * height * width` values (channel-major, as `x.reshape(T, -1)` of
    `(T, C, H, W)` frames); the convolution (`kernel_size`, `stride`, `padding` zeros on each side)
    of all time steps at once, then, with `pool`, non-overlapping `pool x pool` max (or `pool_mode="avg"`)
    pooling of the currents, feed the neurons: `channels * out_height * out_width` of them. The recurrent
    convolution (`recurrent_kernel_size`, odd, same padding) maps the layer's spikes to its own
    currents; `None` (default) makes the layer feed-forward.

    ```python
    conv = snnsad.Conv2D(2, (34, 34), 8, kernel_size=5, stride=2, pool=2, neuron=snnsad.LIF(), spike_fn=spike, key=key)
    ```
    """

    kernel: Array
    recurrent_kernel: Array | None
    neuron: AbstractNeuron
    spike_fn: AbstractSpikeFunction
    in_channels: int = eqx.field(static=True)
    in_shape: tuple[int, int] = eqx.field(static=True)
    stride: tuple[int, int] = eqx.field(static=True)
    padding: int = eqx.field(static=True)
    pool: int | None = eqx.field(static=True)
    pool_mode: str = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        in_shape: tuple[int, int],
        channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int = 0,
        pool: int | None = None,
        recurrent_kernel_size: int | None = None,
        *,
        neuron: AbstractNeuron,
        spike_fn: AbstractSpikeFunction,
        key: PRNGKeyArray,
        pool_mode: str = "max",
        std: float | None = None,
        recurrent_std: float | None = None,
        dtype=jnp.float32,
    ):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
        kh, kw = pair(kernel_size)
        shape, stride_ = pair(in_shape), pair(stride)
        for name, value in (("in_channels", in_channels), ("channels", channels), ("kernel height", kh),
                            ("kernel width", kw), ("stride", stride_[0]), ("stride", stride_[1]),
                            ("in_shape height", shape[0]), ("in_shape width", shape[1])):  # fmt: skip
            check_count(name, value)
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"Conv2D: `padding` must be an int >= 0, got {padding!r}.")
        if kh > shape[0] + 2 * padding or kw > shape[1] + 2 * padding:
            raise ValueError(f"Conv2D: `kernel_size` {(kh, kw)} exceeds the padded input {shape} (+{padding}).")
        if pool is not None:
            check_count("pool", pool)
        if pool_mode not in ("max", "avg"):
            raise ValueError(f"Conv2D: `pool_mode` must be 'max' or 'avg', got {pool_mode!r}.")
        if recurrent_kernel_size is not None and (recurrent_kernel_size < 1 or recurrent_kernel_size % 2 == 0):
            raise ValueError(
                f"Conv2D: `recurrent_kernel_size` must be odd (same padding), got {recurrent_kernel_size}."
            )
        if recurrent_kernel_size is not None:
            _check_recurrence(neuron, "Conv2D")
        self.in_channels, self.in_shape, self.stride, self.padding = in_channels, shape, stride_, padding
        self.pool, self.pool_mode = pool, pool_mode
        conv_shape = _conv2d_shape(shape, (kh, kw), stride_, padding)
        if min(conv_shape) < 1 or (pool is not None and min(conv_shape) < pool):
            raise ValueError(f"Conv2D: the convolution's output {conv_shape} is empty or smaller than `pool`={pool}.")
        wkey, vkey = jr.split(key)
        std = 1 / math.sqrt(in_channels * kh * kw) if std is None else std
        self.kernel = std * jr.normal(wkey, (channels, in_channels, kh, kw), dtype)
        if recurrent_kernel_size is None:
            self.recurrent_kernel = None
        else:
            k = recurrent_kernel_size
            rstd = 1 / math.sqrt(channels * k * k) if recurrent_std is None else recurrent_std
            self.recurrent_kernel = rstd * jr.normal(vkey, (channels, channels, k, k), dtype)
        self.neuron, self.spike_fn = neuron, spike_fn

    @property
    def channels(self) -> int:
        return self.kernel.shape[0]

    @property
    def out_shape(self) -> tuple[int, int]:
        """`(height, width)` of each channel's neurons (after pooling)."""
        h, w = _conv2d_shape(self.in_shape, self.kernel.shape[2:], self.stride, self.padding)
        return (h, w) if self.pool is None else (h // self.pool, w // self.pool)

    @property
    def in_size(self):
        return self.in_channels * self.in_shape[0] * self.in_shape[1]

    @property
    def size(self):
        return self.channels * self.out_shape[0] * self.out_shape[1]

    def project(self, x):
        t = x.shape[0]
        out = _conv2d(x.reshape(t, self.in_channels, *self.in_shape), self.kernel, self.stride, self.padding)
        if self.pool is not None:
            out = _pool2d(out, self.pool, self.pool_mode)
        return out.reshape(t, self.size)

    def recurrent_current(self, spikes):
        if self.recurrent_kernel is None:
            return None
        k = self.recurrent_kernel
        grid = spikes.reshape(1, self.channels, *self.out_shape)
        return _conv2d(grid, k, (1, 1), k.shape[2] // 2).reshape(-1)


class Readout(eqx.Module):
    """Non-spiking leaky-integrator readout `(T, n_in) -> (T, n_out)`."""

    weight: Array
    neuron: LeakyIntegrator

    def __init__(
        self,
        in_size: int,
        out_size: int,
        *,
        key: PRNGKeyArray,
        neuron: LeakyIntegrator | None = None,
        std: float | None = None,
        dtype=jnp.float32,
    ):
        check_count("in_size", in_size)
        check_count("out_size", out_size)
        std = 1 / math.sqrt(in_size) if std is None else std
        self.weight = std * jr.normal(key, (out_size, in_size), dtype)
        self.neuron = LeakyIntegrator() if neuron is None else neuron

    @property
    def in_size(self):
        return self.weight.shape[1]

    @property
    def size(self):
        return self.weight.shape[0]

    def __call__(self, x, *, checkpoint=False, unroll=1):
        currents = x @ self.weight.T
        neuron = self.neuron

        def step(state, current):
            return neuron.step(state, current)

        if checkpoint:
            step = jax.checkpoint(step)
        _, out = jax.lax.scan(step, self.neuron.init(self.size, currents.dtype), currents, unroll=unroll)
        return out


def _check_recurrence(neuron: AbstractNeuron, where: str) -> None:
    if not neuron.accepts_recurrence:
        raise ValueError(
            f"{where}: a {type(neuron).__name__} neuron cannot have recurrent connections (it has no memory); "
            "use recurrent=False (Conv1D: recurrent_kernel_size=None) or an LIF neuron."
        )
