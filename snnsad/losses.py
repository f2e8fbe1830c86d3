"""Per-example, unreduced losses (`loss_fn(trace, y)`), their output-level building blocks and activity regularisers."""

from ._losses import ActivityRegulariser as ActivityRegulariser
from ._losses import Loss as Loss
from ._losses import LossFn as LossFn
from ._losses import accuracy_max_over_time as accuracy_max_over_time
from ._losses import ce_loss as ce_loss
from ._losses import count_loss as count_loss
from ._losses import half_l2_spike_distance as half_l2_spike_distance
from ._losses import l2_spike_distance as l2_spike_distance
from ._losses import last_step_cross_entropy as last_step_cross_entropy
from ._losses import make_loss as make_loss
from ._losses import max_over_time_cross_entropy as max_over_time_cross_entropy
from ._losses import on_output as on_output
from ._losses import psp_kernel as psp_kernel
from ._losses import psp_van_rossum_distance as psp_van_rossum_distance
from ._losses import spike_count_mse as spike_count_mse
from ._losses import sum_over_time_cross_entropy as sum_over_time_cross_entropy
from ._losses import van_rossum_distance as van_rossum_distance
