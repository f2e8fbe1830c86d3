"""Data sets: Randman, Yin-Yang, SHD/SSC (HDF5), image-raster targets, frozen Poisson inputs.

Nothing is downloaded: generators are pure functions of their arguments (explicit seeds), and
SHD/SSC are read lazily from the standard HDF5 files at a path the user gives.
"""

import math
import os
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import jax
import numpy as np

from .._checks import check_choice

# ----------------------------------------------------------------------------- Randman


class SpikeDataset(NamedTuple):
    """In-memory inputs `x` and targets `y` (N, ...): labels, or e.g. target rasters.

    `x` is spike rasters (N, T, n_in) float32, or any pytree of arrays with the examples on the
    leading axis, e.g. an `snnsad.events.EventTrain` of (N, max_events) times and indices.
    """

    x: Any
    y: Any

    def __len__(self):
        return len(self.y)

    def batch(self, indices) -> tuple[Any, Any]:
        return jax.tree.map(lambda a: a[indices], self.x), self.y[indices]

    def check(self, where: str = "SpikeDataset") -> None:
        """Raise a `ValueError` naming `where` unless every leaf of `x` holds `len(y)` examples."""
        n_y = len(self.y)
        for path, leaf in jax.tree_util.tree_leaves_with_path(self.x):
            n_x = np.shape(leaf)[0] if np.ndim(leaf) else None
            if n_x != n_y:
                raise ValueError(
                    f"{where}: `x{jax.tree_util.keystr(path)}` holds {n_x} examples but `y` {n_y}; "
                    "pass one target per example (the examples on the leading axis of both)."
                )


