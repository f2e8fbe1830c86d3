"""Surrogate robustness (Zenke & Vogels 2021): shape x steepness grid, the sparse-activity limit, diagnostics.

Zenke & Vogels, "The remarkable robustness of surrogate gradient learning for instilling complex
function in spiking neural networks" (Neural Computation 33(4):899-925, 2021) found learning robust
to the surrogate's shape but not to its scale, and networks that work at the sparse-activity limit
with activity regularisation. Three parts:

1. **grid**: the calibrated Randman (`randman-calibration`: Zenke-lab standard data, 20-128-10,
   tau 20/10 ms, SMORMS3 5e-3, batch 250, per-neuron lower and per-layer upper bound, max-over-time
   cross-entropy) trained with the deterministic SG of every shape in `SHAPES` and steepness in
   `betas`, the surrogate at peak 1 (their normalisation) or at its native scale (the escape density,
   peak `beta / 2` for SuperSpike), the reset detached or differentiated.
2. **sparse**: the per-layer upper bound's threshold (spikes per neuron and trial) and strength swept,
   for the deterministic SG and the matched stochastic SG (sigmoid escape 10 both): accuracy against
   the mean spike count and the fraction of neurons that fire at all.
3. **diagnostics** (`_robustness_diagnostics`): on networks small enough for exact enumeration, the
   cosine and relative bias of each surrogate to the true gradient of its matched escape-noise network.

Every training run is saved and resumes; a run whose loss or gradient turns NaN/inf is recorded as
diverged, with the accuracy of its last good epoch.
"""

import itertools
import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..data import randman
from ..escape import Sigmoid
from ..estimators import Autodiff, Batched
from ..losses import accuracy_max_over_time, on_output
from ..nn import trainable
from ..spikes import Stochastic, Surrogate
from ..train import evaluate, fit, fit_cells, freeze, load_checkpoint, smorms3
from ._randman_calibration import STANDARD_RANDMAN, calibrated_loss, split_80_10_10
from ._recipes import paper_network
from ._results import pyplot, save
from ._robustness_diagnostics import SHAPES, _norm, diagnostics_figure, escape, summarise, surrogate_vs_exact
from ._robustness_figures import grid_figure, sparse_figure

BETAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
SCALES = ("peak 1", "native")
RESETS = ("detached", "differentiated")
PARTS = ("grid", "sparse", "diagnostics")
PLANS = ("reduced", "full")
REDUCED_SHAPES = ("FastSigmoid", "Sigmoid", "Triangle")  # SuperSpike, sigmoid', piecewise linear
REDUCED_BETAS = (1.0, 3.0, 10.0, 30.0, 100.0)
REDUCED_SCALE_BETAS = (10.0, 100.0, 1000.0)  # native-scale SuperSpike: peaks 5, 50, 500


def _ratio(value: float) -> str:
    """A cosine or relative bias for the report; NaN (every network's true gradient zero: 0/0) is said, not printed."""
    return "0/0" if np.isnan(value) else f"{value:.2f}"


