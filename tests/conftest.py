import gc
import os
import pathlib

# A persistent compilation cache for the whole run, set before JAX is imported so that every pytest-xdist
# worker and every subprocess a test starts (they inherit the environment) reads and writes the same
# folder: a program compiled once is loaded, not compiled again, by every other process that needs it.
_CACHE = pathlib.Path(__file__).resolve().parents[1] / "build" / "jax-cache"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402
import jax.random as jr  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e/ `e2e`, so one selection (`-m e2e`) names the end-to-end tier; and share the
    `optimized` tests out among the workers by their measured length (`@pytest.mark.optimized(seconds=...)`).

    The `optimized` run is a few tests of 10-70 s each: handed out in file order or longest first, two of the
    longest could share a worker while the other idles (98-121 s for about 120 s of tests on 2 cores). Here
    they are split into one `xdist_group` per worker, longest first onto the least-loaded group (largest
    processing time first), and `make test` runs them with `--dist loadgroup`.
    """
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
    workers = max(1, int(getattr(config, "workerinput", {}).get("workercount", 1)))
    optimized = [(item, item.get_closest_marker("optimized")) for item in items]
    optimized = [(item, marker.kwargs.get("seconds", 1)) for item, marker in optimized if marker is not None]
    loads = [0.0] * workers
    for item, seconds in sorted(optimized, key=lambda pair: -pair[1]):
        group = loads.index(min(loads))
        loads[group] += seconds
        item.add_marker(pytest.mark.xdist_group(f"optimized-{group}"))


@pytest.fixture
def getkey():
    """A fresh, deterministic PRNG key per call (seeded per test, so tests never share noise)."""
    state = {"key": jr.key(1234)}

    def _getkey():
        state["key"], sub = jr.split(state["key"])
        return sub

    return _getkey


@pytest.fixture
def x64():
    """Run the test body with float64 enabled (for ground-truth and finite-difference checks)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def standard_promotion():
    """optax's Adam bias correction mixes int32 step counts with floats, which strict promotion rejects."""
    with jax.numpy_dtype_promotion("standard"):
        yield


def _memory_maps() -> tuple[int, int] | None:
    """`(maps in use by this process, the kernel's limit vm.max_map_count)`, or None where /proc is absent."""
    try:
        with open("/proc/self/maps", "rb") as f:
            used = sum(1 for _ in f)
        with open("/proc/sys/vm/max_map_count") as f:
            limit = int(f.read())
    except (OSError, ValueError):
        return None
    return used, limit


@pytest.fixture(autouse=True)
def _drop_compiled_programs_under_pressure():
    """Drop JAX's in-memory compiled programs only when this process nears the kernel's limit on memory maps.

    XLA's CPU backend maps memory for every program it compiles, and a long worker compiles thousands:
    past vm.max_map_count (65530 on our machines) a late compilation crashed with a segmentation fault.
    Clearing after every module kept the count bounded but threw away programs that later modules
    compile again; here the programs stay in memory (and in the persistent cache) until the maps in
    use pass half the limit. Where /proc is not readable (not Linux), nothing is dropped.
    """
    yield
    maps = _memory_maps()
    if maps is not None and maps[0] > maps[1] // 2:
        jax.clear_caches()
        gc.collect()
