"""Vmapped gradient statistics: many estimates in one compile, then bias, variance and cosine."""

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PyTree

from .._checks import check_count
from .._custom_types import Label, Scalar
from .._losses import LossFn


@eqx.filter_jit
def _sample(estimator, loss_fn, net, x, y, keys, chunk_size):
    def one(key):
        return estimator(loss_fn, net, x, y, key)

    if chunk_size is None:
        return jax.vmap(one)(keys)
    return jax.lax.map(one, keys, batch_size=chunk_size)


def sample_grads(
    estimator: Callable[..., tuple[Scalar, PyTree]],
    loss_fn: LossFn,
    net,
    x: PyTree,
    y: Label,
    keys: Array,
    *,
    chunk_size: int | None = None,
    mesh=None,
) -> tuple[Float[Array, " N"], PyTree]:
    """`N` independent estimates, one per key, in one compiled, vmapped call.

    Returns `(values, grads)` with a leading axis of `len(keys)` on every leaf. `chunk_size`
    bounds memory: keys are processed `chunk_size` at a time (vmapped inside, scanned across).
    With a `mesh` (`snnsad.device_mesh`) the samples are split across its devices.

    ```python
    values, grads = snnsad.sample_grads(snnsad.StochasticAD(8), loss_fn, net, x, y, jr.split(key, 1000))
    ```
    """
    keys = jnp.asarray(keys)
    if not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key) and keys.ndim == 1:
        raise ValueError(
            f"sample_grads: `keys` of shape {keys.shape} is one raw key (jr.PRNGKey); pass a batch of keys, "
            "jr.split(key, N)."
        )
    if keys.ndim < 1 or keys.shape[0] < 1:
        raise ValueError(
            f"sample_grads: `keys` must be a non-empty batch of keys (jr.split(key, N)), got shape {keys.shape}."
        )
    check_count("chunk_size", chunk_size, where="sample_grads", optional=True)
    if mesh is not None:
        from .._parallel import replicate, shard

        keys = shard(keys, mesh)
        net, x, y = replicate((net, x, y), mesh)
    return _sample(estimator, loss_fn, net, x, y, keys, chunk_size)


class GradientStats(NamedTuple):
    """Statistics of `N` gradient estimates `g_i` against a reference gradient `g`.

    - `bias_norm`: `||mean(g_i) - g||`; `relative_error`: that over `||g||`.
    - `variance`: total variance `sum_c Var(g_i[c])` (unbiased, `ddof=1`).
    - `max_z`: `max_c |mean(g_i[c]) - g[c]| / se_c` with `se_c` the standard error of the mean.
      A component whose bias is within the absolute tolerance `atol` of `gradient_stats` counts
      as 0 whatever its standard error (rounding-level disagreement is not bias); one with zero
      spread beyond it counts as inf. `max_z_at` names the component that drives it.
    - `mean_cosine`: `mean_i cos(g_i, g)`; `cosine_of_mean`: `cos(mean(g_i), g)`.
    - `snr`: `||mean(g_i)||^2 / variance`.

    NaN in the samples or the reference propagates to every statistic it touches: a NaN estimate
    never looks perfect.
    """

    bias_norm: Array
    relative_error: Array
    variance: Array
    max_z: Array
    mean_cosine: Array
    cosine_of_mean: Array
    snr: Array
    n_samples: int
    max_z_at: str = ""

    def as_dict(self) -> dict:
        return {k: (v if k in ("n_samples", "max_z_at") else float(v)) for k, v in self._asdict().items()}


def _norm(v, axis=-1):
    sq = jnp.sum(jnp.square(v), axis=axis)
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1)), jnp.where(jnp.isnan(sq), jnp.nan, 0))


def _div(a, b):
    ok = b > 0
    return jnp.where(ok, a / jnp.where(ok, b, 1), jnp.where(jnp.isnan(a) | jnp.isnan(b), jnp.nan, 0))


def _stats(samples: Float[Array, "N C"], ref: Float[Array, " C"], atol) -> tuple[dict[str, Array], Array]:
    n = samples.shape[0]
    mean = jnp.mean(samples, axis=0)
    bias = mean - ref
    var_c = jnp.var(samples, axis=0, ddof=1) if n > 1 else jnp.zeros_like(mean)
    se = jnp.sqrt(var_c / n)
    # Bias within the absolute tolerance is rounding, not bias (z = 0 whatever the spread); beyond
    # it, zero spread means a certain disagreement (inf). NaN stays NaN.
    within = jnp.abs(bias) <= atol
    z = jnp.where(se > 0, jnp.abs(bias) / jnp.where(se > 0, se, 1), jnp.inf)
    z = jnp.where(within, 0, z)
    z = jnp.where(jnp.isnan(bias) | jnp.isnan(se), jnp.nan, z)
    ref_norm = _norm(ref)
    cos_i = _div(samples @ ref, _norm(samples) * ref_norm)
    variance = jnp.sum(var_c)
    worst = jnp.argmax(jnp.where(jnp.isnan(z), jnp.inf, z)) if z.size else jnp.asarray(-1)
    return dict(
        bias_norm=_norm(bias),
        relative_error=_div(_norm(bias), ref_norm),
        variance=variance,
        max_z=jnp.max(z) if z.size else jnp.zeros(()),
        mean_cosine=jnp.mean(cos_i),
        cosine_of_mean=_div(mean @ ref, _norm(mean) * ref_norm),
        snr=_div(jnp.sum(jnp.square(mean)), variance),
    ), worst


