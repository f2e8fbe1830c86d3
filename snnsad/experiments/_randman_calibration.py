"""Randman calibration: the Zenke-lab standard Randman task, set up as the reference library runs it.

The check that training works at all: fmi-basel/stork's example `01_Shallow_SNN_Randman` reaches
96.3 % test accuracy on it. Setup (read from that example): Randman with 10 classes, 20 units,
100 steps of 2 ms, 1000 samples per class, 1-D manifolds, alpha = 1, one spike per unit,
step_frac 0.5, per-class standardisation, split 80/10/10 without reshuffling; 20 -> 128 LIF
(tau_mem 20 ms, tau_syn 10 ms, threshold 1, multiplicative reset detached) -> leaky readout
(tau_mem = 200 ms, the trial length); SuperSpike surrogate with beta = 20 and peak 1;
fluctuation-driven init (sigma_U = 1, nu = 5 Hz) of both connections; max-over-time
cross-entropy plus a per-neuron lower-bound L2 regulariser (strength 100, threshold 0.001
spikes) and a per-layer upper-bound L2 regulariser (strength 0.1, threshold 4 spikes on the
layer's mean count); SMORMS3 with lr 5e-3, batch 250, 200 epochs; weights trained, thresholds
fixed.
"""

import os
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..data import SpikeDataset, randman
from ..escape import FastSigmoid
from ..estimators import Autodiff
from ..losses import ActivityRegulariser, accuracy_max_over_time, make_loss, max_over_time_cross_entropy, on_output
from ..spikes import Surrogate
from ..train import evaluate, fit, freeze, smorms3
from ._baselines import spike_time_baselines
from ._recipes import paper_network
from ._results import pyplot, save

STANDARD_RANDMAN: dict[str, Any] = dict(
    n_classes=10, n_units=20, n_steps=100, manifold_dim=1, alpha=1.0, n_spikes=1, step_frac=0.5, standardise="class"
)
REFERENCE_TEST_ACCURACY = 0.963  # stork's example 01_Shallow_SNN_Randman, 200 epochs


def calibrated_loss(upper_threshold: float = 4.0, upper_strength: float = 0.1):
    """Max-over-time cross-entropy with the reference's regularisers: per-neuron lower bound
    100 x relu(0.001 - c)^2 and per-layer upper bound `upper_strength` x relu(mean c - `upper_threshold`)^2
    (the reference's 0.1 and 4 spikes by default)."""
    return make_loss(
        max_over_time_cross_entropy,
        [
            ActivityRegulariser(100.0, 1e-3, "lower", 2, "neuron"),
            ActivityRegulariser(upper_strength, upper_threshold, "upper", 2, "layer"),
        ],
    )


def split_80_10_10(data: SpikeDataset) -> tuple[SpikeDataset, SpikeDataset, SpikeDataset]:
    """Train / validation / test as the reference library splits: the first 80 %, the next 10 %, the last 10 %."""
    n = len(data)
    a, b = int(0.8 * n), int(0.9 * n)
    return tuple(SpikeDataset(data.x[i:j], data.y[i:j]) for i, j in ((0, a), (a, b), (b, n)))  # type: ignore[return-value]


