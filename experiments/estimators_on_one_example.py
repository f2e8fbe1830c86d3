"""Every gradient estimator on one example of a small stochastic SNN, next to the exact gradient.

The question: how far is each local estimator (deterministic SG, stochastic SG, smoothed stochastic
derivatives, smoothed probabilistic model) and each whole-network estimator (StochasticAD, score
function) from the true gradient of the expected loss? Writes ``OUT/demo.json``.

    python experiments/estimators_on_one_example.py [--seed 0] [--samples 2000] [--out results/demo]
"""

import argparse

from snnsad._demo import run_demo


def main(*, seed: int = 0, n_samples: int = 2000, out: str = "results/demo") -> dict:
    return run_demo(out_dir=out, seed=seed, n_samples=n_samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--out", default="results/demo")
    args = parser.parse_args()
    main(seed=args.seed, n_samples=args.samples, out=args.out)
