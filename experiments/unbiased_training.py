"""Unbiased gradients that train: every estimator on the same Randman networks, accuracy vs epochs and compute.

Same as ``snnsad reproduce unbiased-training [--quick] [--out DIR] [--seed N] [--epochs N] [--seeds ...]``; see
docs/experiments.md.

    python experiments/unbiased_training.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.unbiased_training(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
