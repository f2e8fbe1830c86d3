"""E3: an SG that points the wrong way, and the displaced minimum of the integrated SG.

Same as ``snnsad reproduce e3 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e3_wrong_direction.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.e3_wrong_direction(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
