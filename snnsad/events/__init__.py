"""Continuous-time, event-driven spiking networks with exact gradients.

Current-based LIF neurons (`tau_mem dV/dt = -V + I`, `tau_syn dI/dt = -I`, an input spike adds its
weight to `I`) simulated exactly from event to event under `lax.scan` (a fixed maximum of events
per layer; overflow is flagged and makes the outputs NaN). How the exact gradient is computed is a
value, an `AbstractEventGradient` passed to the network (`net(x, gradient=EventProp())`, as diffrax
takes `adjoint=`), and the same value is the estimator, `value, grads = est(loss_fn, net, x, y, key)`:

- `EventProp()`: the adjoint method with jump conditions at spikes (Wunderlich & Pehle 2021),
  O(events) memory;
- `ImplicitSpikeTimes()`: autodiff through the event loop with implicit-function spike-time
  derivatives.

Every event network implements `AbstractEventNetwork`, so `snnsad.sample_grads`,
`snnsad.gradient_stats`, `snnsad.Batched` and `snnsad.fit` take them with an event gradient.

Heads: time to first spike (`head="ttfs"`, loss `ttfs_cross_entropy`) and the maximum voltage of
a leaky-integrator readout (`head="vmax"`, loss `vmax_cross_entropy`). `yinyang_events` encodes
Yin-Yang in continuous time; `discrete_twin` builds the same network in the discrete-time core
for surrogate-gradient and stochastic comparisons.

Smooth exact gradients (Klos & Memmesheimer): `Theta` and `QIF` neurons (`AbstractSmoothNeuron`),
whose spikes can only leave a trial at its end, in a `SmoothNetwork` with pseudospikes after the trial end
(`pseudo_ttfs_cross_entropy`, estimator `Pseudospikes`); `run_layer`, `pseudo_rates`,
`spike_train` and `first_times` for custom models; `encode_images` and `SyncEvents` for
intensity-binned images.
"""

from ._gradient import AbstractEventGradient as AbstractEventGradient
from ._gradient import AbstractEventNetwork as AbstractEventNetwork
from ._gradient import EventProp as EventProp
from ._gradient import ImplicitSpikeTimes as ImplicitSpikeTimes
from ._network import EventLayer as EventLayer
from ._network import EventNetwork as EventNetwork
from ._network import EventOutput as EventOutput
from ._network import EventTrain as EventTrain
from ._network import event_accuracy as event_accuracy
from ._network import events_from_lists as events_from_lists
from ._network import ttfs_cross_entropy as ttfs_cross_entropy
from ._network import vmax_cross_entropy as vmax_cross_entropy
from ._smooth_model import Pseudospikes as Pseudospikes
from ._smooth_model import SmoothNetwork as SmoothNetwork
from ._smooth_model import SmoothOutput as SmoothOutput
from ._smooth_model import SyncEvents as SyncEvents
from ._smooth_model import encode_images as encode_images
from ._smooth_model import flip_members as flip_members
from ._smooth_model import pseudo_ttfs_cross_entropy as pseudo_ttfs_cross_entropy
from ._smooth_model import smooth_accuracy as smooth_accuracy
from ._smooth_network import LayerRun as LayerRun
from ._smooth_network import first_times as first_times
from ._smooth_network import pseudo_rates as pseudo_rates
from ._smooth_network import run_layer as run_layer
from ._smooth_network import spike_train as spike_train
from ._smooth_neurons import QIF as QIF
from ._smooth_neurons import AbstractSmoothNeuron as AbstractSmoothNeuron
from ._smooth_neurons import QIFState as QIFState
from ._smooth_neurons import Theta as Theta
from ._twin import discrete_twin as discrete_twin
from ._twin import first_spike_times as first_spike_times
from ._twin import to_raster as to_raster
from ._twin import twin_ttfs_loss as twin_ttfs_loss
from ._twin import twin_weight_grads as twin_weight_grads
from ._twin import yinyang_events as yinyang_events
