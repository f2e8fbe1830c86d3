"""Unbiased gradients that train: every estimator on the same networks and batches, accuracy vs epochs and compute.

Two tasks: the calibrated Randman (the Zenke-lab standard, 20-128-10, as in `randman-calibration`)
and the paper's Randman (the authors' preset, 20-128-128-128-15, as E6's dense network). Methods:
deterministic SG, the matched stochastic SG, StochasticAD(8), ScoreFunction(4) (at about 4x the matched
SG's step cost, the budget of the study's target; `benchmarks/unbiased_variance_by_layer.py --task
calibrated` compares 2-8 samples and 4-16 flips), LocalScoreFunction(2) (the score function per neuron
of the last hidden layer; every method trains the same loss, the cross-entropy with the activity
regularisers), and on the deep network LocalScoreFunction(2, groups=16), (2, groups=4) and (2, groups=2)
(credit by groups below the last hidden layer), the last of them also with the last layer's coupled flips at 4
sampled steps per neuron (`last="flips", sites=4`) and the per-layer mix (score function on the first hidden layer, coupled flips after it). Each method gets a small
learning-rate sweep (SMORMS3, `sweep_epochs` epochs; the best validation accuracy picks the rate),
then every seed runs the full epochs at that rate (the sweep's run of the first seed is extended);
every run is saved and resumes. Compute is each method's measured time per training step at the
training batch size (median of 7 rounds that time every method in turn), over the deterministic SG's
and over the matched SG's.
`profile_estimators` measures every trained unbiased method's per-layer variance at initialisation on one
example. `only` trains (and times, and profiles) a subset of the methods beside both SGs.
"""

import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..analysis import interleaved_seconds, prepared, profile_estimators
from ..data import randman
from ..escape import FastSigmoid, Sigmoid
from ..estimators import Autodiff, Batched, LocalScoreFunction, MixedEstimator, ScoreFunction, StochasticAD
from ..losses import accuracy_max_over_time, on_output
from ..spikes import Stochastic, Surrogate
from ..train import SMORMS3State, evaluate, fit, freeze, smorms3
from ._randman_calibration import STANDARD_RANDMAN, calibrated_loss, split_80_10_10
from ._recipes import paper_network
from ._results import pyplot, save

AUTHORS_RANDMAN: dict[str, Any] = dict(
    n_classes=15, n_units=20, n_steps=100, manifold_dim=1, alpha=0.5, n_spikes=1, step_frac=0.5, standardise="class"
)
TASKS: dict[str, dict[str, Any]] = {
    "calibrated 20-128-10": dict(data=STANDARD_RANDMAN, hidden=(128,)),
    "paper 20-128-128-128-15": dict(data=AUTHORS_RANDMAN, hidden=(128, 128, 128)),
}


def methods(depth: int) -> dict[str, tuple]:
    """`name -> (spike function, estimator)`; escape and surrogate steepness 10 as in E6."""
    sig, fast = Sigmoid(10.0), FastSigmoid(10.0)
    out = {
        "deterministic SG": (Surrogate(fast, scale=1.0), Autodiff()),
        "stochastic SG (matched)": (Stochastic(sig), Autodiff()),
        "StochasticAD(8)": (Stochastic(sig), StochasticAD(8)),
        "ScoreFunction(4)": (Stochastic(sig), ScoreFunction(4)),
        "LocalScoreFunction(2)": (Stochastic(sig), LocalScoreFunction(2)),
    }
    if depth > 1:
        # credit by groups in the layers below the last (their layers above re-simulated): 16 groups of 8
        # neurons, the lowest variance of every option; 4 groups of 32 and 2 of 64, the lowest variance x
        # cost (`benchmarks/unbiased_variance_by_layer.py`), of which 2 groups is the one within the study's
        # 4x budget at its training batch (x3.5 the matched SG's step against x4.3 for 4 groups)
        out["LocalScoreFunction(2), groups 16"] = (Stochastic(sig), LocalScoreFunction(2, groups=16))
        out["LocalScoreFunction(2), groups 4"] = (Stochastic(sig), LocalScoreFunction(2, groups=4))
        out["LocalScoreFunction(2), groups 2"] = (Stochastic(sig), LocalScoreFunction(2, groups=2))
        # the last layer by coupled flips at 4 sampled steps per neuron instead of 2 draws of its score: after
        # training, the noise of that layer's estimate is 1/3 (`benchmarks/step_quality.py`), at x3.7 the step
        out["LocalScoreFunction(2), groups 2, flips at 4 sites"] = (
            Stochastic(sig),
            LocalScoreFunction(2, groups=2, last="flips", sites=4),
        )
        out["mix: score on hidden 1, flips after"] = (
            Stochastic(sig),
            MixedEstimator(coupled=tuple(range(1, depth)), n_flips=8, n_samples=4),
        )
    return out


