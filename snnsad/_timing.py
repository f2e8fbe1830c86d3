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


class CompileMeter:
    """Wall time JAX spends tracing, lowering and compiling (persistent-cache reads included) while active.

    A context manager listening to `jax.monitoring`'s compile spans (`/jax/core/compile/...`); nested
    spans (a jit traced inside another's trace) count once, as the length of the union of the spans.
    `seconds()` is the compile time since the last call (or since entering).
    """

    _PREFIX = "/jax/core/compile/"

    def __init__(self):
        self._spans: list[tuple[float, float]] = []

    def _listen(self, event: str, start_time: float, end_time: float, **_) -> None:
        if event.startswith(self._PREFIX):
            self._spans.append((start_time, end_time))

    def __enter__(self) -> "CompileMeter":
        jax.monitoring.register_event_time_span_listener(self._listen)
        return self

    def __exit__(self, *exc) -> None:
        jax.monitoring.unregister_event_time_span_listener(self._listen)

    def seconds(self) -> float:
        """Compile seconds since the previous call: the union of the spans recorded, then forgotten."""
        spans, self._spans = sorted(self._spans), []
        total, reach = 0.0, float("-inf")
        for start, end in spans:
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total
