"""The paper's experiments as functions (``snnsad reproduce`` calls these).

Each ``eN_...(out_dir, *, quick=True, seed=0)`` writes ``out_dir/<name>/config.json`` (with versions
and commit), ``results.json`` and PNG figures, and returns a dict whose ``"report"`` entry lists
rows ``(quantity, ours, paper)`` for the Markdown report. ``quick`` runs in about a minute or less on
a CPU; ``quick=False`` uses the paper's sizes.
"""

import json
import os
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ._escape import Sigmoid
from ._fields import jacobian_asymmetry, loop_integral
from ._io import atomic_write_text, run_info
from ._spikes import SmoothedStochastic, Stochastic, with_slope


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(out_dir, name, config, results, report, figures):
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    atomic_write_text(os.path.join(folder, "config.json"), json.dumps({**config, **run_info()}, indent=2, default=str))
    atomic_write_text(os.path.join(folder, "results.json"), json.dumps(results, indent=2, default=float))
    paths = []
    for fname, fig in figures.items():
        path = os.path.join(folder, fname)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        _plt().close(fig)
        paths.append(path)
    return {"name": name, "results": results, "report": report, "figures": paths}


# ----------------------------------------------------------------------------- E1


def e1_single_neuron(out_dir: str, *, quick: bool = True, seed: int = 0, beta: float = 5.0) -> dict:
    """E1: a stochastic neuron ``y ~ Bernoulli(sigma(beta u))``: the matched SG is dE[y]/du; smoothed
    stochastic derivatives are unbiased; for ``L = (y - t)^2`` the mean SG is d L(E[y]) / du, which
    equals d E[L] / du only at p = 1/2."""
    with jax.enable_x64(True):
        F = Sigmoid(beta)
        u = jnp.linspace(-1.5, 1.5, 61, dtype=jnp.float64)
        n = 2000 if quick else 20000
        noise = jr.uniform(jr.key(seed), (n, u.size), jnp.float64)
        p, dEdu = F.cdf(u), F.pdf(u)
        sg = jax.vmap(jax.grad(Stochastic(F)))(u, noise[0])  # matched stochastic SG of one sample
        smoothed = {}
        for strategy in ("two_sided", "right", "left", "straight_through"):
            spike = SmoothedStochastic(F, strategy)
            g = jax.vmap(lambda nz, spike=spike: jax.grad(lambda x: jnp.sum(spike(x, nz)))(u))(noise)
            smoothed[strategy] = (np.asarray(g.mean(0)), np.asarray(g.std(0) / np.sqrt(n)))
        t = 0.2
        s = (noise < p[None]).astype(jnp.float64)
        mean_sg_loss = jnp.mean(2 * (s - t), axis=0) * dEdu  # chain rule through the matched SG
        grad_of_loss_of_mean = 2 * (p - t) * dEdu  # d L(E[y]) / du
        grad_of_mean_loss = dEdu * (1 - 2 * t)  # d E[L] / du = F' ((1 - t)^2 - t^2)
        half = int(jnp.argmin(jnp.abs(p - 0.5)))
        se = jnp.std(2 * (s - t), axis=0) / np.sqrt(n) * dEdu
        inner = np.asarray((p > 0.01) & (p < 0.99))  # where Monte Carlo standard errors are meaningful
        # Standard errors are floored at float64 rounding (at p = 1/2 the two-sided weight is exactly 1).
        floor = 1e-12 * np.abs(np.asarray(dEdu))
        z_loss = (
            np.abs(np.asarray(mean_sg_loss - grad_of_loss_of_mean))[inner] / np.maximum(np.asarray(se), floor)[inner]
        )
        u, p, dEdu, sg = (np.asarray(a) for a in (u, p, dEdu, sg))
        mean_sg_loss, grad_of_loss_of_mean, grad_of_mean_loss = (
            np.asarray(a) for a in (mean_sg_loss, grad_of_loss_of_mean, grad_of_mean_loss)
        )
    z_smoothed = {
        k: float(np.max(np.abs(m - np.asarray(dEdu))[inner] / np.maximum(e, floor)[inner]))
        for k, (m, e) in smoothed.items()
        if k != "straight_through"
    }
    results = {
        "max_abs_matched_sg_minus_dEdu": float(np.max(np.abs(sg - dEdu))),
        "smoothed_max_z": z_smoothed,
        "mean_sg_vs_grad_of_loss_of_mean_max_z": float(z_loss.max()),
        "mean_sg_minus_true_at_p_half": float(grad_of_loss_of_mean[half] - grad_of_mean_loss[half]),
        "max_abs_mean_sg_minus_true": float(np.max(np.abs(grad_of_loss_of_mean - grad_of_mean_loss))),
    }
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(u, p, label="E[y] = F(u)")
    axes[0].plot(u, dEdu, label="dE[y]/du")
    axes[0].plot(u, sg, "--", label="matched stochastic SG")
    for k, (m, _) in smoothed.items():
        axes[0].plot(u, m, ".", ms=3, label=f"MC mean, {k}")
    axes[0].set_xlabel("u - theta")
    axes[0].legend(fontsize=7)
    axes[1].plot(u, mean_sg_loss, label="mean SG of (y - t)^2")
    axes[1].plot(u, grad_of_loss_of_mean, "--", label="d L(E[y]) / du")
    axes[1].plot(u, grad_of_mean_loss, label="d E[L] / du (true)")
    axes[1].axvline(float(u[half]), color="grey", lw=0.5)
    axes[1].set_xlabel("u - theta")
    axes[1].legend(fontsize=7)
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
    return _save(
        out_dir,
        "e1_single_neuron",
        {"quick": quick, "seed": seed, "beta": beta, "samples": n},
        results,
        report,
        {"e1_single_neuron.png": fig},
    )


