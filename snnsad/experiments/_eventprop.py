"""EventProp on Yin-Yang, then every other gradient measured against it on the trained weights.

1. Train a 5-200-3 continuous-time LIF network with `EventProp` on W&P's time-to-first-spike loss,
   with genn_eventprop's Yin-Yang recipe (every constant, the learning rate and its one deviation
   from genn are stated once, in `_eventprop_training.RECIPE`; the mode's sizes in `_modes`), one
   run per seed, each saved and skipped when rerun.
2. On the first seed's trained weights and one test batch, against the EventProp gradient: the
   deterministic surrogate gradient of the discrete twin (several `dt` and surrogate steepness;
   the same loss on `first_spike_times` of the twin's output raster), and on the escape-noise twin
   the matched stochastic SG and `StochasticAD` (several escape steepness): cosine and relative norm.
3. Silent-output probe: the label neuron made inhibitory-only, so it never fires. EventProp's
   gradient for its weights is exactly zero; the surrogate and stochastic ones are not.
4. The vanishing spike (`_vanishing_spike`): where the exact gradient stops.
"""

import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .. import events
from ..escape import FastSigmoid, Sigmoid
from ..estimators import Autodiff, Batched, StochasticAD
from ..spikes import Heaviside, Stochastic, Surrogate
from ._eventprop_training import RECIPE, loss_of, outputs, train_seed
from ._results import pyplot, save
from ._vanishing_spike import vanishing_spike_figure, vanishing_spike_sweep

PAPER_YINYANG = (
    "- (W&P 2021 report their Yin-Yang result as test-error curves over 10 seeds, Fig. 3; no exact number "
    "could be quoted from the sources available here)"
)


def _modes(quick: bool) -> dict:
    if quick:
        # genn's learning rate 5e-3 in the short quick run (800 steps, before the collapse it causes later)
        return dict(
            n_train=6400,
            n_val=1000,
            n_test=1000,
            epochs=4,
            decay_steps=None,  # once per epoch (200 steps)
            seeds=(0,),
            lr=RECIPE["lr_genn"],
            dts=(0.5, 0.1),
            betas_sg=(1.0, 25.0),
            twin_dts=(0.5, 0.1),
            betas_escape=(5.0, 25.0),
            n_noise=4,
            n_flips=8,
            batch=32,
            variants=(),
        )
    # the Yin-Yang reference split (5000 / 1000 / 1000, Kriener et al.'s generator README);
    # 64 epochs of 156 batches: about genn's 10 epochs of 1000 batches in Adam steps, with genn's
    # learning-rate schedule (x 0.95 every 1000 steps)
    return dict(
        n_train=5000,
        n_val=1000,
        n_test=1000,
        epochs=64,
        decay_steps=RECIPE["decay_steps"],
        seeds=tuple(range(10)),
        lr=RECIPE["lr"],
        dts=(1.0, 0.5, 0.1, 0.05, 0.01),
        betas_sg=(1.0, 5.0, 25.0),
        twin_dts=(1.0, 0.5, 0.1, 0.05, 0.01),
        betas_escape=(2.0, 5.0, 10.0, 25.0, 100.0),
        n_noise=32,
        n_flips=8,
        batch=64,
        # genn's learning rate, without and with genn's remedy for silent neurons, on the first 5 seeds
        variants=(("lr5e-3", RECIPE["lr_genn"], False), ("lr5e-3-rewire", RECIPE["lr_genn"], True)),
        variant_seeds=5,
    )


def _flat(leaves):
    return jnp.concatenate([jnp.ravel(a) for a in leaves])


def _compare(g, ref):
    """Cosine and norm ratio over all weights, and the cosine per layer (hidden first, output last)."""
    per_layer = [
        float(a.ravel() @ b.ravel() / (jnp.linalg.norm(a) * jnp.linalg.norm(b) + 1e-30)) for a, b in zip(g, ref)
    ]
    g, ref = _flat(g), _flat(ref)
    cos = float(g @ ref / (jnp.linalg.norm(g) * jnp.linalg.norm(ref) + 1e-30))
    return {
        "cosine": cos,
        "relative_norm": float(jnp.linalg.norm(g) / jnp.linalg.norm(ref)),
        "cosine_per_layer": per_layer,
    }


