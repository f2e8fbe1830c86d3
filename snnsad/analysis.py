"""Vmapped gradient statistics, the non-conservativeness of gradient fields, and small problems with exact ground truth."""

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