def _modes(quick: bool, plan: str = "reduced") -> dict[str, Any]:
    if plan not in PLANS:
        raise ValueError(f"robustness: `plan` must be one of {PLANS}, got {plan!r}.")
    if not quick and plan == "reduced":
        # fits about 2 h on 2 CPU cores and still asks the paper's question (shape vs scale): 3 shapes x
        # 5 betas at peak 1, plus native-scale SuperSpike at 3 betas with either reset; 2 seeds x 50 epochs
        return dict(
            spc=1000, epochs=50, batch=250, seeds=(0, 1), lr=5e-3, parts=("grid", "diagnostics"),
            grid=[(s, b, "peak 1", "detached") for s in REDUCED_SHAPES for b in REDUCED_BETAS]
            + [("FastSigmoid", b, "native", r) for b in REDUCED_SCALE_BETAS for r in RESETS],
            sparse=dict(thresholds=(0.5, 4.0), strengths=(0.1,), methods=("deterministic SG", "stochastic SG (matched)")),
            diagnostics=dict(shapes=REDUCED_SHAPES, betas=(1.0, 3.0, 10.0, 30.0, 100.0, 1000.0), seeds=(11, 12),
                             problems=("one_hidden_subtract", "recurrent_leak"), n_sg=1000),
        )  # fmt: skip
    if quick:
        return dict(
            spc=50, epochs=4, batch=100, seeds=(0,), lr=5e-3,
            grid=[(s, b, "peak 1", "detached") for s in ("FastSigmoid", "Triangle") for b in (1.0, 10.0, 100.0)]
            + [("FastSigmoid", 100.0, "native", r) for r in RESETS],
            sparse=dict(thresholds=(0.5, 4.0), strengths=(1.0,), methods=("deterministic SG",)),
            diagnostics=dict(shapes=("FastSigmoid", "Triangle"), betas=(1.0, 10.0, 100.0), seeds=(11,),
                             problems=("recurrent_leak",), n_sg=200),
        )  # fmt: skip
    return dict(
        spc=1000, epochs=100, batch=250, seeds=(0, 1, 2), lr=5e-3,
        grid=list(itertools.product(SHAPES, BETAS, SCALES, RESETS)),
        sparse=dict(thresholds=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0), strengths=(0.01, 0.1, 1.0),
                    methods=("deterministic SG", "stochastic SG (matched)")),
        diagnostics=dict(shapes=tuple(SHAPES), betas=(0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
                         seeds=(11, 12, 13), problems=("one_hidden_subtract", "two_hidden_zero", "recurrent_leak"),
                         n_sg=2000),
    )  # fmt: skip


def grid_spike_fn(shape: str, beta: float, scale: str) -> Surrogate:
    """The deterministic SG of a grid cell: `shape` at steepness `beta`, at peak 1 or its native scale."""
    if scale not in SCALES:
        raise ValueError(f"grid_spike_fn: `scale` must be one of {SCALES}, got {scale!r}.")
    return Surrogate(escape(shape, beta), scale=1.0 if scale == "peak 1" else None)


@eqx.filter_jit
def _hidden_counts(net, xs, keys):
    return jax.vmap(lambda x, k: jnp.sum(net(x, key=k).spikes[0], axis=0))(xs, keys)


def activity(net, data, key, batch: int = 250) -> dict[str, float]:
    """Mean hidden spike count per neuron and trial, and the mean fraction of hidden neurons firing at least once."""
    counts = []
    for start in range(0, len(data), batch):
        xs, _ = data.batch(np.arange(start, min(start + batch, len(data))))
        keys = jr.split(jr.fold_in(key, start), len(xs))
        counts.append(np.asarray(_hidden_counts(net, jnp.asarray(xs), keys)))
    c = np.concatenate(counts)
    return {"spikes_per_neuron": float(c.mean()), "fraction_active": float((c > 0).mean())}


def _train(folder, net, loss_fn, optimizer, data, *, epochs, batch, seed, quick, config) -> dict:
    """One saved, resumable run; the test accuracy and activity of its network (the last good one if it diverged)."""
    train, val, test = data
    diverged = None
    try:
        fitted = fit(
            net, train, estimator=Autodiff(), loss_fn=loss_fn, optimizer=optimizer, epochs=epochs, batch_size=batch,
            seed=seed, val=val, metric_fn=on_output(accuracy_max_over_time), out_dir=folder, progress=not quick,
            config=config,
        )  # fmt: skip
        net, history = fitted.net, fitted.history
    except FloatingPointError as err:
        diverged = str(err)
        ckpt = os.path.join(folder, "checkpoint.eqx")
        history = []
        if os.path.exists(ckpt):  # the last good epoch
            template = (net, optimizer.init(eqx.filter(net, trainable(net))))
            (net, _), meta = load_checkpoint(ckpt, template)
            history = meta["history"]
    return _record(net, test, loss_fn, seed, history, diverged)


def _record(net, test, loss_fn, seed, history, diverged) -> dict:
    """What a grid or sparse run reports: test accuracy and activity of `net`, validation curve, divergence."""
    key = jr.key(seed + 7)
    acc = evaluate(net, test, loss_fn, on_output(accuracy_max_over_time), key=key)["metric"]
    return {
        "seed": seed,
        "test_accuracy": acc,
        "diverged": diverged,
        "val_accuracy": [h["val_metric"] for h in history],
        **activity(net, test, key),
    }


@eqx.filter_jit
def _sg(loss_fn, net, xs, ys):
    return Batched(Autodiff())(loss_fn, net, xs, ys, None)[1]


