"""The `snnsad` command line: `demo`, `train`, `evaluate`, `export`, `plot`, `reproduce`, `bench` and `list` (argument parsing lives here only)."""

import argparse
import os
import sys

from .. import MissingDependencyError


def _version() -> str:
    from .. import __version__

    return __version__


def _cmd_demo(args):
    from ._demo import run_demo

    run_demo(out_dir=args.out, seed=args.seed, n_samples=args.samples)


def _cmd_train(args):
    from ..train import fit
    from . import _train_config as _recipes

    overrides = {k: getattr(args, k) for k in _recipes.DEFAULTS if getattr(args, k, None) is not None}
    if args.hidden is not None:
        overrides["hidden"] = _recipes.parse_hidden(args.hidden)
    cfg = _recipes.load_config(args.config, overrides)
    _check_writable(args.out)  # before data and network are built
    train, val, test, net, loss_fn, estimator, optimizer = _recipes.build(cfg)
    print(
        f"snnsad train: {cfg['dataset']} ({len(train)} train, {len(val)} validation), estimator {cfg['estimator']}: "
        f"{_recipes.ESTIMATORS[cfg['estimator']].rstrip('.')}; writing to {args.out}",
        flush=True,
    )
    result = fit(
        net,
        train,
        estimator=estimator,
        loss_fn=loss_fn,
        optimizer=optimizer,
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        seed=cfg["seed"],
        val=val,
        test=test,
        metric_fn=_recipes.metric_fn,
        out_dir=args.out,
        resume=not args.restart,
        progress=not args.quiet,
        config=cfg,
    )
    last = result.history[-1] if result.history else {}
    print("done: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items() if k.endswith(("loss", "metric"))))
    if result.history:
        from ._runs import plot_run

        print(f"curves: {plot_run(args.out)}")


def _cmd_evaluate(args):
    from ._runs import evaluate_run

    out = evaluate_run(args.run_dir, args.data)
    recorded = out["recorded_accuracy"]
    print(
        f"{out['run']} (epoch {out['epoch']}), {out['data']} ({out['examples']} examples): "
        f"loss {out['loss']:.4f}, accuracy {out['accuracy']:.4f}"
        + (f" (recorded by train: {recorded:.4f})" if recorded is not None else "")
    )
    print(f"wrote {os.path.join(args.run_dir, 'evaluation.json')}")


def _cmd_export(args):
    from ._runs import export_run

    print(f"wrote {export_run(args.run_dir, args.nir)}")


def _cmd_plot(args):
    from ._runs import plot_activity, plot_run

    print(f"wrote {plot_run(args.run_dir)}")
    if args.raster:
        print(f"wrote {', '.join(plot_activity(args.run_dir, args.example))}")


_CREATED: list[str] = []  # folders made by `_check_writable` in this command, deepest first


def _remove_empty_created() -> None:
    """After a failed command: remove the folders it created that are still empty (no empty results folder is left)."""
    for folder in _CREATED:
        try:
            os.rmdir(folder)  # only an empty folder goes
        except OSError:
            pass
    _CREATED.clear()


def _check_writable(folder: str) -> None:
    """Raise `ValueError` unless `folder` is (or can be made) a folder this process can write to."""
    import tempfile

    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"--out {folder!r} is a file, not a folder; choose a folder for the run's results.")
    missing, parent = [], os.path.abspath(folder)
    while not os.path.exists(parent):  # the folders this check creates, removed again if the command fails
        missing.append(parent)
        parent = os.path.dirname(parent)
    _CREATED.extend(missing)
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"--out {folder!r} cannot be written to ({err.strerror}); choose another folder.") from None


