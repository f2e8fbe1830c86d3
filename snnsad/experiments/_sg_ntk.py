"""SG-NTK (beyond the paper): surrogate gradient learning of sign networks against kernel regression.

After Eilers, Memmesheimer & Goedeke (NeurIPS 2024, arXiv 2405.15539). No public code was found;
the kernels follow the paper's definitions (`snnsad.kernels`, NTK parametrisation, sigma_w 1,
sigma_b 0.1) and the task is our reading of the paper's experiment: 15 training points on the
unit circle at equally spaced angles, target `sin(2 alpha)`, two hidden layers; test points on a
fine grid of angles. Parts: (a) closed forms against quadrature; (b) the ordinary NTK of
`erf(m x)` grows with `m` while the SG-NTK tends to that of `sign`; (c) empirical kernels of
finite networks converge to the analytic ones with width; (d) sign networks trained by gradient
descent with a surrogate derivative (`psi = 2 Erf(0.5).pdf`) against the SG-NTK Gaussian process
at the same learning rate and number of steps (finite-time kernel regression).
"""

import math
import os

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy.special import erf

from ..escape import Erf
from ..kernels import (
    ErfActivation,
    SignActivation,
    SurrogateDerivative,
    analytic_kernels,
    delta_expectation,
    empirical_kernels,
    erf_erf,
    gauss_gauss,
    gaussian_expectation,
    init_mlp,
    kernel_regression,
    mlp_apply,
)
from ._results import cached, pyplot, save
from ._sg_ntk_stochastic import stochastic_study

SURROGATE = SurrogateDerivative(Erf(0.5))


def circle(n: int, offset: float = 0.0):
    """`n` equally spaced points on the unit circle (angles from `offset`) and `sin(2 alpha)` targets."""
    alpha = offset + 2 * np.pi * np.arange(n) / n
    return alpha, np.stack([np.cos(alpha), np.sin(alpha)], 1), np.sin(2 * alpha)


def _closed_form_errors():
    rng = np.random.default_rng(0)
    q1, q2 = rng.uniform(0.3, 2.0, 50), rng.uniform(0.3, 2.0, 50)
    c = rng.uniform(-0.9, 0.9, 50) * np.sqrt(q1 * q2)
    out = {}
    for m in (0.5, 1.0, 2.0):
        a, s = 2 * m / math.sqrt(math.pi), 1 / (math.sqrt(2) * m)
        quad = gaussian_expectation(lambda u, m=m: erf(m * u), lambda v, m=m: erf(m * v), q1, q2, c, n=300)
        out[f"E[erf erf], m={m:g}"] = float(np.abs(erf_erf(m, q1, q2, c) - quad).max())
        dphi = lambda u, a=a, s=s: a * np.exp(-(u**2) / (2 * s**2))  # noqa: E731
        quad = gaussian_expectation(dphi, SURROGATE.psi, q1, q2, c, n=300)
        amp = SURROGATE.height / math.sqrt(2 * math.pi * 0.25)
        out[f"E[erf' psi], m={m:g}"] = float(np.abs(gauss_gauss(a, s, amp, 0.5, q1, q2, c) - quad).max())
    s2 = np.maximum(q2 - c**2 / q1, 0)
    closed = 2 / np.sqrt(2 * np.pi * q1) * (SURROGATE.height / math.sqrt(2 * math.pi * 0.25)) / np.sqrt(1 + s2 / 0.25)
    out["E[2 delta psi] (sign)"] = float(np.abs(closed - delta_expectation(SURROGATE.psi, q1, q2, c, n=160)).max())
    return out


def _train_sign_networks(width, keys, x, y, xt, lr, steps):
    """Full-batch gradient descent with the surrogate gradient on 1/2 sum (f - y)^2, one network per key."""

    def f(p, xs, sg):
        return jax.vmap(
            lambda xi: mlp_apply(p, xi, activation=SignActivation(), surrogate=SURROGATE, use_surrogate=sg)
        )(xs)

    x, y, xt = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.asarray(xt, jnp.float32)

    def one(k):
        params = init_mlp(k, (2, width, width, 1))

        def step(p, _):
            g = jax.grad(lambda q: 0.5 * jnp.sum(jnp.square(f(q, x, True) - y)))(p)
            return jax.tree.map(lambda a, b: a - lr * b, p, g), None

        params, _ = jax.lax.scan(step, params, None, length=steps)
        return f(params, xt, False)

    return np.asarray(jax.lax.map(jax.jit(one), keys))


