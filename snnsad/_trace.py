"""`Trace`: what a network's `simulate` returns for one example (the losses read it, the networks make it)."""

import equinox as eqx

from ._custom_types import LayerArray, Output


class Trace(eqx.Module):
    """What `simulate` returns for one example.

    `output`: the readout `(T, n_out)` (or the last layer's spikes when there is no readout);
    per spiking layer, tuples of `(T, n_l)` arrays: `spikes`, `drive` (`u - theta`) and
    `prob` (firing probability `F(u - theta)`; `H(u - theta)` for deterministic layers).
    """

    output: Output
    spikes: tuple[LayerArray, ...]
    drive: tuple[LayerArray, ...]
    prob: tuple[LayerArray, ...]
