"""E4: spike-train matching: a deterministic and a stochastic network learn an image raster."""

import math

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from .._data import SpikeDataset, image_to_raster, poisson_raster
from .._escape import FastSigmoid, Sigmoid
from .._estimators import Autodiff
from .._losses import l2_spike_distance, van_rossum_distance
from .._network import feedforward
from .._neurons import LIF
from .._spikes import Stochastic, Surrogate
from .._train import fit
from ._fano import fano_factor
from ._results import pyplot, save


def _fit_one_example(net, x, target, loss_fn, *, trials, lr, epochs, seed):
    """Adam on the mean over `trials` noise draws of `loss_fn(trace, target)` for one fixed input,
    through `snnsad.fit` (one update per epoch, the batch being `trials` copies of the example);
    returns the trained network and the per-update loss."""
    data = SpikeDataset(np.repeat(np.asarray(x)[None], trials, 0), np.repeat(np.asarray(target)[None], trials, 0))
    fitted = fit(
        net,
        data,
        estimator=Autodiff(),
        loss_fn=loss_fn,
        optimizer=optax.adam(lr),
        epochs=epochs,
        batch_size=trials,
        seed=seed,
        progress=False,
    )
    return fitted.net, [h["train_loss"] for h in fitted.history]


def e4_spike_train_matching(
    out_dir: str, *, quick: bool = True, seed: int = 0, image: str | None = None, epochs: int | None = None
) -> dict:
    """E4: frozen Poisson input (200 at 50 Hz) -> 200 hidden -> 200 output LIF neurons learn an image
    raster (van Rossum loss): deterministic SuperSpike vs a stochastic net with matched SG (10 trials)."""
    n, n_steps, rate, dt, tau_mem, tau_syn = 200, 189, 50.0, 1e-3, 10e-3, 5e-3
    epochs = (300 if quick else 1500) if epochs is None else epochs
    lr = 3e-3 if quick else 1e-3
    x = jnp.asarray(poisson_raster(n_steps, n, rate, dt, seed=seed))
    target = jnp.asarray(image_to_raster(image, n, n_steps))
    lif = LIF(tau_mem=tau_mem, tau_syn=tau_syn, dt=dt, reset="leak")
    eps_hat = tau_syn**2 / (2 * (tau_syn + tau_mem))
    gain = 1 / math.sqrt(rate * eps_hat)  # W ~ N(0, s^2), s = 1 / sqrt(N_in rate eps_hat) = gain / sqrt(N_in)
    vr = lambda s: van_rossum_distance(s, target, tau=tau_mem, dt=dt)  # noqa: E731

    def loss_fn(trace, y):
        return van_rossum_distance(trace.output, y, tau=tau_mem, dt=dt)

    silent = float(vr(jnp.zeros_like(target)))  # the distance of an empty output: the scale of the loss
    setups = {
        "deterministic (SuperSpike SG)": (Surrogate(FastSigmoid(10.0), scale=1.0), 1),
        "stochastic (matched SG)": ([Stochastic(Sigmoid(10.0)), Stochastic(Sigmoid(100.0))], 10),
    }
    results, rasters = {}, {}
    for name, (spike_fn, trials) in setups.items():
        net = feedforward(
            (n, n, n), key=jr.key(seed), spike_fn=spike_fn, neuron=lif, readout=False, init="normal", gain=gain
        )
        initial = float(vr(net(x, key=jr.key(seed + 1) if trials > 1 else None).output))
        print(f"  E4 {name}: {epochs} updates of {trials} trial(s) ...", flush=True)
        net, history = _fit_one_example(net, x, target, loss_fn, trials=trials, lr=lr, epochs=epochs, seed=seed)
        stochastic = trials > 1
        eval_keys = jr.split(jr.key(seed + 2), 10)
        traces = [net(x, key=k if stochastic else None) for k in eval_keys]
        final = [float(vr(t.output)) for t in traces]
        l2 = [float(l2_spike_distance(t.output, target)) for t in traces]
        hz = [[float(jnp.mean(s)) / dt for s in t.spikes] for t in traces]
        fano = fano_factor(net, x[None], jr.key(seed + 3), trials=10) if stochastic else [0.0, 0.0]
        results[name] = {
            "van_rossum_initial": initial,
            "van_rossum_final": float(np.mean(final)),
            "van_rossum_final_normalised": float(np.mean(final)) / silent,
            "van_rossum_ratio": float(np.mean(final)) / initial,
            "l2_final": float(np.mean(l2)),
            "rates_hz": {"hidden": float(np.mean([h[0] for h in hz])), "output": float(np.mean([h[1] for h in hz]))},
            "fano": {"hidden": fano[0], "output": fano[1]},
            "loss_history": history,
        }
        rasters[name] = np.asarray(traces[0].output)
        r = results[name]
        print(
            f"  {name:30s} van Rossum {initial:.1f} -> {r['van_rossum_final']:.1f} "
            f"(x{r['van_rossum_ratio']:.2f}), hidden {r['rates_hz']['hidden']:.0f} Hz, Fano {fano[0]:.2f}",
            flush=True,
        )
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for name, r in results.items():
        axes[0].plot(np.asarray(r["loss_history"]) / silent, label=name)
    axes[0].set_xlabel("update")
    axes[0].set_ylabel("van Rossum distance / silent output's")
    axes[0].legend(fontsize=7)
    for ax, (title, raster) in zip(axes[1:], [("target", np.asarray(target)), *rasters.items()]):
        ax.imshow(raster.T, aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("time step")
    axes[1].set_ylabel("output neuron")
    det, sto = results.values()
    report = [
        (
            "van Rossum distance (normalised by an empty output's), deterministic / stochastic",
            f"{det['van_rossum_final_normalised']:.3f} / {sto['van_rossum_final_normalised']:.3f} "
            f"(fell to x{det['van_rossum_ratio']:.2f} / x{sto['van_rossum_ratio']:.2f} of the initial)",
            "about 0.11 / 0.15 (own normalisation, photograph target)",
        ),
        (
            "hidden firing rate, deterministic / stochastic",
            f"{det['rates_hz']['hidden']:.0f} Hz / {sto['rates_hz']['hidden']:.0f} Hz",
            "about 24 Hz / 55 Hz",
        ),
        (
            "stochastic net's Fano factor, hidden / output",
            f"{sto['fano']['hidden']:.2f} / {sto['fano']['output']:.2f}",
            "about 0.6 / 0.55",
        ),
    ]
    config = {
        "quick": quick,
        "seed": seed,
        "epochs": epochs,
        "lr": lr,
        "optimizer": "adam",
        "image": image or "snnsad/assets/target.png (shipped)",
        "sizes": [n, n, n],
        "input_rate_hz": rate,
        "dt": dt,
        "tau_mem": tau_mem,
        "tau_syn": tau_syn,
        "init_std": gain / math.sqrt(n),
        "silent_output_distance": silent,
    }
    return save(out_dir, "e4_spike_train_matching", config, results, report, {"e4_spike_train_matching.png": fig})
