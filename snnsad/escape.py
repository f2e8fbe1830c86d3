"""Escape-noise functions `F` (firing probability) and `F'` (surrogate derivative)."""

from ._escape import AbstractEscape as AbstractEscape
from ._escape import Arctan as Arctan
from ._escape import Boxcar as Boxcar
from ._escape import Erf as Erf
from ._escape import Exponential as Exponential
from ._escape import FastSigmoid as FastSigmoid
from ._escape import Sigmoid as Sigmoid
from ._escape import Step as Step
from ._escape import Triangle as Triangle
