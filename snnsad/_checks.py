"""Small helpers that turn bad input into clear errors naming the argument, value and fix."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, extra: str, what: str):
    """Import and return `module`, or raise `MissingDependencyError` naming `what` needs it and the extra
    (`pip install 'snnsad[extra]'`)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise MissingDependencyError(
            f"{what} needs the {package} package: pip install 'snnsad[{extra}]' (or pip install {package})."
        ) from None


def is_concrete(value: Any) -> bool:
    """True when `value` can be inspected now (it is not a tracer inside jit/vmap/grad)."""
    return not any(isinstance(leaf, Tracer) for leaf in jax.tree_util.tree_leaves(value))


def check_choice(name: str, value: Any, choices: Sequence[Any], *, where: str = "") -> Any:
    """Return `value` after checking that it is one of `choices`; else a `ValueError` naming the argument,
    the value and the choices ("`mode` must be 'min' or 'max', got 'mean'.")."""
    if value in choices:
        return value
    listed = [repr(c) for c in choices]
    options = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " or " + listed[-1]
    prefix = f"{where}: " if where else ""
    raise ValueError(f"{prefix}`{name}` must be {options}, got {value!r}.")


def check_positive(name: str, value: Any, *, where: str = "") -> Any:
    """Return `value` after checking that every entry is finite and strictly positive.

    A concrete value that fails raises `ValueError` now; a traced one (inside `jit`/`vmap`) is
    wrapped in `eqx.error_if`, so the same check runs when the compiled code does.
    """
    if value is None:
        return value
    prefix = f"{where}: " if where else ""
    if not is_concrete(value):
        value = jnp.asarray(value)
        return eqx.error_if(value, ~(jnp.isfinite(value) & (value > 0)), f"{prefix}`{name}` must be finite and > 0.")
    arr = np.asarray(value)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"{prefix}`{name}` must be finite and > 0, got {arr.tolist() if arr.size < 8 else arr}. "
            f"Pass a positive value (e.g. {name}=1.0)."
        )
    return value


def check_count(
    name: str, value: Any, *, where: str = "", least: int = 1, optional: bool = False, why: str = ""
) -> None:
    """Raise `ValueError` unless `value` is a Python int >= `least` (a bool is not a count); `optional` lets
    `None` through. `why` is appended to the message (e.g. what the lower bound is for)."""
    if optional and value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool) and value >= least:
        return
    what = f"an int >= {least}" + (" or None" if optional else "")
    prefix = f"{where}: " if where else ""
    raise ValueError(f"{prefix}`{name}` must be {what}{why}, got {value!r}.")


def check_finite(name: str, value: Any, *, where: str = "") -> Any:
    """Return `value` after checking that it holds no NaN or inf: `ValueError` now when concrete,
    `eqx.error_if` (raised when the compiled code runs) when traced."""
    prefix = f"{where}: " if where else ""
    if not is_concrete(value):
        return eqx.error_if(value, ~jnp.isfinite(value), f"{prefix}`{name}` holds NaN or infinite values.")
    if not np.all(np.isfinite(np.asarray(value))):
        raise ValueError(f"{prefix}`{name}` holds NaN or infinite values; check where it came from.")
    return value


def check_floating(name: str, value: Any, *, where: str = "") -> None:
    """Raise `TypeError` if `value` is not a floating-point array."""
    if not isinstance(value, (jax.Array, np.ndarray)):
        prefix = f"{where}: " if where else ""
        raise TypeError(
            f"{prefix}`{name}` must be an array (jax or numpy), got {type(value).__name__}; "
            f"wrap it, e.g. `jnp.asarray({name}, jnp.float32)`."
        )
    dtype = jnp.result_type(value)
    if not jnp.issubdtype(dtype, jnp.floating):
        prefix = f"{where}: " if where else ""
        raise TypeError(
            f"{prefix}`{name}` must be a floating-point array, got dtype {dtype}. "
            f"Cast it first, e.g. `{name}.astype(jnp.float32)`."
        )


def check_shape(name: str, value: Any, expected: tuple, *, where: str = "") -> None:
    """Raise `ValueError` if `value.shape` differs from `expected` (`None` matches anything)."""
    shape = tuple(jnp.shape(value))
    ok = len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))
    if ok and shape and shape[0] == 0:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}`{name}` has shape {shape}: no time steps. An example needs T >= 1 steps.")
    if not ok:
        prefix = f"{where}: " if where else ""
        want = tuple("any" if e is None else e for e in expected)
        raise ValueError(
            f"{prefix}`{name}` has shape {shape}, expected {want}. "
            "snnsad takes one example, time-major (T, n); use jax.vmap for batches."
        )


def check_probability(name: str, value: Any, *, where: str = "", closed_right: bool = True) -> None:
    """Raise `ValueError` if a concrete `value` lies outside `[0, 1]` (`[0, 1)` if not `closed_right`)."""
    if value is None or not is_concrete(value):
        return
    arr = np.asarray(value)
    hi_ok = arr <= 1 if closed_right else arr < 1
    if not np.all((arr >= 0) & hi_ok):
        prefix = f"{where}: " if where else ""
        bad = arr[~((arr >= 0) & hi_ok)].ravel()[:4].tolist()
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{prefix}`{name}` must lie in {interval}, got values such as {bad}.")


def float_array(value: Any) -> jax.Array:
    """A hyper-parameter as a strongly typed float array (keeps a floating dtype; else the default float).

    Strong (not weak) types make a parameter's dtype stable through optimiser updates, so a jitted
    step does not retrace when a value changes.
    """
    if isinstance(value, (jax.Array, np.ndarray)) and jnp.issubdtype(value.dtype, jnp.floating):
        return jnp.asarray(value, dtype=value.dtype)
    return jnp.asarray(value, dtype=jax.dtypes.canonicalize_dtype(jnp.float64))
