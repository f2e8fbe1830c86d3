"""E5: the paper's conv network on SHD (needs --shd-path FOLDER with shd_train.h5 / shd_test.h5).

Same as ``snnsad reproduce e5 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e5_shd.py --quick --out results/reproduce
"""

import sys

from snnsad._cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "e5", *sys.argv[1:]]))
