"""Whole-network gradient estimators: `value, grads = estimator(loss_fn, net, x, y, key)`."""

from .._losses import LossFn as LossFn
from ._antithetic import DisARM as DisARM
from ._base import AbstractEstimator as AbstractEstimator
from ._base import AbstractNetworkEstimator as AbstractNetworkEstimator
from ._base import Autodiff as Autodiff
from ._base import Averaged as Averaged
from ._base import Batched as Batched
from ._base import partition as partition
from ._enumeration import ExactEnumeration as ExactEnumeration
from ._local_score import LocalScoreFunction as LocalScoreFunction
from ._mixed import MixedEstimator as MixedEstimator
from ._score_function import ScoreFunction as ScoreFunction
from ._stochastic_ad import StochasticAD as StochasticAD