def _modes(quick: bool) -> dict:
    if quick:
        return dict(
            spc=60, epochs=3, sweep_epochs=3, lrs=(1e-2,), seeds=(0,), batch=100, tasks=("calibrated 20-128-10",),
            profile=40,
        )  # fmt: skip
    # the sweep reaches past the rates every method chose in the 2-point sweep (all took its top, 2e-2; then
    # both SGs took 1e-1 of 1e-2..1e-1, StochasticAD(8) 2e-1 of 1e-2..2e-1, the deterministic SG 5e-1 of
    # 1e-2..5e-1), and the runs are long enough for the matched SG's validation curve to flatten (it still
    # rose at epoch 30)
    return dict(
        spc=1000, epochs=100, sweep_epochs=10, lrs=(1e-2, 2e-2, 5e-2, 1e-1, 2e-1, 5e-1, 1.0), seeds=(0, 1, 2),
        batch=250,
        tasks=tuple(TASKS), profile=400,
    )  # fmt: skip


def _step_seconds(nets_and_estimators: dict[str, tuple], loss_fn, x, y, rounds: int = 7) -> dict[str, float]:
    """Median seconds of one training step of each `name -> (net, estimator)`, timed round-robin.

    Every step is compiled and run once first; then `rounds` rounds time each method once in turn, so a
    slow spell of the machine hits every method alike instead of one method's repeats (the ratios are what
    the study reports).
    """
    runs = {}
    for name, (net, est) in nets_and_estimators.items():
        step = eqx.filter_jit(lambda n, k, est=est: Batched(est)(loss_fn, n, x, y, k))
        runs[name] = prepared(step, net, jr.key(0))
    return {name: float(np.median(v)) for name, v in interleaved_seconds(runs, rounds).items()}


def _run(folder, net, est, loss_fn, train, val, *, lr, epochs, batch, seed, quick):
    return fit(
        net,
        train,
        estimator=est,
        loss_fn=loss_fn,
        optimizer=freeze(smorms3(lr), "threshold"),
        epochs=epochs,
        batch_size=batch,
        seed=seed,
        val=val,
        metric_fn=on_output(accuracy_max_over_time),
        out_dir=folder,
        progress=not quick,
        config={"experiment": "unbiased-training", "lr": lr},
    )


