r"""Networks and the one simulation core `simulate`, declared by `AbstractNetwork`.

`simulate(x, noise, *, forced=None, flips=None, fixed_spikes=False)` runs one example,
time-major `(T, n_in)`. `noise` is a tuple with one uniform `(T, n_l)` array per spiking
layer; a stochastic spike is `1[noise < F(u - theta)]`. `forced` (spikes to impose: teacher
forcing) and `flips` (0/1 masks that flip sampled spikes, everything else coupled through the
same noise) have the same structure; an entry may be `None` for a layer left alone. Batches
come from `jax.vmap`.

Every whole-network estimator works on any `AbstractNetwork` (except `LocalScoreFunction`, which
reads a `Network`'s linear readout): `Network` (layers of this toolkit, or a researcher's own
layers and neurons) is one implementation, a researcher's own equinox model another
(docs/howto.md, "Bring your own model").
"""

import abc
import math
from collections.abc import Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from .._checks import (
    check_choice,
    check_count,
    check_finite,
    check_floating,
    check_probability,
    check_shape,
    is_concrete,
)
from .._custom_types import FlatSites, Input, LayerArray, Scalar, Sites, Weighting
from .._neurons import LIF, AbstractNeuron, LeakyIntegrator
from .._spikes import AbstractSpikeFunction, AbstractStochasticSpikeFunction
from .._trace import Trace
from .._trainable import trainable
from ._layers import AbstractLayer, Dense, Readout, fluctuation_std


