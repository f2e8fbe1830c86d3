"""E2: SGs are not gradients: the SG field's loop integral and Jacobian asymmetry.

Same as ``snnsad reproduce e2 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e2_closed_loop.py --quick --out results/reproduce
"""

import sys

from snnsad._cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "e2", *sys.argv[1:]]))
