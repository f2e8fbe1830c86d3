"""SG-NTK: sign networks trained with surrogate gradients against SG-NTK kernel regression.

Same as ``snnsad reproduce sg-ntk [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/sg_ntk.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.sg_ntk(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
