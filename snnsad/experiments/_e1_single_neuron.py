"""E1: one stochastic neuron: the matched surrogate gradient is d E[y] / du."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..escape import Sigmoid
from ..spikes import SmoothedStochastic, Stochastic
from ._results import pyplot, save


@functools.partial(jax.jit, static_argnums=(1, 2))
def _measure(key, beta: float, n: int) -> dict:
    """The Monte Carlo estimates and closed forms of E1, in one compiled program (float64)."""
    F = Sigmoid(beta)
    u = jnp.linspace(-1.5, 1.5, 61, dtype=jnp.float64)
    noise = jr.uniform(key, (n, u.size), jnp.float64)
    p, dEdu = F.cdf(u), F.pdf(u)
    sg = jax.vmap(jax.grad(Stochastic(F)))(u, noise[0])  # matched stochastic SG of one sample
    smoothed = {}
    for strategy in ("two_sided", "right", "left", "straight_through"):
        spike = SmoothedStochastic(F, strategy)
        g = jax.vmap(lambda nz, spike=spike: jax.grad(lambda x: jnp.sum(spike(x, nz)))(u))(noise)
        smoothed[strategy] = (g.mean(0), g.std(0) / np.sqrt(n))
    t = 0.2
    s = (noise < p[None]).astype(jnp.float64)
    return {
        "u": u, "p": p, "dEdu": dEdu, "sg": sg, "smoothed": smoothed,
        "mean_sg_loss": jnp.mean(2 * (s - t), axis=0) * dEdu,  # chain rule through the matched SG
        "loss_of_mean": 2 * (p - t) * dEdu,  # d L(E[y]) / du
        "mean_loss": dEdu * (1 - 2 * t),  # d E[L] / du = F' ((1 - t)^2 - t^2)
        "se": jnp.std(2 * (s - t), axis=0) / np.sqrt(n) * dEdu,
    }  # fmt: skip


def e1_single_neuron(out_dir: str, *, quick: bool = True, seed: int = 0, beta: float = 5.0) -> dict:
    """E1: a stochastic neuron `y ~ Bernoulli(sigma(beta u))`: the matched SG is dE[y]/du; smoothed
    stochastic derivatives are unbiased; for `L = (y - t)^2` the mean SG is d L(E[y]) / du, which
    equals d E[L] / du only at p = 1/2."""
    n = 2000 if quick else 20000
    with jax.enable_x64(True):
        m = {k: jax.tree.map(np.asarray, v) for k, v in _measure(jr.key(seed), beta, n).items()}
    u, p, dEdu, sg, smoothed = m["u"], m["p"], m["dEdu"], m["sg"], m["smoothed"]
    mean_sg_loss, grad_of_loss_of_mean, grad_of_mean_loss = m["mean_sg_loss"], m["loss_of_mean"], m["mean_loss"]
    half = int(np.argmin(np.abs(p - 0.5)))
    inner = (p > 0.01) & (p < 0.99)  # where Monte Carlo standard errors are meaningful
    # Standard errors are floored at float64 rounding (at p = 1/2 the two-sided weight is exactly 1).
    floor = 1e-12 * np.abs(dEdu)
    z_loss = np.abs(mean_sg_loss - grad_of_loss_of_mean)[inner] / np.maximum(m["se"], floor)[inner]
    z_smoothed = {
        k: float(np.max(np.abs(mean - dEdu)[inner] / np.maximum(se, floor)[inner]))
        for k, (mean, se) in smoothed.items()
        if k != "straight_through"
    }
    results = {
        "max_abs_matched_sg_minus_dEdu": float(np.max(np.abs(sg - dEdu))),
        "smoothed_max_z": z_smoothed,
        "mean_sg_vs_grad_of_loss_of_mean_max_z": float(z_loss.max()),
        "mean_sg_minus_true_at_p_half": float(grad_of_loss_of_mean[half] - grad_of_mean_loss[half]),
        "max_abs_mean_sg_minus_true": float(np.max(np.abs(grad_of_loss_of_mean - grad_of_mean_loss))),
    }
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    axes[0].plot(u, p, "k", label="E[y] = F(u)")
    axes[0].set(xlabel="u - theta", ylabel="firing probability")
    axes[0].set_title("a  escape noise", loc="left", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].plot(u, dEdu, label="dE[y]/du")
    axes[1].plot(u, sg, "--", label="matched stochastic SG")
    for k, (m, _) in smoothed.items():
        axes[1].plot(u, m, ".", ms=3, label=f"MC mean, {k}")
    axes[1].set(xlabel="u - theta", ylabel="derivative w.r.t. u")
    axes[1].set_title("b  SG = smoothed stochastic derivative", loc="left", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[2].plot(u, mean_sg_loss, label="mean SG of (y - t)^2")
    axes[2].plot(u, grad_of_loss_of_mean, "--", label="d L(E[y]) / du")
    axes[2].plot(u, grad_of_mean_loss, label="d E[L] / du (true)")
    axes[2].axvline(float(u[half]), color="grey", lw=0.5)
    axes[2].set(xlabel="u - theta", ylabel="derivative of the loss w.r.t. u")
    axes[2].set_title("c  through a loss: the smoothed model's gradient", loc="left", fontsize=9)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    report = [
        (
            "matched stochastic SG - dE[y]/du (max abs)",
            f"{results['max_abs_matched_sg_minus_dEdu']:.1e}",
            "0 (identity)",
        ),
        (
            "smoothed derivatives: max bias in standard errors (0.01 < p < 0.99)",
            ", ".join(f"{k} {v:.1f}" for k, v in z_smoothed.items()),
            "unbiased",
        ),
        (
            "mean SG of (y-t)^2 vs d L(E[y])/du (max z)",
            f"{results['mean_sg_vs_grad_of_loss_of_mean_max_z']:.1f}",
            "equal",
        ),
        ("d L(E[y])/du - d E[L]/du at p = 1/2", f"{results['mean_sg_minus_true_at_p_half']:.1e}", "0 only at p = 1/2"),
        ("max abs(d L(E[y])/du - d E[L]/du) over u", f"{results['max_abs_mean_sg_minus_true']:.3f}", "> 0"),
    ]
    return save(
        out_dir,
        "e1_single_neuron",
        {"quick": quick, "seed": seed, "beta": beta, "samples": n},
        results,
        report,
        {"e1_single_neuron.png": fig},
    )
