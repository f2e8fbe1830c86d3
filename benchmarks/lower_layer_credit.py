"""How much of the surrogate gradient's lead on the deep network comes from training its lower layers? (issue:
unbiased gradients through depth)

On the paper's Randman network (20-128-128-128-15, sigmoid escape noise 10) the unbiased estimators trail the
matched stochastic SG, and the variance profile at initialisation puts their noise in the hidden layers below
the last (`unbiased_variance_by_layer.py`: about 60x the last hidden layer's for `LocalScoreFunction(2,
groups=2)`). This trains the same network with some layers frozen, so that the layers an estimator can train
well are all it trains:

- `all`: every weight trained (the study's runs);
- `top`: hidden layers 1-2 frozen at initialisation, the last hidden layer and the readout trained;
- `readout`: only the readout trained. Its gradient given the spikes is the pathwise one, unbiased (the readout
  is not stochastic), so one arm stands for every estimator: it runs with the SG's single draw
  (`LocalScoreFunction` would average its draws' pathwise gradients, the same in expectation).

If the matched SG's `top` arm is no better than the unbiased estimator's, the SG's lead is its lower layers'
training, and better credit there is what an unbiased estimator needs; if the unbiased estimator trails the
SG even in `top`, the last layer's credit is not the SG's equal either. The unbiased estimator of `top` is
`LocalScoreFunction(2)` (per-neuron credit in the last hidden layer, the same term as with `groups`; the
frozen layers' terms are computed and discarded). Same initial network, batches, loss (the study's
cross-entropy with activity regularisers), SMORMS3 rate and epochs in every arm, thresholds frozen as in the
study. Every run is a `fit` run folder (resumes; `--epochs` can be raised later).

    python benchmarks/lower_layer_credit.py [--epochs 10] [--lr 2e-2] [--seeds 0 1 2] [--out results/lower-layer-credit]
"""

import argparse
import json
import os

import jax
import numpy as np
import optax

import snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad.experiments._randman_calibration import calibrated_loss, split_80_10_10
from snnsad.experiments._recipes import paper_network
from snnsad.experiments._unbiased_training import TASKS, by_parameter

TASK = "paper 20-128-128-128-15"
FROZEN = {"all": (), "top": (".layers[0].", ".layers[1]."), "readout": (".layers[",)}


def arms() -> dict[str, tuple[snnsad.AbstractEstimator, str]]:
    """`name -> (estimator, which layers train)`, every one on the stochastic network (sigmoid escape noise 10)."""
    sg = snnsad.Autodiff()
    return {
        "stochastic SG (matched), all": (sg, "all"),
        "stochastic SG (matched), top": (sg, "top"),
        "LocalScoreFunction(2), groups 2, all": (snnsad.LocalScoreFunction(2, groups=2), "all"),
        "LocalScoreFunction(2), top": (snnsad.LocalScoreFunction(2), "top"),
        # the last layer's credit exact over each sampled site instead of sampled per neuron (4 of 100 steps)
        "LocalScoreFunction(2), flips at 4 sites, top": (snnsad.LocalScoreFunction(2, last="flips", sites=4), "top"),
        "readout only (every estimator)": (sg, "readout"),
    }


def optimizer(lr: float, train: str) -> optax.GradientTransformation:
    """SMORMS3 at `lr` on the weights of the layers `train` names; thresholds and the other layers frozen."""

    def labels(params):
        def label(path, _leaf):
            name = jax.tree_util.keystr(path)
            frozen = name.endswith(".threshold") or name.startswith(FROZEN[train])
            return "frozen" if frozen else "trained"

        return jax.tree_util.tree_map_with_path(label, params)

    return optax.multi_transform({"trained": snnsad.train.smorms3(lr), "frozen": optax.set_to_zero()}, labels)