def unbiased_training(
    out_dir="results/reproduce", *, quick=True, seed=0, epochs=None, seeds=None, tasks=None, lrs=None, only=None
):
    """`snnsad reproduce unbiased-training`: see the module docstring; every run resumes from its folder.

    `tasks` (names of `TASKS`) runs a subset of the mode's tasks; `lrs` replaces the mode's learning-rate
    sweep (one rate: no sweep); `only` (names of `methods`) trains a subset of the methods (the step costs
    are timed for them and both SGs, so the ratios to both SGs stay defined).
    """
    m = _modes(quick)
    if tasks is not None:
        unknown = [t for t in tasks if t not in TASKS]
        if unknown or not tasks:
            raise ValueError(f"unbiased_training: `tasks` must name some of {list(TASKS)}, got {tasks!r}.")
        m = {**m, "tasks": tuple(tasks)}
    if lrs is not None:
        if not lrs or any(not (isinstance(r, (int, float)) and r > 0) for r in lrs):
            raise ValueError(f"unbiased_training: `lrs` must be positive learning rates, got {lrs!r}.")
        m = {**m, "lrs": tuple(float(r) for r in lrs)}
    known = methods(max(len(TASKS[t]["hidden"]) for t in m["tasks"]))
    if only is not None and (not only or any(name not in known for name in only)):
        raise ValueError(f"unbiased_training: `only` must name some of {list(known)}, got {only!r}.")
    n_epochs = m["epochs"] if epochs is None else epochs
    n_sweep = min(m["sweep_epochs"], n_epochs)
    run_seeds = list(m["seeds"] if seeds is None else seeds)
    loss_fn = calibrated_loss()
    accuracy = on_output(accuracy_max_over_time)
    results: dict[str, Any] = {}
    for task in m["tasks"]:
        spec = TASKS[task]
        data = randman(**spec["data"], samples_per_class=m["spc"], seed=seed + 1)
        train, val, test = split_80_10_10(data)
        sizes = (20, *spec["hidden"], spec["data"]["n_classes"])
        xb, yb = (jnp.asarray(a) for a in train.batch(np.arange(min(32, len(train)))))
        timing_batch = tuple(jnp.asarray(a) for a in train.batch(np.arange(min(m["batch"], len(train)))))
        task_out: dict[str, Any] = {"methods": {}}
        task_methods = methods(len(spec["hidden"]))
        timed = {k: v for k, v in task_methods.items() if only is None or k in only or k in SGS}
        step_seconds = _step_seconds(
            {name: (paper_network(sizes, spike, seed=seed), est) for name, (spike, est) in timed.items()},
            loss_fn,
            timing_batch[0],
            timing_batch[1],
        )
        # the step cost of every method timed, trained here or not (the budget is defined on these)
        task_out["step_cost_vs_matched_sg"] = {
            k: v / step_seconds["stochastic SG (matched)"] for k, v in step_seconds.items()
        }
        for name, (spike, est) in task_methods.items():
            if only is not None and name not in only:
                continue
            net0 = paper_network(sizes, spike, seed=seed)
            seconds = step_seconds[name]
            sweep = {}
            for lr in m["lrs"]:
                folder = os.path.join(out_dir, "unbiased_training", "runs", _slug(task, name, lr, run_seeds[0]))
                fitted = _run(folder, net0, est, loss_fn, train, val, lr=lr, epochs=n_sweep, batch=m["batch"],
                              seed=run_seeds[0], quick=quick)  # fmt: skip
                sweep[lr] = max(h["val_metric"] for h in fitted.history[:n_sweep])
            best_lr = max(sweep, key=lambda k: sweep[k])
            runs = []
            for s in run_seeds:
                folder = os.path.join(out_dir, "unbiased_training", "runs", _slug(task, name, best_lr, s))
                initial = paper_network(sizes, spike, seed=s)
                fitted = _run(folder, initial, est, loss_fn, train, val, lr=best_lr,
                              epochs=n_epochs, batch=m["batch"], seed=s, quick=quick)  # fmt: skip
                test_eval = evaluate(fitted.net, test, loss_fn, accuracy, key=jr.key(s + 7))
                runs.append({"seed": s, "test_accuracy": test_eval["metric"],
                             "val_accuracy": [h["val_metric"] for h in fitted.history],
                             "smorms3_step_fraction": step_fraction(fitted.opt_state, best_lr),
                             "by_parameter": by_parameter(fitted.opt_state, best_lr, fitted.net, initial)})  # fmt: skip
            accs = np.array([r["test_accuracy"] for r in runs])
            fraction = float(np.mean([r["smorms3_step_fraction"] for r in runs]))
            task_out["methods"][name] = {
                "lr_sweep_best_val": {str(k): v for k, v in sweep.items()},
                "lr": best_lr,
                "step_seconds": seconds,
                "cost_vs_deterministic_sg": seconds / step_seconds["deterministic SG"],
                "cost_vs_matched_sg": seconds / step_seconds["stochastic SG (matched)"],
                "test_accuracy_mean": float(accs.mean()),
                "test_accuracy_sd": float(accs.std(ddof=1)) if len(accs) > 1 else None,
                "smorms3_step_fraction": fraction,
                "by_parameter": {  # the mean over seeds of each run's
                    k: {q: float(np.mean([r["by_parameter"][k][q] for r in runs])) for q in v}
                    for k, v in runs[0]["by_parameter"].items()
                },
                "runs": runs,
            }
            print(f"  {task} / {name}: test {accs.mean():.3f}, cost x{seconds / step_seconds['stochastic SG (matched)']:.1f} "
                  "the matched SG's", flush=True)  # fmt: skip
        stochastic = paper_network(sizes, Stochastic(Sigmoid(10.0)), seed=seed)
        unbiased = {
            k: est
            for k, (spike, est) in timed.items()
            if spike.stochastic and not isinstance(est, Autodiff)  # the SGs are biased: not profiled
        }
        # a run of the SGs alone (`only`) has no unbiased estimator to profile
        profiles = (
            profile_estimators(unbiased, loss_fn, stochastic, xb[0], yb[0], jr.key(seed + 3), n_estimates=m["profile"])
            if unbiased
            else []
        )
        task_out["variance_at_init"] = [p._asdict() for p in profiles]
        results[task] = task_out
    report = _report(results, m, n_epochs, run_seeds, quick)
    figures = {"unbiased_training.png": _figure(results)}
    cfg = {"mode": m, "epochs": n_epochs, "seeds": run_seeds, "tasks": {k: TASKS[k] for k in m["tasks"]}}
    return save(out_dir, "unbiased_training", cfg, results, report, figures)


