"""Randman calibration: stork's standard Randman example (96.3 % test accuracy) run in snnsad.

Same as ``snnsad reproduce randman-calibration [--quick] [--out DIR] [--seed N]``; see
docs/experiments.md.

    python experiments/randman_calibration.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.randman_calibration(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
