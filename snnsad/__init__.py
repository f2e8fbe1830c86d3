"""snnsad: surrogate gradients, stochastic AD and exact gradients for spiking neural networks in JAX.

The public API is flat: `snnsad.Sigmoid`, `snnsad.Stochastic`, `snnsad.feedforward`,
`snnsad.StochasticAD`, ... The core modules `snnsad.escape`, `snnsad.spikes`, `snnsad.neurons` and
`snnsad.losses`, and the families `snnsad.nn`, `snnsad.estimators`, `snnsad.events`, `snnsad.data`,
`snnsad.train`, `snnsad.analysis`, `snnsad.plot`, `snnsad.kernels` and `snnsad.nir` group the names by topic. The
paper's experiments are the application on top: `import snnsad.experiments` (this package does not
import them).
"""

from . import analysis as analysis
from . import data as data
from . import escape as escape
from . import estimators as estimators
from . import events as events
from . import kernels as kernels
from . import losses as losses
from . import neurons as neurons
from . import nir as nir
from . import nn as nn
from . import plot as plot
from . import spikes as spikes
from . import train as train
from ._checks import MissingDependencyError as MissingDependencyError
from ._escape import AbstractEscape as AbstractEscape
from ._escape import Arctan as Arctan
from ._escape import Boxcar as Boxcar
from ._escape import Erf as Erf
from ._escape import Exponential as Exponential
from ._escape import FastSigmoid as FastSigmoid
from ._escape import Sigmoid as Sigmoid
from ._escape import Step as Step
from ._escape import Triangle as Triangle
from ._neurons import ALIF as ALIF
from ._neurons import LIF as LIF
from ._neurons import AbstractNeuron as AbstractNeuron
from ._neurons import AlphaLIF as AlphaLIF
from ._neurons import Izhikevich as Izhikevich
from ._neurons import LeakyIntegrator as LeakyIntegrator
from ._neurons import LIFState as LIFState
from ._neurons import Perceptron as Perceptron
from ._neurons import TrainableTauLIF as TrainableTauLIF
from ._parallel import device_mesh as device_mesh
from ._parallel import init_processes as init_processes
from ._parallel import process_share as process_share
from ._parallel import replicate as replicate
from ._parallel import shard as shard
from ._spikes import AbstractSpikeFunction as AbstractSpikeFunction
from ._spikes import AbstractStochasticSpikeFunction as AbstractStochasticSpikeFunction
from ._spikes import Expected as Expected
from ._spikes import Heaviside as Heaviside
from ._spikes import SmoothedStochastic as SmoothedStochastic
from ._spikes import Stochastic as Stochastic
from ._spikes import Surrogate as Surrogate
from ._spikes import from_peer as from_peer
from ._trace import Trace as Trace
from ._trainable import trainable as trainable
from ._version import __version__ as __version__
from .analysis._statistics import GradientStats as GradientStats
from .analysis._statistics import gradient_stats as gradient_stats
from .analysis._statistics import sample_grads as sample_grads
from .estimators._antithetic import DisARM as DisARM
from .estimators._base import AbstractEstimator as AbstractEstimator
from .estimators._base import Autodiff as Autodiff
from .estimators._base import Averaged as Averaged
from .estimators._base import Batched as Batched
from .estimators._enumeration import ExactEnumeration as ExactEnumeration
from .estimators._local_score import LocalScoreFunction as LocalScoreFunction
from .estimators._mixed import MixedEstimator as MixedEstimator
from .estimators._score_function import ScoreFunction as ScoreFunction
from .estimators._stochastic_ad import StochasticAD as StochasticAD
from .nn._layers import AbstractLayer as AbstractLayer
from .nn._layers import Conv1D as Conv1D
from .nn._layers import Conv2D as Conv2D
from .nn._layers import Dense as Dense
from .nn._layers import Readout as Readout
from .nn._network import AbstractNetwork as AbstractNetwork
from .nn._network import Network as Network
from .nn._network import feedforward as feedforward
from .train._fit import fit as fit
from .train._smorms3 import smorms3 as smorms3
