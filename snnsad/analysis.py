"""Vmapped gradient statistics and small problems with exact ground truth."""

from ._analysis import GradientStats as GradientStats
from ._analysis import gradient_stats as gradient_stats
from ._analysis import sample_grads as sample_grads
from ._fields import LoopIntegral as LoopIntegral
from ._fields import jacobian_asymmetry as jacobian_asymmetry
from ._fields import loop_integral as loop_integral
from ._zoo import Problem as Problem
from ._zoo import ce_loss as ce_loss
from ._zoo import count_loss as count_loss
from ._zoo import small_problems as small_problems
