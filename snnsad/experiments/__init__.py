"""The paper's experiments as functions, the networks they use, and `reproduce`, which runs them and writes a report.

Each `eN_...(out_dir, *, quick=True, seed=0)` writes `out_dir/<name>/config.json` (with versions
and commit), `results.json` and PNG figures, and returns a dict whose `"report"` entry lists rows
`(quantity, ours, paper, definition)` for the Markdown report: our number, the paper's (or the
reference implementation's) and the definition both are measured by. `quick` runs in about a minute or less on a
CPU; `quick=False` uses the paper's sizes.
"""

from ..train import CellsResult as CellsResult
from ..train import fit_cells as fit_cells
from ._baselines import spike_time_baselines as spike_time_baselines
from ._e1_single_neuron import e1_single_neuron as e1_single_neuron
from ._e2_closed_loop import e2_closed_loop as e2_closed_loop
from ._e3_wrong_direction import e3_wrong_direction as e3_wrong_direction
from ._e4_spike_train_matching import AUTHORS_TARGET_SHA256 as AUTHORS_TARGET_SHA256
from ._e4_spike_train_matching import e4_spike_train_matching as e4_spike_train_matching
from ._e4_spike_train_matching import kernel_area_ratio as kernel_area_ratio
from ._e5_shd import SHD_HOWTO as SHD_HOWTO
from ._e5_shd import e5_shd as e5_shd
from ._e6_randman import e6_randman as e6_randman
from ._estimators_on_one_example import demo_estimators as demo_estimators
from ._estimators_on_one_example import estimators_on_one_example as estimators_on_one_example
from ._eventprop import eventprop_yinyang as eventprop_yinyang
from ._fano import fano_factor as fano_factor
from ._fano import repeated_spikes as repeated_spikes
from ._fano import windowed_fano_factor as windowed_fano_factor
from ._randman_calibration import STANDARD_RANDMAN as STANDARD_RANDMAN
from ._randman_calibration import randman_calibration as randman_calibration
from ._randman_calibration import split_80_10_10 as split_80_10_10
from ._recipes import RANDMAN_CONV as RANDMAN_CONV
from ._recipes import SHD_CONV as SHD_CONV
from ._recipes import SHD_NU as SHD_NU
from ._recipes import conv_network as conv_network
from ._recipes import input_rate as input_rate
from ._recipes import paper_network as paper_network
from ._recipes import randman_conv_network as randman_conv_network
from ._recipes import shd_conv_network as shd_conv_network
from ._reproduce import EXPERIMENTS as EXPERIMENTS
from ._reproduce import TOUR as TOUR
from ._reproduce import reproduce as reproduce
from ._robustness import robustness as robustness
from ._robustness_diagnostics import surrogate_vs_exact as surrogate_vs_exact
from ._sg_ntk import sg_ntk as sg_ntk
from ._smooth_exact import smooth_exact as smooth_exact
from ._stages import train_in_stages as train_in_stages
from ._toy_network import toy_output as toy_output
from ._unbiased_training import unbiased_training as unbiased_training
from ._variance_study import variance_study as variance_study
