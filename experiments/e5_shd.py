"""E5: the paper's conv network on SHD (needs --shd-path FOLDER with shd_train.h5 / shd_test.h5).

Same as ``snnsad reproduce e5 [--quick] [--out DIR] [--seed N]``; see docs/experiments.md.

    python experiments/e5_shd.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce", shd_path: str | None = None) -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.e5_shd(out, quick=quick, seed=seed, shd_path=shd_path)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
