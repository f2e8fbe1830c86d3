"""E6: Randman trained with five estimators; accuracy, Fano factors, bias/cosine to a reference.

Same as ``snnsad reproduce e6 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e6_randman.py --quick --out results/reproduce
"""

import sys

from snnsad._cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "e6", *sys.argv[1:]]))
