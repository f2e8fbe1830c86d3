"""Whole-network gradient estimators: ``value, grads = estimator(loss_fn, net, x, y, key)``."""

from ._estimators import AbstractEstimator as AbstractEstimator
from ._estimators import Autodiff as Autodiff
from ._estimators import Batched as Batched
from ._estimators import ExactEnumeration as ExactEnumeration
from ._estimators import ScoreFunction as ScoreFunction
from ._estimators import StochasticAD as StochasticAD
