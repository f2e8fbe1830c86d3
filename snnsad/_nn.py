r"""Equinox spiking networks and the one simulation core ``simulate``.

A network is a tuple of spiking layers (dense, recurrent dense or 1-D convolutional) and an
optional non-spiking readout. ``simulate(x, noise, *, forced=None, flips=None)`` runs one
example, time-major ``(T, n_in)``, layer by layer: each layer's input projection is computed for
all time steps at once (one GEMM or convolution), and ``lax.scan`` carries only the neuron state
(plus the recurrent product). Batches come from ``jax.vmap``.

``noise`` is a tuple with one uniform ``(T, n_l)`` array per spiking layer; a stochastic spike is
``1[noise < F(u - theta)]``. ``forced`` (spikes to impose: teacher forcing) and ``flips`` (0/1
masks that flip sampled spikes, everything else coupled through the same noise) have the same
structure; an entry may be ``None`` for a layer that should be left alone.
"""

import abc
import math
from collections.abc import Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from ._checks import check_floating, check_positive, check_probability, check_shape
from ._neurons import LIF, AbstractNeuron, LeakyIntegrator, StepOutput, psp_kernel_energy
from ._spikes import AbstractSpikeFunction


class Trace(eqx.Module):
    """What ``simulate`` returns for one example.

    ``output``: the readout ``(T, n_out)`` (or the last layer's spikes when there is no readout);
    per spiking layer, tuples of ``(T, n_l)`` arrays: ``spikes``, ``drive`` (``u - theta``) and
    ``prob`` (firing probability ``F(u - theta)``; ``H(u - theta)`` for deterministic layers).
    """

    output: Array
    spikes: tuple[Array, ...]
    drive: tuple[Array, ...]
    prob: tuple[Array, ...]


# ----------------------------------------------------------------------------- initialisers


def normal_init(key: PRNGKeyArray, shape: tuple[int, ...], fan_in: int, gain: float = 1.0, dtype=jnp.float32):
    """``N(0, (gain / sqrt(fan_in))^2)`` weights."""
    return gain / math.sqrt(fan_in) * jr.normal(key, shape, dtype)


def fluctuation_std(neuron: AbstractNeuron | LeakyIntegrator, fan_in: int, rate: float, sigma_u: float = 1.0) -> float:
    """Weight std giving membrane fluctuations ``sigma_u`` (Rossbroich, Gygax & Zenke 2022).

    For ``fan_in`` Poisson inputs at ``rate`` (Hz) and zero-mean weights, Campbell's theorem gives
    ``Var[U] = fan_in * rate * sigma_w^2 * eps_hat`` with ``eps_hat`` the energy of the PSP kernel
    (:func:`snnsad.neurons.psp_kernel_energy`), so ``sigma_w = sigma_u / sqrt(fan_in rate eps_hat)``.
    """
    check_positive("rate", rate, where="fluctuation_std")
    check_positive("sigma_u", sigma_u, where="fluctuation_std")
    if not isinstance(neuron, (LIF, LeakyIntegrator)):
        raise TypeError("fluctuation_std: needs an LIF or LeakyIntegrator neuron (uses its time constants).")
    eps_hat = float(jnp.max(psp_kernel_energy(neuron)))
    return sigma_u / math.sqrt(fan_in * rate * eps_hat)


# ----------------------------------------------------------------------------- layers


def _emit_fn(spike_fn, noise_t, forced_t, flip_t, fixed):
    def emit(drive):
        prob = spike_fn.probability(drive)
        if forced_t is not None:
            return jax.lax.stop_gradient(forced_t.astype(drive.dtype)), prob
        spikes = spike_fn(drive, noise_t)
        if flip_t is not None:
            spikes = jnp.where(flip_t > 0, 1 - spikes, spikes)
        if fixed and spike_fn.discrete:
            spikes = jax.lax.stop_gradient(spikes)
        return spikes, prob

    emit.binary = forced_t is None and spike_fn.discrete  # see snnsad._neurons.Emit
    return emit


