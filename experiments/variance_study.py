"""Bias, variance and cosine of every estimator vs escape steepness, surrogate steepness, depth.

Same as ``snnsad reproduce variance [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/variance_study.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.variance_study(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