def _randman_embedding(rng: np.random.Generator, n_units: int, dim: int, alpha: float, prec: float, bias: bool):
    cutoff = min(int(math.ceil(prec ** (-1 / alpha))), 1000)
    theta = rng.uniform(0, 1, size=(n_units, dim, 3, cutoff))
    if not bias:
        theta[:, :, 0, 0] = 0.0
    spectrum = 1.0 / (np.power(np.arange(cutoff) + 1.0, alpha) + 1.0)
    k = np.arange(cutoff)

    def evaluate(coords):  # coords (N, dim) in [0, 1]
        # f_{i,d}(x) = sum_k theta0 s_k sin(2 pi (k x theta1 + theta2)); coordinate i = prod_d f_{i,d}(x_d)
        out = []
        for chunk in np.array_split(coords, max(1, len(coords) // 128)):  # bounded memory
            phase = 2 * np.pi * (k * chunk[:, None, :, None] * theta[None, :, :, 1, :] + theta[None, :, :, 2, :])
            f = np.sum(theta[None, :, :, 0, :] * spectrum * np.sin(phase), axis=-1)  # (n, n_units, dim)
            out.append(np.prod(f, axis=-1))
        return np.concatenate(out)

    return evaluate


def randman(
    n_classes: int = 10,
    n_units: int = 20,
    n_steps: int = 100,
    *,
    samples_per_class: int = 1000,
    manifold_dim: int = 1,
    alpha: float = 2.0,
    n_spikes: int = 1,
    step_frac: float = 0.5,
    prec: float = 1e-3,
    bias: bool = False,
    seed: int = 0,
    shuffle: bool = True,
    standardise: Literal["class", "global"] = "class",
) -> SpikeDataset:
    """Random-manifold spike classification set (Zenke & Vogels 2021), a pure function of its arguments.

    Each class (and each spike index) has its own smooth random manifold in `n_units` dimensions:
    coordinate `i` is `prod_d f_{i,d}(x_d)` with `f(x) = sum_k theta0_k s_k sin(2 pi (k x
    theta1_k + theta2_k))`, spectrum `s_k = 1 / ((k + 1)^alpha + 1)`, `k < min(ceil(prec^(-1/alpha)),
    1000)`. Samples draw intrinsic coordinates `x ~ U[0, 1]^manifold_dim`; every unit is min-max
    standardised and emits one spike per spike index at step `floor(value * n_steps * step_frac)`.
    Returns rasters `(N, n_steps, n_units)`, classes balanced.

    `standardise="class"` (default) min-max scales each unit over the samples of its own class and
    spike index, as the reference generator does (`make_tempo_randman` in fzenke/randman and
    fmi-basel/stork): every class then spans the whole time window, so spike times carry no class
    offset. `"global"` scales over all classes at once; at small `alpha` that leaves class-dependent
    offsets a linear readout of spike times can use (an easier, different task).
    """
    for name, value in (
        ("n_classes", n_classes),
        ("n_units", n_units),
        ("n_steps", n_steps),
        ("samples_per_class", samples_per_class),
        ("manifold_dim", manifold_dim),
        ("n_spikes", n_spikes),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"randman: `{name}` must be a positive int, got {value!r}.")
    if not 0 < step_frac <= 1:
        raise ValueError(f"randman: `step_frac` must lie in (0, 1], got {step_frac!r}.")
    if alpha <= 0:
        raise ValueError(f"randman: `alpha` must be > 0, got {alpha!r}.")
    check_choice("standardise", standardise, ("class", "global"), where="randman")
    root = np.random.SeedSequence(seed)
    class_seeds = root.spawn(n_classes * n_spikes + 1)
    values = np.zeros((n_spikes, n_classes, samples_per_class, n_units))
    for c in range(n_classes):
        for j in range(n_spikes):
            rng = np.random.default_rng(class_seeds[c * n_spikes + j])
            manifold = _randman_embedding(rng, n_units, manifold_dim, alpha, prec, bias)
            values[j, c] = manifold(rng.uniform(0, 1, size=(samples_per_class, manifold_dim)))
    over = (2,) if standardise == "class" else (1, 2)  # per (spike index, class) or per spike index
    lo = values.min(axis=over, keepdims=True)
    hi = values.max(axis=over, keepdims=True)
    values = (values - lo) / (hi - lo + 1e-7)  # in [0, 1), as the reference generator's `standardize`
    times = np.minimum(np.floor(values * n_steps * step_frac).astype(np.int64), n_steps - 1)
    x = np.zeros((n_classes, samples_per_class, n_steps, n_units), np.float32)
    c_idx, s_idx, u_idx = np.meshgrid(
        np.arange(n_classes), np.arange(samples_per_class), np.arange(n_units), indexing="ij"
    )
    for j in range(n_spikes):
        x[c_idx, s_idx, times[j], u_idx] = 1.0
    x = x.reshape(-1, n_steps, n_units)
    y = np.repeat(np.arange(n_classes), samples_per_class).astype(np.int32)
    if shuffle:
        order = np.random.default_rng(class_seeds[-1]).permutation(len(y))
        x, y = x[order], y[order]
    return SpikeDataset(x, y)


# The paper's tempo-randman configuration (PAPER.md, E6).
RANDMAN_PRESET = dict(
    n_classes=15, n_units=20, n_steps=100, samples_per_class=1000, manifold_dim=1, alpha=0.5, n_spikes=1, step_frac=0.5
)


def randman_preset(seed: int = 0, **overrides) -> SpikeDataset:
    """Randman with the paper's settings: 15 classes, 20 units, 100 steps, 1000 samples per class,
    1-D manifolds, alpha = 0.5, one spike per unit, step_frac = 0.5 (any of them overridable)."""
    return randman(**{**RANDMAN_PRESET, **overrides}, seed=seed)


# ----------------------------------------------------------------------------- Yin-Yang

R_BIG, R_SMALL = 0.5, 0.1


def yinyang_class(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Yin-Yang class of points (0 yin, 1 yang, 2 dot) by the geometric rule of Kriener et al. 2021."""
    d_right = np.hypot(x - 1.5 * R_BIG, y - R_BIG)
    d_left = np.hypot(x - 0.5 * R_BIG, y - R_BIG)
    dot = (d_right <= R_SMALL) | (d_left <= R_SMALL)
    yin = (d_right <= R_SMALL) | ((d_left > R_SMALL) & (d_left <= R_BIG / 2)) | ((y > R_BIG) & (d_right > R_BIG / 2))
    return np.where(dot, 2, yin.astype(np.int64))


def yinyang(n: int = 5000, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Yin-Yang samples: features `(x, y, 1 - x, 1 - y)` (n, 4) float32 and labels (n,).

    Per sample a class is drawn uniformly from {0, 1, 2}; points are rejection-sampled uniformly in
    the unit square inside the big circle until one of that class comes up. The usual splits are
    5000/1000/1000 with different seeds.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"yinyang: `n` must be a positive int, got {n!r}.")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    points = np.empty((n, 2))
    todo = np.arange(n)
    while todo.size:
        cand = rng.uniform(0, 1, size=(todo.size, 2))
        inside = np.hypot(cand[:, 0] - R_BIG, cand[:, 1] - R_BIG) <= R_BIG
        ok = inside & (yinyang_class(cand[:, 0], cand[:, 1]) == labels[todo])
        points[todo[ok]] = cand[ok]
        todo = todo[~ok]
    feats = np.concatenate([points, 1 - points], axis=1).astype(np.float32)
    return feats, labels.astype(np.int32)


def latency_encode(
    values: np.ndarray, n_steps: int, *, t_min: int = 0, t_max: int | None = None, bias_spike: bool = True
) -> np.ndarray:
    """Values in [0, 1] -> one spike each at step `round(t_min + value (t_max - t_min))`.

    `values` (N, F) -> rasters (N, n_steps, F [+1]); with `bias_spike` an extra input fires at
    `t_min` in every example (the usual Yin-Yang bias input).
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 2:
        raise ValueError(f"latency_encode: `values` must be (N, F), got shape {values.shape}.")
    if np.any((values < 0) | (values > 1)):
        raise ValueError("latency_encode: `values` must lie in [0, 1]; rescale them first.")
    t_max = n_steps - 1 if t_max is None else t_max
    if not 0 <= t_min <= t_max < n_steps:
        raise ValueError(f"latency_encode: need 0 <= t_min <= t_max < n_steps, got {t_min}, {t_max}, {n_steps}.")
    times = np.rint(t_min + values * (t_max - t_min)).astype(np.int64)
    if bias_spike:
        times = np.concatenate([times, np.full((len(times), 1), t_min)], axis=1)
    out = np.zeros((len(times), n_steps, times.shape[1]), np.float32)
    n_idx, f_idx = np.meshgrid(np.arange(len(times)), np.arange(times.shape[1]), indexing="ij")
    out[n_idx, times, f_idx] = 1.0
    return out


def yinyang_spikes(n: int = 5000, n_steps: int = 50, *, seed: int = 0) -> SpikeDataset:
    """Latency-encoded Yin-Yang: rasters (n, n_steps, 5) (four features and a bias input) and labels."""
    feats, labels = yinyang(n, seed=seed)
    return SpikeDataset(latency_encode(feats, n_steps), labels)


# ----------------------------------------------------------------------------- SHD / SSC


def default_image_path() -> str:
    """A small image shipped with snnsad (a drawn spiral) for spike-train matching."""
    return os.path.join(os.path.dirname(__file__), "assets", "target.png")


def image_to_raster(
    path: str | None = None, n_neurons: int = 200, n_steps: int = 189, *, threshold: float = 0.5, invert: bool = True
) -> np.ndarray:
    """An image file -> binary spike raster `(n_steps, n_neurons)` (image columns are time).

    The image is converted to grey levels in [0, 1], resampled (nearest neighbour) to
    `n_neurons` rows by `n_steps` columns, and pixels darker than `threshold` (brighter with
    `invert=False`) become spikes. `path=None` uses the shipped image.
    """
    import matplotlib.image

    path = default_image_path() if path is None else path
    if not os.path.exists(path):
        raise FileNotFoundError(f"image_to_raster: no image at {path!r}.")
    img = np.asarray(matplotlib.image.imread(path), np.float64)
    if img.dtype.kind in "ui" or img.max() > 1:
        img = img / 255.0
    grey = img if img.ndim == 2 else img[..., :3].mean(-1)
    rows = (np.arange(n_neurons) * grey.shape[0] / n_neurons).astype(int)
    cols = (np.arange(n_steps) * grey.shape[1] / n_steps).astype(int)
    grey = grey[np.ix_(rows, cols)]
    spikes = grey < threshold if invert else grey > threshold
    return spikes.T.astype(np.float32)


def poisson_raster(n_steps: int, n_neurons: int, rate: float, dt: float, *, seed: int = 0) -> np.ndarray:
    """Frozen Poisson input: each (step, neuron) spikes with probability `rate * dt` (float32 raster)."""
    p = rate * dt
    if not 0 <= p <= 1:
        raise ValueError(f"poisson_raster: rate * dt = {p} must lie in [0, 1]; lower `rate` or `dt`.")
    return (np.random.default_rng(seed).uniform(size=(n_steps, n_neurons)) < p).astype(np.float32)


# ----------------------------------------------------------------------------- batching and splits


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled `(rest, held_out)` index arrays with `round(fraction * n)` held out."""
    if not 0 <= fraction < 1:
        raise ValueError(f"split: the held-out fraction must lie in [0, 1), got {fraction!r}.")
    order = np.random.default_rng(seed).permutation(n)
    n_held = int(round(fraction * n))
    return order[n_held:], order[:n_held]


def batches(
    n: int, batch_size: int, *, seed: int, epoch: int = 0, shuffle: bool = True, drop_last: bool = True
) -> Iterator[np.ndarray]:
    """Index batches for one epoch, a pure function of `(n, batch_size, seed, epoch)`."""
    if batch_size < 1:
        raise ValueError(f"batches: `batch_size` must be >= 1, got {batch_size!r}.")
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


class Subset:
    """The examples `indices` of a data set with `len()` and `batch(indices) -> (xs, ys)` (e.g. `SHD`)."""

    def __init__(self, data, indices):
        self.data, self.indices = data, np.asarray(indices)

    def __len__(self):
        return len(self.indices)

    def batch(self, idx):
        return self.data.batch(self.indices[idx])