def _grad_norm(net, loss_fn, train, batch: int) -> float:
    """Norm of the SG of the first training batch at initialisation (where a too-large scale shows first)."""
    xs, ys = train.batch(np.arange(min(batch, len(train))))
    return _norm(_sg(loss_fn, net, jnp.asarray(xs), jnp.asarray(ys)))


def _summary(runs: list[dict]) -> dict:
    acc = np.array([r["test_accuracy"] for r in runs])
    return {
        "test_accuracy_mean": float(acc.mean()),
        "test_accuracy_sd": float(acc.std(ddof=1)) if len(acc) > 1 else None,
        "diverged": sum(r["diverged"] is not None for r in runs),
        "spikes_per_neuron": float(np.mean([r["spikes_per_neuron"] for r in runs])),
        "fraction_active": float(np.mean([r["fraction_active"] for r in runs])),
        "runs": runs,
    }


def robustness(
    out_dir="results/reproduce",
    *,
    quick=True,
    seed=0,
    epochs=None,
    seeds=None,
    parts=None,
    grid=None,
    vmapped=False,
    plan="reduced",
) -> dict:
    """Zenke & Vogels' surrogate study: shape x steepness grid, sparse-activity sweep, exact diagnostics.

    `snnsad reproduce robustness`; the parts are described in the module docstring, `parts` runs a subset
    of `PARTS` ("grid", "sparse", "diagnostics"). Full mode, `plan="reduced"` (default, the headline: about
    2 h on 2 CPU cores): 3 shapes (SuperSpike, sigmoid', triangle) x 5 betas (1-100) at peak 1, plus
    native-scale SuperSpike at beta 10 / 100 / 1000 with the reset detached or differentiated (21 cells),
    2 seeds x 50 epochs on 8,000 examples, and diagnostics on 6 small networks; the grid and the
    diagnostics (the sparse sweep only when named in `parts`). `plan="full"`: 4 shapes x 9 betas x 2
    scales x 2 resets (144 cells) and 6 x 3 x 2 sparse cells, 3 seeds each, 100 epochs (about 4.5 min
    per run on 2 CPU cores: some 30 h for the grid) and diagnostics on 9 small networks. Quick mode (4 epochs on 400 examples, 10 runs, about 2 min) is a pipeline
    check; the scale effect shows in it through the SG's norm at initialisation and the diagnostics.
    `epochs` and `seeds` override the mode's; `grid`, a list of `(shape, beta, scale, reset)` cells, the
    mode's grid (e.g. one shape's row). Every run resumes from its folder under `out_dir/robustness/runs`.
    `vmapped=True` trains the grid's cells of one shape, scale and reset (every beta and seed) together in
    one vmapped step (`fit_cells`: on an accelerator, the way to fit the full grid into a device lease; on
    2 CPU cores it is slower than one run after another); a diverged cell then keeps its state before the
    bad step instead of its last good epoch's.
    """
    m = _modes(quick, plan)
    parts = m.get("parts", PARTS) if parts is None else tuple(parts)
    if not parts or any(p not in PARTS for p in parts):
        raise ValueError(f"robustness: `parts` must name some of {PARTS}, got {parts!r}.")
    if grid is not None:
        m = {**m, "grid": _check_cells(grid)}
    n_epochs = m["epochs"] if epochs is None else epochs
    run_seeds = list(m["seeds"] if seeds is None else seeds)
    results: dict[str, Any] = {}
    data = split_80_10_10(randman(**STANDARD_RANDMAN, samples_per_class=m["spc"], seed=seed + 1))
    optimizer = freeze(smorms3(m["lr"]), "threshold")
    common = dict(epochs=n_epochs, batch=m["batch"], quick=quick)
    root = os.path.join(out_dir, "robustness", "runs")
    if "grid" in parts:
        loss_fn = calibrated_loss()
        cells = []
        stacked = _train_rows(m["grid"], run_seeds, loss_fn, optimizer, data, root, **common) if vmapped else {}
        for shape, beta, scale, reset in m["grid"]:
            spike = grid_spike_fn(shape, beta, scale)
            nets = {s: paper_network((20, 128, 10), spike, seed=s, detach_reset=reset == "detached") for s in run_seeds}
            cfg = {"experiment": "robustness", "shape": shape, "beta": beta, "scale": scale, "reset": reset}
            if vmapped:
                runs = stacked[(shape, beta, scale, reset)]
            else:
                runs = [_train(os.path.join(root, _slug("grid", shape, beta, scale, reset, s)), net, loss_fn,
                               optimizer, data, seed=s, config=cfg, **common) for s, net in nets.items()]  # fmt: skip
            peak = float(spike.escape.peak()) if scale == "native" else 1.0
            init_norm = _grad_norm(
                nets[run_seeds[0]], loss_fn, data[0], m["batch"]
            )  # fit leaves the caller's net as it was
            cells.append({"shape": shape, "beta": beta, "scale": scale, "reset": reset, "peak": peak,
                          "grad_norm_at_init": init_norm, **_summary(runs)})  # fmt: skip
            print(f"  robustness grid: {shape} beta {beta:g} {scale} {reset}: "
                  f"test {cells[-1]['test_accuracy_mean']:.3f}", flush=True)  # fmt: skip
        results["grid"] = cells
    if "sparse" in parts:
        sp = m["sparse"]
        sig = Sigmoid(10.0)
        spikes = {"deterministic SG": Surrogate(sig), "stochastic SG (matched)": Stochastic(sig)}
        cells = []
        for method, theta, strength in itertools.product(sp["methods"], sp["thresholds"], sp["strengths"]):
            loss_fn = calibrated_loss(theta, strength)
            runs = []
            for s in run_seeds:
                net = paper_network((20, 128, 10), spikes[method], seed=s)
                folder = os.path.join(root, _slug("sparse", method, theta, strength, s))
                cfg = {"experiment": "robustness", "method": method, "upper_threshold": theta, "strength": strength}
                runs.append(_train(folder, net, loss_fn, optimizer, data, seed=s, config=cfg, **common))
            cells.append({"method": method, "upper_threshold": theta, "strength": strength, **_summary(runs)})
            print(f"  robustness sparse: {method} theta {theta:g} strength {strength:g}: "
                  f"test {cells[-1]['test_accuracy_mean']:.3f}, {cells[-1]['spikes_per_neuron']:.2f} spikes/neuron",
                  flush=True)  # fmt: skip
        results["sparse"] = cells
    if "diagnostics" in parts:
        print("  robustness diagnostics: exact gradients of the matched escape-noise networks ...", flush=True)
        results["diagnostics"] = surrogate_vs_exact(**m["diagnostics"], seed=seed)
    figures = {}
    plt = pyplot()
    if "grid" in results:
        figures["robustness_grid.png"] = grid_figure(results["grid"], plt)
    if "sparse" in results:
        figures["robustness_sparse.png"] = sparse_figure(results["sparse"], plt)
    if "diagnostics" in results:
        figures["robustness_diagnostics.png"] = diagnostics_figure(results["diagnostics"], plt)
    cfg = {"quick": quick, "plan": plan, "mode": dict(m), "epochs": n_epochs, "seeds": run_seeds, "parts": parts}
    return save(out_dir, "robustness", cfg, results, report_rows(results, n_epochs, run_seeds), figures)