def randman_calibration(
    out_dir: str,
    *,
    quick: bool = True,
    seed: int = 0,
    seeds: list[int] | None = None,
    epochs: int | None = None,
    samples_per_class: int | None = None,
) -> dict:
    """Train the Zenke-lab standard Randman (module docstring) and compare with the reference's 96.3 %.

    Full mode is the reference setup (200 epochs, 1000 samples per class), seeds `seed, seed + 1,
    seed + 2` (seed `s` draws the data set with `s + 1` and the network with `s`; mean ± sd over
    seeds reported); quick mode uses 300 samples per class, 30 epochs and `seed` alone; `seeds`
    overrides either. Each seed's training run is its own resumable folder
    `randman_calibration/run-seed{s}`. Also reports 1-nearest-neighbour and linear classifiers on
    the raw spike times of the same split.
    """
    spc = (300 if quick else 1000) if samples_per_class is None else samples_per_class
    epochs = (30 if quick else 200) if epochs is None else epochs
    seeds = ([seed] if quick else [seed, seed + 1, seed + 2]) if seeds is None else [int(s) for s in seeds]
    if not seeds:
        raise ValueError("randman_calibration: `seeds` is empty; give at least one seed.")
    runs = [_one_seed(out_dir, s, spc, epochs) for s in seeds]
    results = _summary(runs, seeds)
    history = runs[0]["history"]
    baselines = runs[0]["baselines"]
    acc, rate = results["test_accuracy"], results["hidden_rate_hz"]
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    ep = np.arange(1, len(history) + 1)
    axes[0].plot(ep, [h["train_loss"] for h in history], label="training")
    axes[0].plot(ep, [h["val_loss"] for h in history], label="validation")
    axes[0].set(xlabel="epoch", ylabel="loss (cross-entropy + regularisers)", title="a  loss")
    axes[1].plot(ep, [h["val_metric"] for h in history], label=f"validation (seed {seeds[0]}; others pale)")
    axes[1].axhline(REFERENCE_TEST_ACCURACY, color="k", ls="--", lw=0.8, label="reference (stork), test")
    for r in runs[1:]:
        axes[1].plot(ep, [h["val_metric"] for h in r["history"]], color="C0", alpha=0.4, lw=0.8)
    axes[1].axhline(baselines["linear"], color="C3", ls=":", lw=0.8, label="linear on spike times, test")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="b  accuracy", ylim=(0, 1))
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    n = len(seeds)
    over = f"same protocol, {n} seeds, mean ± sd" if n > 1 else "same protocol, 1 seed"
    report = [
        (
            "test accuracy (max-over-time readout)",
            f"{acc['mean']:.3f} ± {acc['sd']:.3f}" if n > 1 else f"{acc['mean']:.3f}",
            f"{REFERENCE_TEST_ACCURACY} (stork example, 200 epochs, 1 run)",
            f"fraction of the last 10 % of the data set classified correctly; {over} "
            f"(per seed: {', '.join(f'{r:.3f}' for r in acc['per_seed'])})",
        ),
        (
            "hidden firing rate",
            f"{rate['mean']:.1f} ± {rate['sd']:.1f} Hz" if n > 1 else f"{rate['mean']:.1f} Hz",
            "-",
            "mean over test examples, neurons and steps",
        ),
        (
            "1-NN / linear classifier on spike times",
            f"{baselines['nearest_neighbour']:.3f} / {baselines['linear']:.3f}",
            "-",
            f"same split (seed {seeds[0]}'s data); Euclidean 1-NN, logistic regression",
        ),
    ]
    config = {
        "quick": quick,
        "seeds": seeds,
        "data": {**STANDARD_RANDMAN, "samples_per_class": spc, "seed": "seed + 1"},
        "network": "20 -> 128 LIF -> 10 leaky readout, fluctuation init sigma_U 1, nu 5 Hz",
        "surrogate": "SuperSpike (FastSigmoid) beta 20, peak 1",
        "loss": "max-over-time CE + lower L2 (100, 1e-3, per neuron) + upper L2 (0.1, 4, per-layer mean)",
        "optimizer": "smorms3(5e-3), thresholds fixed",
        "batch_size": 250,
        "epochs": epochs,
    }
    return save(out_dir, "randman_calibration", config, results, report, {"randman_calibration.png": fig})


def _one_seed(out_dir: str, seed: int, spc: int, epochs: int) -> dict:
    """One seed's data set, training run (resumable, in `randman_calibration/run-seed{seed}`) and measurements."""
    dt = 2e-3
    data = randman(**STANDARD_RANDMAN, samples_per_class=spc, seed=seed + 1)
    train, val, test = split_80_10_10(data)
    spike = Surrogate(FastSigmoid(20.0), scale=1.0)
    net = paper_network((20, 128, 10), spike, dt=dt, seed=seed)
    loss_fn = calibrated_loss()
    accuracy = on_output(accuracy_max_over_time)
    optimizer = freeze(smorms3(5e-3), "threshold")
    print(f"  randman calibration, seed {seed}: {len(train)} training examples, {epochs} epochs ...", flush=True)
    fitted = fit(
        net,
        train,
        estimator=Autodiff(),
        loss_fn=loss_fn,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=250,
        seed=seed,
        val=val,
        metric_fn=accuracy,
        out_dir=os.path.join(out_dir, "randman_calibration", f"run-seed{seed}"),
        progress=True,
        config={"experiment": "randman_calibration", "samples_per_class": spc},
    )
    test_eval = evaluate(fitted.net, test, loss_fn, accuracy, key=jr.key(seed + 5))
    xs, _ = test.batch(np.arange(len(test)))
    spikes = np.asarray(jnp.concatenate([fitted.net(jnp.asarray(x)).spikes[0][None] for x in xs[:200]]))
    baselines = spike_time_baselines(train, test)
    print(
        f"  randman calibration, seed {seed}: test accuracy {test_eval['metric']:.3f} (reference "
        f"{REFERENCE_TEST_ACCURACY}); 1-NN {baselines['nearest_neighbour']:.3f}, linear {baselines['linear']:.3f}",
        flush=True,
    )
    return {
        "seed": seed,
        "test_accuracy": test_eval["metric"],
        "test_loss": test_eval["loss"],
        "hidden_rate_hz": float(spikes.mean()) / dt,
        "baselines": baselines,
        "history": fitted.history,
    }


def _summary(runs: list[dict], seeds: list[int]) -> dict:
    """Mean, sd (ddof 1; 0 for one seed) and the per-seed values of the seeds' numbers, and the runs."""

    def stats(key):
        values = [float(r[key]) for r in runs]
        sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        return {"mean": float(np.mean(values)), "sd": sd, "per_seed": values}

    keys = ("test_accuracy", "test_loss", "hidden_rate_hz")
    return {**{k: stats(k) for k in keys}, "seeds": seeds, "per_seed": runs}
