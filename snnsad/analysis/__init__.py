"""Vmapped gradient statistics, the non-conservativeness of gradient fields, small problems with exact ground truth, and timing
(compile and run measured separately, interleaved rounds on noisy machines)."""

from .._timing import interleaved_seconds as interleaved_seconds
from .._timing import median_seconds as median_seconds
from .._timing import prepared as prepared
from .._timing import time_jitted as time_jitted
from ._conservativeness import LoopIntegral as LoopIntegral
from ._conservativeness import jacobian_asymmetry as jacobian_asymmetry
from ._conservativeness import loop_integral as loop_integral
from ._estimator_choice import EstimatorProfile as EstimatorProfile
from ._estimator_choice import candidate_mixes as candidate_mixes
from ._estimator_choice import profile_estimators as profile_estimators
from ._estimator_choice import propose_mix as propose_mix
from ._small_problems import Problem as Problem
from ._small_problems import small_problems as small_problems
from ._statistics import GradientStats as GradientStats
from ._statistics import gradient_stats as gradient_stats
from ._statistics import sample_grads as sample_grads