def _train_rows(grid, run_seeds, loss_fn, optimizer, data, root, *, epochs, batch, quick) -> dict[tuple, list]:
    """Every grid cell's runs, the cells of one (shape, scale, reset) row trained together by `fit_cells`."""
    train, val, test = data
    out: dict[tuple, list] = {}
    for (shape, scale, reset), row in itertools.groupby(sorted(grid, key=lambda c: (c[0], c[2], c[3], c[1])),
                                                        key=lambda c: (c[0], c[2], c[3])):  # fmt: skip
        cells = [(cell, s) for cell in row for s in run_seeds]
        nets = [paper_network((20, 128, 10), grid_spike_fn(shape, cell[1], scale), seed=s,
                              detach_reset=reset == "detached") for cell, s in cells]  # fmt: skip
        fitted = fit_cells(
            nets, train, seeds=[s for _, s in cells], estimator=Autodiff(), loss_fn=loss_fn, optimizer=optimizer,
            epochs=epochs, batch_size=batch, val=val, metric_fn=on_output(accuracy_max_over_time),
            out_dir=os.path.join(root, _slug("row", shape, scale, reset)), progress=not quick,
            config={"experiment": "robustness", "cells": [[*c, s] for c, s in cells]},
        )  # fmt: skip
        for (cell, s), net, history, diverged in zip(cells, *fitted, strict=True):
            out.setdefault(cell, []).append(_record(net, test, loss_fn, s, history, diverged))
    return out