def _sign_networks(parts, width, n_networks, x, y, xt, lr, steps, seed, chunk: int = 50) -> list:
    """Test predictions of `n_networks` sign networks of `width` (network `i` from `jr.split(jr.key(seed +
    width), n_networks)[i]`), saved in `parts` as one file per width and, while a width is under way, one per
    `chunk` networks, so that an interrupted width resumes from its finished chunks."""
    settings = {"n": n_networks, "steps": steps, "seed": seed, "lr": lr}
    keys = jr.split(jr.key(seed + width), n_networks)

    def in_chunks():
        preds = []
        for lo in range(0, n_networks, chunk):
            hi = min(lo + chunk, n_networks)
            preds += cached(parts, f"sign_networks_w{width}_{lo}-{hi}", {**settings, "networks": [lo, hi]},
                            lambda lo=lo, hi=hi: _train_sign_networks(width, keys[lo:hi], x, y, xt, lr, steps).tolist())  # fmt: skip
        return preds

    return cached(parts, f"sign_networks_w{width}", settings, in_chunks)


def kernels_after_training(x, y, *, ms, widths, n_networks, steps, seed=0, parts: str | None = None) -> dict:
    """The empirical SG-NTK `J J~^T` on the training points of erf_m networks (two hidden layers) at
    initialisation and after `steps` of full-batch surrogate-gradient descent on `1/2 sum (f - y)^2`
    (learning rate 0.5 / the largest eigenvalue of the analytic SG-NTK), against the analytic
    (infinite-width, constant in training) SG-NTK: relative Frobenius distance `||K - K_inf|| / ||K_inf||`,
    mean and standard error over `n_networks` networks, per `m` and width. With `parts` (a folder) each
    `(m, width)`'s distances are saved as they finish and reused by a rerun."""
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    out: dict = {}
    for m in ms:
        act = ErfActivation(m)
        limit = analytic_kernels(x, x, depth=2, activation=act, surrogate=SURROGATE).sg_ntk
        assert limit is not None  # a surrogate was given
        lr = 0.5 / float(np.max(np.real(np.linalg.eigvals(limit))))
        norm = float(np.linalg.norm(limit))
        out[f"{m:g}"] = {"lr": lr}
        for w in widths:

            def f(p, act=act):
                return jax.vmap(lambda xi: mlp_apply(p, xi, activation=act, surrogate=SURROGATE, use_surrogate=True))(
                    xj
                )

            @jax.jit
            def train(params, f=f, lr=lr):
                def step(p, _):
                    g = jax.grad(lambda q: 0.5 * jnp.sum(jnp.square(f(q) - yj)))(p)
                    return jax.tree.map(lambda a, b: a - lr * b, p, g), None

                return jax.lax.scan(step, params, None, length=steps)[0]

            def distances(w=w, act=act, train=train, limit=limit, norm=norm) -> dict[str, list]:
                dist: dict[str, list] = {"init": [], "trained": []}
                for k in jr.split(jr.key(10_000 * seed + w), n_networks):
                    params = init_mlp(k, (2, w, w, 1))
                    for when, p in (("init", params), ("trained", train(params))):
                        e = empirical_kernels(p, x, x, activation=act, surrogate=SURROGATE).sg_ntk
                        assert e is not None
                        dist[when].append(float(np.linalg.norm(e - limit)) / norm)
                return dist

            settings = {"n": n_networks, "steps": steps, "seed": seed}
            dist = distances() if parts is None else cached(parts, f"kernels_m{m:g}_w{w}", settings, distances)
            out[f"{m:g}"][str(w)] = {
                when: {"mean": float(np.mean(d)), "se": float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0}
                for when, d in dist.items()
            }  # fmt: skip
    return out


