"""E4: deterministic and stochastic networks learn an image raster (van Rossum loss).

Same as ``snnsad reproduce e4 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e4_spike_train_matching.py --quick --out results/reproduce
"""

import sys

from snnsad._cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "e4", *sys.argv[1:]]))