def _event_weights(grads):
    return [la.weight for la in grads.layers]


def _twin_loss(dt):
    return events.twin_ttfs_loss(dt, tau0=RECIPE["tau0"], tau1=RECIPE["tau1"], alpha=RECIPE["alpha"])


@eqx.filter_jit
def _twin_batch_grad(est, dt: float, net, raster, labels, key):
    # module level: one compile per estimator, dt and shape, shared by every steepness (an array)
    return Batched(est)(_twin_loss(dt), net, raster, labels, key)[1]


def _twin_grad(est, twin, raster, y, dt):
    """`key -> gradient` of the twin on the batch (network and data are arguments, not baked-in constants)."""
    return lambda k: _twin_batch_grad(est, dt, twin, raster, y, k)


def compare_gradients(net, x, y, m, seed):
    """Cosine and relative norm of every twin gradient to the EventProp gradient of the same batch."""
    _, g_ep = eqx.filter_jit(Batched(events.EventProp()))(loss_of(net.head), net, x, y, jr.key(0))
    ref = _event_weights(g_ep)
    rows = []
    for dt in m["dts"]:
        raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
        for beta in m["betas_sg"]:
            twin = events.discrete_twin(net, dt, Surrogate(FastSigmoid(beta)))
            g = _twin_grad(Autodiff(), twin, raster, y, dt)(jr.key(0))
            rows.append(
                {
                    "method": "deterministic SG (fast sigmoid)",
                    "dt_ms": dt,
                    "beta": beta,
                    **_compare(events.twin_weight_grads(g), ref),
                }
            )
    dt = 0.1
    raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
    keys = jr.split(jr.key(seed + 7), m["n_noise"])
    for beta in m["betas_escape"]:
        twin = events.discrete_twin(net, dt, Stochastic(Sigmoid(beta)))
        for name, est in (
            ("stochastic SG (matched)", Autodiff()),
            (f"StochasticAD({m['n_flips']})", StochasticAD(m["n_flips"])),
        ):
            run = _twin_grad(est, twin, raster, y, dt)
            samples = [events.twin_weight_grads(run(k)) for k in keys]
            mean = [jnp.mean(jnp.stack(parts), axis=0) for parts in zip(*samples)]
            single = np.mean([_compare(s, ref)["cosine"] for s in samples])
            rows.append(
                {
                    "method": name,
                    "dt_ms": dt,
                    "beta": beta,
                    "noise_samples": len(keys),
                    **_compare(mean, ref),
                    "cosine_single_sample": float(single),
                }
            )
    return rows


@eqx.filter_jit
def _twin_forward(twin, raster, dt):
    trace = jax.vmap(twin)(raster)
    return trace, jax.vmap(lambda s: events.first_spike_times(s, dt))(trace.output)


def twin_agreement(net, x, dts):
    """How closely the discrete twin (Heaviside forward) reproduces the event network as `dt` shrinks."""
    out = outputs(net, x)
    n_event = jnp.sum(jnp.isfinite(out.spikes[0].times), axis=1).astype(jnp.float32)
    rows = []
    for dt in dts:
        twin = events.discrete_twin(net, dt, Heaviside())
        raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
        trace, first = _twin_forward(twin, raster, dt)
        rows.append(
            {
                "dt_ms": dt,
                "spike_count_error": float(jnp.mean(jnp.abs(jnp.sum(trace.spikes[0], axis=(1, 2)) - n_event))),
                "same_prediction": float(jnp.mean(jnp.argmin(first, 1) == jnp.argmin(out.output, 1))),
                "first_spike_time_error_ms": float(jnp.mean(jnp.abs(first - out.output))),
            }
        )
    return rows


