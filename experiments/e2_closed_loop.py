"""E2: SGs are not gradients: the SG field's loop integral and Jacobian asymmetry.

Same as ``snnsad reproduce e2 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e2_closed_loop.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.e2_closed_loop(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
