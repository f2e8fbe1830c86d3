import gc

import jax
import jax.random as jr
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


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


@pytest.fixture(autouse=True, scope="module")
def _drop_compiled_programs():
    """Drop JAX's compilation caches after each test module.

    XLA's CPU backend maps memory for every program it compiles, and the whole suite compiles
    thousands. Without this, fresh-clone runs crashed with a segmentation fault inside a late
    compilation (in different tests; each passes alone), most likely past the kernel's limit on
    memory maps (vm.max_map_count, 65530 on our machines; not measured directly). Freeing the
    programs of finished modules keeps the count bounded; with it the suite passes.
    """
    yield
    jax.clear_caches()
    gc.collect()
