"""E6 (beyond the paper): Randman trained with five estimators on the same network."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
import optax

from .._data import SpikeDataset, randman_preset
from .._escape import FastSigmoid, Sigmoid
from .._estimators import AbstractEstimator, Autodiff
from .._losses import LossFn, accuracy_max_over_time, max_over_time_cross_entropy, on_output
from .._score_function import ScoreFunction
from .._spikes import Stochastic, Surrogate
from .._statistics import gradient_stats, sample_grads
from .._stochastic_ad import StochasticAD
from .._train import evaluate, fit
from .._trainable import parameters
from ._fano import fano_factor
from ._recipes import paper_network
from ._results import pyplot, save


def train_in_stages(
    net,
    train,
    estimator: AbstractEstimator,
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    before: Callable | None = None,
):
    """Train epoch by epoch (`before(epoch, net)` runs before each), one optimiser state throughout.

    Each epoch is one `snnsad.fit` call that continues from the last one's optimiser state, so
    Adam's moments persist across epochs. Returns `(net, opt_state)`.
    """
    opt_state = None
    for stage in range(epochs):
        if before is not None:
            before(stage, net)
        fitted = fit(
            net,
            train,
            estimator=estimator,
            loss_fn=loss_fn,
            optimizer=optimizer,
            epochs=1,
            batch_size=batch_size,
            seed=seed + stage,
            progress=False,
            opt_state=opt_state,
        )
        net, opt_state = fitted.net, fitted.opt_state
    return net, opt_state


def e6_randman(
    out_dir: str,
    *,
    quick: bool = True,
    seed: int = 0,
    samples_per_class: int | None = None,
    hidden: tuple[int, ...] | None = None,
    epochs: int | None = None,
    samples: tuple[int, int] | None = None,
) -> dict:
    """E6 (beyond the paper): Randman trained with five estimators on the same network; test accuracy,
    Fano factors, and each estimator's bias/variance/cosine against a high-sample StochasticAD reference
    at several training checkpoints. `samples_per_class`, `hidden`, `epochs` and `samples`
    (reference, estimates) override the mode's sizes."""
    spc, hid, ep = (300, (128,), 4) if quick else (1000, (128, 128, 128), 40)
    spc = spc if samples_per_class is None else samples_per_class
    hidden = hid if hidden is None else tuple(hidden)
    epochs = ep if epochs is None else epochs
    data = randman_preset(seed=seed, samples_per_class=spc)
    n_test = len(data) // 5
    test, train = SpikeDataset(data.x[:n_test], data.y[:n_test]), SpikeDataset(data.x[n_test:], data.y[n_test:])
    loss_fn = on_output(max_over_time_cross_entropy)
    accuracy = on_output(accuracy_max_over_time)
    sig, ss = Sigmoid(10.0), FastSigmoid(10.0)
    methods = {
        "deterministic SG": (Surrogate(ss, scale=1.0), Autodiff()),
        "stochastic SG (matched)": (Stochastic(sig), Autodiff()),
        "stochastic, SuperSpike SG": (Stochastic(sig, ss, scale=1.0), Autodiff()),
        "StochasticAD(8)": (Stochastic(sig), StochasticAD(8)),
        "ScoreFunction(8)": (Stochastic(sig), ScoreFunction(8)),
    }
    probe_x, probe_y = jnp.asarray(train.x[0]), jnp.asarray(train.y[0])
    n_ref, n_est = ((400, 100) if quick else (4000, 500)) if samples is None else samples
    results = {}
    check_every = 1 if quick else 10  # gradient-quality checkpoints (each costs n_ref + n_est estimates)
    for name, (spike, est) in methods.items():
        net = paper_network((20, *hidden, 15), spike, seed=seed)
        checkpoints = []

        def measure(stage, net, est=est, checkpoints=checkpoints):
            # gradient quality against a high-sample unbiased reference, before this epoch's training
            if not net.stochastic[0] or not (stage % check_every == 0 or stage == epochs - 1):
                return
            ref_keys, est_keys = jr.split(jr.key(100 + stage), n_ref), jr.split(jr.key(200 + stage), n_est)
            _, ref_samples = sample_grads(StochasticAD(8), loss_fn, net, probe_x, probe_y, ref_keys, chunk_size=100)
            ref = jax.tree.map(lambda g: g.mean(0), parameters(ref_samples))
            ref_var = float(gradient_stats(parameters(ref_samples), ref)["all"].variance)
            _, est_samples = sample_grads(est, loss_fn, net, probe_x, probe_y, est_keys, chunk_size=100)
            st = gradient_stats(parameters(est_samples), ref)["all"]
            # ||mean - reference|| in units of the standard error of that difference (both are means)
            se = (float(st.variance) / n_est + ref_var / n_ref) ** 0.5
            checkpoints.append(
                {
                    "epoch": stage,
                    "relative_error": float(st.relative_error),
                    "bias_over_se": float(st.bias_norm) / se if se > 0 else None,
                    "cosine_of_mean": float(st.cosine_of_mean),
                    "mean_cosine": float(st.mean_cosine),
                    "variance": float(st.variance),
                }
            )

        net, _ = train_in_stages(net, train, est, loss_fn, optax.adam(1e-2), epochs=epochs, seed=seed, before=measure)
        acc = evaluate(net, test, loss_fn, accuracy, key=jr.key(seed + 7))["metric"]
        stochastic_net = net if net.stochastic[0] else net.with_spike_fns(Stochastic(sig))
        fano = fano_factor(stochastic_net, jnp.asarray(test.x[:64]), jr.key(seed + 9))
        results[name] = {"test_accuracy": acc, "hidden_fano_factor": fano[0], "checkpoints": checkpoints}
        print(f"  {name:28s} test accuracy {acc:.3f}, hidden Fano {fano[0]:.2f}", flush=True)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, r in results.items():
        cps = r["checkpoints"]
        if cps:
            axes[0].plot([c["epoch"] for c in cps], [c["cosine_of_mean"] for c in cps], "o-", label=name)
            axes[1].plot([c["epoch"] for c in cps], [c["mean_cosine"] for c in cps], "o-", label=name)
    axes[0].set_ylabel("cos(mean estimate, reference)")
    axes[1].set_ylabel("mean cos(estimate, reference)")
    for ax in axes:
        ax.set_xlabel("epoch (checkpoint before training it)")
        ax.legend(fontsize=7)
    report = [
        (
            f"{name}: test accuracy, hidden Fano factor, last cos(mean, reference), largest bias/SE",
            f"{r['test_accuracy']:.3f}, {r['hidden_fano_factor']:.2f}"
            + (
                f", {r['checkpoints'][-1]['cosine_of_mean']:.3f}, "
                f"{max(c['bias_over_se'] for c in r['checkpoints']):.1f}"
                if r["checkpoints"]
                else ""
            ),
            "no published numbers (chance 0.067)",
        )
        for name, r in results.items()
    ]
    config = {
        "quick": quick,
        "seed": seed,
        "samples_per_class": spc,
        "hidden": hidden,
        "epochs": epochs,
        "reference_samples": n_ref,
        "estimates": n_est,
    }
    return save(out_dir, "e6_randman", config, results, report, {"e6_randman.png": fig})
