"""E1: one stochastic neuron: the matched SG is dE[y]/du; mean SG vs dE[L]/du for a nonlinear loss.

Same as ``snnsad reproduce e1 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e1_single_neuron.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.e1_single_neuron(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