class AbstractLayer(eqx.Module):
    """A spiking layer: an input projection for all steps, a neuron model and a spike function."""

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
    def project(self, x: Array) -> Array:
        """Feed-forward input currents ``(T, size)`` for all time steps at once."""

    def recurrent(self) -> Any:
        """Callable ``s -> V s`` for recurrent layers, else ``None``."""
        return None

    def run(self, x, noise, forced=None, flips=None, *, fixed_spikes=False, checkpoint=False, unroll=1) -> StepOutput:
        """Simulate this layer on ``x`` ``(T, in_size)``: returns ``StepOutput`` of ``(T, size)`` arrays."""
        currents = self.project(x)
        spike_fn = jax.lax.stop_gradient(self.spike_fn)
        recurrent = self.recurrent()
        neuron = self.neuron
        if hasattr(neuron, "threshold"):  # per neuron before the scan: its gradient is summed once, after it
            theta = jnp.broadcast_to(jnp.asarray(neuron.threshold, currents.dtype), (self.size,))
            neuron = eqx.tree_at(lambda m: m.threshold, neuron, theta)

        def body(state, inputs):
            current, noise_t, forced_t, flip_t = inputs
            emit = _emit_fn(spike_fn, noise_t, forced_t, flip_t, fixed_spikes)
            return neuron.step(state, current, emit, recurrent)

        if checkpoint:
            body = jax.checkpoint(body)
        state = neuron.init(self.size, currents.dtype)
        _, out = jax.lax.scan(body, state, (currents, noise, forced, flips), unroll=unroll)
        return out


class Dense(AbstractLayer):
    """Dense spiking layer ``I += W x`` (+ ``V s`` with ``recurrent=True``), optional bias."""

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
        _check_size("in_size", in_size)
        _check_size("out_size", out_size)
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
        return currents if self.bias is None else currents + self.bias

    def recurrent(self):
        if self.recurrent_weight is None:
            return None
        weight = self.recurrent_weight
        return lambda s: weight @ s


def _conv(x, kernel, stride, pad=0):
    """1-D cross-correlation by patches and one contraction: ``x`` (batch, C_in, L), ``kernel`` (C_out, C_in, K).

    Written as a gather plus ``einsum`` (a GEMM) rather than ``conv_general_dilated`` so that
    per-example gradients under ``vmap`` stay batched matrix products (XLA's CPU backend turns
    vmapped convolution gradients into a slow grouped convolution).
    """
    if pad:
        x = jnp.pad(x, ((0, 0), (0, 0), (pad, pad)))
    size = kernel.shape[2]
    out_length = (x.shape[2] - size) // stride + 1
    index = stride * jnp.arange(out_length)[:, None] + jnp.arange(size)[None, :]
    patches = x[:, :, index]  # (batch, C_in, L_out, K)
    return jnp.einsum("bilk,oik->bol", patches, kernel)


