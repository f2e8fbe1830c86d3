"""Shared test helpers."""

import functools
import subprocess
import sys
import textwrap

import equinox as eqx
import h5py
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

import snnsad
from snnsad import events


def assert_unbiased(samples, exact, n_se=4.0, atol=1e-10, label=""):
    """Assert the mean of ``samples`` (leading sample axis) is within ``n_se`` standard errors of ``exact``.

    Every component is checked. A component whose samples have zero spread (standard error 0,
    e.g. a parameter that cannot influence the loss) must match to ``atol`` (float64 rounding).
    With fixed seeds the outcome is deterministic; ``n_se=4`` makes a false alarm for one
    component about 6e-5 for a correct estimator, so a failure means bias.
    """
    s_leaves = jax.tree_util.tree_leaves_with_path(samples)
    e_leaves = jax.tree_util.tree_leaves(exact)
    assert len(s_leaves) == len(e_leaves)
    worst = 0.0
    for (path, s), e in zip(s_leaves, e_leaves):
        s, e = np.asarray(s, np.float64), np.asarray(e, np.float64)
        n = s.shape[0]
        mean = s.mean(0)
        se = s.std(0, ddof=1) / np.sqrt(n)
        bias = np.abs(mean - e)
        zero = se <= atol
        assert np.all(bias[zero] <= atol), (
            f"{label}{jax.tree_util.keystr(path)}: zero-variance mismatch {bias[zero].max()}"
        )
        if np.any(~zero):
            z = bias[~zero] / se[~zero]
            worst = max(worst, float(z.max()))
            assert z.max() <= n_se, (
                f"{label}{jax.tree_util.keystr(path)}: mean off by {z.max():.2f} standard errors "
                f"(mean {mean.ravel()}, exact {e.ravel()})"
            )
    return worst


def max_z(samples, exact):
    """Largest |mean - exact| / standard error over all components with nonzero spread."""
    worst = 0.0
    for s, e in zip(jax.tree_util.tree_leaves(samples), jax.tree_util.tree_leaves(exact)):
        s, e = np.asarray(s, np.float64), np.asarray(e, np.float64)
        se = s.std(0, ddof=1) / np.sqrt(s.shape[0])
        ok = se > 0
        if np.any(ok):
            worst = max(worst, float((np.abs(s.mean(0) - e)[ok] / se[ok]).max()))
    return worst


def _ragged(rows, dtype):
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = np.asarray(row, dtype)
    return out


def write_shd(path, times, units, labels, layout="standard", labels_dtype=np.uint16):
    """The standard SHD layout: ragged spikes/times (s) and spikes/units, labels, extra/keys."""
    with h5py.File(path, "w") as f:
        vlen_f = h5py.vlen_dtype(np.float32)
        vlen_u = h5py.vlen_dtype(np.uint16)
        if layout != "no_units":
            f.create_dataset("spikes/units", data=_ragged(units, np.uint16), dtype=vlen_u)
        f.create_dataset("spikes/times", data=_ragged(times, np.float32), dtype=vlen_f)
        f.create_dataset("labels", data=np.asarray(labels, labels_dtype))
        f.create_dataset("extra/keys", data=np.array([b"zero", b"one", b"two"]))


def run_without_typechecker(code: str) -> None:
    """Run ``code`` in a fresh interpreter without the test suite's jaxtyping/beartype import hook.

    Checks that a user, who runs snnsad without a runtime type checker, meets snnsad's own error
    messages (the hook would otherwise reject some bad inputs first, with its own message). The
    code asserts; a failure shows its output.
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def documented_namespace(path: str = "docs/howto.md", section: str | None = None) -> dict:
    """Run the Python blocks of a documentation page and return what they define (classes, objects).

    `section`: run only the page's first block (its imports) and the blocks under the `## ` heading
    that starts with this text (the rest of the page is tested by tests/e2e/test_docs.py)."""
    import pathlib
    import re

    import jax

    page = (pathlib.Path(__file__).resolve().parents[1] / path).read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    if section is not None:
        parts = re.split(r"^## ", page, flags=re.M)
        chosen = [p for p in parts if p.startswith(section)]
        if len(chosen) != 1:
            raise ValueError(f"documented_namespace: no single section {section!r} in {path}.")
        blocks = blocks[:1] + re.findall(r"```python\n(.*?)```", chosen[0], flags=re.S)
    namespace: dict = {}
    with jax.numpy_dtype_promotion("standard"):
        for block in blocks:
            exec(compile(block, path, "exec"), namespace)
    return namespace


@eqx.filter_jit
def smooth_events(net, x):
    out = net(x)
    return out.counts, out.ordinary


def event_order(net, x):
    """Spike counts per layer and which output spikes are ordinary (not pseudospikes)."""
    counts, ordinary = smooth_events(net, x)
    return [np.asarray(c) for c in counts], np.asarray(ordinary)


def check_pseudospike_gradient(net, x, y, loss, n_entries, seed, h=1e-6, rtol=1e-6):
    """`events.Pseudospikes()` gradient of `loss` against float64 central differences on `n_entries` random
    parameters whose step moves no event (others are skipped; at least half must be checked)."""
    params, static = eqx.partition(net, snnsad.nn.trainable(net))
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    _, grads = eqx.filter_jit(events.Pseudospikes())(loss, net, x, y)
    g_flat, _ = jax.flatten_util.ravel_pytree(grads)
    f = jax.jit(lambda p: loss(eqx.combine(unravel(p), static)(x), y))
    base = event_order(net, x)
    rng = np.random.default_rng(seed)
    checked = 0
    for j in rng.choice(flat.size, n_entries, replace=False):
        e = jnp.zeros_like(flat).at[j].set(h)
        moved = [event_order(eqx.combine(unravel(flat + s * e), static), x) for s in (1, -1)]
        if any(
            not all(np.array_equal(a, b) for a, b in zip(m[0], base[0])) or not np.array_equal(m[1], base[1])
            for m in moved
        ):
            continue  # an event appears, leaves or changes hands between the two evaluations
        fd = (f(flat + e) - f(flat - e)) / (2 * h)
        assert abs(float(fd) - float(g_flat[j])) < rtol * (1 + abs(float(fd))), (int(j), float(fd), float(g_flat[j]))
        checked += 1
    assert checked >= n_entries // 2
    return checked


def write_idx(path, array, code):
    """An MNIST-style IDX file of `array` (type code `code`, e.g. 0x08 for unsigned bytes)."""
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with open(path, "wb") as f:
        f.write(header + array.tobytes())


@functools.cache
def small_problem(name: str):
    """`(net, x, loss_fn, y)` of `snnsad.analysis.small_problems()[name]` in float64, built once per test process."""
    p = _small_problems()[name]
    return p.net, p.x, p.loss_fn, p.y


@functools.cache
def _small_problems():
    with jax.enable_x64(True):
        return snnsad.analysis.small_problems()


@functools.cache
def exact_gradient(name: str):
    """`(value, grads)` of exact enumeration on `small_problem(name)` (float64), computed once per test process:
    several tests compare their estimators with the same ground truth."""
    net, x, loss_fn, y = small_problem(name)
    with jax.enable_x64(True):
        return eqx.filter_jit(snnsad.ExactEnumeration())(loss_fn, net, x, y)
