"""The paper's experiments as functions (``snnsad reproduce`` calls these).

Each ``eN_...(out_dir, *, quick=True, seed=0)`` writes ``out_dir/<name>/config.json`` (with versions
and commit), ``results.json`` and PNG figures, and returns a dict whose ``"report"`` entry lists
rows ``(quantity, ours, paper)`` for the Markdown report. ``quick`` runs in about a minute or less on
a CPU; ``quick=False`` uses the paper's sizes.
"""

import inspect
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
from ._train import progress_bar


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


# ----------------------------------------------------------------------------- E5

SHD_HOWTO = (
    "E5 needs the Spiking Heidelberg Digits files, which snnsad never downloads: get shd_train.h5.gz and "
    "shd_test.h5.gz from https://zenkelab.org/datasets/ (Cramer et al. 2022), gunzip them into one folder "
    "and run `snnsad reproduce e5 --shd-path FOLDER` (add --quick for a short CPU run)."
)


def _shd_files(shd_path):
    if shd_path is None:
        raise ValueError(SHD_HOWTO)
    if os.path.isfile(shd_path):  # the train file itself; the test file is looked for beside it
        folder, train = os.path.dirname(shd_path), shd_path
    else:
        folder, train = shd_path, os.path.join(shd_path, "shd_train.h5")
    if not os.path.exists(train):
        raise FileNotFoundError(f"--shd-path {shd_path!r}: no shd_train.h5 there. {SHD_HOWTO}")
    test = os.path.join(folder, "shd_test.h5")
    return train, test if os.path.exists(test) else None