def step_fraction(opt_state, lr: float) -> float:
    """Mean over the trained parameters of SMORMS3's step factor `min(lr, x) / lr` in `opt_state`.

    SMORMS3 scales each parameter's step by `min(lr, x)` with `x = g^2 / g2` (squared running mean over
    running mean square of its gradient: about SNR / (1 + SNR)). Where a gradient is noisy, `x < lr` and
    the step is set by the noise, not by the learning rate: a fraction well below 1 says raising the rate
    cannot speed training up.
    """
    factors = _step_factors(opt_state, lr, "step_fraction")
    return float(np.mean(np.concatenate([np.ravel(f) for f in factors.values()])))


def _step_factors(opt_state, lr: float, where: str) -> dict[str, np.ndarray]:
    """SMORMS3's step factor `min(lr, x) / lr` of every trained parameter, by its path in the network."""
    states = [
        st
        for st in jax.tree.leaves(opt_state, is_leaf=lambda st: isinstance(st, SMORMS3State))
        if isinstance(st, SMORMS3State)
    ]
    if not states:
        raise ValueError(f"{where}: `opt_state` holds no SMORMS3 state.")
    return {
        jax.tree_util.keystr(path): np.minimum(lr, np.square(g) / (g2 + 1e-16)) / lr
        for st in states
        for (path, g), g2 in zip(jax.tree_util.tree_leaves_with_path(st.g), jax.tree.leaves(st.g2), strict=True)
    }


def by_parameter(opt_state, lr: float, net, net0) -> dict[str, dict[str, float]]:
    """Where a run trained: for each trained parameter array (by its path, e.g. `.layers[0].weight`), SMORMS3's
    mean step factor at the end (`step_fraction`) and how far training moved it, `||w - w0|| / ||w0||` from
    the initial network `net0`.

    A parameter whose steps are gated by noise (small step factor) or whose steps cancel out (a random walk)
    moves little; comparing methods layer by layer shows which layers an estimator trains.
    """
    now = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(net)}
    start = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(net0)}
    out = {}
    for name, factor in _step_factors(opt_state, lr, "by_parameter").items():
        w, w0 = np.asarray(now[name]), np.asarray(start[name])
        out[name] = {
            "smorms3_step_fraction": float(np.mean(factor)),
            "weight_change": float(np.linalg.norm(w - w0) / max(float(np.linalg.norm(w0)), 1e-12)),
        }
    return out


def _slug(task, name, lr, seed):
    keep = "".join(c if c.isalnum() else "_" for c in f"{task}_{name}")
    return f"{keep}_lr{lr:g}_seed{seed}"


