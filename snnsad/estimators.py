"""Whole-network gradient estimators: `value, grads = estimator(loss_fn, net, x, y, key)`."""

from ._enumeration import ExactEnumeration as ExactEnumeration
from ._estimators import AbstractEstimator as AbstractEstimator
from ._estimators import Autodiff as Autodiff
from ._estimators import Batched as Batched
from ._estimators import LossFn as LossFn
from ._estimators import partition as partition
from ._local_score import LocalScoreFunction as LocalScoreFunction
from ._mixed import MixedEstimator as MixedEstimator
from ._score_function import ScoreFunction as ScoreFunction
from ._stochastic_ad import StochasticAD as StochasticAD