def _cmd_reproduce(args):
    from ..experiments import reproduce

    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs {args.epochs}: must be >= 1 (or omitted for the mode's default).")
    reproduce(
        args.names,
        args.out,
        quick=args.quick,
        seed=args.seed,
        shd_path=args.shd_path,
        image=args.image,
        epochs=args.epochs,
        seeds=args.seeds,
        synthetic_shd=args.synthetic_shd,
        mnist_path=args.mnist_path,
        fashion_mnist=args.fashion_mnist,
    )


def _cmd_bench(args):
    from ._bench import run_bench

    sizes = tuple(int(n) for n in args.sizes.split(","))
    run_bench(out_dir=args.out, sizes=sizes, repeats=args.repeats, quick=args.quick)


def _first_sentence(obj) -> str:
    """The first sentence of `obj`'s docstring, whole (it may span lines)."""
    import re

    text = " ".join((obj.__doc__ or "").strip().split("\n\n")[0].split())
    match = re.match(r"(.+?(?<!e\.g)(?<!i\.e)(?<!\bvs)(?<!\bal)\.)(\s|$)", text)
    return match.group(1) if match else text


def _public_subclasses(module, base) -> list:
    """The public classes of `module` that subclass `base` (not `base` itself, not abstract ones), sorted by name."""
    import inspect

    return sorted(
        (
            (name, obj)
            for name, obj in vars(module).items()
            if inspect.isclass(obj)
            and issubclass(obj, base)
            and obj is not base
            and not name.startswith(("_", "Abstract"))
        ),
        key=lambda item: item[0],
    )


def _cmd_list(args):
    from snnsad import escape, estimators, events, neurons, nn, spikes

    groups = {
        "escape functions (snnsad.escape)": _public_subclasses(escape, escape.AbstractEscape),
        "spike functions, local estimators (snnsad.spikes)": _public_subclasses(spikes, spikes.AbstractSpikeFunction),
        "whole-network estimators (snnsad.estimators)": [
            *_public_subclasses(estimators, estimators.AbstractEstimator),
            ("Batched", estimators.Batched),
        ],
        "event-driven gradients (snnsad.events)": _public_subclasses(events, events.AbstractEventGradient),
        "neurons (snnsad.neurons, snnsad.events)": [
            *_public_subclasses(neurons, neurons.AbstractNeuron),
            *_public_subclasses(events, events.AbstractSmoothNeuron),
        ],
        "layers (snnsad.nn)": [*_public_subclasses(nn, nn.AbstractLayer), ("Readout", nn.Readout)],
    }
    from ._train_config import DATASETS, ESTIMATORS

    for title, members in groups.items():
        print(f"{title}:")
        for name, obj in members:
            print(f"  {name:20s} {_first_sentence(obj)}")
    from ..experiments import EXPERIMENTS, TOUR

    print("snnsad reproduce:")
    for name, fn in EXPERIMENTS.items():
        print(f"  {name:20s} {_first_sentence(fn)}")
    print(f"  {'tour':20s} What `make demo` runs (--quick, about 3 minutes): {', '.join(TOUR)}.")
    print("snnsad train --dataset: " + ", ".join(DATASETS))
    print("snnsad train --estimator:")
    for name, doc in ESTIMATORS.items():
        print(f"  {name:20s} {doc}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="snnsad", description="Gradient estimators for spiking neural networks in JAX."
    )
    parser.add_argument("--version", action="version", version=f"snnsad {_version()}")
    parser.add_argument(
        "--no-compile-cache",
        dest="compile_cache",
        action="store_false",
        help="do not keep compiled programs between runs (default: kept in $SNNSAD_CACHE_DIR, else "
        "~/.cache/snnsad/jax, unless JAX's own cache directory is set)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="every estimator's gradient on one example, next to the exact gradient")
    p.add_argument("--out", default="results/demo", help="output folder (default: results/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=2000, help="estimates per estimator (default: 2000)")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("train", help="train a spiking network on randman, yinyang or shd with any estimator")
    p.add_argument("--dataset", choices=["randman", "yinyang", "shd"])
    p.add_argument("--estimator", choices=["det-sg", "sg", "superspike-sg", "stochastic-ad", "score", "local-score"])
    p.add_argument("--out", required=True, help="output folder: config.json, metrics.json/.csv, checkpoint.eqx")
    p.add_argument("--config", help="JSON file with any of the options below (flags override it)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["adam", "smorms3"])
    p.add_argument("--seed", type=int)
    p.add_argument("--hidden", help="hidden layer sizes, e.g. 128,128")
    p.add_argument("--beta", type=float, help="escape / surrogate steepness (default 10)")
    p.add_argument("--flips", type=int, help="StochasticAD flips per estimate")
    p.add_argument("--samples", type=int, help="ScoreFunction samples per estimate")
    p.add_argument("--samples-per-class", dest="samples_per_class", type=int, help="randman samples per class")
    p.add_argument("--shd-train", dest="shd_train", help="path of shd_train.h5")
    p.add_argument("--shd-test", dest="shd_test", help="path of shd_test.h5")
    p.add_argument("--n-steps", dest="n_steps", type=int)
    p.add_argument("--architecture", choices=["dense", "conv"], help="shd: the paper's conv net (default) or dense")
    p.add_argument("--reg-strength", dest="reg_strength", type=float, help="upper-bound L2 activity regulariser")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)
    p = sub.add_parser("evaluate", help="evaluate a `snnsad train` run's checkpoint on its test split (or --data)")
    p.add_argument("run_dir", help="the --out folder of a snnsad train run")
    p.add_argument("--data", default=None, help="an HDF5 file in the SHD layout to evaluate on (SHD runs)")
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser("export", help="write a `snnsad train` run's network as a NIR graph (the nir extra)")
    p.add_argument("run_dir", help="the --out folder of a snnsad train run")
    p.add_argument("--nir", required=True, help="the NIR file to write (e.g. net.nir)")
    p.set_defaults(func=_cmd_export)
    p = sub.add_parser("plot", help="loss and accuracy curves of a run folder (writes RUN_DIR/curves.png)")
    p.add_argument("run_dir", help="a folder with metrics.json (snnsad train --out, or fit(out_dir=...))")
    p.add_argument(
        "--raster",
        action="store_true",
        help="also the trained network on one test example: raster.png, membrane.png, rates.png (snnsad train runs)",
    )
    p.add_argument("--example", type=int, default=0, help="which test example --raster draws (default 0)")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser("reproduce", help="run the paper's experiments and write a Markdown report with figures")
    p.add_argument("names", nargs="+", help="experiment names (snnsad list), 'tour' (what make demo runs) or 'all'")
    p.add_argument("--quick", action="store_true", help="CPU-sized runs of about a minute each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/reproduce")
    p.add_argument("--shd-path", default=None, help="folder with shd_train.h5 and shd_test.h5 (enables E5)")
    p.add_argument("--image", default=None, help="E4's target image (default: the spiral shipped with snnsad)")
    p.add_argument("--mnist-path", default=None, help="folder with MNIST's IDX files (adds MNIST to smooth-exact)")
    p.add_argument(
        "--fashion-mnist",
        nargs="?",
        const="auto",
        default=None,
        metavar="FOLDER",
        help="add Fashion-MNIST to smooth-exact (its IDX files in FOLDER; no FOLDER: where the system package puts them)",
    )
    p.add_argument("--epochs", type=int, default=None, help="override the mode's epochs (training experiments)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds of the runs (E4, E6, ...)")
    p.add_argument(
        "--synthetic-shd",
        dest="synthetic_shd",
        action="store_true",
        help="run E5 on a synthetic stand-in with SHD's layout (a pipeline check, not SHD)",
    )
    p.set_defaults(func=_cmd_reproduce)
    p = sub.add_parser("bench", help="benchmark against spyx, snnTorch and the matmul floor (peers: the bench extra)")
    p.add_argument(
        "--sizes", default="512,2048,4096", help="layer sizes n of the Linear+LIF workload (default 512,2048,4096)"
    )
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per workload (default 5)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    p.add_argument("--out", default="benchmarks/results")
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser("list", help="list the escape functions, spike functions, estimators and layers")
    p.set_defaults(func=_cmd_list)
    args = parser.parse_args(argv)
    if args.compile_cache:
        enable_compile_cache()
    try:
        args.func(args)
    except (ValueError, OSError, FloatingPointError, MissingDependencyError) as err:  # a clear message, no traceback
        _remove_empty_created()
        parser.exit(2, f"snnsad {args.command}: error: {err}\n")
    _CREATED.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _cache_dir() -> str | None:
    """JAX's compilation cache directory setting (`None` when unset)."""
    import jax

    return getattr(jax.config, "jax_compilation_cache_dir")  # noqa: B009 (a dynamic attribute)


def enable_compile_cache() -> str | None:
    """Keep compiled programs between runs (JAX's persistent compilation cache): the first epoch of a
    second run of the same network skips most of its compile time. Uses JAX's cache directory when one
    is set (`JAX_COMPILATION_CACHE_DIR`), else `$SNNSAD_CACHE_DIR`, else `~/.cache/snnsad/jax`; returns it."""
    import jax

    if _cache_dir():
        return _cache_dir()
    path = os.environ.get("SNNSAD_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "snnsad", "jax")
    jax.config.update("jax_compilation_cache_dir", path)
    # JAX keeps only programs that took a second to compile; a run's are many smaller ones
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


def run_script(main, argv=None) -> None:
    """The command line of a script in experiments/: `[--full] [--seed N] [--out DIR]` (plus `--shd-path`,
    `--parts` and `--vmapped` where `main` takes them), passed to `main` as keyword arguments."""
    import inspect

    parser = argparse.ArgumentParser(description=(sys.modules[main.__module__].__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the paper's sizes (default: quick mode)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/reproduce")
    params = inspect.signature(main).parameters
    takes_shd = "shd_path" in params
    if takes_shd:
        parser.add_argument("--shd-path", required=True, help="folder with shd_train.h5 and shd_test.h5")
    if "parts" in params:
        parser.add_argument("--parts", nargs="+", default=None, help="run only these parts of the experiment")
    if "vmapped" in params:
        parser.add_argument("--vmapped", action="store_true", help="train a grid row's cells in one vmapped step")
    args = parser.parse_args(argv)
    kwargs = {"shd_path": args.shd_path} if takes_shd else {}
    if "parts" in params:
        kwargs["parts"] = args.parts
    if "vmapped" in params:
        kwargs["vmapped"] = args.vmapped
    main(seed=args.seed, quick=not args.full, out=args.out, **kwargs)