class Conv1D(AbstractLayer):
    """1-D convolutional spiking layer over the neuron axis, with a recurrent convolution.

    Input per step: ``in_channels * in_length`` values (channel-major); output: ``channels *
    out_length`` neurons, ``out_length = (in_length - kernel_size) // stride + 1`` (no padding).
    The recurrent convolution (``recurrent_kernel_size``, same padding) maps the layer's spikes
    to its own currents; ``recurrent_kernel_size=None`` makes the layer feed-forward. This is the
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
            _check_size(name, value)
        if kernel_size > in_length:
            raise ValueError(f"Conv1D: `kernel_size`={kernel_size} exceeds `in_length`={in_length}.")
        if recurrent_kernel_size is not None and recurrent_kernel_size % 2 == 0:
            raise ValueError(
                f"Conv1D: `recurrent_kernel_size` must be odd (same padding), got {recurrent_kernel_size}."
            )
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

    def recurrent(self):
        if self.recurrent_kernel is None:
            return None
        kernel, shape = self.recurrent_kernel, (1, self.channels, self.out_length)
        pad = kernel.shape[2] // 2
        return lambda s: _conv(s.reshape(shape), kernel, 1, pad).reshape(-1)


class Readout(eqx.Module):
    """Non-spiking leaky-integrator readout ``(T, n_in) -> (T, n_out)``."""

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
        _check_size("in_size", in_size)
        _check_size("out_size", out_size)
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


def _check_size(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")


# ----------------------------------------------------------------------------- network


def _per_layer(name, value, n_layers, where):
    """Normalise ``forced``/``flips`` to a tuple with one entry (or None) per layer."""
    if value is None:
        return (None,) * n_layers
    if not isinstance(value, (tuple, list)) or len(value) != n_layers:
        raise ValueError(
            f"{where}: `{name}` must be a tuple with one (T, n_l) array (or None) per spiking "
            f"layer ({n_layers}), got {type(value).__name__} of length "
            f"{len(value) if isinstance(value, (tuple, list)) else 'n/a'}."
        )
    return tuple(value)


class Network(eqx.Module):
    """A stack of spiking layers and an optional readout, simulated by :meth:`simulate`.

    Build one with :func:`feedforward` or directly from layers. Swap an estimator without a
    rebuild: ``eqx.tree_at(lambda n: n.layers[0].spike_fn, net, new_fn)``.

    ``checkpoint=True`` recomputes each scan step in the backward pass instead of storing it
    (less memory for long trials); ``unroll`` is the ``lax.scan`` unroll factor of every layer's
    time loop (1 is fastest on CPU, see benchmarks/README.md; worth trying 2-8 on a GPU).
    """

    layers: tuple[AbstractLayer, ...]
    readout: Readout | None
    checkpoint: bool = eqx.field(static=True)
    unroll: int = eqx.field(static=True)

    def __init__(
        self,
        layers: Sequence[AbstractLayer],
        readout: Readout | None = None,
        *,
        checkpoint: bool = False,
        unroll: int = 1,
    ):
        if not isinstance(unroll, int) or isinstance(unroll, bool) or unroll < 1:
            raise ValueError(
                f"Network: `unroll` must be a positive int (time steps per loop iteration), got {unroll!r}."
            )
        layers = tuple(layers)
        if not layers:
            raise ValueError("Network: `layers` must contain at least one spiking layer.")
        for i, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
            if a.size != b.in_size:
                raise ValueError(
                    f"Network: layer {i} has {a.size} neurons but layer {i + 1} expects {b.in_size} inputs."
                )
        if readout is not None and readout.in_size != layers[-1].size:
            raise ValueError(f"Network: readout expects {readout.in_size} inputs, last layer has {layers[-1].size}.")
        self.layers, self.readout, self.checkpoint, self.unroll = layers, readout, checkpoint, unroll

    @property
    def in_size(self) -> int:
        return self.layers[0].in_size

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of neurons of each spiking layer."""
        return tuple(layer.size for layer in self.layers)

    @property
    def stochastic(self) -> tuple[bool, ...]:
        """Which spiking layers sample their spikes (their sites are random variables)."""
        return tuple(layer.spike_fn.stochastic for layer in self.layers)

    @property
    def dtype(self):
        return jax.tree_util.tree_leaves(self.layers[0])[0].dtype

    def sample_noise(self, key: PRNGKeyArray, n_steps: int, dtype=None) -> tuple[Array, ...]:
        """One uniform ``(n_steps, n_l)`` array per spiking layer."""
        dtype = self.dtype if dtype is None else dtype
        keys = jr.split(key, len(self.layers))
        return tuple(jr.uniform(k, (n_steps, n), dtype) for k, n in zip(keys, self.sizes))

    def simulate(
        self, x: Array, noise: Sequence[Array], *, forced=None, flips=None, fixed_spikes: bool = False
    ) -> Trace:
        """Run one example ``x`` ``(T, n_in)`` with the given ``noise`` (see the module docstring).

        ``fixed_spikes=True`` holds the sampled spikes fixed for differentiation (zero derivative
        through every 0/1 spike: the pathwise term of stochastic AD) without changing the forward
        pass. Layers with continuous outputs (:class:`~snnsad.Expected`) stay differentiable.
        """
        where = "Network.simulate"
        check_floating("x", x, where=where)
        check_shape("x", x, (None, self.in_size), where=where)
        n_steps, n = x.shape[0], len(self.layers)
        if not isinstance(noise, (tuple, list)) or len(noise) != n:
            raise ValueError(
                f"{where}: `noise` must be a tuple of {n} arrays (one per spiking layer); "
                "make it with net.sample_noise(key, T)."
            )
        forced = _per_layer("forced", forced, n, where)
        flips = _per_layer("flips", flips, n, where)
        h = x.astype(self.dtype)
        outs = []
        for i, layer in enumerate(self.layers):
            for name, arr in (("noise", noise[i]), ("forced", forced[i]), ("flips", flips[i])):
                if arr is not None:
                    check_shape(f"{name}[{i}]", arr, (n_steps, layer.size), where=where)
                    check_probability(f"{name}[{i}]", arr, where=where, closed_right=name != "noise")
            out = layer.run(
                h,
                jnp.asarray(noise[i], h.dtype),
                forced[i],
                flips[i],
                fixed_spikes=fixed_spikes,
                checkpoint=self.checkpoint,
                unroll=self.unroll,
            )
            outs.append(out)
            h = out.spikes
        output = h if self.readout is None else self.readout(h, checkpoint=self.checkpoint, unroll=self.unroll)
        return Trace(
            output=output,
            spikes=tuple(o.spikes for o in outs),
            drive=tuple(o.drive for o in outs),
            prob=tuple(o.prob for o in outs),
        )

    def __call__(self, x: Array, *, key: PRNGKeyArray | None = None) -> Trace:
        """Draw the noise from ``key`` and simulate. ``key`` is required if any layer is stochastic."""
        if key is None:
            if any(self.stochastic):
                raise ValueError("Network: this network has stochastic layers; call it as net(x, key=key).")
            noise = tuple(jnp.zeros((x.shape[0], n), self.dtype) for n in self.sizes)
        else:
            noise = self.sample_noise(key, x.shape[0])
        return self.simulate(x, noise)

    def log_prob(self, trace: Trace) -> Array:
        """``log P(spikes)`` of the stochastic layers' spikes in ``trace`` (from logits, stable)."""
        total = jnp.zeros((), trace.output.dtype)
        for layer, s, d in zip(self.layers, trace.spikes, trace.drive):
            if layer.spike_fn.stochastic:
                escape = jax.lax.stop_gradient(layer.spike_fn.escape)
                logp = jnp.where(s > 0, escape.log_cdf(d), escape.log_sf(d))
                total = total + jnp.sum(logp)
        return total


