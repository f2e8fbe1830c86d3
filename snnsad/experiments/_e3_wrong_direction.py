"""E3: a surrogate gradient can point the wrong way."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._results import pyplot, save
from ._toy_network import toy_field, toy_output_jit


def _fields(thetas, beta_fwd, beta_sg):
    """`d y / d theta` at every row of `thetas` (one compiled program per batch shape, any steepness)."""
    return jax.vmap(toy_field, (0, None, None))(thetas, beta_fwd, beta_sg)


def e3_wrong_direction(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """E3: with v = (0.05, 0.1), u = (1, -1), x = 1, beta = 100, the SG along w (beta_SG 15, 30) disagrees in
    sign with the true derivative somewhere, and its integral has its minimum elsewhere than the output."""
    n = 401 if quick else 4001
    with jax.enable_x64(True):
        ws = jnp.linspace(-0.2, 0.2, n, dtype=jnp.float64)
        thetas = jnp.stack(
            [ws, jnp.full_like(ws, 0.05), jnp.full_like(ws, 0.1), jnp.ones_like(ws), -jnp.ones_like(ws)], 1
        )
        y = jax.vmap(toy_output_jit, (0, None, None))(thetas, 100.0, 100.0)
        true = _fields(thetas, 100.0, 100.0)[:, 0]
        out: dict[str, Any] = {"w_true_minimum": float(ws[jnp.argmin(y)])}
        curves = {}
        for b in (15.0, 30.0):
            sg = _fields(thetas, 100.0, b)[:, 0]
            integ = jnp.concatenate([jnp.zeros(1), jnp.cumsum((sg[1:] + sg[:-1]) / 2 * jnp.diff(ws))]) + y[0]
            # Opposite signs where the true derivative is clearly nonzero (> 5% of its largest magnitude).
            clear = np.abs(np.asarray(true)) > 0.05 * float(jnp.max(jnp.abs(true)))
            wrong = np.asarray(jnp.sign(sg) != jnp.sign(true)) & clear
            out[str(b)] = {
                "w_integrated_sg_minimum": float(ws[jnp.argmin(integ)]),
                "fraction_opposite_sign": float(wrong.mean()),
                "example_w_opposite_sign": float(ws[np.argmax(wrong)]) if wrong.any() else None,
            }
            curves[b] = (np.asarray(sg), np.asarray(integ))
        # Second panel: beta = 20, w = 1, u = (1, -1); grid over (v1, v2).
        g = jnp.linspace(-2, 2, 9 if quick else 17, dtype=jnp.float64)
        V1, V2 = jnp.meshgrid(g, g)
        grid = jnp.stack([jnp.ones(V1.size), V1.ravel(), V2.ravel(), jnp.ones(V1.size), -jnp.ones(V1.size)], 1)
        exact = _fields(grid, 20.0, 20.0)[:, 1:3]
        arrows = {b: _fields(grid, 20.0, b)[:, 1:3] for b in (2.0, 4.0)}
        exact_norm = np.asarray(jnp.linalg.norm(exact, axis=1))
        flat = exact_norm < 1e-3
        arrows = {b: np.asarray(a) for b, a in arrows.items()}
        ws, y, true = np.asarray(ws), np.asarray(y), np.asarray(true)
        V1, V2 = np.asarray(V1), np.asarray(V2)
        for b, a in arrows.items():
            out[f"grid_beta_sg_{b:g}_mean_sg_norm_where_exact_flat"] = (
                float(np.linalg.norm(np.asarray(a), axis=1)[flat].mean()) if flat.any() else None
            )
        # Integrated-SG surfaces along two paths from the corner (-2, -2): v1 first, or v2 first.
        fine = jnp.linspace(-2, 2, 41 if quick else 161, dtype=jnp.float64)
        F1, F2 = jnp.meshgrid(fine, fine)  # [i, j] = (v2_i, v1_j)
        pts = jnp.stack([jnp.ones(F1.size), F1.ravel(), F2.ravel(), jnp.ones(F1.size), -jnp.ones(F1.size)], 1)
        field = np.asarray(_fields(pts, 20.0, 2.0)[:, 1:3])
        g1, g2 = field[:, 0].reshape(F1.shape), field[:, 1].reshape(F1.shape)
        h = float(fine[1] - fine[0])

        def cumtrapz(f, axis):
            f = np.moveaxis(f, axis, 0)
            c = np.concatenate([np.zeros_like(f[:1]), np.cumsum((f[1:] + f[:-1]) / 2 * h, axis=0)])
            return np.moveaxis(c, 0, axis)

        v1_first = cumtrapz(g1, 1)[:1, :] + (cumtrapz(g2, 0) - cumtrapz(g2, 0)[:1, :])
        v2_first = cumtrapz(g2, 0)[:, :1] + (cumtrapz(g1, 1) - cumtrapz(g1, 1)[:, :1])
        path_difference = v1_first - v2_first
        out["integrated_sg_path_difference_max"] = float(np.abs(path_difference).max())
        fine = np.asarray(fine)
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
    axes[0].plot(ws, y, "k", label="output y(w)")
    for b, (_, integ) in curves.items():
        axes[0].plot(ws, integ, label=f"integrated SG, beta_SG = {b:g}")
    axes[0].legend(fontsize=7)
    axes[0].set_xlabel("w")
    axes[0].set_ylabel("y")
    axes[0].set_title("a  output and integrated SG along w", loc="left", fontsize=9)
    axes[1].plot(ws, true, "k", label="true dy/dw")
    for b, (sg, _) in curves.items():
        axes[1].plot(ws, sg, label=f"SG, beta_SG = {b:g}")
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[1].legend(fontsize=7)
    axes[1].set_xlabel("w")
    axes[1].set_ylabel("dy/dw")
    axes[1].set_title("b  true derivative and SGs", loc="left", fontsize=9)
    for b, a in arrows.items():
        axes[2].quiver(
            V1,
            V2,
            -a[:, 0].reshape(V1.shape),
            -a[:, 1].reshape(V1.shape),
            color="C0" if b == 2.0 else "C1",
            label=f"-SG, beta_SG = {b:g}",
        )
    shade = axes[2].contourf(V1, V2, exact_norm.reshape(V1.shape), levels=10, alpha=0.3)
    fig.colorbar(shade, ax=axes[2], label="|true gradient|")
    axes[2].set_xlabel("v1")
    axes[2].set_ylabel("v2")
    axes[2].set_title("c  descent directions (beta = 20)", loc="left", fontsize=9)
    axes[2].legend(fontsize=7)
    diff = axes[3].contourf(fine, fine, path_difference, levels=15, cmap="RdBu_r")
    fig.colorbar(diff, ax=axes[3], label="v1-first minus v2-first")
    axes[3].set_xlabel("v1")
    axes[3].set_ylabel("v2")
    axes[3].set_title("d  integrated SG (beta_SG = 2): two paths differ", loc="left", fontsize=9)
    fig.tight_layout()
    report = [("minimum of y(w) (true)", f"w = {out['w_true_minimum']:+.3f}", "one minimum", "grid minimum")]
    for b in ("15.0", "30.0"):
        r = out[b]
        report.append(
            (
                f"beta_SG = {b}: minimum of integrated SG; a w with opposite sign",
                f"w = {r['w_integrated_sg_minimum']:+.3f}; "
                + ("none" if r["example_w_opposite_sign"] is None else f"w = {r['example_w_opposite_sign']:+.3f}")
                + f" ({100 * r['fraction_opposite_sign']:.0f}% of the sweep)",
                "minima differ; signs disagree somewhere",
                "sign disagreement where |true dy/dw| > 5 % of its maximum",
            )
        )
    report.append(
        (
            "largest difference of the integrated SG (beta_SG = 2) between the two paths",
            f"{out['integrated_sg_path_difference_max']:.3f}",
            "surfaces differ (not a potential)",
            "trapezoid integrals from (-2, -2): v1 then v2 minus v2 then v1, over the (v1, v2) grid",
        )
    )
    return save(
        out_dir,
        "e3_wrong_direction",
        {"quick": quick, "beta_forward": 100.0, "grid_points": n},
        out,
        report,
        {"e3_wrong_direction.png": fig},
    )