@jax.jit
def _all_stats(samples: list, reference: list, atol: Scalar):
    """Every leaf's statistics and the global ones, in one compiled program (eagerly, each of the
    few dozen array operations per leaf would be compiled on its own)."""
    flat_s = [jnp.reshape(s, (s.shape[0], -1)) for s in samples]
    flat_r = [jnp.reshape(r, (-1,)) for r in reference]
    per_leaf = [_stats(s, r, atol) for s, r in zip(flat_s, flat_r)]
    return per_leaf, _stats(jnp.concatenate(flat_s, axis=1), jnp.concatenate(flat_r), atol)


def gradient_stats(samples: PyTree, reference: PyTree, *, atol: float | None = None) -> dict[str, GradientStats]:
    """Bias, variance and cosine statistics, globally (key `"all"`) and per parameter leaf.

    `samples`: estimates with a leading sample axis (as from `sample_grads`); `reference`:
    the reference gradient (e.g. from `snnsad.ExactEnumeration`) with the same structure,
    no sample axis, and the same leaf paths (a mismatch is refused). Leaves are keyed by their path, e.g.
    `".layers[0].weight"`. Safe at zero
    norms (cosines of a zero vector are 0); NaN propagates.

    `atol`: a component whose bias `|mean - g|` is at most `atol` has z = 0 in `max_z` (default
    `1e-9 * max|g|`, about float64 rounding of the reference's scale; pass a larger one for
    float32 estimates). `max_z_at` names the component, e.g. `".layers[1].weight[0, 2]"`.
    """
    s_leaves = jax.tree_util.tree_leaves_with_path(samples)
    r_leaves = jax.tree_util.tree_leaves_with_path(reference)
    s_paths = [jax.tree_util.keystr(path) for path, _ in s_leaves]
    r_paths = [jax.tree_util.keystr(path) for path, _ in r_leaves]
    if s_paths != r_paths:  # leaves are matched by path, never by position alone
        only_s = [p for p in s_paths if p not in r_paths]
        only_r = [p for p in r_paths if p not in s_paths]
        raise ValueError(
            f"gradient_stats: `samples` and `reference` hold different parameters (only in samples: {only_s[:5]}, "
            f"only in reference: {only_r[:5]}{'' if only_s or only_r else '; the same paths in another order'}); "
            "pass estimates and reference of the same network (snnsad.nn.parameters(...) of each compares "
            "networks whose spike functions differ)."
        )
    leaves = []
    for (path, s), (_, r) in zip(s_leaves, r_leaves):
        if s.shape[1:] != r.shape:
            raise ValueError(
                f"gradient_stats: leaf {jax.tree_util.keystr(path)} has samples of shape {s.shape} "
                f"but reference of shape {r.shape}; samples need a leading sample axis."
            )
        leaves.append((jax.tree_util.keystr(path), r.shape, r.size))
    if not leaves:
        raise ValueError("gradient_stats: `samples` and `reference` have no array leaves; pass gradient pytrees.")
    samples_list, reference_list = [s for _, s in s_leaves], [r for _, r in r_leaves]
    if atol is None:
        atol = 1e-9 * max(float(np.max(np.abs(np.asarray(r)), initial=0.0)) for r in reference_list)
    n = samples_list[0].shape[0]
    per_leaf, (stats, worst) = _all_stats(samples_list, reference_list, float(atol))
    out = {}
    for (name, shape, _), (leaf_stats, leaf_worst) in zip(leaves, per_leaf):
        at = int(leaf_worst)
        out[name] = GradientStats(**leaf_stats, n_samples=n, max_z_at=_component(name, shape, at) if at >= 0 else "")
    worst, where = int(worst), ""
    for name, shape, size in leaves:  # the leaf that holds the global worst component
        if 0 <= worst < size:
            where = _component(name, shape, worst)
            break
        worst -= size
    return {"all": GradientStats(**stats, n_samples=n, max_z_at=where), **out}


def _component(name: str, shape: tuple[int, ...], flat_index: int) -> str:
    if not shape:
        return name
    return f"{name}[{', '.join(str(int(i)) for i in np.unravel_index(flat_index, shape))}]"