# ----------------------------------------------------------------------------- E2, E3 networks


def toy_output(theta, beta_fwd, beta_sg, x=1.0):
    """The paper's 5-weight sigmoid network: ``g = s(w x)``, ``h_i = s(v_i g)``, ``y = s(u1 h1 + u2 h2)``.

    Forward ``s = sigma(beta_fwd z)``; the backward pass uses ``sigma'`` at ``beta_sg`` (a surrogate
    gradient unless the two are equal, when it is the exact gradient of the smooth network).
    """
    fwd, sg = Sigmoid(beta_fwd), Sigmoid(beta_sg)

    def s(z):
        return with_slope(z, fwd.cdf(z), sg.pdf(z))

    w, v1, v2, u1, u2 = theta
    g = s(w * x)
    return s(u1 * s(v1 * g) + u2 * s(v2 * g))


def e2_closed_loop(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """E2: the SG field's line integral around a circle (radius 1.8, plane from ortho_group seed 124) is
    nonzero and grows with beta_SG; the exact gradient of the smooth network integrates to ~0."""
    from scipy.stats import ortho_group

    n_points = 2000 if quick else 20000
    rot = ortho_group.rvs(5, random_state=124)
    with jax.enable_x64(True):
        d1, d2, center = jnp.asarray(rot[0]), jnp.asarray(rot[1]), jnp.zeros(5, jnp.float64)
        rows, curves = {}, {}
        for b in (1.0, 5.0, 20.0):
            sg = loop_integral(jax.grad(lambda th, b=b: toy_output(th, 1e4, b)), center, d1, d2, 1.8, n_points)
            ex = loop_integral(jax.grad(lambda th, b=b: toy_output(th, b, b)), center, d1, d2, 1.8, n_points)
            theta = center + 0.9 * d1
            asym_sg = jacobian_asymmetry(jax.grad(lambda th, b=b: toy_output(th, 1e4, b)), theta)
            asym_ex = jacobian_asymmetry(jax.grad(lambda th, b=b: toy_output(th, b, b)), theta)
            rows[str(b)] = {
                "sg_loop_integral": float(sg.total),
                "exact_loop_integral": float(ex.total),
                "sg_jacobian_asymmetry": float(asym_sg),
                "exact_jacobian_asymmetry": float(asym_ex),
            }
            curves[b] = (np.asarray(sg.angle), np.asarray(sg.accumulated), np.asarray(ex.accumulated))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for b, (phi, acc, acc_ex) in curves.items():
        ax.plot(phi, acc, label=f"SG, beta_SG = {b:g}")
        ax.plot(phi, acc_ex, ":", label=f"exact, beta = {b:g}")
    ax.set_xlabel("angle on the circle")
    ax.set_ylabel("accumulated line integral")
    ax.legend(fontsize=7)
    report = [
        (
            f"loop integral, beta_SG = {b}",
            f"SG {r['sg_loop_integral']:+.4f}, exact {r['exact_loop_integral']:+.1e}",
            "SG nonzero, growing with beta_SG; exact 0",
        )
        for b, r in rows.items()
    ]
    report.append(
        (
            "Jacobian asymmetry norm(J - J^T) / norm(J) (beta_SG = 5)",
            f"SG {rows['5.0']['sg_jacobian_asymmetry']:.3f}, exact {rows['5.0']['exact_jacobian_asymmetry']:.1e}",
            "nonzero iff steepness differs",
        )
    )
    return _save(
        out_dir,
        "e2_closed_loop",
        {"quick": quick, "n_points": n_points, "radius": 1.8, "beta_forward": 1e4},
        rows,
        report,
        {"e2_closed_loop.png": fig},
    )


def e3_wrong_direction(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """E3: with v = (0.05, 0.1), u = (1, -1), x = 1, beta = 100, the SG along w (beta_SG 15, 30) disagrees in
    sign with the true derivative somewhere, and its integral has its minimum elsewhere than the output."""
    n = 401 if quick else 4001
    with jax.enable_x64(True):
        ws = jnp.linspace(-0.2, 0.2, n, dtype=jnp.float64)
        thetas = jnp.stack(
            [ws, jnp.full_like(ws, 0.05), jnp.full_like(ws, 0.1), jnp.ones_like(ws), -jnp.ones_like(ws)], 1
        )
        y = jax.vmap(lambda th: toy_output(th, 100.0, 100.0))(thetas)
        true = jax.vmap(jax.grad(lambda th: toy_output(th, 100.0, 100.0)))(thetas)[:, 0]
        out = {"w_true_minimum": float(ws[jnp.argmin(y)])}
        curves = {}
        for b in (15.0, 30.0):
            sg = jax.vmap(jax.grad(lambda th, b=b: toy_output(th, 100.0, b)))(thetas)[:, 0]
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
        exact = jax.vmap(jax.grad(lambda th: toy_output(th, 20.0, 20.0)))(grid)[:, 1:3]
        arrows = {b: jax.vmap(jax.grad(lambda th, b=b: toy_output(th, 20.0, b)))(grid)[:, 1:3] for b in (2.0, 4.0)}
        exact_norm = np.asarray(jnp.linalg.norm(exact, axis=1))
        flat = exact_norm < 1e-3
        arrows = {b: np.asarray(a) for b, a in arrows.items()}
        ws, y, true = np.asarray(ws), np.asarray(y), np.asarray(true)
        V1, V2 = np.asarray(V1), np.asarray(V2)
        for b, a in arrows.items():
            out[f"grid_beta_sg_{b:g}_mean_sg_norm_where_exact_flat"] = (
                float(np.linalg.norm(np.asarray(a), axis=1)[flat].mean()) if flat.any() else None
            )
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(ws, y, "k", label="output y(w)")
    for b, (_, integ) in curves.items():
        axes[0].plot(ws, integ, label=f"integrated SG, beta_SG = {b:g}")
    axes[0].legend(fontsize=7)
    axes[0].set_xlabel("w")
    axes[1].plot(ws, true, "k", label="true dy/dw")
    for b, (sg, _) in curves.items():
        axes[1].plot(ws, sg, label=f"SG, beta_SG = {b:g}")
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[1].legend(fontsize=7)
    axes[1].set_xlabel("w")
    for b, a in arrows.items():
        axes[2].quiver(
            V1,
            V2,
            -a[:, 0].reshape(V1.shape),
            -a[:, 1].reshape(V1.shape),
            color="C0" if b == 2.0 else "C1",
            label=f"-SG, beta_SG = {b:g}",
        )
    axes[2].contourf(V1, V2, exact_norm.reshape(V1.shape), levels=10, alpha=0.3)
    axes[2].set_xlabel("v1")
    axes[2].set_ylabel("v2")
    axes[2].legend(fontsize=7)
    report = [("minimum of y(w) (true)", f"w = {out['w_true_minimum']:+.3f}", "one minimum")]
    for b in ("15.0", "30.0"):
        r = out[b]
        report.append(
            (
                f"beta_SG = {b}: minimum of integrated SG; a w with opposite sign",
                f"w = {r['w_integrated_sg_minimum']:+.3f}; "
                + ("none" if r["example_w_opposite_sign"] is None else f"w = {r['example_w_opposite_sign']:+.3f}")
                + f" ({100 * r['fraction_opposite_sign']:.0f}% of the sweep)",
                "minima differ; signs disagree somewhere",
            )
        )
    return _save(
        out_dir,
        "e3_wrong_direction",
        {"quick": quick, "beta_forward": 100.0, "grid_points": n},
        out,
        report,
        {"e3_wrong_direction.png": fig},
    )


def estimators_on_one_example(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """Every estimator's gradient on one example of a 2-hidden-layer stochastic network, against exact
    enumeration (beyond the paper: the unbiased estimators and the bias of the SGs, side by side)."""
    from ._demo import demo_estimators

    n = 2000 if quick else 20000
    rows, exact = demo_estimators(seed=seed, n_samples=n)
    report = [
        (
            r["estimator"],
            f"rel. error {r['relative_error']:.3f}, max z {r['max_z']:.1f}, cos {r['cosine_of_mean']:.4f}",
            "unbiased (max z <= 4)" if "unbiased" in r["estimator"] else "biased beyond one layer",
        )
        for r in rows
    ]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh([r["estimator"] for r in rows], [r["relative_error"] for r in rows])
    ax.set_xlabel(f"relative error of the mean of {n} estimates vs exact gradient")
    return _save(
        out_dir,
        "estimators",
        {"quick": quick, "seed": seed, "samples": n},
        {"exact_largest_components": exact, "rows": rows},
        report,
        {"estimators.png": fig},
    )


def fano_factor(net, xs, key, trials: int = 10) -> list[float]:
    """Mean trial-to-trial Fano factor (var/mean of spike counts over repeated noise draws) per spiking layer.

    Averaged over the (example, neuron) pairs that spike at least once on average.
    """

    @jax.jit
    def counts(keys):
        def one_trial(k):
            ks = jr.split(k, xs.shape[0])
            return jax.vmap(lambda x, kk: tuple(jnp.sum(s, 0) for s in net(x, key=kk).spikes))(xs, ks)

        return jax.vmap(one_trial)(keys)

    out = []
    for c in counts(jr.split(key, trials)):  # per layer: (trials, B, n)
        c = np.asarray(c, np.float64)
        mean, var = c.mean(0), c.var(0, ddof=1)
        active = mean >= 1
        out.append(float((var[active] / mean[active]).mean()) if active.any() else 0.0)
    return out


def _with_spike(net, spike):
    import equinox as eqx

    return eqx.tree_at(lambda n: [layer.spike_fn for layer in n.layers], net, [spike] * len(net.layers))


def e6_randman(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """E6 (beyond the paper): Randman trained with five estimators on the same network; test accuracy,
    Fano factors, and each estimator's bias/variance/cosine against a high-sample StochasticAD reference
    at several training checkpoints."""
    import optax

    from ._analysis import gradient_stats, sample_grads
    from ._data import SpikeDataset, randman_preset
    from ._escape import FastSigmoid
    from ._estimators import Autodiff, ScoreFunction, StochasticAD
    from ._losses import accuracy_max_over_time, make_loss, max_over_time_cross_entropy
    from ._nn import weights
    from ._recipes import paper_network
    from ._spikes import Surrogate
    from ._train import evaluate, fit

    spc, hidden, epochs = (300, (128,), 4) if quick else (1000, (128, 128, 128), 40)
    data = randman_preset(seed=seed, samples_per_class=spc)
    n_test = len(data) // 5
    test, train = SpikeDataset(data.x[:n_test], data.y[:n_test]), SpikeDataset(data.x[n_test:], data.y[n_test:])
    loss_fn = make_loss(max_over_time_cross_entropy)
    sig, ss = Sigmoid(10.0), FastSigmoid(10.0)
    methods = {
        "deterministic SG": (Surrogate(ss, scale=1.0), Autodiff()),
        "stochastic SG (matched)": (Stochastic(sig), Autodiff()),
        "stochastic, SuperSpike SG": (Stochastic(sig, ss, scale=1.0), Autodiff()),
        "StochasticAD(8)": (Stochastic(sig), StochasticAD(8)),
        "ScoreFunction(8)": (Stochastic(sig), ScoreFunction(8)),
    }
    probe_x, probe_y = jnp.asarray(train.x[0]), jnp.asarray(train.y[0])
    n_ref, n_est = (400, 100) if quick else (4000, 500)
    results = {}
    for name, (spike, est) in methods.items():
        net = paper_network((20, *hidden, 15), spike, seed=seed)
        opt = optax.adam(1e-2)
        checkpoints = []
        for stage in range(epochs):
            if net.stochastic[0]:  # gradient quality against a high-sample unbiased reference
                ref_keys, est_keys = jr.split(jr.key(100 + stage), n_ref), jr.split(jr.key(200 + stage), n_est)
                _, ref = sample_grads(StochasticAD(8), loss_fn, net, probe_x, probe_y, ref_keys, chunk_size=100)
                ref = jax.tree.map(lambda g: g.mean(0), ref)
                _, samples = sample_grads(est, loss_fn, net, probe_x, probe_y, est_keys, chunk_size=100)
                st = gradient_stats(weights(samples), weights(ref))["all"]
                checkpoints.append(
                    {
                        "epoch": stage,
                        "relative_error": float(st.relative_error),
                        "cosine_of_mean": float(st.cosine_of_mean),
                        "mean_cosine": float(st.mean_cosine),
                        "variance": float(st.variance),
                    }
                )
            net = fit(
                net,
                train,
                estimator=est,
                loss_fn=loss_fn,
                optimizer=opt,
                epochs=1,
                batch_size=64,
                seed=seed + stage,
                progress=False,
            ).net
        acc = evaluate(net, test, loss_fn, accuracy_max_over_time, key=jr.key(seed + 7))["metric"]
        stochastic_net = net if net.stochastic[0] else _with_spike(net, Stochastic(sig))
        fano = fano_factor(stochastic_net, jnp.asarray(test.x[:64]), jr.key(seed + 9))
        results[name] = {"test_accuracy": acc, "hidden_fano_factor": fano[0], "checkpoints": checkpoints}
        print(f"  {name:28s} test accuracy {acc:.3f}, hidden Fano {fano[0]:.2f}", flush=True)
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, r in results.items():
        cps = r["checkpoints"]
        if cps:
            axes[0].plot([c["epoch"] for c in cps], [c["cosine_of_mean"] for c in cps], "o-", label=name)
            axes[1].plot([c["epoch"] for c in cps], [c["mean_cosine"] for c in cps], "o-", label=name)
    axes[0].set_ylabel("cos(mean estimate, reference)")
    axes[1].set_ylabel("mean cos(estimate, reference)")
    for ax in axes:
        ax.set_xlabel("epoch (checkpoint before training it)")
        ax.legend(fontsize=7)
    report = [
        (
            f"{name}: test accuracy, hidden Fano factor, last cos(mean, reference)",
            f"{r['test_accuracy']:.3f}, {r['hidden_fano_factor']:.2f}"
            + (f", {r['checkpoints'][-1]['cosine_of_mean']:.3f}" if r["checkpoints"] else ""),
            "no published numbers (chance 0.067)",
        )
        for name, r in results.items()
    ]
    config = {
        "quick": quick,
        "seed": seed,
        "samples_per_class": spc,
        "hidden": hidden,
        "epochs": epochs,
        "reference_samples": n_ref,
        "estimates": n_est,
    }
    return _save(out_dir, "e6_randman", config, results, report, {"e6_randman.png": fig})


EXPERIMENTS = {
    "e1": e1_single_neuron,
    "e2": e2_closed_loop,
    "e3": e3_wrong_direction,
    "estimators": estimators_on_one_example,
    "e6": e6_randman,
}


def reproduce(names, out_dir: str = "results/reproduce", *, quick: bool = True, seed: int = 0, shd_path=None) -> str:
    """Run experiments by name (``"all"`` for every one) and write ``out_dir/report.md``; returns its path."""
    names = [names] if isinstance(names, str) else list(names)
    names = list(EXPERIMENTS) if names == ["all"] else names
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"reproduce: unknown experiment(s) {unknown}; known: {sorted(EXPERIMENTS)} or 'all'.")
    outs = []
    for name in names:
        t0 = time.perf_counter()
        print(f"[{name}] running ({'quick' if quick else 'full'}) ...", flush=True)
        out = EXPERIMENTS[name](out_dir, quick=quick, seed=seed)
        out["seconds"] = time.perf_counter() - t0
        print(f"[{name}] done in {out['seconds']:.1f} s", flush=True)
        outs.append(out)
    lines = [
        "# snnsad reproduction report",
        "",
        f"Mode: {'quick' if quick else 'full'}; seed {seed}; {run_info()['commit'] or 'no git commit'}.",
        "",
    ]
    for out in outs:
        lines += [f"## {out['name']} ({out['seconds']:.0f} s)", "", "| quantity | snnsad | paper |", "|---|---|---|"]
        lines += [f"| {q} | {ours} | {paper} |" for q, ours, paper in out["report"]]
        lines += [""] + [f"![{os.path.basename(p)}]({os.path.relpath(p, out_dir)})" for p in out["figures"]] + [""]
    path = os.path.join(out_dir, "report.md")
    atomic_write_text(path, "\n".join(lines))
    print(f"wrote {path}")
    return path


__all__ = ["EXPERIMENTS", "e1_single_neuron", "e2_closed_loop", "e3_wrong_direction", "reproduce", "toy_output"]
