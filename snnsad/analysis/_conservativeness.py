"""Is a gradient field conservative? Loop integrals and Jacobian asymmetry (Gygax & Zenke, section on SGs).

A true gradient `g = grad L` integrates to zero around every closed loop and has a symmetric
Jacobian (the Hessian). A surrogate-gradient field generally does neither: it is not the gradient
of any loss.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array


class LoopIntegral(NamedTuple):
    """`total`: the line integral around the circle; `angle`, `accumulated`: its running value."""

    total: Array
    angle: Array
    accumulated: Array


def loop_integral(
    field: Callable[[Array], Array], center: Array, d1: Array, d2: Array, radius: float, n_points: int = 1000
) -> LoopIntegral:
    r"""`\oint field(theta) . d theta` around `theta(phi) = center + radius (cos phi d1 + sin phi d2)`.

    `field` maps a parameter vector to a vector of the same shape; `d1`, `d2` span the plane
    (normalised here); the circle runs from `d1` towards `d2` (pass them swapped for the paper's
    `center + radius (sin phi d1 + cos phi d2)`, which runs the other way and flips the sign). The
    integrand is periodic, so for a *smooth* field the trapezoid rule on `n_points` equally spaced
    angles converges exponentially fast and a true gradient gives 0 to rounding; a field with
    near-jumps (a surrogate field of a steep forward pass) converges only algebraically: compare
    two `n_points` before trusting the digits. Evaluated with one `vmap` over the angles.
    """
    center = jnp.asarray(center)
    d1 = jnp.asarray(d1, center.dtype)
    d2 = jnp.asarray(d2, center.dtype)
    if not (center.shape == d1.shape == d2.shape and center.ndim == 1):
        raise ValueError(
            f"loop_integral: `center`, `d1`, `d2` must be vectors of one shape, got {center.shape}, "
            f"{d1.shape}, {d2.shape}."
        )
    if n_points < 3:
        raise ValueError(f"loop_integral: `n_points` must be >= 3, got {n_points}.")
    d1 = d1 / jnp.linalg.norm(d1)
    d2 = d2 - (d2 @ d1) * d1  # orthonormal plane
    d2 = d2 / jnp.linalg.norm(d2)
    phi = jnp.arange(n_points, dtype=center.dtype) * (2 * jnp.pi / n_points)
    cos, sin = jnp.cos(phi)[:, None], jnp.sin(phi)[:, None]
    points = center[None] + radius * (cos * d1[None] + sin * d2[None])
    tangents = radius * (cos * d2[None] - sin * d1[None])
    integrand = jnp.sum(jax.vmap(field)(points) * tangents, axis=1) * (2 * jnp.pi / n_points)
    accumulated = jnp.cumsum(integrand)
    return LoopIntegral(accumulated[-1], phi, accumulated)


def jacobian_asymmetry(field: Callable[[Array], Array], params: Array) -> Array:
    """`||J - J^T||_F / ||J||_F` of the field's Jacobian at `params` (0 for a true gradient).

    `J = jacrev(field)(params)`; works for fields built from snnsad's custom derivative rules.
    Returns 0 where `J = 0`.
    """
    jac = jax.jacrev(field)(jnp.asarray(params))
    if jac.ndim != 2 or jac.shape[0] != jac.shape[1]:
        raise ValueError(
            f"jacobian_asymmetry: `field` must map a vector to a vector of the same size; Jacobian shape {jac.shape}."
        )
    norm = jnp.linalg.norm(jac)
    return jnp.where(norm > 0, jnp.linalg.norm(jac - jac.T) / jnp.where(norm > 0, norm, 1), 0)
