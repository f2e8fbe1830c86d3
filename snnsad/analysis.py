"""Vmapped gradient statistics."""

from ._analysis import GradientStats as GradientStats
from ._analysis import gradient_stats as gradient_stats
from ._analysis import sample_grads as sample_grads
