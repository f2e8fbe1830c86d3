"""Equinox spiking networks and the simulation core ``Network.simulate``."""

from ._nn import AbstractLayer as AbstractLayer
from ._nn import Conv1D as Conv1D
from ._nn import Dense as Dense
from ._nn import Network as Network
from ._nn import Readout as Readout
from ._nn import Trace as Trace
from ._nn import feedforward as feedforward
from ._nn import fluctuation_std as fluctuation_std
from ._nn import normal_init as normal_init
from ._nn import weights as weights
