"""EventProp on Yin-Yang, and every other gradient measured against it on the trained weights.

Same as ``snnsad reproduce eventprop [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/eventprop_yinyang.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.eventprop_yinyang(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
