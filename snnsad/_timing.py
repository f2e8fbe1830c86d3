"""Timing helpers (benchmarks, measured estimator costs): compile and run measured separately, median of repeats."""

import statistics
import time
from collections.abc import Callable, Mapping

import jax


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls of `fn()` (which must block until its work is done)."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def time_jitted(fn: Callable, *args, repeats: int = 5) -> tuple[float, float]:
    """`(compile_seconds, median_run_seconds)` of a jitted `fn(*args)`.

    The first call (trace + compile + run) is timed as compile time minus one median run; then
    `repeats` calls, each waited on with `block_until_ready`.
    """
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    median = median_seconds(lambda: jax.block_until_ready(fn(*args)), repeats)
    return max(first - median, 0.0), median


def prepared(fn: Callable, *args) -> Callable[[], object]:
    """Compile and warm up the jitted `fn(*args)`; return a zero-argument call that waits for it."""

    def run():
        return jax.block_until_ready(fn(*args))

    run()
    return run


def interleaved_seconds(runs: Mapping[str, Callable[[], object]], rounds: int = 1) -> dict[str, list[float]]:
    """Wall time of every call in `runs` (prepared: blocking, compiled), each called once per round in turn.

    A slow spell of the machine then hits every call alike instead of whichever was being repeated
    during it, so the ratios between them (what benchmarks report) are steadier than with one call's
    repeats timed after another's.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return times
