"""Does the true gradient train the deep stochastic network slower than the surrogate gradient? (issue:
unbiased gradients through depth)

On the paper's Randman network (20-128-128-128-15, sigmoid escape noise 10), the unbiased estimators
trail the matched stochastic SG even where their noise is like the SG's (SMORMS3 step factors 0.069
against 0.071-0.074 on the 10-epoch cut). This takes the noise out of the comparison: every arm averages
`R` independent estimates per example (`snnsad.Averaged`), on the same initial network, the same batches
(`fit`'s batch order is a function of the seed), the same loss (the study's cross-entropy with activity
regularisers), the same optimiser and learning rate (SMORMS3, 2e-2, the rate of the 10-epoch cut). What
differs between the two averaged arms is the direction: the stochastic SG's biased one against the
unbiased `LocalScoreFunction(2, groups=16)`'s (the lowest-variance unbiased option per layer in
`unbiased_variance_by_layer.py`). The single-estimate arms (`R = 1`) show how much the averaging changes
each. Every run is a `fit` run folder (resumes; `--epochs` can be raised later).

    python benchmarks/near_exact_descent.py [--draws 4] [--epochs 4] [--out results/near-exact-descent]
"""

import argparse
import json
import os

import numpy as np

import snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad.experiments._randman_calibration import calibrated_loss, split_80_10_10
from snnsad.experiments._recipes import paper_network
from snnsad.experiments._results import pyplot
from snnsad.experiments._unbiased_training import TASKS, _run, step_fraction

TASK = "paper 20-128-128-128-15"


def arms(draws: int) -> dict[str, snnsad.AbstractEstimator]:
    """`name -> estimator`, every one on the stochastic network (sigmoid escape noise 10)."""
    lsf = snnsad.LocalScoreFunction(2, groups=16)
    return {
        "stochastic SG (matched)": snnsad.Autodiff(),
        f"stochastic SG (matched), mean of {draws}": snnsad.Averaged(snnsad.Autodiff(), draws),
        "LocalScoreFunction(2), groups 16": lsf,
        f"LocalScoreFunction(2), groups 16, mean of {draws}": snnsad.Averaged(lsf, draws),
    }


def main(*, draws: int = 4, epochs: int = 4, lr: float = 2e-2, seed: int = 0, out: str = "results/near-exact-descent"):
    if draws < 2:
        raise ValueError(f"--draws {draws}: average at least 2 estimates (1 is the single-estimate arm).")
    spec = TASKS[TASK]
    data = snnsad.data.randman(**spec["data"], samples_per_class=1000, seed=seed + 1)
    train, val, _ = split_80_10_10(data)
    sizes = (20, *spec["hidden"], spec["data"]["n_classes"])
    loss_fn = calibrated_loss()
    spike = snnsad.Stochastic(snnsad.Sigmoid(10.0))
    results = {}
    for name, est in arms(draws).items():
        folder = os.path.join(out, "runs", "".join(c if c.isalnum() else "_" for c in name))
        net = paper_network(sizes, spike, seed=seed)
        fitted = _run(folder, net, est, loss_fn, train, val, lr=lr, epochs=epochs, batch=250, seed=seed, quick=False)
        h = fitted.history[:epochs]
        results[name] = {
            "val_accuracy": [e["val_metric"] for e in h],
            "val_loss": [e["val_loss"] for e in h],
            "train_loss": [e["train_loss"] for e in h],
            "seconds_per_epoch": float(np.median([e["seconds"] for e in h])),
            "smorms3_step_fraction": step_fraction(fitted.opt_state, lr),
        }
        print(f"{name}: validation accuracy {results[name]['val_accuracy'][-1]:.3f} after {epochs} epochs", flush=True)
    names = list(results)
    head = "| epoch | " + " | ".join(names) + " |"
    lines = [head, "|---:|" + "---:|" * len(names)]
    for i in range(epochs):
        cells = " | ".join(f"{results[n]['val_accuracy'][i]:.3f} / {results[n]['val_loss'][i]:.3f}" for n in names)
        lines.append(f"| {i + 1} | {cells} |")
    lines.append(
        "| SMORMS3 step factor | " + " | ".join(f"{results[n]['smorms3_step_fraction']:.3f}" for n in names) + " |"
    )
    lines.append("| s / epoch | " + " | ".join(f"{results[n]['seconds_per_epoch']:.0f}" for n in names) + " |")
    info = run_info()
    text = (
        f"Validation accuracy / validation loss after each epoch; {TASK} Randman (15 classes, chance 0.067), "
        f"seed {seed}, SMORMS3 lr {lr:g}, batch 250, the study's regularised loss; mean of {draws} = "
        f"`snnsad.Averaged(estimator, {draws})`. Command: `python benchmarks/near_exact_descent.py --draws {draws} "
        f"--epochs {epochs} --out {out}`.\n\n" + "\n".join(lines) + "\n"
    )
    print(text)
    payload = {"task": TASK, "draws": draws, "epochs": epochs, "lr": lr, "seed": seed, "arms": results, **info}
    atomic_write_text(os.path.join(out, "near_exact_descent.json"), json.dumps(payload, indent=2, default=float))
    atomic_write_text(os.path.join(out, "near_exact_descent.md"), text)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for n in names:
        style = "-" if "mean of" in n else ":"
        color = "C0" if n.startswith("stochastic SG") else "C3"
        ep = np.arange(1, epochs + 1)
        axes[0].plot(ep, results[n]["val_accuracy"], style, color=color, label=n)
        axes[1].plot(ep, results[n]["val_loss"], style, color=color, label=n)
    axes[0].set(xlabel="epoch", ylabel="validation accuracy")
    axes[1].set(xlabel="epoch", ylabel="validation loss")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "near_exact_descent.png"), dpi=120)
    return payload


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/near-exact-descent")
    args = parser.parse_args()
    main(draws=args.draws, epochs=args.epochs, lr=args.lr, seed=args.seed, out=args.out)
