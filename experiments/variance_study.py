"""Bias, variance and cosine of every estimator vs escape steepness, surrogate steepness, depth.

Same as ``snnsad reproduce variance [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/variance_study.py --quick --out results/reproduce
"""

import sys

from snnsad._cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "variance", *sys.argv[1:]]))
