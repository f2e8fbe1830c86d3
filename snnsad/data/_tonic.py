"""Event data sets from tonic (structured arrays with `t`, `x`, `p` fields) as snnsad rasters."""

import numpy as np

from .._checks import require
from ._datasets import SpikeDataset


def from_tonic(
    dataset,
    n_steps: int,
    dt: float,
    *,
    sensor_size: tuple[int, int, int] | None = None,
    clip: bool = True,
    time_unit: float = 1e-6,
) -> SpikeDataset:
    """Bin a tonic-style event data set into a `SpikeDataset` of `(N, n_steps, channels)` rasters.

    `dataset` is any sequence of `(events, label)` pairs (a `tonic.datasets` object, or a list):
    `events` a structured array with a time field `t` (in units of `time_unit` seconds; tonic uses
    microseconds) and the sensor fields (`x`, and `y` and `p` where present). Binning is tonic's
    own `tonic.transforms.ToFrame` with windows of `dt` seconds from time 0 to `n_steps * dt`
    (events after the window are dropped, as the SHD reader drops them; an empty sample is all
    zeros); frames are flattened to `channels = prod(sensor_size)` in tonic's (polarity, y, x)
    order, and counts are clipped to 1 unless `clip=False`. `sensor_size` defaults to the data
    set's own (`dataset.sensor_size`). Needs the `tonic` extra (`pip install snnsad[tonic]`).

    ```python
    shd = tonic.datasets.SHD(save_to="~/data")  # downloaded by the user, never by snnsad
    train = snnsad.data.from_tonic(shd, n_steps=350, dt=2e-3)
    ```
    """
    transforms = require("tonic.transforms", "tonic", "from_tonic")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"from_tonic: `n_steps` must be a positive int, got {n_steps!r}.")
    if not dt > 0 or not time_unit > 0:
        raise ValueError(f"from_tonic: `dt` and `time_unit` must be > 0 seconds, got {dt!r}, {time_unit!r}.")
    if sensor_size is None:
        sensor_size = getattr(dataset, "sensor_size", None)
    if sensor_size is None or len(sensor_size) != 3:
        raise ValueError(
            f"from_tonic: need `sensor_size` (width, height, polarities), e.g. (700, 1, 1) for SHD; got {sensor_size!r}."
        )
    window = dt / time_unit
    to_frame = transforms.ToFrame(
        sensor_size=sensor_size,
        time_window=window,
        start_time=0,
        end_time=n_steps * window,
        include_incomplete=True,
    )
    channels = int(np.prod(sensor_size))
    xs = np.zeros((len(dataset), n_steps, channels), np.float32)
    ys = np.zeros(len(dataset), np.int32)
    for i in range(len(dataset)):
        events, label = dataset[i]
        if "t" not in (events.dtype.names or ()):
            raise ValueError(f"from_tonic: sample {i} is not a structured event array with a 't' field.")
        ys[i] = int(label)
        events = events[events["t"] < n_steps * window]
        if len(events) == 0:
            continue
        frames = np.asarray(to_frame(events), np.float32).reshape(-1, channels)[:n_steps]
        xs[i, : len(frames)] = np.minimum(frames, 1.0) if clip else frames
    return SpikeDataset(xs, ys)
