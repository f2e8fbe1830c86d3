"""Small stochastic networks with known ground truth: exact enumeration is cheap on each.

Used by the tests, the variance benchmarks and anyone who wants to check an estimator of their
own. Every problem is float64 (build it inside `jax.enable_x64(True)`), has at most 18 stochastic
(time, neuron) sites, firing probabilities mostly away from 0 and 1, and a nonzero gradient for
every weight.
"""

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array

from .._escape import Sigmoid
from .._losses import ce_loss, count_loss
from .._neurons import LIF, Perceptron
from .._spikes import Stochastic
from ..nn._layers import Conv1D, Readout
from ..nn._network import Network, feedforward


class Problem(NamedTuple):
    """A network, one input example, a per-example loss and its target."""

    net: Network
    x: Array
    loss_fn: Callable
    y: Array
    description: str


def _lif(reset, **kw):
    return LIF(tau_mem=2e-3, tau_syn=2e-3, dt=1e-3, threshold=1.0, reset=reset, **kw)


def small_problems(beta: float = 2.0, seed: int = 11) -> dict[str, Problem]:
    """Six small problems covering every layer type and reset mode (call under `jax.enable_x64`)."""
    f64 = jnp.float64
    spike = Stochastic(Sigmoid(beta))
    key = jr.key(seed)  # every problem draws its weights from the same key, its input from seed + 1

    def x_for(net, T):
        return 2 * jr.uniform(jr.key(seed + 1), (T, net.in_size), f64)

    out = {}
    net = feedforward(
        (3, 3, 2), key=key, spike_fn=spike, neuron=_lif("subtract", detach_reset=False), gain=2.0, dtype=f64
    )
    out["one_hidden_subtract"] = Problem(
        net, x_for(net, 5), ce_loss, jnp.asarray(1), "3-3-2, subtractive reset with gradient through the reset, T=5"
    )
    net = feedforward((3, 2, 1, 2), key=key, spike_fn=spike, neuron=_lif("zero"), gain=2.0, dtype=f64)
    out["two_hidden_zero"] = Problem(
        net, x_for(net, 6), ce_loss, jnp.asarray(0), "3-2-1-2, two hidden layers, multiplicative reset, T=6"
    )
    net = feedforward((3, 3, 2), key=key, spike_fn=spike, neuron=_lif("leak"), recurrent=True, gain=2.0, dtype=f64)
    out["recurrent_leak"] = Problem(net, x_for(net, 5), ce_loss, jnp.asarray(1), "3-3(rec)-2, leak-only reset, T=5")
    net = feedforward((3, 2, 1), key=key, spike_fn=spike, neuron=_lif("none"), readout=False, gain=2.0, dtype=f64)
    out["spiking_output_none"] = Problem(
        net,
        x_for(net, 6),
        count_loss,
        jnp.asarray([2.0], f64),
        "3-2-1 spiking output, no reset, spike-count loss, T=6",
    )
    # Hand-set weights of magnitude >= 0.5: every flip changes downstream probabilities noticeably
    # (tiny weights make coupled flip differences rare events).
    net = feedforward((2, 3, 2, 1), key=key, spike_fn=spike, neuron=Perceptron(0.2), readout=False, dtype=f64)
    hand = ([[1.0, -0.8], [0.6, 0.9], [-0.7, 1.1]], [[0.9, -1.0, 0.8], [-0.6, 0.7, 1.2]], [[1.0, -0.9]])
    net = eqx.tree_at(lambda n: [layer.weight for layer in n.layers], net, [jnp.asarray(w, f64) for w in hand])
    out["deep_perceptron"] = Problem(
        net, x_for(net, 2), count_loss, jnp.asarray([1.0], f64), "2-3-2-1 stochastic perceptrons (memoryless), T=2"
    )
    k1, k2 = jr.split(key)
    conv = Conv1D(
        1, 6, 2, 3, 2, 3, neuron=_lif("subtract"), spike_fn=spike, key=k1, std=1.5, recurrent_std=0.5, dtype=f64
    )
    net = Network([conv], Readout(conv.size, 2, key=k2, dtype=f64))
    out["conv_recurrent"] = Problem(
        net,
        x_for(net, 4),
        ce_loss,
        jnp.asarray(0),
        "1-D conv (2 channels, kernel 3, stride 2) with recurrent conv, T=4",
    )
    return out
