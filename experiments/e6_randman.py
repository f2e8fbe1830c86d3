"""E6: Randman in the authors' configuration with every surrogate method; accuracy over seeds, Fano, baselines.

Same as ``snnsad reproduce e6 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e6_randman.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.e6_randman(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