def silent_output_probe(net, x, seed, beta_escape=5.0, n_noise=8):
    """Gradient norm on the weights of an output neuron that never fires, per method (label = that neuron)."""
    silent = 2
    w_out = net.layers[1].weight
    probe = eqx.tree_at(lambda p: p.layers[1].weight, net, w_out.at[silent].set(-jnp.abs(w_out[silent])))
    labels = jnp.full((x.times.shape[0],), silent, jnp.int32)
    out = outputs(probe, x)
    fired = bool(jnp.any(out.output[:, silent] < probe.t_end))
    _, g_ep = eqx.filter_jit(Batched(events.EventProp()))(loss_of("ttfs"), probe, x, labels, jr.key(0))
    rows = [
        {
            "method": "EventProp",
            "silent_row_norm": float(jnp.linalg.norm(g_ep.layers[1].weight[silent])),
            "other_rows_norm": float(jnp.linalg.norm(g_ep.layers[1].weight[:silent])),
        }
    ]
    dt = 0.1
    raster = jnp.asarray(events.to_raster(x, 5, dt, probe.t_end))
    twins = (
        ("deterministic SG (fast sigmoid 5)", Surrogate(FastSigmoid(5.0)), Autodiff()),
        (f"stochastic SG (sigmoid {beta_escape:g})", Stochastic(Sigmoid(beta_escape)), Autodiff()),
        (f"StochasticAD(8), sigmoid {beta_escape:g}", Stochastic(Sigmoid(beta_escape)), StochasticAD(8)),
    )
    for name, fn, est in twins:
        run = _twin_grad(est, events.discrete_twin(probe, dt, fn), raster, labels, dt)
        grads = [run(k).layers[-1].weight for k in jr.split(jr.key(seed + 11), n_noise)]
        mean = jnp.mean(jnp.stack(grads), axis=0)
        rows.append(
            {
                "method": name,
                "silent_row_norm": float(jnp.linalg.norm(mean[silent])),
                "other_rows_norm": float(jnp.linalg.norm(mean[:silent])),
                "noise_samples": n_noise,
            }
        )
    return rows, fired


