"""Spiking networks: the estimators' protocol, layers, `simulate`, and what is trained."""

from .._trace import Trace as Trace
from .._trainable import hyperparameter as hyperparameter
from .._trainable import parameters as parameters
from .._trainable import trainable as trainable
from ._layers import AbstractLayer as AbstractLayer
from ._layers import Conv1D as Conv1D
from ._layers import Conv2D as Conv2D
from ._layers import Dense as Dense
from ._layers import Readout as Readout
from ._layers import fluctuation_std as fluctuation_std
from ._layers import normal_init as normal_init
from ._network import AbstractNetwork as AbstractNetwork
from ._network import Network as Network
from ._network import feedforward as feedforward
