"""The ``snnsad`` command line: ``snnsad demo``, ``snnsad list``."""

import argparse
import sys


def _cmd_demo(args):
    from ._demo import run_demo

    run_demo(out_dir=args.out, seed=args.seed, n_samples=args.samples)


def _cmd_list(args):
    import snnsad

    groups = {
        "escape functions": ["Sigmoid", "FastSigmoid", "Arctan", "Erf", "Boxcar", "Triangle", "Exponential", "Step"],
        "spike functions (local estimators)": [
            "Heaviside",
            "Surrogate",
            "Stochastic",
            "SmoothedStochastic",
            "Expected",
        ],
        "whole-network estimators": ["Autodiff", "ExactEnumeration", "ScoreFunction", "StochasticAD", "Batched"],
        "neurons": ["LIF", "Perceptron", "LeakyIntegrator"],
        "layers": ["Dense", "Conv1D", "Readout"],
    }
    for title, names in groups.items():
        print(f"{title}:")
        for name in names:
            doc = (getattr(snnsad, name).__doc__ or "").strip().splitlines()[0]
            print(f"  {name:20s} {doc}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="snnsad", description="Gradient estimators for spiking neural networks in JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="every estimator's gradient on one example, next to the exact gradient")
    p.add_argument("--out", default="results/demo", help="output folder (default: results/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=2000, help="estimates per estimator (default: 2000)")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("list", help="list the escape functions, spike functions, estimators and layers")
    p.set_defaults(func=_cmd_list)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