def _report(results, m, n_epochs, run_seeds, quick: bool):
    rows = []
    for task, out in results.items():
        sg = out["methods"].get("stochastic SG (matched)", {}).get("test_accuracy_mean")
        for name, r in out["methods"].items():
            spread = f" +- {r['test_accuracy_sd']:.3f}" if r["test_accuracy_sd"] is not None else ""
            rows.append(
                (
                    f"{task}: {name}",
                    f"{r['test_accuracy_mean']:.3f}{spread}",
                    "-",
                    f"test accuracy after {n_epochs} epochs ({len(run_seeds)} seed(s), lr {r['lr']:g} chosen on "
                    f"validation after {min(m['sweep_epochs'], n_epochs)} epochs from {list(m['lrs'])}"
                    + (
                        ", at the sweep's edge: widen it"
                        if len(m["lrs"]) > 1 and r["lr"] in (min(m["lrs"]), max(m["lrs"]))
                        else ""
                    )
                    + "); "
                    + (f"{r['test_accuracy_mean'] / max(sg, 1e-9):.2f} of the matched SG; " if sg is not None else "")
                    + f"step cost x{r['cost_vs_matched_sg']:.1f} the matched SG's "
                    f"(x{r['cost_vs_deterministic_sg']:.1f} the deterministic SG's); SMORMS3 step factor "
                    f"min(lr, x) / lr {r['smorms3_step_fraction']:.3f} (mean over weights, end of training)",
                )
            )
        for name, r in out["methods"].items():
            rows.append(
                (
                    f"{task}: where {name} trained",
                    " / ".join(f"{v['weight_change']:.2f}" for v in r["by_parameter"].values()),
                    "-",
                    "per trained parameter, how far training moved it, ||w - w0|| / ||w0||, and SMORMS3's step factor "
                    "at the end (mean over seeds): "
                    + "; ".join(
                        f"{k.lstrip('.')} {v['weight_change']:.2f}, step {v['smorms3_step_fraction']:.3f}"
                        for k, v in r["by_parameter"].items()
                    ),
                )
            )
        if sg is not None and any(k.startswith(UNBIASED) for k in out["methods"]):
            rows.append(_target_row(task, out["methods"], sg, quick))
        costs = out.get("step_cost_vs_matched_sg", {})
        for p in out["variance_at_init"]:
            per = " / ".join(f"{k}: {v:.3g}" for k, v in p["variance"].items() if k.endswith("weight"))
            rows.append(
                (
                    f"{task}: variance at init, {p['name']}",
                    f"{p['total']:.3g}",
                    "-",
                    f"per-estimate variance / squared norm of the pooled unbiased mean, one example; per weight {per}; "
                    f"mean cosine {p['cosine']:.2f}; cost {p['cost']:.1f} forward passes"
                    + (
                        f" (training step x{costs[p['name']]:.1f} the matched SG's at batch {m['batch']})"
                        if p["name"] in costs
                        else ""
                    ),
                )
            )
    return rows


UNBIASED = ("StochasticAD", "ScoreFunction", "LocalScoreFunction", "mix")
SGS = ("deterministic SG", "stochastic SG (matched)")


def _target_row(task, methods_out, sg, quick: bool):
    """The issue's target: an unbiased method at >= 0.9 of the matched SG's accuracy for <= 4x its step cost.

    The verdict is given only on the full run, the one the target is defined on (a quick run's methods may all
    sit at chance, where any ratio is meaningless)."""
    unbiased = {k: r for k, r in methods_out.items() if k.startswith(UNBIASED)}
    within = {k: r for k, r in unbiased.items() if r["cost_vs_matched_sg"] <= 4.0} or unbiased
    best = max(within, key=lambda k: within[k]["test_accuracy_mean"])
    ratio, cost = unbiased[best]["test_accuracy_mean"] / max(sg, 1e-9), unbiased[best]["cost_vs_matched_sg"]
    met = ratio >= 0.9 and cost <= 4.0
    return (
        f"{task}: best unbiased method vs the matched SG",
        f"{best}: {ratio:.2f} of its accuracy at x{cost:.1f} its step cost",
        ">= 0.90 at <= x4 (target)",
        "no verdict: the target is defined on the full run (--full)"
        if quick
        else "target " + ("met" if met else "not met") + " at this training length",
    )


def _figure(results):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2 * len(results), figsize=(6 * len(results), 3.2), squeeze=False)
    for t, (task, out) in enumerate(results.items()):
        ax_e, ax_c = axes[0, 2 * t], axes[0, 2 * t + 1]
        for name, r in out["methods"].items():
            curve = np.mean([run["val_accuracy"] for run in r["runs"]], axis=0)
            epochs = np.arange(1, len(curve) + 1)
            ax_e.plot(epochs, curve, label=name)
            ax_c.plot(epochs * r["cost_vs_deterministic_sg"], curve, label=name)
        ax_e.set(xlabel="epoch", ylabel="validation accuracy", title=task)
        ax_c.set(xlabel="compute (epochs x step cost / det. SG)", xscale="log", title=task)
        ax_e.legend(fontsize=6)
    fig.tight_layout()
    return fig