def _broadcast(name, value, n):
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"feedforward: `{name}` has {len(value)} entries for {n} spiking layers.")
        return tuple(value)
    return (value,) * n


def feedforward(
    sizes: Sequence[int],
    *,
    key: PRNGKeyArray,
    spike_fn: AbstractSpikeFunction | Sequence[AbstractSpikeFunction],
    neuron: AbstractNeuron | Sequence[AbstractNeuron] | None = None,
    readout: LeakyIntegrator | Literal[False] | None = None,
    recurrent: bool | Sequence[bool] = False,
    init: str = "normal",
    gain: float = 1.0,
    rate: float | Sequence[float] = 20.0,
    sigma_u: float = 1.0,
    bias: bool = False,
    checkpoint: bool = False,
    unroll: int = 1,
    dtype=jnp.float32,
) -> Network:
    """A dense (optionally recurrent) spiking network ``sizes = (n_in, h_1, ..., h_L, n_out)``.

    With a readout (default: ``LeakyIntegrator()``), the last size is the readout's; pass
    ``readout=False`` to make the last size a spiking output layer instead. ``spike_fn``,
    ``neuron``, ``recurrent`` and ``rate`` may be one value or one per spiking layer.

    ``init="normal"``: ``W ~ N(0, gain^2 / fan_in)``. ``init="fluctuation"``: each layer's std from
    :func:`fluctuation_std` for inputs at ``rate`` Hz (per layer) and target ``sigma_u`` (recurrent
    weights take 10% of the variance). ``checkpoint`` and ``unroll``: see :class:`Network`.

    ```python
    net = snnsad.feedforward((20, 32, 5), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(10.0)))
    trace = net(x, key=jr.key(1))  # x: (T, 20)
    ```
    """
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"feedforward: `sizes` needs at least (n_in, n_out), got {sizes}.")
    for s in sizes:
        _check_size("sizes entry", s)
    with_readout = readout is not False
    n_spiking = len(sizes) - 2 if with_readout else len(sizes) - 1
    if n_spiking < 1:
        raise ValueError(f"feedforward: `sizes`={sizes} leaves no spiking layer; add a hidden size or readout=False.")
    spike_fns = _broadcast("spike_fn", spike_fn, n_spiking)
    neurons = _broadcast("neuron", LIF() if neuron is None else neuron, n_spiking)
    recurrents = _broadcast("recurrent", recurrent, n_spiking)
    rates = _broadcast("rate", rate, n_spiking + 1)
    if init not in ("normal", "fluctuation"):
        raise ValueError(f"feedforward: `init` must be 'normal' or 'fluctuation', got {init!r}.")
    keys = jr.split(key, n_spiking + 1)
    layers = []
    for i in range(n_spiking):
        n_in, n_out = sizes[i], sizes[i + 1]
        std = rstd = None
        if init == "normal":
            std = gain / math.sqrt(n_in)
            rstd = gain / math.sqrt(n_out)
        else:
            std = fluctuation_std(neurons[i], n_in, rates[i], sigma_u)
            if recurrents[i]:
                rstd = fluctuation_std(neurons[i], n_out, rates[i + 1], sigma_u) * math.sqrt(0.1)
                std = std * math.sqrt(0.9)
        layers.append(
            Dense(
                n_in,
                n_out,
                neuron=neurons[i],
                spike_fn=spike_fns[i],
                key=keys[i],
                recurrent=recurrents[i],
                bias=bias,
                std=std,
                recurrent_std=rstd,
                dtype=dtype,
            )
        )
    ro = None
    if with_readout:
        ro_neuron = LeakyIntegrator() if readout is None else readout
        std = (
            gain / math.sqrt(sizes[-2])
            if init == "normal"
            else fluctuation_std(ro_neuron, sizes[-2], rates[-1], sigma_u)
        )
        ro = Readout(sizes[-2], sizes[-1], key=keys[-1], neuron=ro_neuron, std=std, dtype=dtype)
    return Network(layers, ro, checkpoint=checkpoint, unroll=unroll)


_WEIGHT_FIELDS = ("weight", "bias", "recurrent_weight", "kernel", "recurrent_kernel")


def weights(tree) -> dict[str, Array]:
    """The synaptic parameters of a network-shaped pytree, keyed by path (``"layers[0].weight"``).

    Works on a :class:`Network` and on gradients with its structure (as estimators return them),
    so estimates of networks whose spike functions differ can be compared weight by weight.
    """
    out = {}
    for i, layer in enumerate(tree.layers):
        for name in _WEIGHT_FIELDS:
            value = getattr(layer, name, None)
            if value is not None:
                out[f"layers[{i}].{name}"] = value
    if tree.readout is not None:
        out["readout.weight"] = tree.readout.weight
    return out
