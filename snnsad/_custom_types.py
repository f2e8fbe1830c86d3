"""Shape aliases used on the spine of snnsad (`simulate`, layers, neurons, estimators, losses, statistics).

One example is time-major: `T` time steps, `n_in` inputs, `n` neurons of a layer, `n_out` outputs.
Batches come from `jax.vmap`; the aliases describe one example.
"""

from typing import Any, Literal, TypeAlias

from jaxtyping import Array, Float, PRNGKeyArray, PyTree

Scalar: TypeAlias = Float[Array, ""]
"""A scalar float array (a loss, a log-probability)."""

Input: TypeAlias = Float[Array, "T n_in"]
"""One example's input, time-major."""

LayerArray: TypeAlias = Float[Array, "T _n"]
"""Per (time, neuron) values of one spiking layer: spikes, drive `u - theta`, probabilities, noise."""

Output: TypeAlias = Float[Array, "T n_out"]
"""The readout (or the last layer's spikes) of one example."""

Current: TypeAlias = Float[Array, " n"]
"""One time step's input current to the neurons of a layer."""

Sites: TypeAlias = tuple[LayerArray | None, ...]
"""One `(T, n_l)` array per spiking layer (`None` for a layer left alone): noise, forced spikes, flips."""

FlatSites: TypeAlias = Float[Array, " K"]
"""One value per stochastic (time, neuron) site, in the order of `AbstractNetwork.flatten_sites`."""

Key: TypeAlias = PRNGKeyArray
Label: TypeAlias = Any
"""A target: a class index, counts, a target raster, `None`; whatever the loss takes."""

Reset: TypeAlias = Literal["subtract", "zero", "leak", "none"]
Strategy: TypeAlias = Literal["two_sided", "right", "left", "straight_through"]
Weighting: TypeAlias = Literal["two_sided", "right", "left", "straight_through"]
Proposal: TypeAlias = Literal["weighted", "uniform", "stratified"]
Baseline: TypeAlias = Literal["leave_one_out", "mean"] | None

__all__ = [
    "Array",
    "Baseline",
    "Current",
    "FlatSites",
    "Input",
    "Key",
    "Label",
    "LayerArray",
    "Output",
    "Proposal",
    "PyTree",
    "Reset",
    "Scalar",
    "Sites",
    "Strategy",
    "Weighting",
]
