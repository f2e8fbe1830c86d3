"""E1: one stochastic neuron: the matched SG is dE[y]/du; mean SG vs dE[L]/du for a nonlinear loss.

Same as ``snnsad reproduce e1 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e1_single_neuron.py --quick --out results/reproduce
"""

import sys

from snnsad._cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "e1", *sys.argv[1:]]))