def _check_cells(cells) -> list[tuple]:
    out = []
    for cell in cells:
        ok = isinstance(cell, (tuple, list)) and len(cell) == 4
        if not ok or cell[0] not in SHAPES or not float(cell[1]) > 0 or cell[2] not in SCALES or cell[3] not in RESETS:
            raise ValueError(
                f"robustness: every `grid` cell must be (shape, beta, scale, reset) with shape in {list(SHAPES)}, "
                f"beta > 0, scale in {SCALES} and reset in {RESETS}; got {cell!r}."
            )
        out.append((cell[0], float(cell[1]), cell[2], cell[3]))
    if not out:
        raise ValueError("robustness: `grid` must hold at least one cell.")
    return out


def _slug(*parts) -> str:
    words = (f"{p:g}" if isinstance(p, float) else str(p) for p in parts)
    return "_".join("".join(c if c.isalnum() or c == "." else "_" for c in w) for w in words)


def _spread(grid: list[dict]) -> dict | None:
    """At the best beta (highest mean over shapes, peak 1, detached): the spread over shapes vs the mean spread over beta."""
    sel = [c for c in grid if c["scale"] == "peak 1" and c["reset"] == "detached"]
    shapes, betas = sorted({c["shape"] for c in sel}), sorted({c["beta"] for c in sel})
    acc = {(c["shape"], c["beta"]): c["test_accuracy_mean"] for c in sel}
    if len(betas) < 2 or any((s, b) not in acc for s in shapes for b in betas):
        return None
    best = max(betas, key=lambda b: np.mean([acc[s, b] for s in shapes]))
    across_shapes = max(acc[s, best] for s in shapes) - min(acc[s, best] for s in shapes)
    across_beta = float(np.mean([max(acc[s, b] for b in betas) - min(acc[s, b] for b in betas) for s in shapes]))
    plateau = [b for b in betas if min(acc[s, b] for s in shapes) >= 0.9]
    # the scale, as the paper's Fig. 5c compares it: SuperSpike at the same beta normalised to peak 1 with the
    # reset detached (sCtl), at its native scale (peak beta / 2) with the reset detached (aCtl) and with it
    # differentiated (aDR); the spread is max - min over the conditions run at a beta, the largest over beta
    conditions = (("peak 1", "detached"), ("native", "detached"), ("native", "differentiated"))
    by_scale = {
        (c["scale"], c["reset"], c["beta"]): c["test_accuracy_mean"] for c in grid if c["shape"] == "FastSigmoid"
    }
    spreads, detached_gaps = [], []
    for b in sorted({key[2] for key in by_scale}):
        run = [by_scale[scale, reset, b] for scale, reset in conditions if (scale, reset, b) in by_scale]
        if len(run) > 1 and ("peak 1", "detached", b) in by_scale:
            spreads.append((max(run) - min(run), b))
        if ("peak 1", "detached", b) in by_scale and ("native", "detached", b) in by_scale:
            detached_gaps.append(abs(by_scale["peak 1", "detached", b] - by_scale["native", "detached", b]))
    widest = max(spreads) if spreads else (None, None)
    return {"best_beta": best, "across_shapes": across_shapes, "across_beta": across_beta, "plateau_90": plateau,
            "across_scale": widest[0], "across_scale_beta": widest[1],
            "across_scale_detached": float(max(detached_gaps)) if detached_gaps else None}  # fmt: skip


