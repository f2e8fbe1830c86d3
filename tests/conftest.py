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


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e/ `e2e`, so one selection (`-m e2e`) names the end-to-end tier; and run the
    `optimized` tests longest first (`@pytest.mark.optimized(seconds=...)`, measured on 2 cores).

    The `optimized` run is a few tests of 10-45 s each: in file order, two of the longest could land on one
    worker while the other idles (98 s for 117 s of tests on 2 cores). Longest first, with `--dist load`
    handing them out in that order, the workers finish together (largest processing time first).
    """
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)

    def cost(item):
        marker = item.get_closest_marker("optimized")
        return -marker.kwargs.get("seconds", 0) if marker is not None else 0

    items.sort(key=cost)  # stable: every other test keeps its order


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
