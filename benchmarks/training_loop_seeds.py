"""Seed spread of the EventProp and theta trainings at their quick-mode size, to compare two versions of
the training loop (the experiments' own loops before, `snnsad.fit` since).

    python benchmarks/training_loop_seeds.py --out results/training-loops-through-fit/fit.json
    # the version before (its experiments had their own loops), with this script:
    git worktree add /tmp/before ff2e69a
    PYTHONPATH=/tmp/before python benchmarks/training_loop_seeds.py --out results/training-loops-through-fit/own_loops.json

EventProp: Yin-Yang 5-200-3, the recipe of `snnsad reproduce eventprop --quick` (6400 examples, 4 epochs,
Adam 5e-3), seeds 0-4, test accuracy of the best-validation network on 1000 fresh examples. Theta: the
64-100-100-10 network of `snnsad reproduce smooth-exact --quick` on scikit-learn's digits (split of seed
0), 12 epochs, batch 100, AdaBelief 4e-3, seeds 0-2, test accuracy after each epoch. About 5 minutes on
2 CPU cores.
"""

import argparse
import json
import os
import tempfile

import jax.random as jr

from snnsad.data import load_digits_split
from snnsad.experiments._eventprop_training import train_seed
from snnsad.experiments._theta_training import theta_network, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    eventprop = {}
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(5):
            _, record = train_seed(folder, seed, n_train=6400, n_test=1000, epochs=4, lr=5e-3, progress=False)
            eventprop[seed] = record["test"]["accuracy"]
            print(f"eventprop seed {seed}: {eventprop[seed]:.3f}", flush=True)
    theta = {}
    data = load_digits_split(0)
    for seed in range(3):
        _, history = train(theta_network(64, jr.key(seed)), data["train"], data["test"], epochs=12, batch=100,
                           lr=4e-3, seed=seed, progress=False)  # fmt: skip
        theta[seed] = [h["accuracy"] for h in history]
        print(f"theta seed {seed}: {theta[seed][-1]:.3f}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"eventprop_test_accuracy": eventprop, "theta_test_accuracy_per_epoch": theta}, f, indent=2)


if __name__ == "__main__":
    main()
