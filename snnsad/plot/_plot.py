"""Figures of one example's activity: `raster`, `membrane`, `rate_histogram` (a discrete network's `Trace`)
and `event_raster` (an event network's `EventOutput`). Each returns a matplotlib `Figure`; `save=PATH`
also writes it (PNG, or any format matplotlib knows by the suffix)."""

import numpy as np

from .._checks import require
from .._trace import Trace


def _pyplot():
    return require("matplotlib.pyplot", "plots", "snnsad.plot")


def _one_example(array, example: int, where: str) -> np.ndarray:
    """A layer's `(T, n)` array of one example from `(T, n)` or a batch `(B, T, n)`."""
    a = np.asarray(array)
    if a.ndim == 3:
        if not 0 <= example < a.shape[0]:
            raise ValueError(f"{where}: `example` {example} is outside the batch of {a.shape[0]}.")
        return a[example]
    if a.ndim != 2:
        raise ValueError(f"{where}: expected a layer's (T, n) or (batch, T, n) array, got shape {a.shape}.")
    return a


def _layers(trace: Trace, layers, where: str) -> list[int]:
    if not isinstance(trace, Trace):
        raise TypeError(
            f"{where}: `trace` must be an snnsad Trace (net.simulate or net(x)), got {type(trace).__name__}."
        )
    n = len(trace.spikes)
    chosen = list(range(n)) if layers is None else [layers] if isinstance(layers, int) else list(layers)
    bad = [i for i in chosen if not isinstance(i, int) or not 0 <= i < n]
    if bad or not chosen:
        raise ValueError(f"{where}: `layers` must name spiking layers in 0..{n - 1}, got {layers!r}.")
    return chosen


def _finish(fig, save):
    fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=120)
    return fig


def raster(
    trace: Trace,
    *,
    inputs=None,
    layers=None,
    example: int = 0,
    dt: float | None = None,
    save=None,
):
    """Spike raster of each spiking layer (and of the `inputs`, `(T, n_in)`, when given), one panel each,
    neuron against time step (or time in seconds with `dt`); batched traces show `example`.

    ```python
    trace = net(x)
    snnsad.plot.raster(trace, inputs=x, save="raster.png")
    ```
    """
    plt = _pyplot()
    chosen = _layers(trace, layers, "raster")
    panels = [("input", _one_example(inputs, example, "raster"))] if inputs is not None else []
    panels += [(f"layer {i}", _one_example(trace.spikes[i], example, "raster")) for i in chosen]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.2 + 1.4 * len(panels)), sharex=True, squeeze=False)
    scale, unit = (dt, "time (s)") if dt else (1, "time step")
    for ax, (name, s) in zip(axes[:, 0], panels):
        t, i = np.nonzero(s > 0)
        ax.scatter(t * scale, i, s=2, c="k", marker="|", linewidths=0.8)
        ax.set(ylabel=f"{name}\nneuron", ylim=(-0.5, s.shape[1] - 0.5), xlim=(0, s.shape[0] * scale))
        ax.set_title(f"{name}: {int((s > 0).sum())} spikes, {s.shape[1]} neurons", loc="left", fontsize=8)
    axes[-1, 0].set_xlabel(unit)
    return _finish(fig, save)


def membrane(
    trace: Trace,
    *,
    layer: int = 0,
    neurons=None,
    example: int = 0,
    dt: float | None = None,
    save=None,
):
    """Membrane traces of a few neurons of one layer relative to the threshold (the trace's drive `u - theta`,
    so the threshold is the line at 0), with each neuron's spikes marked; `neurons` default: the first 5.
    """
    plt = _pyplot()
    (layer,) = _layers(trace, layer, "membrane")
    drive = _one_example(trace.drive[layer], example, "membrane")
    spikes = _one_example(trace.spikes[layer], example, "membrane")
    chosen = list(range(min(5, drive.shape[1]))) if neurons is None else list(np.atleast_1d(neurons))
    if not chosen or any(not 0 <= int(n) < drive.shape[1] for n in chosen):
        raise ValueError(f"membrane: `neurons` must be indices in 0..{drive.shape[1] - 1}, got {neurons!r}.")
    scale, unit = (dt, "time (s)") if dt else (1, "time step")
    t = np.arange(drive.shape[0]) * scale
    fig, ax = plt.subplots(figsize=(8, 3))
    for k, n in enumerate(chosen):
        line = ax.plot(t, drive[:, n], lw=1, label=f"neuron {n}")[0]
        fired = np.nonzero(spikes[:, n] > 0)[0]
        ax.plot(fired * scale, np.full(len(fired), 0.15 + 0.1 * k), "|", color=line.get_color(), ms=8)
    ax.axhline(0.0, color="k", ls="--", lw=0.8, label="threshold")
    ax.set(xlabel=unit, ylabel="u - threshold", title=f"layer {layer}: membrane relative to the threshold")
    ax.legend(fontsize=7, ncol=3)
    return _finish(fig, save)


def rate_histogram(trace: Trace, *, dt: float, layers=None, bins: int = 20, save=None):
    """Histogram of the neurons' firing rates (Hz) per spiking layer, averaged over the time steps and, for a
    batched trace, the examples; the fraction of silent neurons in each panel's title."""
    plt = _pyplot()
    if not dt > 0:
        raise ValueError(f"rate_histogram: `dt` (seconds per step) must be > 0, got {dt!r}.")
    chosen = _layers(trace, layers, "rate_histogram")
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.4 * len(chosen), 2.8), squeeze=False)
    for ax, i in zip(axes[0], chosen):
        s = np.asarray(trace.spikes[i])
        rates = s.reshape(-1, s.shape[-2], s.shape[-1]).mean(axis=(0, 1)) / dt
        ax.hist(rates, bins=bins, color="C0")
        ax.set(xlabel="firing rate (Hz)", ylabel="neurons")
        ax.set_title(f"layer {i}: mean {rates.mean():.1f} Hz, silent {np.mean(rates == 0):.2f}", loc="left", fontsize=8)
    return _finish(fig, save)


def event_raster(output, *, inputs=None, save=None):
    """Spike times of an event network's layers (`EventNetwork(x)` / `SmoothNetwork(x)`: an `EventOutput`,
    one example), and of the `inputs` (`EventTrain`) when given; unused slots (`inf`) are left out."""
    plt = _pyplot()
    trains = getattr(output, "spikes", None)
    if trains is None or not all(hasattr(t, "times") and hasattr(t, "index") for t in trains):
        raise TypeError(f"event_raster: `output` must be an event network's output, got {type(output).__name__}.")
    panels = [("input", inputs)] if inputs is not None else []
    panels += [(f"layer {i}", t) for i, t in enumerate(trains)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.2 + 1.4 * len(panels)), sharex=True, squeeze=False)
    for ax, (name, train) in zip(axes[:, 0], panels):
        times, index = np.asarray(train.times), np.asarray(train.index)
        if times.ndim != 1:
            raise ValueError(f"event_raster: one example's events are 1-D, got times of shape {times.shape}.")
        keep = np.isfinite(times)
        ax.scatter(times[keep], index[keep], s=4, c="k", marker="|")
        ax.set(ylabel=f"{name}\nneuron")
        ax.set_title(f"{name}: {int(keep.sum())} spikes", loc="left", fontsize=8)
    axes[-1, 0].set_xlabel("time")
    return _finish(fig, save)
