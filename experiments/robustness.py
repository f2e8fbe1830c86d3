"""Surrogate robustness (Zenke & Vogels 2021): shape x steepness grid, the sparse-activity limit, diagnostics.

Same as ``snnsad reproduce robustness [--quick] [--out DIR] [--seed N] [--epochs N] [--seeds ...]``; see
docs/experiments.md. ``--parts`` runs some of grid, sparse, diagnostics; ``--vmapped`` trains each grid row
(one shape, scale and reset: every beta and seed) in one vmapped step, the way to run the full grid on a GPU.

    python experiments/robustness.py [--full] [--seed N] [--out results/reproduce] [--parts grid diagnostics]
    python experiments/robustness.py --full --parts grid --vmapped   # on an accelerator
"""

import snnsad.experiments


def main(
    *, seed: int = 0, quick: bool = True, out: str = "results/reproduce", parts: list[str] | None = None, vmapped=False
) -> dict:
    """Run the experiment; results, config and figures go to ``out/robustness/``."""
    return snnsad.experiments.robustness(out, quick=quick, seed=seed, parts=parts, vmapped=vmapped)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