def eventprop_yinyang(out_dir="results/reproduce", *, quick=True, seed=0, epochs=None, seeds=None):
    """`snnsad reproduce eventprop`: train Yin-Yang with EventProp (per seed) and compare every gradient against it.

    Each seed's run is saved in `out_dir/eventprop/seeds/` and reused when the experiment is run
    again with the same settings, so a long full-mode run resumes and seeds can be trained by
    separate processes (`--seeds 0 2 4 ...`) before one run with all of them writes the report.
    """
    m = _modes(quick)
    n_epochs = m["epochs"] if epochs is None else epochs
    run_seeds = list(m["seeds"] if seeds is None else seeds)
    if quick and seeds is None:
        run_seeds = [seed]
    folder = os.path.join(out_dir, "eventprop", "seeds")
    t0 = time.perf_counter()
    nets, records = {}, []
    for s in run_seeds:
        nets[s], record = train_seed(
            folder, s, n_train=m["n_train"], n_val=m["n_val"], n_test=m["n_test"], epochs=n_epochs, lr=m["lr"],
            decay_steps=m["decay_steps"],
        )  # fmt: skip
        records.append(record)
    variants = {}
    for name, lr, rewire in m["variants"]:
        variants[name] = [
            train_seed(
                os.path.join(out_dir, "eventprop", f"seeds-{name}"), s, n_train=m["n_train"], n_val=m["n_val"],
                n_test=m["n_test"], epochs=n_epochs, lr=lr, decay_steps=m["decay_steps"], rewire=rewire,
            )[1]
            for s in run_seeds[: m["variant_seeds"]]
        ]  # fmt: skip
    train_s = time.perf_counter() - t0
    net = nets[run_seeds[0]]
    x_test, y_test = events.yinyang_events(m["batch"], seed=run_seeds[0] + 1000)
    rows = compare_gradients(net, x_test, y_test, m, run_seeds[0])
    agreement = twin_agreement(net, x_test, m["twin_dts"])
    probe, fired = silent_output_probe(net, x_test, run_seeds[0])
    vanish = vanishing_spike_sweep()
    accs = np.array([r["test"]["accuracy"] for r in records])
    accs_last = np.array([r["test_last"]["accuracy"] for r in records])
    last = np.array([r["history"][-1]["val_accuracy"] for r in records])
    results = {
        "seeds": run_seeds,
        "test_accuracy": accs.tolist(),
        "test_accuracy_last_epoch": accs_last.tolist(),
        "records": records,
        "variants": variants,
        "train_seconds": train_s,
        "comparison": rows,
        "twin_agreement": agreement,
        "vanishing_spike": vanish,
        "silent_probe": probe,
        "silent_neuron_fired": fired,
    }
    spread = lambda a: f" ± {a.std(ddof=1):.3f} over {len(a)} seeds" if len(a) > 1 else f" (seed {run_seeds[0]})"  # noqa: E731
    test = records[0]["test"]
    active = np.array([r["history"][-1]["val_active_hidden_fraction"] for r in records])
    split = f"{m['n_train']} / {m['n_val']} / {m['n_test']} train / validation / test samples per seed"
    report = [
        (
            "Yin-Yang test accuracy, EventProp, TTFS: last epoch",
            f"{accs_last.mean():.3f}{spread(accs_last)}",
            PAPER_YINYANG,
            f"earliest output spike = label; the network after the last of {n_epochs} epochs (Adam {m['lr']:g}); "
            f"{split}; before training {records[0]['before']['accuracy']:.3f}",
        ),
        (
            "Yin-Yang test accuracy, EventProp, TTFS: best-validation epoch",
            f"{accs.mean():.3f}{spread(accs)}",
            "-",
            f"the network of the epoch with the best validation accuracy; {split}",
        ),
        (
            "validation accuracy after the last epoch",
            f"{last.mean():.3f}",
            "-",
            f"hidden neurons still firing after the last epoch: {active.mean():.2f} (a neuron silent for every input "
            "gets exactly zero EventProp gradient and cannot come back)",
        ),
        *[_variant_row(recs, split) for recs in variants.values()],
        (
            "hidden spikes per example",
            f"{test['hidden_spikes_per_example']:.1f}",
            "-",
            f"of at most {RECIPE['max_spikes']} (overflow fraction {test['overflow_fraction']:.3f})",
        ),
    ]
    for r in agreement:
        report.append(
            (
                f"discrete twin, dt {r['dt_ms']} ms",
                f"same prediction {r['same_prediction']:.3f}",
                "-",
                f"Heaviside twin vs event network on {m['batch']} test inputs; mean abs. hidden spike-count "
                f"error {r['spike_count_error']:.2f}, mean abs. first-spike-time error "
                f"{r['first_spike_time_error_ms']:.3f} ms",
            )
        )
    for r in rows:
        report.append(
            (
                f"{r['method']}, dt {r['dt_ms']} ms, beta {r['beta']:g}",
                f"cos {r['cosine']:.3f}, norm x{r['relative_norm']:.2f}",
                "-",
                "cosine and norm ratio of the batch gradient (all weights) to EventProp's; cosine hidden / output "
                + " / ".join(f"{c:.2f}" for c in r["cosine_per_layer"])
                + (
                    f"; mean of {r['noise_samples']} noise draws (one draw: cos {r['cosine_single_sample']:.3f})"
                    if "noise_samples" in r
                    else ""
                ),
            )
        )
    for r in probe:
        report.append(
            (
                f"silent output neuron, {r['method']}",
                f"{r['silent_row_norm']:.3g}",
                "EventProp: exactly 0",
                "norm of the gradient on the never-firing label neuron's weights (twins: dt 0.1 ms"
                + (f", mean of {r['noise_samples']} noise draws" if "noise_samples" in r else "")
                + f"); other rows {r['other_rows_norm']:.3g}",
            )
        )
    report.append(
        (
            "vanishing spike: loss jump at w_c",
            f"{vanish['jump']:.2f} ms",
            "-",
            "one input, one LIF, L = first spike time (a silent neuron reads t_end); EventProp's gradient "
            f"below w_c is {'exactly 0' if vanish['zero_below'] else 'NOT 0'}",
        )
    )
    report.append(
        (
            "vanishing spike: exponent of dt*/dw near w_c",
            f"{vanish['gradient_exponent']:.3f}",
            "-0.5 (square-root branch)",
            "log-log fit of EventProp's derivative for w / w_c - 1 in [1e-5, 1e-3]",
        )
    )
    figures = {
        "eventprop_comparison.png": _figure(records, rows, probe),
        "vanishing_spike.png": vanishing_spike_figure(vanish),
    }
    cfg = {"recipe": RECIPE, "mode": m, "epochs": n_epochs, "seeds": run_seeds, "quick": quick}
    return save(out_dir, "eventprop", cfg, results, report, figures)