def sg_ntk(
    out_dir: str,
    *,
    quick: bool = True,
    seed: int = 0,
    widths=None,
    n_networks=None,
    steps=None,
    stochastic_widths=None,
    trained_kernels=None,
) -> dict:
    """The SG-NTK study (module docstring). Quick: widths 20/100/500, 30 networks each, 1000 steps;
    full: 500 networks each and 10,000 steps. Part (e), snnsad's addition (`_sg_ntk_stochastic`):
    one-hidden-layer stochastic sign networks of `stochastic_widths` (quick 500/4000, full
    500/4000/16000; `()` skips it) trained with the matched stochastic SG, against the smoothed
    network's NTK and the sign SG-NTK. Part (f), `kernels_after_training`: the empirical SG-NTK after
    training next to the analytic one, `trained_kernels = (ms, widths, networks)` (full: m 2 / 5 / 20,
    widths 10 / 100 / 500 / 1000, 10 networks, after `steps`; quick: m 2 / 20, widths 10 / 100, 3
    networks; `()` skips it)."""
    if trained_kernels is None:
        trained_kernels = ((2.0, 20.0), (10, 100), 3) if quick else ((2.0, 5.0, 20.0), (10, 100, 500, 1000), 10)
    widths = (20, 100, 500) if widths is None else tuple(widths)
    if stochastic_widths is None:
        stochastic_widths = (500, 4000) if quick else (500, 4000, 16000)
    n_networks = (30 if quick else 500) if n_networks is None else n_networks
    steps = (1000 if quick else 10000) if steps is None else steps
    parts = os.path.join(out_dir, "sg_ntk", "parts")  # each width's networks, saved as they finish
    results: dict = {"closed_form_vs_quadrature": _closed_form_errors()}
    alpha, x, y = circle(15)
    alpha_t, xt, _ = circle(120, offset=np.pi / 120)
    sign = SignActivation()
    limit = analytic_kernels(x, x, depth=2, activation=sign, surrogate=SURROGATE)
    assert limit.sg_ntk is not None  # a surrogate was given
    growth = {}
    for m in (2.0, 5.0, 20.0, 100.0):
        k = analytic_kernels(x, x, depth=2, activation=ErfActivation(m), surrogate=SURROGATE)
        assert k.ntk is not None and k.sg_ntk is not None  # erf has a derivative, a surrogate was given
        growth[f"{m:g}"] = {
            "ntk_diagonal": float(np.mean(np.diag(k.ntk))),
            "sg_ntk_max_difference_to_sign": float(np.abs(k.sg_ntk - limit.sg_ntk).max()),
        }
    results["erf_m_limit"] = growth
    with jax.enable_x64(True):
        act = ErfActivation(2.0)
        analytic = analytic_kernels(x[:8], x[:8], depth=2, activation=act, surrogate=SURROGATE)
        assert analytic.sg_ntk is not None
        conv = {}
        for w in (100, 1000):
            errs = []
            for s in range(8 if quick else 32):
                e = empirical_kernels(init_mlp(jr.key(1000 * seed + s), (2, w, w, 1), jnp.float64), x[:8], x[:8],
                                      activation=act, surrogate=SURROGATE)  # fmt: skip
                assert e.sg_ntk is not None
                errs.append(float(np.mean((e.sg_ntk - analytic.sg_ntk) ** 2)))
            conv[str(w)] = {"mse": float(np.mean(errs)), "se": float(np.std(errs, ddof=1) / math.sqrt(len(errs)))}
        results["empirical_sg_ntk_mse"] = conv
    k_tr = limit.sg_ntk
    k_te = analytic_kernels(xt, x, depth=2, activation=sign, surrogate=SURROGATE)
    assert k_te.sg_ntk is not None
    nngp_tt = analytic_kernels(xt, xt, depth=2, activation=sign).nngp
    lr = 0.5 / float(np.max(np.real(np.linalg.eigvals(k_tr))))
    gp = kernel_regression(k_te.sg_ntk, k_tr, nngp_tt, k_te.nngp, limit.nngp, y, lr=lr, steps=steps)
    sd = np.sqrt(np.maximum(np.diag(gp.cov), 0))
    training = {}
    for w in widths:
        print(f"  SG-NTK: {n_networks} sign networks of width {w}, {steps} steps ...", flush=True)
        preds = np.asarray(_sign_networks(parts, w, n_networks, x, y, xt, lr, steps, seed))
        mean = preds.mean(0)
        # the networks' mean minus the kernel mean, averaged over test angles: mean and SE over networks
        per_network = (preds - gp.mean).mean(1)
        training[str(w)] = {
            "mean_prediction": mean.tolist(),
            "sd_prediction": preds.std(0).tolist(),
            "inside_95_band": float(np.mean(np.abs(mean - gp.mean) <= 1.96 * sd)),
            "rms_mean_difference": float(np.sqrt(np.mean((mean - gp.mean) ** 2))),
            "rms_standard_error": float(np.sqrt(np.mean(preds.var(0, ddof=1) / len(preds)))),
            "mean_deviation": float(per_network.mean()),
            "mean_deviation_se": float(per_network.std(ddof=1) / math.sqrt(len(preds))),
        }
    results["training"] = training
    results["stochastic"] = stochastic_study(
        x, y, xt, widths=tuple(stochastic_widths), n_networks=min(n_networks, 30), steps=min(steps, 1000), seed=seed,
        parts=parts,
    )  # fmt: skip
    results["gp"] = {"mean": gp.mean.tolist(), "sd": sd.tolist(), "lr": lr, "steps": steps}
    if trained_kernels:
        ms, kernel_widths, kernel_networks = trained_kernels
        print(f"  SG-NTK: empirical kernels after {steps} steps, m {ms}, widths {kernel_widths} ...", flush=True)
        results["kernels_after_training"] = kernels_after_training(
            x, y, ms=ms, widths=kernel_widths, n_networks=kernel_networks, steps=steps, seed=seed, parts=parts
        )
    fig = _figure(results, alpha, y, alpha_t, gp.mean, sd, widths)
    cf = results["closed_form_vs_quadrature"]

    def slope(key):
        return math.log(growth["100"][key] / growth["20"][key]) / math.log(5)

    report = [
        ("closed forms vs quadrature (largest difference)", f"{max(cf.values()):.1e}", "- (our check)",
         "erf-erf, erf'-psi (300 nodes) and sign's delta-psi (160) expectations against Gauss-Hermite quadrature"),
        ("ordinary NTK diagonal for m = 2 / 5 / 20 / 100",
         " / ".join(f"{growth[m]['ntk_diagonal']:.3g}" for m in growth) + f" (slope {slope('ntk_diagonal'):.2f})",
         "grows with m (ill-posed for sign)",
         "mean of Theta(x, x) over the training points; slope of log-log from m = 20 to 100 (m per hidden layer)"),
        ("SG-NTK of erf_m minus that of sign, m = 2 / 5 / 20 / 100",
         " / ".join(f"{growth[m]['sg_ntk_max_difference_to_sign']:.3g}" for m in growth)
         + f" (slope {slope('sg_ntk_max_difference_to_sign'):.2f})",
         "tends to 0", "largest entry on the training points; log-log slope from m = 20 to 100"),
        ("empirical SG-NTK MSE to analytic, width 100 / 1000",
         f"{conv['100']['mse']:.3g} / {conv['1000']['mse']:.3g} (ratio {conv['100']['mse'] / conv['1000']['mse']:.1f})",
         "falls as 1 / width", "erf_2 networks, mean over initialisations"),
    ]  # fmt: skip
    for w, r in training.items():
        report.append(
            (
                f"sign networks of width {w}: mean inside the SG-NTK 95 % band; RMS distance to the kernel mean "
                "(RMS standard error of the networks' mean); mean deviation ± SE",
                f"{100 * r['inside_95_band']:.0f} %; {r['rms_mean_difference']:.3f} ({r['rms_standard_error']:.3f}); "
                f"{r['mean_deviation']:+.4f} ± {r['mean_deviation_se']:.4f}",
                "close to kernel regression, closer with width",
                f"{n_networks} networks, {steps} steps of lr {lr:.3g}, 120 test angles; mean deviation: each "
                "network's prediction minus the kernel mean, averaged over angles, then mean ± SE over networks",
            )
        )
    for m, by_width in results.get("kernels_after_training", {}).items():
        cells = {w: v for w, v in by_width.items() if w != "lr"}
        report.append(
            (
                f"empirical SG-NTK of erf_{m} networks vs the analytic one, at init / after {steps} steps, by width",
                "; ".join(
                    f"{w}: {v['init']['mean']:.3f} / {v['trained']['mean']:.3f} (SE {v['trained']['se']:.3f})"
                    for w, v in cells.items()
                ),
                "the kernel stays at its limit in training, the closer the wider (Eilers et al., after training)",
                "relative Frobenius distance ||K - K_inf|| / ||K_inf|| on the 15 training points, mean over networks",
            )
        )
    st = results["stochastic"]
    for w in stochastic_widths:
        r = st[str(w)]
        report.append(
            (
                f"stochastic sign networks (1 hidden layer of {w}, matched SG): RMS to the smoothed network's NTK / "
                "to the sign SG-NTK",
                f"{r['rms_to_smoothed_ntk']:.3f} / {r['rms_to_sign_sg_ntk']:.3f} (SE {r['rms_standard_error']:.3f})",
                "- (snnsad's addition: tends to the smoothed NTK with width)",
                "mean of noise-averaged predictions of up to 30 networks vs the kernel means after the same steps",
            )
        )
    config = {
        "quick": quick,
        "seed": seed,
        "widths": widths,
        "stochastic_widths": stochastic_widths,
        "networks_per_width": n_networks,
        "steps": steps,
        "lr": lr,
        "sigma_w": 1.0,
        "sigma_b": 0.1,
        "surrogate": "2 * Erf(0.5).pdf",
        "trained_kernels": {"ms": trained_kernels[0], "widths": trained_kernels[1], "networks": trained_kernels[2]}
        if trained_kernels
        else None,
        "task": "15 points on the unit circle, target sin(2 alpha) (our reading of the paper's task)",
    }
    return save(out_dir, "sg_ntk", config, results, report, {"sg_ntk.png": fig})


