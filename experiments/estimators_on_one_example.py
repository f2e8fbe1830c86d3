"""Every gradient estimator on one example of a small stochastic SNN, next to the exact gradient.

How far is each local estimator (deterministic SG, stochastic SG, smoothed stochastic derivatives,
smoothed probabilistic model) and each whole-network estimator (StochasticAD, score function) from
the true gradient of the expected loss? Same as ``snnsad reproduce estimators``.

    python experiments/estimators_on_one_example.py [--full] [--seed N] [--out results/reproduce]
"""

import snnsad.experiments


def main(*, seed: int = 0, quick: bool = True, out: str = "results/reproduce") -> dict:
    """Run the experiment; results, config and figures go to ``out/<name>/``."""
    return snnsad.experiments.estimators_on_one_example(out, quick=quick, seed=seed)


if __name__ == "__main__":
    from snnsad._cli import run_script

    run_script(main)
