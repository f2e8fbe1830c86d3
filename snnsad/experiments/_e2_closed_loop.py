"""E2: surrogate gradients are not gradients: nonzero loop integrals and an asymmetric Jacobian."""

import jax
import jax.numpy as jnp
import numpy as np

from ..analysis import jacobian_asymmetry, loop_integral
from ._results import pyplot, save
from ._toy_network import toy_field


def e2_closed_loop(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """E2: the SG field's line integral around a circle (radius 1.8, plane from ortho_group seed 124) is
    nonzero and grows with beta_SG; the exact gradient of the smooth network integrates to ~0.

    The circle is the authors' (fmi-basel/surrogate-gradient-theory, `integrate_closed_circle`):
    `c + r (sin phi d1 + cos phi d2)`, so signs match the paper's figure. The forward steepness is
    1e4, so the SG field has near-jumps and the trapezoid rule converges slowly: the integral is
    computed with `n_points` and 10x as many; the finer value is reported with the change.
    """
    from scipy.stats import ortho_group

    n_points = 2000 if quick else 20000
    rot = ortho_group.rvs(5, random_state=124)
    with jax.enable_x64(True):
        d1, d2, center = jnp.asarray(rot[0]), jnp.asarray(rot[1]), jnp.zeros(5, jnp.float64)
        rows, curves = {}, {}
        for b in (1.0, 5.0, 20.0):
            sg_field = lambda th, b=b: toy_field(th, 1e4, b)  # noqa: E731
            ex_field = lambda th, b=b: toy_field(th, b, b)  # noqa: E731
            # swapped plane vectors: the authors' parametrisation c + r (sin phi d1 + cos phi d2)
            coarse = loop_integral(sg_field, center, d2, d1, 1.8, n_points)
            sg = loop_integral(sg_field, center, d2, d1, 1.8, 10 * n_points)
            ex = loop_integral(ex_field, center, d2, d1, 1.8, n_points)
            theta = center + 0.9 * d1
            asym_sg = jacobian_asymmetry(sg_field, theta)
            asym_ex = jacobian_asymmetry(ex_field, theta)
            rows[str(b)] = {
                "sg_loop_integral": float(sg.total),
                "sg_loop_integral_coarse": float(coarse.total),
                "sg_relative_change": float(abs(sg.total - coarse.total) / abs(sg.total)),
                "exact_loop_integral": float(ex.total),
                "sg_jacobian_asymmetry": float(asym_sg),
                "exact_jacobian_asymmetry": float(asym_ex),
            }
            curves[b] = (
                np.asarray(sg.angle),
                np.asarray(sg.accumulated),
                np.asarray(ex.angle),
                np.asarray(ex.accumulated),
            )
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, (b, (phi, acc, phi_ex, acc_ex)) in enumerate(curves.items()):
        ax.plot(phi, acc, color=f"C{i}", label=f"SG, beta_SG = {b:g}")
        ax.plot(phi_ex, acc_ex, ":", color=f"C{i}", label=f"exact, beta = {b:g}")
    ax.set_xlabel("angle phi on the circle c + r (sin phi d1 + cos phi d2) (rad)")
    ax.set_ylabel("accumulated line integral")
    ax.set_title("SG fields do not integrate to zero around a loop", loc="left", fontsize=9)
    ax.legend(fontsize=7)
    report = [
        (
            f"loop integral, beta_SG = {b}",
            f"SG {r['sg_loop_integral']:+.4f} ({10 * n_points} points; {100 * r['sg_relative_change']:.1f} % "
            f"from {n_points}), exact {r['exact_loop_integral']:+.1e}",
            "SG nonzero, growing with beta_SG; exact 0",
            "trapezoid rule around the authors' circle (radius 1.8, forward steepness 1e4)",
        )
        for b, r in rows.items()
    ]
    report.append(
        (
            "Jacobian asymmetry norm(J - J^T) / norm(J) (beta_SG = 5)",
            f"SG {rows['5.0']['sg_jacobian_asymmetry']:.3f}, exact {rows['5.0']['exact_jacobian_asymmetry']:.1e}",
            "nonzero iff steepness differs",
            "Frobenius norms of the field's Jacobian at c + 0.9 d1",
        )
    )
    return save(
        out_dir,
        "e2_closed_loop",
        {
            "quick": quick,
            "n_points": [n_points, 10 * n_points],
            "radius": 1.8,
            "beta_forward": 1e4,
            "circle": "c + r (sin phi d1 + cos phi d2) (the authors')",
        },
        rows,
        report,
        {"e2_closed_loop.png": fig},
    )
