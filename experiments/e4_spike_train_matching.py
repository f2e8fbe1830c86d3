"""E4: deterministic and stochastic networks learn an image raster (van Rossum loss).

Same as ``snnsad reproduce e4 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e4_spike_train_matching.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.e4_spike_train_matching(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
