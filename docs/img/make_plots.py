"""Writes the figures of docs/plotting.md: `python docs/img/make_plots.py` (about 10 s on 2 cores)."""

import os

import jax.numpy as jnp
import jax.random as jr

import snnsad

here = os.path.dirname(os.path.abspath(__file__))
data = snnsad.data.randman(n_classes=4, n_units=20, n_steps=100, samples_per_class=2, seed=1)
x = jnp.asarray(data.x[0])  # one example: (100 steps, 20 inputs)
net = snnsad.feedforward(
    (20, 64, 4), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(10.0)), neuron=snnsad.LIF.paper(),
    init="fluctuation", rate=5.0, sigma_u=1.3,
)  # fmt: skip
trace = net(x, key=jr.key(1))
snnsad.plot.raster(trace, inputs=x, dt=2e-3, save=os.path.join(here, "plot_raster.png"))
snnsad.plot.membrane(trace, layer=0, neurons=[0, 1, 2], dt=2e-3, save=os.path.join(here, "plot_membrane.png"))
snnsad.plot.rate_histogram(trace, dt=2e-3, layers=0, save=os.path.join(here, "plot_rates.png"))
