"""jaxtyping aliases used across snnsad (one place, so the shapes read the same everywhere)."""

from typing import Any

from jaxtyping import Array, Float, PRNGKeyArray, PyTree

Scalar = Float[Array, ""]
Drive = Float[Array, "*shape"]
TimeInput = Float[Array, "T n_in"]
TimeArray = Float[Array, "T n"]
Key = PRNGKeyArray
Params = PyTree[Any]

__all__ = ["Array", "Drive", "Float", "Key", "Params", "PyTree", "Scalar", "TimeArray", "TimeInput"]