def _variant_row(records, split):
    """A report row for one learning-rate / remedy variant: last-epoch and best-validation test accuracy."""
    last = np.array([r["test_last"]["accuracy"] for r in records])
    best = np.array([r["test"]["accuracy"] for r in records])
    active = np.array([r["history"][-1]["val_active_hidden_fraction"] for r in records])
    r0 = records[0]
    rewired = sum(h.get("rewired", 0) for r in records for h in r["history"]) / len(records)
    sd = lambda a: f" ± {a.std(ddof=1):.3f}" if len(a) > 1 else ""  # noqa: E731
    return (
        f"Yin-Yang test accuracy, EventProp, Adam {r0['lr']:g}" + (", rewiring silent neurons" if r0["rewire"] else ""),
        f"last epoch {last.mean():.3f}{sd(last)}, best-validation {best.mean():.3f}{sd(best)} over {len(records)} seeds",
        "-",
        f"{split}; hidden neurons firing after the last epoch {active.mean():.2f}"
        + (
            f"; after each epoch, hidden neurons silent for the whole training set get fresh input weights "
            f"(genn_eventprop's REWIRE_SILENT): {rewired:.1f} rewirings per run"
            if r0["rewire"]
            else ""
        ),
    )


def _figure(records, rows, probe):
    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for r in records:
        ax[0].plot(
            np.arange(len(r["history"]) + 1),  # 0: before training
            [r["before"]["accuracy"]] + [h["val_accuracy"] for h in r["history"]],
            "o-",
            ms=3,
            lw=1,
        )
    ax[0].set(xlabel="epoch", ylabel="validation accuracy", title=f"Yin-Yang, EventProp ({len(records)} seeds)")
    for beta in sorted({r["beta"] for r in rows if r["method"].startswith("deterministic")}):
        sel = [r for r in rows if r["method"].startswith("deterministic") and r["beta"] == beta]
        ax[1].plot([r["dt_ms"] for r in sel], [r["cosine"] for r in sel], "o-", label=f"SG beta {beta:g}")
    for name in sorted({r["method"] for r in rows if not r["method"].startswith("deterministic")}):
        sel = [r for r in rows if r["method"] == name]
        ax[1].scatter([s["dt_ms"] for s in sel], [s["cosine"] for s in sel], marker="x", label=name)
    ax[1].set(xscale="log", xlabel="dt (ms)", ylabel="cosine to EventProp", title="gradients on the trained weights")
    ax[1].legend(fontsize=7)
    ax[2].bar(range(len(probe)), [r["silent_row_norm"] for r in probe])
    ax[2].set_xticks(
        range(len(probe)), [r["method"].split(" (")[0].split(",")[0] for r in probe], rotation=20, fontsize=7
    )
    ax[2].set(ylabel="|grad| on silent neuron", title="silent output neuron")
    fig.tight_layout()
    return fig
