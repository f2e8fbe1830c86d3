"""The paper's experiments as functions; ``snnsad reproduce`` runs them and writes a report."""

from ._experiments import EXPERIMENTS as EXPERIMENTS
from ._experiments import SHD_HOWTO as SHD_HOWTO
from ._experiments import e1_single_neuron as e1_single_neuron
from ._experiments import e2_closed_loop as e2_closed_loop
from ._experiments import e3_wrong_direction as e3_wrong_direction
from ._experiments import e4_spike_train_matching as e4_spike_train_matching
from ._experiments import e5_shd as e5_shd
from ._experiments import e6_randman as e6_randman
from ._experiments import estimators_on_one_example as estimators_on_one_example
from ._experiments import fano_factor as fano_factor
from ._experiments import reproduce as reproduce
from ._experiments import toy_output as toy_output
from ._experiments import variance_study as variance_study