def main(*, epochs: int = 10, lr: float = 2e-2, seeds=(0,), out: str = "results/lower-layer-credit"):
    spec = TASKS[TASK]
    data = snnsad.data.randman(**spec["data"], samples_per_class=1000, seed=1)  # the study's data
    train, val, _ = split_80_10_10(data)
    sizes = (20, *spec["hidden"], spec["data"]["n_classes"])
    loss_fn = calibrated_loss()
    spike = snnsad.Stochastic(snnsad.Sigmoid(10.0))
    results: dict = {name: [] for name in arms()}
    for seed in seeds:  # seed by seed, so that a stopped run has whole seeds of every arm
        for name, (est, layers) in arms().items():
            slug = "".join(c if c.isalnum() else "_" for c in name)
            folder = os.path.join(out, "runs", f"{slug}_seed{seed}")
            net = paper_network(sizes, spike, seed=seed)
            fitted = snnsad.fit(
                net,
                train,
                estimator=est,
                loss_fn=loss_fn,
                optimizer=optimizer(lr, layers),
                epochs=epochs,
                batch_size=250,
                seed=seed,
                val=val,
                metric_fn=snnsad.losses.on_output(snnsad.losses.accuracy_max_over_time),
                out_dir=folder,
                config={"benchmark": "lower-layer-credit", "arm": name, "lr": lr},
            )
            h = fitted.history[:epochs]
            results[name].append(
                {
                    "seed": seed,
                    "trained": layers,
                    "val_accuracy": [e["val_metric"] for e in h],
                    "val_loss": [e["val_loss"] for e in h],
                    # the trained weights only: how far each moved, SMORMS3's step factor at the end
                    "by_parameter": by_parameter(fitted.opt_state, lr, fitted.net, net),
                }
            )
            print(
                f"{name}, seed {seed}: validation accuracy {h[-1]['val_metric']:.3f} after {epochs} epochs", flush=True
            )
    text = _table(results, epochs, lr, seeds, out)
    print(text)
    payload = {"task": TASK, "epochs": epochs, "lr": lr, "seeds": list(seeds), "arms": results, **run_info()}
    atomic_write_text(os.path.join(out, "lower_layer_credit.json"), json.dumps(payload, indent=2, default=float))
    atomic_write_text(os.path.join(out, "lower_layer_credit.md"), text)
    return payload


def _table(results: dict, epochs: int, lr: float, seeds, out: str) -> str:
    def spread(values) -> str:
        values = np.asarray(values, float)
        return f"{values.mean():.3f}" + (f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else "")

    params = list(next(iter(results.values()))[0]["by_parameter"])
    lines = [
        "| arm | best validation accuracy | last epoch: accuracy | last epoch: loss | "
        + " | ".join(f"{p.lstrip('.')}: moved, step factor" for p in params)
        + " |",
        "|---|---:|---:|---:|" + "---:|" * len(params),
    ]
    for name, runs in results.items():
        cells = []
        for p in params:
            if p not in runs[0]["by_parameter"]:
                cells.append("frozen")
                continue
            moved = np.mean([r["by_parameter"][p]["weight_change"] for r in runs])
            step = np.mean([r["by_parameter"][p]["smorms3_step_fraction"] for r in runs])
            cells.append(f"{moved:.3f}, {step:.3f}")
        lines.append(
            f"| {name} | {spread([max(r['val_accuracy']) for r in runs])} | "
            f"{spread([r['val_accuracy'][-1] for r in runs])} | {spread([r['val_loss'][-1] for r in runs])} | "
            + " | ".join(cells)
            + " |"
        )
    seed_list = " ".join(str(s) for s in seeds)
    return (
        f"{TASK} Randman (15 classes, chance 0.067; 1500 validation examples), seeds {seed_list} (mean ± sd), "
        f"{epochs} epochs, SMORMS3 lr {lr:g}, batch 250, the study's regularised loss; 'moved' is `||w - w0|| / "
        "||w0||` at the end, 'step factor' SMORMS3's `min(lr, x) / lr` at the end (mean over the array). Command: "
        f"`python benchmarks/lower_layer_credit.py --epochs {epochs} --lr {lr:g} --seeds {seed_list} --out {out}`.\n\n"
        + "\n".join(lines)
        + "\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=2e-2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default="results/lower-layer-credit")
    args = parser.parse_args()
    if args.epochs < 1 or args.lr <= 0:
        parser.error(f"--epochs must be >= 1 and --lr > 0, got --epochs {args.epochs} --lr {args.lr}.")
    main(epochs=args.epochs, lr=args.lr, seeds=tuple(args.seeds), out=args.out)