class AbstractNetwork(eqx.Module):
    """What the whole-network estimators need of a model: the protocol of snnsad.

    A network has spiking layers, each with `sizes[l]` neurons (flattened) and one spike function
    `spike_fns[l]`; a (time, neuron) site of a layer whose spike function is stochastic
    (`snnsad.spikes.AbstractStochasticSpikeFunction`) is a random variable. Implement:

    - `sizes` and `spike_fns` (properties);
    - `simulate(x, noise, *, forced=None, flips=None, fixed_spikes=False) -> Trace`: one example,
      with the layers' spikes made by `snnsad.spikes.sample_spikes` from `noise[l][t]`,
      `forced[l][t]`, `flips[l][t]` and `fixed_spikes` (each `None` when not given).

    Provided from these: `stochastic`, `sample_noise`, `log_prob`, `flip_rate`,
    `n_sites`, `flatten_sites`/`unflatten_sites`, `dtype` and `__call__(x, key=key)`.
    Trained parameters are `snnsad.nn.trainable` of the model, so declare a custom module's
    hyper-parameters with `snnsad.nn.hyperparameter`.
    """

    @property
    @abc.abstractmethod
    def sizes(self) -> tuple[int, ...]:
        """Number of neurons of each spiking layer."""

    @property
    @abc.abstractmethod
    def spike_fns(self) -> tuple[AbstractSpikeFunction, ...]:
        """The spike function of each spiking layer."""

    @abc.abstractmethod
    def simulate(
        self,
        x: Input,
        noise: Sites,
        *,
        forced: Sites | None = None,
        flips: Sites | None = None,
        fixed_spikes: bool = False,
    ) -> Trace:
        """Run one example `x` `(T, n_in)` with the given noise (see the module docstring).

        **Arguments:**

        - `x`: one example, time-major `(T, n_in)` float.
        - `noise`: one uniform `(T, n_l)` array in [0, 1) per spiking layer (`sample_noise(key, T)`);
          a stochastic spike is `1[noise < F(u - theta)]`, deterministic layers ignore it.
        - `forced`: `None`, or per layer `None` or the `(T, n_l)` spikes to impose (teacher forcing).
        - `flips`: `None`, or per layer `None` or `(T, n_l)` 0/1 masks that flip the sampled spikes,
          everything else coupled through the same noise (stochastic AD's alternative paths).
        - `fixed_spikes`: hold the sampled spikes fixed for differentiation (zero derivative through
          every 0/1 spike: the pathwise term of stochastic AD) without changing the forward pass.
          Layers with continuous outputs (`snnsad.Expected`) stay differentiable.

        **Returns:**

        A `Trace`: the readout `(T, n_out)` and, per spiking layer, its spikes, drive `u - theta` and
        firing probability, each `(T, n_l)`.
        """

    # ------------------------------------------------------------------ provided

    @property
    def stochastic(self) -> tuple[bool, ...]:
        """Which spiking layers sample their spikes (their sites are random variables)."""
        return tuple(isinstance(fn, AbstractStochasticSpikeFunction) for fn in self.spike_fns)

    @property
    def dtype(self):
        """The floating dtype of the network's parameters (of its first inexact array)."""
        leaves = [leaf for leaf in jax.tree_util.tree_leaves(self) if eqx.is_inexact_array(leaf)]
        return leaves[0].dtype if leaves else jnp.dtype(jnp.float32)

    def sample_noise(self, key: PRNGKeyArray, n_steps: int, dtype=None) -> tuple[LayerArray, ...]:
        """One uniform `(n_steps, n_l)` array per spiking layer."""
        dtype = self.dtype if dtype is None else dtype
        keys = jr.split(key, len(self.sizes))
        return tuple(jr.uniform(k, (n_steps, n), dtype) for k, n in zip(keys, self.sizes))

    def __call__(self, x: Input, *, key: PRNGKeyArray | None = None) -> Trace:
        """Draw the noise from `key` and simulate. `key` is required if any layer is stochastic."""
        if key is None:
            if any(self.stochastic):
                raise ValueError(
                    f"{type(self).__name__}: this network has stochastic layers; call it as net(x, key=key)."
                )
            noise = tuple(jnp.zeros((x.shape[0], n), self.dtype) for n in self.sizes)
        else:
            noise = self.sample_noise(key, x.shape[0])
        return self.simulate(x, noise)

    def _stochastic_fns(self) -> list[tuple[int, AbstractStochasticSpikeFunction]]:
        return [(i, fn) for i, fn in enumerate(self.spike_fns) if isinstance(fn, AbstractStochasticSpikeFunction)]

    def log_prob(self, trace: Trace, layers: Sequence[int] | None = None) -> Scalar:
        """`log P(spikes)` of the stochastic layers' spikes (from logits, stable), of `layers` only if given."""
        parts = [
            fn.log_prob(trace.spikes[i], trace.drive[i])
            for i, fn in self._stochastic_fns()
            if layers is None or i in layers
        ]
        return sum((jnp.sum(p) for p in parts), jnp.zeros((), trace.output.dtype))

    def flip_rate(self, trace: Trace, weighting: Weighting = "two_sided") -> FlatSites:
        """`r_n = F'(x_n) w_n` of every stochastic site (flattened), from the spike functions' rates."""
        fns = self._stochastic_fns()
        return jnp.concatenate([fn.flip_rate(trace.spikes[i], trace.drive[i], weighting).reshape(-1) for i, fn in fns])

    def n_sites(self, n_steps: int) -> int:
        """Number of stochastic (time, neuron) sites of an example of `n_steps` steps."""
        return sum(n_steps * self.sizes[i] for i, _ in self._stochastic_fns())

    def flatten_sites(self, per_layer: Sites) -> FlatSites:
        """Per-layer `(T, n_l)` arrays -> one flat vector over the stochastic sites."""
        flat = []
        for i, _ in self._stochastic_fns():
            layer = per_layer[i]
            if layer is None:
                raise ValueError(f"flatten_sites: stochastic layer {i} needs an array, got None.")
            flat.append(jnp.ravel(layer))
        return jnp.concatenate(flat)

    def site_mask(self, layers: Sequence[int], n_steps: int) -> FlatSites:
        """1 at the stochastic sites of the spiking layers `layers`, 0 at the others (flat, as `flatten_sites`)."""
        return self.flatten_sites(
            tuple(jnp.full((n_steps, k), float(i in layers), self.dtype) for i, k in enumerate(self.sizes))
        )

    def unflatten_sites(self, flat: FlatSites, n_steps: int) -> Sites:
        """A flat vector over the stochastic sites -> per-layer `(T, n_l)` arrays (`None` elsewhere)."""
        out: list[LayerArray | None] = [None] * len(self.sizes)
        offset = 0
        for i, _ in self._stochastic_fns():
            size = n_steps * self.sizes[i]
            out[i] = flat[offset : offset + size].reshape(n_steps, self.sizes[i])
            offset += size
        return tuple(out)


def _per_layer(name, value, n_layers, where):
    """Normalise `forced`/`flips` to a tuple with one entry (or None) per layer."""
    if value is None:
        return (None,) * n_layers
    if not isinstance(value, (tuple, list)) or len(value) != n_layers:
        raise ValueError(
            f"{where}: `{name}` must be a tuple with one (T, n_l) array (or None) per spiking "
            f"layer ({n_layers}), got {type(value).__name__} of length "
            f"{len(value) if isinstance(value, (tuple, list)) else 'n/a'}."
        )
    return tuple(value)