def report_rows(results: dict, n_epochs: int, run_seeds: list) -> list[tuple]:
    rows = []
    setup = f"test accuracy after {n_epochs} epochs, mean of {len(run_seeds)} seed(s)"
    if "grid" in results:
        spread = _spread(results["grid"])
        if spread is not None:
            ok = spread["across_shapes"] < 0.5 * spread["across_beta"]
            rows.append((
                "shape vs steepness (peak 1, detached reset)",
                f"spread over shapes {spread['across_shapes']:.3f} at beta {spread['best_beta']:g}; "
                f"over beta {spread['across_beta']:.3f} (mean over shapes)",
                "robust to shape, not to scale (Fig. 3; values plotted, not tabulated)",
                f"{setup}; shapes spread < half the beta spread: {'yes' if ok else 'no'}",
            ))  # fmt: skip
            if spread["across_scale"] is not None:
                smaller = spread["across_shapes"] < spread["across_scale"]
                detached = spread["across_scale_detached"]
                rows.append((
                    "shape spread at the best beta vs scale spread",
                    f"{spread['across_shapes']:.3f} vs {spread['across_scale']:.3f} (beta {spread['across_scale_beta']:g})",
                    "robust to shape, not to scale (Fig. 5c: sCtl, aCtl, aDR)",
                    f"{setup}; scale spread: SuperSpike at one beta at peak 1 (reset detached, sCtl), at its native "
                    "scale with the reset detached (aCtl) and differentiated (aDR), max - min, the largest over beta"
                    + (f" (peak 1 vs native with the reset detached alone: {detached:.3f})" if detached is not None else "")
                    + f"; shape spread smaller: {'yes' if smaller else 'no'}",
                ))  # fmt: skip
            plateau = spread["plateau_90"]
            rows.append((
                "betas where every shape reaches 90 %",
                ", ".join(f"{b:g}" for b in plateau) if plateau else "none",
                "a broad plateau (Fig. 3)",
                setup,
            ))  # fmt: skip
        for c in results["grid"]:
            if c["scale"] == "native" and c["peak"] >= 25:
                twin = [d for d in results["grid"] if (d["shape"], d["beta"], d["scale"]) == (c["shape"], c["beta"], "native")
                        and d["reset"] != c["reset"]]  # fmt: skip
                if c["reset"] == "differentiated" and twin:
                    rows.append((
                        f"{c['shape']} beta {c['beta']:g} at native scale (peak {c['peak']:g}): reset differentiated vs detached",
                        f"{c['test_accuracy_mean']:.3f} vs {twin[0]['test_accuracy_mean']:.3f} "
                        f"({c['diverged']} / {twin[0]['diverged']} runs diverged; SG norm at init "
                        f"x{c['grad_norm_at_init'] / max(twin[0]['grad_norm_at_init'], 1e-30):.3g})",
                        "aDR trains worse than aCtl (Fig. 5c)",
                        setup,
                    ))  # fmt: skip
    if "sparse" in results:
        for c in results["sparse"]:
            rows.append((
                f"sparse: {c['method']}, upper bound {c['upper_threshold']:g} spikes, strength {c['strength']:g}",
                f"{c['test_accuracy_mean']:.3f}",
                "works at the sparse-activity limit with regularisation (Fig. 6)",
                f"{setup}; {c['spikes_per_neuron']:.2f} hidden spikes per neuron and trial, "
                f"{c['fraction_active']:.2f} of neurons active",
            ))  # fmt: skip
    if "diagnostics" in results:
        diag = results["diagnostics"]
        for suffix, what in (("", "all parameters"), ("_spiking", "spiking layers")):
            cos, bias = summarise(diag, "cosine" + suffix), summarise(diag, "relative_bias" + suffix)
            for est, by_shape in cos.items():
                parts = [f"{shape} " + " / ".join(_ratio(m) for m in v[1]) for shape, v in by_shape.items()]
                betas = next(iter(by_shape.values()))[0]
                stacked = np.array([v[1] for v in bias[est].values()], np.float64)
                finite = np.isfinite(stacked).sum(axis=0)  # the mean over shapes whose ratio is defined
                rel = np.where(finite > 0, np.nansum(stacked, axis=0) / np.maximum(finite, 1), np.nan)
                rows.append((
                    f"cosine to dE[L]/dtheta ({what}), {est} (beta {' / '.join(f'{b:g}' for b in betas)})",
                    "; ".join(parts),
                    "-",
                    "small networks, exact enumeration of the matched escape-noise network; relative bias (mean "
                    "over shapes) " + " / ".join(_ratio(r) for r in rel)
                    + ("; 0/0: the true gradient of every network is zero there" if np.isnan(rel).any() else ""),
                ))  # fmt: skip
    return rows
