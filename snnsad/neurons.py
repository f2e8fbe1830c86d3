"""Neuron models as pure `init` + `step` functions."""

from ._neurons import ALIF as ALIF
from ._neurons import LIF as LIF
from ._neurons import RESETS as RESETS
from ._neurons import AbstractNeuron as AbstractNeuron
from ._neurons import ALIFState as ALIFState
from ._neurons import AlphaLIF as AlphaLIF
from ._neurons import AlphaState as AlphaState
from ._neurons import Izhikevich as Izhikevich
from ._neurons import IzhikevichState as IzhikevichState
from ._neurons import LeakyIntegrator as LeakyIntegrator
from ._neurons import LIFState as LIFState
from ._neurons import Perceptron as Perceptron
from ._neurons import StepOutput as StepOutput
from ._neurons import TrainableTauLIF as TrainableTauLIF
from ._neurons import decay as decay
from ._neurons import psp_kernel_energy as psp_kernel_energy