class Network(AbstractNetwork):
    """A stack of spiking layers and an optional readout, simulated by `simulate`.

    Build one with `feedforward` or directly from layers (snnsad's or your own `AbstractLayer`s).
    Swap the spike functions of a trained network without a rebuild: `net.with_spike_fns(fn)`.

    `checkpoint=True` recomputes each scan step in the backward pass instead of storing it
    (less memory for long trials); `unroll` is the `lax.scan` unroll factor of every layer's
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
    def spike_fns(self) -> tuple[AbstractSpikeFunction, ...]:
        return tuple(layer.spike_fn for layer in self.layers)

    def with_spike_fns(self, spike_fn: AbstractSpikeFunction | Sequence[AbstractSpikeFunction]) -> "Network":
        """The same network (weights, neurons, readout) with other spike functions: one, or one per layer.

        Swaps the estimator of a trained network, e.g. evaluate a net trained with surrogate
        gradients under escape noise: `net.with_spike_fns(snnsad.Stochastic(snnsad.Sigmoid(10.0)))`.
        """
        fns = _per_layer_option("spike_fn", spike_fn, len(self.layers), where="Network.with_spike_fns")
        for fn in fns:
            if not isinstance(fn, AbstractSpikeFunction):
                raise TypeError(f"Network.with_spike_fns: expected spike functions from snnsad.spikes, got {fn!r}.")
        return eqx.tree_at(lambda n: [layer.spike_fn for layer in n.layers], self, list(fns))

    def simulate(self, x, noise, *, forced=None, flips=None, fixed_spikes=False):
        where = "Network.simulate"
        check_floating("x", x, where=where)
        check_shape("x", x, (None, self.in_size), where=where)
        if is_concrete(x):  # traced inputs: fit checks every batch on the host (a check here costs every step)
            check_finite("x", x, where=where)
        _check_parameters(self, where)
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


def _check_parameters(net: "Network", where: str) -> None:
    """Raise `ValueError` naming a trained parameter of `net` that holds NaN or inf (when concrete).

    Traced parameters are not checked here: a run-time check inside the compiled step measured 6-20 %
    of a Linear + LIF training step (`benchmarks/lif_lower_bound.py`); `fit` instead checks every
    step's gradients and update, so a parameter never becomes non-finite unnoticed during training.
    """
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(net, trainable(net)))
    if not is_concrete([leaf for _, leaf in leaves]):
        return
    for path, leaf in leaves:  # numpy: the values are concrete even when this runs inside a trace
        if not np.all(np.isfinite(np.asarray(leaf))):
            raise ValueError(f"{where}: `net{jax.tree_util.keystr(path)}` holds NaN or infinite values.")


def _per_layer_option(name: str, value: Any, n: int, where: str = "feedforward") -> tuple[Any, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{where}: `{name}` has {len(value)} entries for {n} spiking layers.")
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
    """A dense (optionally recurrent) spiking network `sizes = (n_in, h_1, ..., h_L, n_out)`.

    With a readout (default: `LeakyIntegrator()`), the last size is the readout's; pass
    `readout=False` to make the last size a spiking output layer instead. `spike_fn`,
    `neuron`, `recurrent` and `rate` may be one value or one per spiking layer.

    `init="normal"`: `W ~ N(0, gain^2 / fan_in)`. `init="fluctuation"`: each layer's std from
    `fluctuation_std` for inputs at `rate` Hz (per layer) and target `sigma_u` (recurrent
    weights take 10% of the variance). `checkpoint` and `unroll`: see `Network`.

    ```python
    net = snnsad.feedforward((20, 32, 5), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(10.0)))
    trace = net(x, key=jr.key(1))  # x: (T, 20)
    ```
    """
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"feedforward: `sizes` needs at least (n_in, n_out), got {sizes}.")
    for s in sizes:
        check_count("sizes entry", s)
    with_readout = readout is not False
    n_spiking = len(sizes) - 2 if with_readout else len(sizes) - 1
    if n_spiking < 1:
        raise ValueError(f"feedforward: `sizes`={sizes} leaves no spiking layer; add a hidden size or readout=False.")
    spike_fns: tuple[AbstractSpikeFunction, ...] = _per_layer_option("spike_fn", spike_fn, n_spiking)
    for fn in spike_fns:
        if not isinstance(fn, AbstractSpikeFunction):
            raise TypeError(
                f"feedforward: `spike_fn` must be a spike function from snnsad.spikes, got {fn!r}; an escape "
                f"function goes inside one, e.g. snnsad.Stochastic({fn!r}) or snnsad.Surrogate({fn!r})."
            )
    neurons: tuple[AbstractNeuron, ...] = _per_layer_option("neuron", LIF() if neuron is None else neuron, n_spiking)
    recurrents: tuple[bool, ...] = _per_layer_option("recurrent", recurrent, n_spiking)
    rates: tuple[float, ...] = _per_layer_option("rate", rate, n_spiking + 1)
    check_choice("init", init, ("normal", "fluctuation"), where="feedforward")
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