def e5_shd(
    out_dir: str,
    *,
    quick: bool = True,
    seed: int = 0,
    shd_path: str | None = None,
    max_train: int | None = None,
    epochs: int | None = None,
    n_steps: int = 350,
    batch_size: int | None = None,
) -> dict:
    """E5: SHD with the paper's 3-layer recurrent conv net: deterministic SuperSpike, stochastic matched SG
    and SuperSpike SG on the stochastic net; cross-evaluation (stochastic <-> deterministic) and Fano."""
    from ._data import SHD
    from ._escape import FastSigmoid
    from ._estimators import Autodiff
    from ._losses import ActivityRegulariser, accuracy_max_over_time, make_loss, max_over_time_cross_entropy
    from ._recipes import _Subset, input_rate, shd_conv_network
    from ._spikes import Heaviside, Surrogate
    from ._train import evaluate, fit, smorms3

    train_path, test_path = _shd_files(shd_path)
    dt = 2e-3
    full = SHD(train_path, n_steps=n_steps, dt=dt)
    train_idx, val_idx = full.split(0.1, seed)
    if max_train is None and quick:
        max_train = 192
    if max_train is not None:
        train_idx, val_idx = train_idx[:max_train], val_idx[: max(1, max_train // 9)]
    train, val = _Subset(full, train_idx), _Subset(full, val_idx)
    test = SHD(test_path, n_steps=n_steps, dt=dt) if test_path else None
    if test is not None and quick:  # a fixed subset of the test file keeps quick mode quick
        test = _Subset(test, np.random.default_rng(seed).permutation(len(test))[:128])
    epochs = (2 if quick else 200) if epochs is None else epochs
    batch_size = min((64 if quick else 400) if batch_size is None else batch_size, len(train))
    loss_fn = make_loss(max_over_time_cross_entropy, [ActivityRegulariser(0.1, 7.0, "upper", 2)])
    sig, ss = Sigmoid(10.0), FastSigmoid(10.0)
    deterministic, stochastic = Surrogate(ss, scale=1.0), Stochastic(sig)
    methods = {  # name -> (folder of its training run, spike function)
        "deterministic (SuperSpike SG)": ("deterministic", deterministic),
        "stochastic (matched SG)": ("stochastic_matched", stochastic),
        "stochastic, SuperSpike SG": ("stochastic_superspike", Stochastic(sig, ss, scale=1.0)),
    }
    rate = input_rate(train, dt)  # the fluctuation-driven init needs the data's input rate
    results = {}
    for name, (folder, spike) in methods.items():
        net = shd_conv_network(spike, n_classes=full.n_classes, n_steps=n_steps, dt=dt, rate=rate, seed=seed)
        fitted = fit(
            net,
            train,
            estimator=Autodiff(),
            loss_fn=loss_fn,
            optimizer=smorms3(1e-2),
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            val=val,
            metric_fn=accuracy_max_over_time,
            out_dir=os.path.join(out_dir, "e5_shd", "runs", folder),
            progress=True,
            config={"method": name, "quick": quick, "n_steps": n_steps, "input_rate_hz": rate, "shd_train": train_path},
        )
        net, key = fitted.net, jr.key(seed + 11)
        own = evaluate(net, val, loss_fn, accuracy_max_over_time, key=key)["metric"]
        other_spike = Heaviside() if spike.stochastic else stochastic  # the other forward pass
        other = evaluate(_with_spike(net, other_spike), val, loss_fn, accuracy_max_over_time, key=key)["metric"]
        as_stochastic = net if spike.stochastic else _with_spike(net, stochastic)
        xs, _ = val.batch(np.arange(min(len(val), 64)))
        fano = fano_factor(as_stochastic, jnp.asarray(xs), jr.key(seed + 13))
        results[name] = {
            "val_accuracy": own,
            "val_accuracy_other_forward": other,
            "test_accuracy": evaluate(net, test, loss_fn, accuracy_max_over_time, key=key)["metric"] if test else None,
            "fano_stochastic_forward": fano,
            "history": fitted.history,
        }
        print(f"  {name:30s} val accuracy {own:.3f} (other forward {other:.3f}), Fano {fano}", flush=True)
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, r in results.items():
        accs = [h.get("val_metric") for h in r["history"]]
        axes[0].plot(range(1, len(accs) + 1), accs, "o-", label=name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("validation accuracy")
    axes[0].legend(fontsize=7)
    names = list(results)
    pos = np.arange(len(names))
    axes[1].bar(pos - 0.2, [results[n]["val_accuracy"] for n in names], 0.4, label="own forward")
    axes[1].bar(pos + 0.2, [results[n]["val_accuracy_other_forward"] for n in names], 0.4, label="other forward")
    axes[1].set_xticks(pos, [n.replace(" (", "\n(") for n in names], fontsize=7)
    axes[1].set_ylabel("validation accuracy")
    axes[1].legend(fontsize=7)
    report = [
        (
            f"{name}: validation accuracy (own / other forward), hidden Fano (stochastic forward)",
            f"{r['val_accuracy']:.3f} / {r['val_accuracy_other_forward']:.3f}, "
            + "/".join(f"{f:.2f}" for f in r["fano_stochastic_forward"]),
            {"deterministic (SuperSpike SG)": "about 0.95", "stochastic (matched SG)": "about 0.96"}.get(name, "-"),
        )
        for name, r in results.items()
    ]
    config = {
        "quick": quick,
        "seed": seed,
        "shd_train": train_path,
        "shd_test": test_path,
        "train_examples": len(train),
        "val_examples": len(val),
        "epochs": epochs,
        "batch_size": batch_size,
        "n_steps": n_steps,
        "dt": dt,
        "input_rate_hz": rate,
        "optimizer": "smorms3(0.01)",
        "regulariser": "upper L2, strength 0.1, threshold 7 spikes",
    }
    return _save(out_dir, "e5_shd", config, results, report, {"e5_shd.png": fig})


# ----------------------------------------------------------------------------- E4


def _fit_one_example(net, x, target_loss, *, trials, lr, epochs, seed, desc):
    """Adam on ``mean over trials of target_loss(net(x).output)`` for one fixed input; returns the
    trained network and the per-epoch loss (the mean over the trials of that update)."""
    import equinox as eqx
    import optax

    params, static = eqx.partition(net, eqx.is_inexact_array)
    opt = optax.adam(lr)
    stochastic = any(net.stochastic)

    def loss(p, key):
        n = eqx.combine(p, static)
        one = lambda k: target_loss(n(x, key=k if stochastic else None).output)  # noqa: E731
        return jnp.mean(jax.vmap(one)(jr.split(key, trials)))

    @jax.jit
    def step(p, state, key):
        value, g = jax.value_and_grad(loss)(p, key)
        updates, state = opt.update(g, state, p)
        return optax.apply_updates(p, updates), state, value

    state, history = opt.init(params), []
    for epoch in progress_bar(range(epochs), desc):
        params, state, value = step(params, state, jr.fold_in(jr.key(seed), epoch))
        history.append(value)
    return eqx.combine(params, static), [float(v) for v in jax.device_get(history)]


def e4_spike_train_matching(
    out_dir: str, *, quick: bool = True, seed: int = 0, image: str | None = None, epochs: int | None = None
) -> dict:
    """E4: frozen Poisson input (200 at 50 Hz) -> 200 hidden -> 200 output LIF neurons learn an image
    raster (van Rossum loss): deterministic SuperSpike vs a stochastic net with matched SG (10 trials)."""
    import math

    from ._data import image_to_raster, poisson_raster
    from ._escape import FastSigmoid
    from ._losses import l2_spike_distance, van_rossum_distance
    from ._neurons import LIF
    from ._nn import feedforward
    from ._spikes import Surrogate

    n, n_steps, rate, dt, tau_mem, tau_syn = 200, 189, 50.0, 1e-3, 10e-3, 5e-3
    epochs = (300 if quick else 1500) if epochs is None else epochs
    lr = 3e-3 if quick else 1e-3
    x = jnp.asarray(poisson_raster(n_steps, n, rate, dt, seed=seed))
    target = jnp.asarray(image_to_raster(image, n, n_steps))
    lif = LIF(tau_mem=tau_mem, tau_syn=tau_syn, dt=dt, reset="leak")
    eps_hat = tau_syn**2 / (2 * (tau_syn + tau_mem))
    gain = 1 / math.sqrt(rate * eps_hat)  # W ~ N(0, s^2), s = 1 / sqrt(N_in rate eps_hat) = gain / sqrt(N_in)
    vr = lambda s: van_rossum_distance(s, target, tau=tau_mem, dt=dt)  # noqa: E731
    silent = float(vr(jnp.zeros_like(target)))  # the distance of an empty output: the scale of the loss
    setups = {
        "deterministic (SuperSpike SG)": (Surrogate(FastSigmoid(10.0), scale=1.0), 1),
        "stochastic (matched SG)": ([Stochastic(Sigmoid(10.0)), Stochastic(Sigmoid(100.0))], 10),
    }
    results, rasters = {}, {}
    for name, (spike_fn, trials) in setups.items():
        net = feedforward(
            (n, n, n), key=jr.key(seed), spike_fn=spike_fn, neuron=lif, readout=False, init="normal", gain=gain
        )
        initial = float(vr(net(x, key=jr.key(seed + 1) if trials > 1 else None).output))
        net, history = _fit_one_example(net, x, vr, trials=trials, lr=lr, epochs=epochs, seed=seed, desc=f"E4 {name}")
        stochastic = trials > 1
        eval_keys = jr.split(jr.key(seed + 2), 10)
        traces = [net(x, key=k if stochastic else None) for k in eval_keys]
        final = [float(vr(t.output)) for t in traces]
        l2 = [float(l2_spike_distance(t.output, target)) for t in traces]
        hz = [[float(jnp.mean(s)) / dt for s in t.spikes] for t in traces]
        fano = fano_factor(net, x[None], jr.key(seed + 3), trials=10) if stochastic else [0.0, 0.0]
        results[name] = {
            "van_rossum_initial": initial,
            "van_rossum_final": float(np.mean(final)),
            "van_rossum_final_normalised": float(np.mean(final)) / silent,
            "van_rossum_ratio": float(np.mean(final)) / initial,
            "l2_final": float(np.mean(l2)),
            "rates_hz": {"hidden": float(np.mean([h[0] for h in hz])), "output": float(np.mean([h[1] for h in hz]))},
            "fano": {"hidden": fano[0], "output": fano[1]},
            "loss_history": history,
        }
        rasters[name] = np.asarray(traces[0].output)
        r = results[name]
        print(
            f"  {name:30s} van Rossum {initial:.1f} -> {r['van_rossum_final']:.1f} "
            f"(x{r['van_rossum_ratio']:.2f}), hidden {r['rates_hz']['hidden']:.0f} Hz, Fano {fano[0]:.2f}",
            flush=True,
        )
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for name, r in results.items():
        axes[0].plot(np.asarray(r["loss_history"]) / silent, label=name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("van Rossum distance / silent output's")
    axes[0].legend(fontsize=7)
    for ax, (title, raster) in zip(axes[1:], [("target", np.asarray(target)), *rasters.items()]):
        ax.imshow(raster.T, aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("time step")
    axes[1].set_ylabel("output neuron")
    det, sto = results.values()
    report = [
        (
            "van Rossum distance (normalised by an empty output's), deterministic / stochastic",
            f"{det['van_rossum_final_normalised']:.3f} / {sto['van_rossum_final_normalised']:.3f} "
            f"(fell to x{det['van_rossum_ratio']:.2f} / x{sto['van_rossum_ratio']:.2f} of the initial)",
            "about 0.11 / 0.15 (own normalisation, photograph target)",
        ),
        (
            "hidden firing rate, deterministic / stochastic",
            f"{det['rates_hz']['hidden']:.0f} Hz / {sto['rates_hz']['hidden']:.0f} Hz",
            "about 24 Hz / 55 Hz",
        ),
        (
            "stochastic net's Fano factor, hidden / output",
            f"{sto['fano']['hidden']:.2f} / {sto['fano']['output']:.2f}",
            "about 0.6 / 0.55",
        ),
    ]
    config = {
        "quick": quick,
        "seed": seed,
        "epochs": epochs,
        "lr": lr,
        "optimizer": "adam",
        "image": image or "snnsad/assets/target.png (shipped)",
        "sizes": [n, n, n],
        "input_rate_hz": rate,
        "dt": dt,
        "tau_mem": tau_mem,
        "tau_syn": tau_syn,
        "init_std": gain / math.sqrt(n),
        "silent_output_distance": silent,
    }
    return _save(out_dir, "e4_spike_train_matching", config, results, report, {"e4_spike_train_matching.png": fig})


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


def e6_randman(
    out_dir: str,
    *,
    quick: bool = True,
    seed: int = 0,
    samples_per_class: int | None = None,
    hidden: tuple[int, ...] | None = None,
    epochs: int | None = None,
    samples: tuple[int, int] | None = None,
) -> dict:
    """E6 (beyond the paper): Randman trained with five estimators on the same network; test accuracy,
    Fano factors, and each estimator's bias/variance/cosine against a high-sample StochasticAD reference
    at several training checkpoints. ``samples_per_class``, ``hidden``, ``epochs`` and ``samples``
    (reference, estimates) override the mode's sizes."""
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

    spc, hid, ep = (300, (128,), 4) if quick else (1000, (128, 128, 128), 40)
    spc = spc if samples_per_class is None else samples_per_class
    hidden = hid if hidden is None else tuple(hidden)
    epochs = ep if epochs is None else epochs
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
    n_ref, n_est = ((400, 100) if quick else (4000, 500)) if samples is None else samples
    results = {}
    check_every = 1 if quick else 10  # gradient-quality checkpoints (each costs n_ref + n_est estimates)
    for name, (spike, est) in methods.items():
        net = paper_network((20, *hidden, 15), spike, seed=seed)
        opt = optax.adam(1e-2)
        checkpoints = []
        for stage in range(epochs):
            # gradient quality against a high-sample unbiased reference, before this epoch's training
            if net.stochastic[0] and (stage % check_every == 0 or stage == epochs - 1):
                ref_keys, est_keys = jr.split(jr.key(100 + stage), n_ref), jr.split(jr.key(200 + stage), n_est)
                _, ref_samples = sample_grads(StochasticAD(8), loss_fn, net, probe_x, probe_y, ref_keys, chunk_size=100)
                ref = jax.tree.map(lambda g: g.mean(0), weights(ref_samples))
                ref_var = float(gradient_stats(weights(ref_samples), ref)["all"].variance)
                _, est_samples = sample_grads(est, loss_fn, net, probe_x, probe_y, est_keys, chunk_size=100)
                st = gradient_stats(weights(est_samples), ref)["all"]
                # ||mean - reference|| in units of the standard error of that difference (both are means)
                se = (float(st.variance) / n_est + ref_var / n_ref) ** 0.5
                checkpoints.append(
                    {
                        "epoch": stage,
                        "relative_error": float(st.relative_error),
                        "bias_over_se": float(st.bias_norm) / se if se > 0 else None,
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
            f"{name}: test accuracy, hidden Fano factor, last cos(mean, reference), largest bias/SE",
            f"{r['test_accuracy']:.3f}, {r['hidden_fano_factor']:.2f}"
            + (
                f", {r['checkpoints'][-1]['cosine_of_mean']:.3f}, "
                f"{max(c['bias_over_se'] for c in r['checkpoints']):.1f}"
                if r["checkpoints"]
                else ""
            ),
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


# ----------------------------------------------------------------------------- variance study

_SWEEPS = {
    "escape steepness beta (matched SG)": ("beta", (0.5, 1.0, 2.0, 4.0, 8.0)),
    "surrogate steepness beta_SG (beta = 2)": ("beta_sg", (0.5, 1.0, 2.0, 4.0, 8.0)),
    "depth (hidden layers, beta = 2)": ("depth", (1, 2, 3)),
}


def _study_net(depth, beta, beta_sg, seed, n_steps=3):
    """A ``3 - 2 x depth - 2`` net of stochastic binary neurons (memoryless: the LIF's short-time limit,
    so no layer waits for its input) with a leaky readout, float64, T = 3: at most 18 stochastic sites,
    so exact enumeration is cheap; weights and input fixed by ``seed``."""
    from ._neurons import Perceptron
    from ._nn import feedforward

    net = feedforward(
        (3, *(2,) * depth, 2),
        key=jr.key(seed),
        spike_fn=Stochastic(Sigmoid(beta), Sigmoid(beta_sg)),
        neuron=Perceptron(0.5),
        gain=2.0,
        dtype=jnp.float64,
    )
    return net, 2 * jr.uniform(jr.key(seed + 1), (n_steps, 3), jnp.float64)


def variance_study(out_dir: str, *, quick: bool = True, seed: int = 0) -> dict:
    """Beyond the paper: bias, variance and cosine to the exact gradient of every estimator as functions
    of escape steepness, surrogate steepness and depth (small nets, exact enumeration as ground truth)."""
    import equinox as eqx

    from ._analysis import gradient_stats, sample_grads
    from ._estimators import Autodiff, ExactEnumeration, ScoreFunction, StochasticAD
    from ._nn import weights
    from ._spikes import Expected, Surrogate
    from ._zoo import ce_loss

    n = 2000 if quick else 20000
    y = jnp.asarray(1)

    def respike(net, make):
        fns = [make(layer.spike_fn) for layer in net.layers]
        return eqx.tree_at(lambda m: [layer.spike_fn for layer in m.layers], net, fns)

    estimators = {  # name -> (how to turn the stochastic net into the estimator's model, estimator)
        "deterministic SG": (lambda f: Surrogate(f.surrogate), Autodiff()),
        "stochastic SG": (lambda f: f, Autodiff()),
        "smoothed probabilistic model": (lambda f: Expected(f.escape), Autodiff()),
        "StochasticAD(4)": (lambda f: f, StochasticAD(4)),
        "ScoreFunction(8)": (lambda f: f, ScoreFunction(8)),
    }
    rows = []
    points = [(sweep, var, v) for sweep, (var, values) in _SWEEPS.items() for v in values]
    with jax.enable_x64(True):
        for sweep, var, value in progress_bar(points, "variance study"):
            setting = {"beta": 2.0, "beta_sg": None, "depth": 2, var: value}
            beta, depth = float(setting["beta"]), int(setting["depth"])
            beta_sg = beta if setting["beta_sg"] is None else float(setting["beta_sg"])
            net, x = _study_net(depth, beta, beta_sg, seed + 7)
            _, exact = eqx.filter_jit(ExactEnumeration())(ce_loss, net, x, y)
            ref = weights(exact)
            ref_sq = float(sum(jnp.sum(jnp.square(v)) for v in ref.values()))
            keys = jr.split(jr.fold_in(jr.key(seed), len(rows)), n)
            for name, (make, est) in estimators.items():
                _, grads = sample_grads(est, ce_loss, respike(net, make), x, y, keys, chunk_size=500)
                st = gradient_stats(weights(grads), ref)["all"]
                random = float(st.variance) > 1e-20 * ref_sq  # a z-score means nothing for a fixed estimate
                rows.append(
                    {
                        "sweep": sweep,
                        "variable": var,
                        "value": value,
                        "beta": beta,
                        "beta_sg": beta_sg,
                        "depth": depth,
                        "estimator": name,
                        "relative_bias": float(st.relative_error),
                        "bias_z": float(st.max_z) if random else None,
                        # ||mean - g|| in units of its standard error sqrt(tr Cov / N): about 1 when unbiased
                        "bias_over_se": float(st.bias_norm) / (float(st.variance) / n) ** 0.5 if random else None,
                        "relative_variance": float(st.variance) / ref_sq,
                        "mean_cosine": float(st.mean_cosine),
                        "cosine_of_mean": float(st.cosine_of_mean),
                    }
                )
    plt = _plt()
    metrics = [("relative_bias", "||E[g^] - g|| / ||g||"), ("relative_variance", "tr Cov(g^) / ||g||^2"),
               ("mean_cosine", "E cos(g^, g)")]  # fmt: skip
    fig, axes = plt.subplots(len(metrics), len(_SWEEPS), figsize=(13, 9), squeeze=False)
    for j, sweep in enumerate(_SWEEPS):
        for i, (metric, label) in enumerate(metrics):
            ax = axes[i, j]
            for name in estimators:
                pts = [(r["value"], r[metric]) for r in rows if r["sweep"] == sweep and r["estimator"] == name]
                ax.plot(*zip(*pts), "o-", label=name)
            if metric != "mean_cosine":
                ax.set_yscale("symlog", linthresh=1e-3)
            if _SWEEPS[sweep][0] == "depth":
                ax.set_xticks(_SWEEPS[sweep][1])
            else:
                ax.set_xscale("log", base=2)
            ax.set_ylabel(label, fontsize=8)
            if i == len(metrics) - 1:
                ax.set_xlabel(sweep, fontsize=8)
    axes[0, 0].legend(fontsize=7)

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    table = [
        f"{n} estimates per row; `-`: a deterministic estimate (no spread). bias/SE = ||mean - g|| / sqrt(tr Cov / N),"
        " about 1 for an unbiased estimator; max z: the largest per-component |mean - g| / SE.",
        "",
        "| sweep | value | estimator | rel. bias | bias/SE | max z | rel. variance | mean cos | cos of mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['sweep']} | {r['value']} | {r['estimator']} | {r['relative_bias']:.3f} | {fmt(r['bias_over_se'], '.1f')}"
        f" | {fmt(r['bias_z'], '.1f')} | {r['relative_variance']:.3g} | {r['mean_cosine']:.3f} | {r['cosine_of_mean']:.4f} |"
        for r in rows
    ]
    folder = os.path.join(out_dir, "variance_study")
    os.makedirs(folder, exist_ok=True)
    atomic_write_text(os.path.join(folder, "table.md"), "\n".join(table) + "\n")

    def worst(name, key, max_beta=np.inf):
        values = [r[key] for r in rows if r["estimator"] == name and r["beta"] <= max_beta and r[key] is not None]
        return max(values) if values else float("nan")

    steep = max(_SWEEPS["escape steepness beta (matched SG)"][1])
    at_steep = {r["estimator"]: r for r in rows if r["variable"] == "beta" and r["value"] == steep}
    report = [
        (
            "unbiased estimators: largest bias/SE over the settings with beta <= 4 (StochasticAD / ScoreFunction)",
            f"{worst('StochasticAD(4)', 'bias_over_se', 4):.1f} / {worst('ScoreFunction(8)', 'bias_over_se', 4):.1f}",
            "no such study (about 1 expected when unbiased)",
        ),
        (
            "stochastic SG: largest bias/SE; largest relative bias of stochastic SG / deterministic SG / "
            "smoothed probabilistic model",
            f"{worst('stochastic SG', 'bias_over_se'):.1f}; {worst('stochastic SG', 'relative_bias'):.2f} / "
            f"{worst('deterministic SG', 'relative_bias'):.2f} / {worst('smoothed probabilistic model', 'relative_bias'):.2f}",
            "SGs are biased (they are not gradients of the expected loss)",
        ),
        (
            f"beta = {steep} (nearly deterministic): relative error of the mean, StochasticAD / ScoreFunction",
            f"{at_steep['StochasticAD(4)']['relative_bias']:.2f} / {at_steep['ScoreFunction(8)']['relative_bias']:.2f}",
            "the gradient lives in rare events that most of the samples miss",
        ),
        ("full table", f"[table.md](variance_study/table.md) ({len(rows)} rows, {n} estimates each)", "-"),
    ]
    config = {"quick": quick, "seed": seed, "estimates": n, "sweeps": {k: list(v[1]) for k, v in _SWEEPS.items()},
              "network": "3 - 2 x depth - 2 stochastic binary neurons (threshold 0.5) + leaky readout, T = 3, "
                         "gain 2, float64, cross-entropy of the time-summed readout"}  # fmt: skip
    return _save(out_dir, "variance_study", config, {"rows": rows}, report, {"variance_study.png": fig})


EXPERIMENTS = {
    "e1": e1_single_neuron,
    "e2": e2_closed_loop,
    "e3": e3_wrong_direction,
    "e4": e4_spike_train_matching,
    "e5": e5_shd,
    "estimators": estimators_on_one_example,
    "e6": e6_randman,
    "variance": variance_study,
}


def reproduce(
    names,
    out_dir: str = "results/reproduce",
    *,
    quick: bool = True,
    seed: int = 0,
    shd_path: str | None = None,
    image: str | None = None,
) -> str:
    """Run experiments by name (``"all"`` for every one) and write ``out_dir/report.md``; returns its path.

    ``shd_path`` (a folder with ``shd_train.h5``/``shd_test.h5``) enables E5; with ``"all"`` and no
    path E5 is skipped and the report says how to get the files. ``image`` is E4's target image.
    """
    names = [names] if isinstance(names, str) else list(names)
    run_all = names == ["all"]
    names = list(EXPERIMENTS) if run_all else names
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"reproduce: unknown experiment(s) {unknown}; known: {sorted(EXPERIMENTS)} or 'all'.")
    if "e5" in names and shd_path is None and not run_all:
        raise ValueError(SHD_HOWTO)
    if shd_path is not None:
        _shd_files(shd_path)  # fail before hours of other experiments, not after
    if image is not None and not os.path.isfile(image):
        raise FileNotFoundError(f"--image {image!r}: no such file (E4's target image; omit it for the shipped one).")
    options = {"shd_path": shd_path, "image": image}
    outs = []
    for name in names:
        if name == "e5" and shd_path is None:
            print(f"[e5] skipped: {SHD_HOWTO}", flush=True)
            outs.append({"name": "e5_shd", "report": [("skipped", "no SHD files given", SHD_HOWTO)], "figures": []})
            continue
        fn = EXPERIMENTS[name]
        params = inspect.signature(fn).parameters
        t0 = time.perf_counter()
        print(f"[{name}] running ({'quick' if quick else 'full'}) ...", flush=True)
        out = fn(out_dir, quick=quick, seed=seed, **{k: v for k, v in options.items() if k in params})
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
        took = f" ({out['seconds']:.0f} s)" if "seconds" in out else ""
        lines += [f"## {out['name']}{took}", "", "| quantity | snnsad | paper |", "|---|---|---|"]
        lines += [f"| {q} | {ours} | {paper} |" for q, ours, paper in out["report"]]
        lines += [""] + [f"![{os.path.basename(p)}]({os.path.relpath(p, out_dir)})" for p in out["figures"]] + [""]
    path = os.path.join(out_dir, "report.md")
    atomic_write_text(path, "\n".join(lines))
    print(f"wrote {path}")
    return path


__all__ = [
    "EXPERIMENTS",
    "SHD_HOWTO",
    "e1_single_neuron",
    "e2_closed_loop",
    "e3_wrong_direction",
    "e4_spike_train_matching",
    "e5_shd",
    "e6_randman",
    "estimators_on_one_example",
    "fano_factor",
    "reproduce",
    "toy_output",
    "variance_study",
]
