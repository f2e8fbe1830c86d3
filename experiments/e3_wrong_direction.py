"""E3: an SG that points the wrong way, and the displaced minimum of the integrated SG.

Same as ``snnsad reproduce e3 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e3_wrong_direction.py --quick --out results/reproduce
"""

import sys

from snnsad._cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "e3", *sys.argv[1:]]))
