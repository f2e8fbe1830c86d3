"""Spike functions with custom derivative rules (local gradient estimators)."""

from ._spikes import AbstractSpikeFunction as AbstractSpikeFunction
from ._spikes import AbstractStochasticSpikeFunction as AbstractStochasticSpikeFunction
from ._spikes import Expected as Expected
from ._spikes import Heaviside as Heaviside
from ._spikes import SmoothedStochastic as SmoothedStochastic
from ._spikes import Stochastic as Stochastic
from ._spikes import Surrogate as Surrogate
from ._spikes import from_peer as from_peer
from ._spikes import sample_spikes as sample_spikes
from ._spikes import smoothing_rate as smoothing_rate
from ._spikes import smoothing_weight as smoothing_weight
from ._spikes import with_slope as with_slope
