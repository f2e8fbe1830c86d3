"""Reading the Spiking Heidelberg Digits / Spiking Speech Commands HDF5 files (never downloaded)."""

import os

import numpy as np

from ._datasets import split_indices


class SHD:
    """Lazy reader of the Spiking Heidelberg Digits / Spiking Speech Commands HDF5 files.

    Reads `spikes/times` (seconds, ragged), `spikes/units` and `labels` from `path` one
    sample at a time (the file stays on disk), bins each sample into `n_steps` steps of `dt`
    seconds (events after `n_steps * dt` are dropped: explicit truncation; shorter samples are
    zero-padded), optionally clipping counts to 1. `n_channels` is 700 for SHD and SSC.

    `preload=True` reads and bins every sample once, up front, and keeps the binned events in
    memory as compact index lists (one int32 per kept event: `step * n_channels + channel`); a
    batch is then a scatter into zeros, so an epoch of the real SHD training set is bounded by
    compute, not by HDF5 reads (`benchmarks/shd_data_path.py` measures both).

    ```python
    train = snnsad.data.SHD("shd_train.h5", n_steps=350, dt=2e-3)
    x, y = train.batch(np.arange(32))       # (32, 350, 700) float32, (32,) int32
    ```
    """

    REQUIRED = ("spikes/times", "spikes/units", "labels")

    def __init__(
        self,
        path: str,
        n_steps: int = 350,
        dt: float = 2e-3,
        *,
        n_channels: int = 700,
        clip: bool = True,
        preload: bool = False,
    ):
        import h5py

        if not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"SHD: `n_steps` must be a positive int, got {n_steps!r}.")
        if not dt > 0:
            raise ValueError(f"SHD: `dt` must be > 0 seconds, got {dt!r}.")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"SHD: no file at {path!r}. Download shd_train.h5 / shd_test.h5 (Cramer et al. 2022, "
                "Heidelberg spiking data sets) yourself and pass their path; snnsad never downloads."
            )
        self.path, self.n_steps, self.dt, self.n_channels, self.clip = path, n_steps, dt, n_channels, clip
        try:
            self._file = h5py.File(path, "r")
        except OSError as err:
            raise ValueError(f"SHD: {path!r} is not a readable HDF5 file (truncated or corrupt?): {err}") from None
        for field in self.REQUIRED:
            if not isinstance(self._file.get(field), h5py.Dataset):
                raise ValueError(
                    f"SHD: {path!r} has no data set {field!r}; expected the standard layout "
                    "spikes/times, spikes/units, labels."
                )
        self._times, self._units = self._dataset("spikes/times"), self._dataset("spikes/units")
        labels = self._dataset("labels")
        n = len(labels)
        if len(self._times) != n or len(self._units) != n:
            raise ValueError(
                f"SHD: {path!r} has {n} labels but {len(self._times)} spike-time and {len(self._units)} unit entries."
            )
        try:
            raw = np.asarray(labels[()])
        except OSError as err:
            raise ValueError(f"SHD: could not read 'labels' from {path!r} (truncated file?): {err}") from None
        if raw.ndim != 1 or not np.issubdtype(raw.dtype, np.integer) or (raw.size and raw.min() < 0):
            raise ValueError(
                f"SHD: {path!r} has labels of shape {raw.shape} and dtype {raw.dtype}"
                + (f" (smallest {raw.min()})" if raw.size and np.issubdtype(raw.dtype, np.number) else "")
                + "; expected one non-negative integer class per sample."
            )
        self.labels = raw.astype(np.int32)
        if not len(self.labels):
            raise ValueError(f"SHD: {path!r} holds no samples.")
        # A cheap look at the first samples catches a file in the wrong time unit before training on zeros.
        probe = self.dropped_fraction(range(min(16, len(self.labels))))
        if probe > 0.99:
            raise ValueError(
                f"SHD: {100 * probe:.1f}% of the spike events of the first samples of {path!r} fall after the window "
                f"of {n_steps} x {dt} s: are the times in seconds? (SHD's are; ms would put almost all beyond it.)"
            )
        self._events_in_memory = None
        if preload:
            self._preload()
        self.class_names = (
            [k.decode() if isinstance(k, bytes) else str(k) for k in self._dataset("extra/keys")[()]]
            if isinstance(self._file.get("extra/keys"), h5py.Dataset)
            else None
        )

    def _dataset(self, name: str):
        import h5py

        dataset = self._file[name]
        assert isinstance(dataset, h5py.Dataset)  # checked in __init__
        return dataset

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def _events(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample `i`'s (time steps, channels, whether each event lies in the window), checked."""
        try:
            times = np.asarray(self._times[i], np.float64)
            units = np.asarray(self._units[i], np.int64)
        except OSError as err:
            raise ValueError(f"SHD: could not read sample {i} of {self.path!r} (truncated file?): {err}") from None
        if times.shape != units.shape:
            raise ValueError(f"SHD: sample {i} of {self.path!r} has {times.size} times but {units.size} units.")
        if units.size and (units.min() < 0 or units.max() >= self.n_channels):
            raise ValueError(f"SHD: sample {i} of {self.path!r} has channel ids outside [0, {self.n_channels}).")
        if times.size and not (np.all(np.isfinite(times)) and times.min() >= 0):
            raise ValueError(f"SHD: sample {i} of {self.path!r} has NaN, infinite or negative spike times.")
        steps = np.floor(times / self.dt).astype(np.int64)
        return steps, units, steps < self.n_steps

    def dropped_fraction(self, indices=None) -> float:
        """The fraction of the spike events of `indices` (default: every sample) after the window `n_steps * dt`."""
        indices = range(len(self)) if indices is None else indices
        kept = total = 0
        for i in indices:
            _, _, keep = self._events(int(i))
            kept, total = kept + int(keep.sum()), total + keep.size
        return 1 - kept / total if total else 0.0

    def validate(self, max_dropped: float = 0.5) -> float:
        """Read every sample once: raise `ValueError` on a damaged sample, or when more than `max_dropped`
        of all events fall after the window (wrong `dt`, `n_steps`, or times not in seconds).
        Returns the dropped fraction."""
        fraction = self.dropped_fraction()
        if fraction > max_dropped:
            raise ValueError(
                f"SHD: {100 * fraction:.1f}% of the spike events of {self.path!r} fall after the window of "
                f"{self.n_steps} x {self.dt} s; check the time unit (seconds) or raise n_steps."
            )
        return fraction

    def _preload(self) -> None:
        flat, counts = [], np.zeros(len(self), np.int64)
        for i in range(len(self)):
            steps, units, keep = self._events(i)
            index = (steps[keep] * self.n_channels + units[keep]).astype(np.int32)
            if self.clip:
                index = np.unique(index)
            flat.append(index)
            counts[i] = index.size
        self._events_in_memory = (np.concatenate(flat) if flat else np.zeros(0, np.int32), np.cumsum(counts) - counts)
        self._counts = counts

    def raster(self, i: int) -> np.ndarray:
        """Sample `i` as a `(n_steps, n_channels)` float32 raster."""
        if self._events_in_memory is not None:
            return self.batch(np.array([i]))[0][0]
        steps, units, keep = self._events(i)
        out = np.zeros((self.n_steps, self.n_channels), np.float32)
        np.add.at(out, (steps[keep], units[keep]), 1.0)
        return np.minimum(out, 1.0) if self.clip else out

    def batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """Rasters `(B, n_steps, n_channels)` and labels `(B,)` of the given sample indices."""
        indices = np.asarray(indices)
        if self._events_in_memory is None:
            return np.stack([self.raster(int(i)) for i in indices]), self.labels[indices]
        flat, starts = self._events_in_memory
        counts = self._counts[indices]
        rows = np.repeat(np.arange(len(indices)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        cols = flat[np.repeat(starts[indices], counts) + offsets]
        out = np.zeros((len(indices), self.n_steps * self.n_channels), np.float32)
        if self.clip:  # events were de-duplicated when preloaded
            out[rows, cols] = 1.0
        else:
            np.add.at(out, (rows, cols), 1.0)
        return out.reshape(len(indices), self.n_steps, self.n_channels), self.labels[indices]

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Shuffled (train, validation) index arrays (the paper uses a 90/10 split of the train file)."""
        return split_indices(len(self), val_fraction, seed)

    def close(self):
        self._file.close()


# ----------------------------------------------------------------------------- targets and inputs


def check_classes(train, test) -> None:
    """Raise `ValueError` if `test` (an `SHD` file, or None) has a class the training file `train` lacks."""
    if test is not None and test.n_classes > train.n_classes:
        raise ValueError(
            f"SHD: the test file {test.path!r} has class {test.n_classes - 1}, but the training file "
            f"{train.path!r} only classes 0..{train.n_classes - 1}; the two files do not belong together."
        )


def write_synthetic_shd(
    folder: str,
    *,
    n_train: int = 8156,
    n_test: int = 2264,
    n_classes: int = 20,
    n_channels: int = 700,
    duration: float = 0.9,
    rate: float = 15.0,
    seed: int = 0,
) -> tuple[str, str]:
    """Write `shd_train.h5` and `shd_test.h5` with SHD's layout and SHD-like statistics; returns their paths.

    Not SHD: a stand-in with its shape, for runs where the real files are absent. Each class is a
    few "formant" tracks, channel trajectories `c(t) = c0 + c1 t + c2 t^2` over the trial; a sample
    draws its events around its class's tracks (Gaussian spread of 12 channels) with a random time
    stretch (0.8-1.2), onset (0-80 ms), channel shift (+-15 channels) and track gains, plus
    uniform background noise (20 % of the events). Times are float32 seconds (ragged, sorted),
    units uint16, labels uint16, `extra/keys` the class names; the mean rate is about `rate` Hz
    per channel over `duration` seconds. Default sizes are the real SHD's (8,156 / 2,264 samples).
    """
    import h5py

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_tracks = 4
    tracks = np.stack(  # (classes, tracks, 3): c0, c1, c2 in channels, per second, per second^2
        [
            rng.uniform(0.1, 0.9, (n_classes, n_tracks)) * n_channels,
            rng.normal(0, 0.35, (n_classes, n_tracks)) * n_channels,
            rng.normal(0, 0.5, (n_classes, n_tracks)) * n_channels,
        ],
        axis=-1,
    )
    events_per_sample = rate * n_channels * duration
    paths = []
    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        labels = rng.integers(0, n_classes, n).astype(np.uint16)
        all_times, all_units = [], []
        for label in labels:
            stretch, onset, shift = rng.uniform(0.8, 1.2), rng.uniform(0, 0.08), rng.uniform(-15, 15)
            gains = rng.uniform(0.5, 1.5, n_tracks)
            n_signal = rng.poisson(0.8 * events_per_sample * gains / gains.sum())
            span = duration / stretch - onset
            times, units = [], []
            for k, m in enumerate(n_signal):
                t = rng.uniform(0, span, m)
                c0, c1, c2 = tracks[label, k]
                s = t * stretch  # warped time in [0, duration)
                units.append(c0 + shift + c1 * (s - duration / 2) + c2 * (s - duration / 2) ** 2 + rng.normal(0, 12, m))
                times.append(onset + t)
            m = rng.poisson(0.2 * events_per_sample)
            times.append(rng.uniform(0, duration, m))
            units.append(rng.uniform(0, n_channels, m))
            t, u = np.concatenate(times), np.concatenate(units)
            keep = (u >= 0) & (u < n_channels) & (t < duration)
            order = np.argsort(t[keep])
            all_times.append(t[keep][order].astype(np.float32))
            all_units.append(u[keep][order].astype(np.uint16))
        path = os.path.join(folder, name)
        tmp = path + ".tmp"
        with h5py.File(tmp, "w") as f:
            times_ds = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
            units_ds = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i in range(n):
                times_ds[i], units_ds[i] = all_times[i], all_units[i]
            f.create_dataset("labels", data=labels)
            f.create_dataset("extra/keys", data=np.array([f"class {c}".encode() for c in range(n_classes)]))
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1]
