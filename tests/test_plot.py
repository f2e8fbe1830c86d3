"""`snnsad.plot`: each figure is written, has the size asked for and is not blank; bad arguments are named."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad

plt = pytest.importorskip("matplotlib.pyplot")
image = pytest.importorskip("matplotlib.image")


@pytest.fixture(scope="module")
def trace_and_input():
    net = snnsad.feedforward((6, 10, 4), key=jr.key(0), spike_fn=snnsad.Heaviside(), gain=6.0, readout=False)
    x = (jr.uniform(jr.key(1), (40, 6)) < 0.3).astype(jnp.float32)
    return net(x), x, net


def _check_png(path, width_in, height_in, dpi=120):
    img = image.imread(path)
    assert img.shape[:2] == (round(height_in * dpi), round(width_in * dpi))
    assert float(img[..., :3].std()) > 0.01  # something is drawn


def test_every_plot_writes_a_non_blank_figure_of_its_size(trace_and_input, tmp_path):
    trace, x, net = trace_and_input
    assert 0 < float(trace.spikes[0].sum()) < trace.spikes[0].size  # the raster has something to show
    figs = [
        (snnsad.plot.raster(trace, inputs=x, save=tmp_path / "raster.png"), "raster.png", (8, 1.2 + 1.4 * 3)),
        (snnsad.plot.membrane(trace, layer=0, neurons=[0, 3], dt=1e-3, save=tmp_path / "membrane.png"),
         "membrane.png", (8, 3)),
        (snnsad.plot.rate_histogram(trace, dt=1e-3, save=tmp_path / "rates.png"), "rates.png", (3.4 * 2, 2.8)),
    ]  # fmt: skip
    events = snnsad.events.EventOutput(
        jnp.zeros(3),
        (snnsad.events.EventTrain(jnp.array([0.5, 1.0, 2.5, jnp.inf]), jnp.array([0, 2, 1, 0])),),
        jnp.array(False),
    )
    inputs = snnsad.events.events_from_lists([0.1, 0.2], [0, 1])
    fig = snnsad.plot.event_raster(events, inputs=inputs, save=tmp_path / "events.png")
    figs.append((fig, "events.png", (8, 1.2 + 1.4 * 2)))
    for fig, name, (w, h) in figs:
        _check_png(tmp_path / name, w, h)
        plt.close(fig)
    batched = jax.vmap(net)(jnp.stack([x, 1 - x]))  # a batch: `example` picks one
    plt.close(snnsad.plot.raster(batched, example=1))
    with pytest.raises(ValueError, match="`example` 2"):
        snnsad.plot.raster(batched, example=2)


def test_bad_arguments_are_named(trace_and_input):
    trace = trace_and_input[0]
    with pytest.raises(ValueError, match="`layers`"):
        snnsad.plot.raster(trace, layers=5)
    with pytest.raises(ValueError, match="`neurons`"):
        snnsad.plot.membrane(trace, neurons=[99])
    with pytest.raises(ValueError, match="`dt`"):
        snnsad.plot.rate_histogram(trace, dt=0.0)
    with pytest.raises(TypeError, match="Trace"):
        snnsad.plot.raster(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="event network"):
        snnsad.plot.event_raster(trace)
    plt.close("all")
