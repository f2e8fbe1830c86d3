"""Smooth exact gradients with theta and QIF neurons and pseudospikes (Klos & Memmesheimer).

Same as ``snnsad reproduce smooth-exact [--quick] [--out DIR] [--seed N] [--mnist-path DIR]``; see
docs/experiments.md.

    python experiments/smooth_exact.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.smooth_exact(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