def _figure(results, alpha, y, alpha_t, gp_mean, sd, widths):
    plt = pyplot()
    after = results.get("kernels_after_training")
    fig, axes = plt.subplots(1, 5 if after else 4, figsize=(25 if after else 20, 3.6))
    growth = results["erf_m_limit"]
    ms = [int(m) for m in growth]
    axes[0].loglog(ms, [growth[str(m)]["ntk_diagonal"] for m in ms], "o-", label="NTK diagonal")
    axes[0].loglog(
        ms, [growth[str(m)]["sg_ntk_max_difference_to_sign"] for m in ms], "s-", label="|SG-NTK - sign limit|"
    )
    axes[0].set(xlabel="m in erf(m x)")
    axes[0].set_title("a  NTK diverges, SG-NTK converges", loc="left", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].fill_between(
        alpha_t, gp_mean - 1.96 * sd, gp_mean + 1.96 * sd, color="grey", alpha=0.3, label="SG-NTK 95 %"
    )
    axes[1].plot(alpha_t, gp_mean, "k", label="SG-NTK mean")
    for i, w in enumerate(widths):
        axes[1].plot(
            alpha_t, results["training"][str(w)]["mean_prediction"], color=f"C{i}", label=f"networks, width {w}"
        )
    axes[1].plot(alpha, y, "rx", label="training points")
    axes[1].set(xlabel="angle alpha", ylabel="output")
    axes[1].set_title("b  sign networks trained with SGs vs kernel regression", loc="left", fontsize=9)
    axes[1].legend(fontsize=6)
    widths_ = list(results["training"])
    axes[2].plot([int(w) for w in widths_], [results["training"][w]["rms_mean_difference"] for w in widths_], "o-")
    axes[2].set(xscale="log", xlabel="width", ylabel="RMS(network mean - kernel mean)")
    axes[2].set_xticks([int(w) for w in widths_], widths_)
    axes[2].minorticks_off()
    axes[2].set_title("c  distance to the kernel prediction", loc="left", fontsize=9)
    st = results["stochastic"]
    sw = [k for k in st if k.isdigit()]
    if sw:
        axes[3].plot(alpha_t, st["smoothed_ntk_mean"], "k", label="smoothed network's NTK")
        axes[3].plot(alpha_t, st["sign_sg_ntk_mean"], "k:", label="sign SG-NTK")
        for i, w in enumerate(sw):
            axes[3].plot(alpha_t, st[w]["network_mean"], color=f"C{i}", lw=0.8, label=f"stochastic networks, width {w}")
        axes[3].plot(alpha, y, "rx")
        axes[3].legend(fontsize=6)
    axes[3].set(xlabel="angle alpha", ylabel="output (noise-averaged)")
    axes[3].set_title("d  matched stochastic SG: the smoothed network's kernel", loc="left", fontsize=9)
    if after:
        for i, (m, by_width) in enumerate(after.items()):
            ws = [w for w in by_width if w != "lr"]
            for when, style in (("init", ":"), ("trained", "-")):
                axes[4].errorbar([int(w) for w in ws], [by_width[w][when]["mean"] for w in ws],
                                 yerr=[by_width[w][when]["se"] for w in ws], fmt="o" + style, color=f"C{i}", ms=3,
                                 label=f"erf_{m}, {'at init' if when == 'init' else 'after training'}")  # fmt: skip
        axes[4].set(xscale="log", yscale="log", xlabel="width", ylabel="||K - K_inf|| / ||K_inf||")
        axes[4].legend(fontsize=6)
        axes[4].set_title("e  empirical SG-NTK after training", loc="left", fontsize=9)
    fig.tight_layout()
    return fig
