"""EventProp on Yin-Yang, then every other gradient measured against it on the trained weights.

1. Train a 5-200-3 continuous-time LIF network (genn_eventprop's Yin-Yang recipe: tau_mem 20 ms,
   tau_syn 5 ms, threshold 1, 30 ms trials, input-to-hidden weights N(1.5, 0.78), hidden-to-output
   N(0.93, 0.1), Adam 5e-3 decayed by 0.95 per epoch, batch 32, 32,000 training samples) with
   `EventProp`. The readout is the maximum voltage of leaky integrators (the head the discrete twin
   shares); genn_eventprop's own Yin-Yang example reads spike times with the TTFS loss instead.
2. On the trained weights and one test batch, against the EventProp gradient: the deterministic
   surrogate gradient of the discrete twin (several `dt` and surrogate steepness), and on the
   escape-noise twin the matched stochastic SG and `StochasticAD` (several escape steepness),
   as cosine and relative norm.
3. Silent-output probe: a TTFS head whose label neuron never fires. EventProp's gradient for that
   neuron's weights is exactly zero; the surrogate and stochastic ones are not.
"""

import math
import time

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from tqdm.auto import tqdm

from .. import events
from .._escape import FastSigmoid, Sigmoid
from .._estimators import Autodiff, Batched
from .._losses import max_over_time_cross_entropy, on_output, sum_over_time_cross_entropy
from .._spikes import Stochastic, Surrogate
from .._stochastic_ad import StochasticAD
from ._results import pyplot, save
from ._vanishing_spike import vanishing_spike_figure, vanishing_spike_sweep

RECIPE = dict(hidden=200, tau_mem=20.0, tau_syn=5.0, threshold=1.0, t_end=30.0, lr=5e-3, decay=0.95, batch=32,
              init=((1.5, 0.78), (0.93, 0.1)), max_spikes=400, newton_steps=12)


def _modes(quick: bool) -> dict:
    if quick:
        return dict(n_train=1600, n_test=500, epochs=1, dts=(0.5, 0.1), betas_sg=(1.0, 25.0), twin_dts=(0.5, 0.1),
                    betas_escape=(5.0, 25.0), n_noise=4, n_flips=8, probe_batch=32)
    return dict(n_train=32000, n_test=3000, epochs=10, dts=(1.0, 0.5, 0.1, 0.05, 0.01), betas_sg=(1.0, 5.0, 25.0),
                twin_dts=(1.0, 0.5, 0.1, 0.05, 0.01), betas_escape=(2.0, 5.0, 10.0, 25.0, 100.0), n_noise=32, n_flips=8,
                probe_batch=64)


def _network(key, head="vmax", dtype=jnp.float32):
    r = RECIPE
    return events.EventNetwork.dense(
        (5, r["hidden"], 3), key=key, head=head, init=r["init"], max_spikes=[r["max_spikes"], 16], t_end=r["t_end"],
        tau_mem=r["tau_mem"], tau_syn=r["tau_syn"], threshold=r["threshold"], newton_steps=r["newton_steps"],
        dtype=dtype,
    )


def _batches(n, batch, rng):
    order = rng.permutation(n)
    return [order[k : k + batch] for k in range(0, n - batch + 1, batch)]


def _take(x, idx):
    return jax.tree.map(lambda a: a[idx], x)


def train(net, x, y, x_test, y_test, *, epochs, seed, progress=True):
    """Adam with the learning rate decayed by `decay` per epoch; returns the net and per-epoch history."""
    r = RECIPE
    n_batches = len(y) // r["batch"]
    sched = optax.exponential_decay(r["lr"], n_batches, r["decay"], staircase=True)
    opt = optax.adam(sched)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    state = opt.init(params)
    est = Batched(events.EventProp())

    @eqx.filter_jit
    def step(params, state, xb, yb):
        value, grads = est(events.vmax_cross_entropy, eqx.combine(params, static), xb, yb, jr.key(0))
        updates, state = opt.update(grads, state, params)
        return eqx.apply_updates(params, updates), state, value

    history = []
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        losses = []
        for idx in tqdm(_batches(len(y), r["batch"], rng), desc=f"eventprop epoch {epoch + 1}", disable=not progress):
            new_params, new_state, value = step(params, state, _take(x, idx), y[idx])
            if not bool(jnp.isfinite(value)):
                raise FloatingPointError(
                    f"eventprop training: non-finite loss at epoch {epoch + 1} (a layer overflowed its max_spikes="
                    f"{r['max_spikes']}?); raise max_spikes."
                )
            params, state = new_params, new_state
            losses.append(float(value))
        net = eqx.combine(params, static)
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **evaluate(net, x_test, y_test)})
    return net, history


@eqx.filter_jit
def _outputs(net, x):
    return jax.vmap(net)(x)


def evaluate(net, x, y):
    out = _outputs(net, x)
    acc = jax.vmap(lambda o, label: events.event_accuracy(o, label, net.head))(out, y)
    loss = jax.vmap(events.vmax_cross_entropy if net.head == "vmax" else events.ttfs_cross_entropy)(out, y)
    spikes = jnp.sum(jnp.isfinite(out.spikes[0].times), axis=1)
    return {"test_accuracy": float(jnp.mean(acc)), "test_loss": float(jnp.mean(loss)),
            "hidden_spikes_per_example": float(jnp.mean(spikes)), "overflow_fraction": float(jnp.mean(out.overflow))}


def _flat(leaves):
    return jnp.concatenate([jnp.ravel(a) for a in leaves])


def _compare(g, ref):
    g, ref = _flat(g), _flat(ref)
    cos = float(g @ ref / (jnp.linalg.norm(g) * jnp.linalg.norm(ref) + 1e-30))
    return {"cosine": cos, "relative_norm": float(jnp.linalg.norm(g) / jnp.linalg.norm(ref))}


def _event_weights(grads):
    return [la.weight for la in grads.layers]


def compare_gradients(net, x, y, m, seed):
    """Cosine and relative norm of every twin gradient to the EventProp gradient of the same batch."""
    _, g_ep = eqx.filter_jit(Batched(events.EventProp()))(events.vmax_cross_entropy, net, x, y, jr.key(0))
    ref = _event_weights(g_ep)
    loss = on_output(max_over_time_cross_entropy)
    rows = []
    for dt in m["dts"]:
        raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
        for beta in m["betas_sg"]:
            twin = events.discrete_twin(net, dt, Surrogate(FastSigmoid(beta)))
            _, g = eqx.filter_jit(Batched(Autodiff()))(loss, twin, raster, y, jr.key(0))
            rows.append({"method": "deterministic SG (fast sigmoid)", "dt_ms": dt, "beta": beta,
                         **_compare(events.twin_weight_grads(g), ref)})
    dt = 0.1
    raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
    keys = jr.split(jr.key(seed + 7), m["n_noise"])
    for beta in m["betas_escape"]:
        twin = events.discrete_twin(net, dt, Stochastic(Sigmoid(beta)))
        for name, est in (("stochastic SG (matched)", Autodiff()), (f"StochasticAD({m['n_flips']})", StochasticAD(m["n_flips"]))):
            run = eqx.filter_jit(lambda k, est=est, twin=twin: Batched(est)(loss, twin, raster, y, k)[1])
            samples = [events.twin_weight_grads(run(k)) for k in keys]
            mean = [jnp.mean(jnp.stack(parts), axis=0) for parts in zip(*samples)]
            single = np.mean([_compare(s, ref)["cosine"] for s in samples])
            rows.append({"method": name, "dt_ms": dt, "beta": beta, "noise_samples": len(keys),
                         **_compare(mean, ref), "cosine_single_sample": float(single)})
    return rows


def twin_agreement(net, x, dts):
    """How closely the discrete twin (Heaviside forward) reproduces the event network as `dt` shrinks."""
    from .._spikes import Heaviside

    out = _outputs(net, x)
    n_event = jnp.sum(jnp.isfinite(out.spikes[0].times), axis=1).astype(jnp.float32)
    rows = []
    for dt in dts:
        twin = events.discrete_twin(net, dt, Heaviside())
        raster = jnp.asarray(events.to_raster(x, 5, dt, net.t_end))
        trace = eqx.filter_jit(jax.vmap(lambda r, twin=twin: twin(r)))(raster)
        vmax = jnp.max(trace.output, axis=1)
        rows.append({"dt_ms": dt,
                     "spike_count_error": float(jnp.mean(jnp.abs(jnp.sum(trace.spikes[0], axis=(1, 2)) - n_event))),
                     "same_prediction": float(jnp.mean(jnp.argmax(vmax, 1) == jnp.argmax(out.output, 1))),
                     "vmax_error": float(jnp.max(jnp.abs(vmax - out.output)))})
    return rows


def silent_output_probe(net, x, y, seed, beta_escape=5.0, n_noise=8):
    """Gradient norm on the weights of an output neuron that never fires, per method (label = that neuron)."""
    key = jr.key(seed + 11)
    probe = _network(key, head="ttfs")
    probe = eqx.tree_at(lambda p: p.layers[0].weight, probe, net.layers[0].weight)
    w_out = jnp.abs(net.layers[1].weight) + 0.5
    silent = 2
    w_out = w_out.at[silent].set(-jnp.abs(w_out[silent]))  # inhibitory only: can never reach threshold
    probe = eqx.tree_at(lambda p: p.layers[1].weight, probe, w_out)
    labels = jnp.full_like(y, silent)
    out = _outputs(probe, x)
    fired = bool(jnp.any(jnp.any(out.spikes[-1].index[:, :][jnp.isfinite(out.spikes[-1].times)] == silent)))
    _, g_ep = eqx.filter_jit(Batched(events.EventProp()))(events.ttfs_cross_entropy, probe, x, labels, jr.key(0))
    rows = [{"method": "EventProp", "silent_row_norm": float(jnp.linalg.norm(g_ep.layers[1].weight[silent])),
             "other_rows_norm": float(jnp.linalg.norm(g_ep.layers[1].weight[:silent]))}]
    dt = 0.1
    raster = jnp.asarray(events.to_raster(x, 5, dt, probe.t_end))
    loss = on_output(sum_over_time_cross_entropy)
    twins = (("deterministic SG (fast sigmoid 5)", Surrogate(FastSigmoid(5.0)), Autodiff()),
             (f"stochastic SG (sigmoid {beta_escape:g})", Stochastic(Sigmoid(beta_escape)), Autodiff()),
             (f"StochasticAD(8), sigmoid {beta_escape:g}", Stochastic(Sigmoid(beta_escape)), StochasticAD(8)))
    for name, fn, est in twins:
        twin = events.discrete_twin(probe, dt, fn)
        run = eqx.filter_jit(lambda k, est=est, twin=twin: Batched(est)(loss, twin, raster, labels, k)[1])
        grads = [run(k).layers[-1].weight for k in jr.split(key, n_noise)]
        mean = jnp.mean(jnp.stack(grads), axis=0)
        rows.append({"method": name, "silent_row_norm": float(jnp.linalg.norm(mean[silent])),
                     "other_rows_norm": float(jnp.linalg.norm(mean[:silent]))})
    return rows, fired


def eventprop_yinyang(out_dir="results/reproduce", *, quick=True, seed=0, epochs=None):
    """`snnsad reproduce eventprop`: train Yin-Yang with EventProp and compare every gradient against it."""
    m = _modes(quick)
    n_epochs = m["epochs"] if epochs is None else epochs
    t0 = time.perf_counter()
    x, y = events.yinyang_events(m["n_train"], seed=seed)
    x_test, y_test = events.yinyang_events(m["n_test"], seed=seed + 1000)
    net = _network(jr.key(seed))
    before = evaluate(net, x_test, y_test)
    net, history = train(net, x, y, x_test, y_test, epochs=n_epochs, seed=seed)
    train_s = time.perf_counter() - t0
    xb, yb = _take(x_test, np.arange(64)), y_test[:64]
    rows = compare_gradients(net, xb, yb, m, seed)
    agreement = twin_agreement(net, xb, m["twin_dts"])
    probe, fired = silent_output_probe(net, _take(x_test, np.arange(m["probe_batch"])), y_test[: m["probe_batch"]], seed)
    vanish = vanishing_spike_sweep()
    final = history[-1]
    results = {"before_training": before, "history": history, "train_seconds": train_s, "comparison": rows,
               "twin_agreement": agreement, "vanishing_spike": vanish, "silent_probe": probe, "silent_neuron_fired": fired}
    report = [
        ("test accuracy after training", f"{final['test_accuracy']:.3f} ({n_epochs} epochs, {m['n_train']} samples)",
         "genn_eventprop recipe; W&P 2021 Fig. 3 (TTFS head)",
         "argmax of the readout's maximum voltage, fresh test set; accuracy before training "
         f"{before['test_accuracy']:.3f}"),
        ("hidden spikes per example", f"{final['hidden_spikes_per_example']:.1f}", "-",
         f"of at most {RECIPE['max_spikes']} (overflow fraction {final['overflow_fraction']:.3f})"),
    ]
    for r in agreement:
        report.append((f"discrete twin, dt {r['dt_ms']} ms", f"same prediction {r['same_prediction']:.3f}", "-",
                       f"Heaviside twin vs event network on 64 test inputs; mean abs. hidden spike-count error "
                       f"{r['spike_count_error']:.2f} per example, max abs. vmax error {r['vmax_error']:.3f}"))
    for r in rows:
        report.append((f"{r['method']}, dt {r['dt_ms']} ms, beta {r['beta']:g}",
                       f"cos {r['cosine']:.3f}, norm x{r['relative_norm']:.2f}", "-",
                       "cosine and norm ratio of the batch gradient (all weights) to EventProp's"
                       + (f"; mean of {r['noise_samples']} noise draws (one draw: cos {r['cosine_single_sample']:.3f})"
                          if "noise_samples" in r else "")))
    for r in probe:
        report.append((f"silent output neuron, {r['method']}", f"{r['silent_row_norm']:.3g}", "EventProp: exactly 0",
                       "norm of the gradient on the never-firing label neuron's weights (TTFS head; twins: "
                       f"spike-count CE, dt 0.1 ms); other rows {r['other_rows_norm']:.3g}"))
    report.append(("vanishing spike: loss jump at w_c", f"{vanish['jump']:.2f} ms", "-",
                   "one input, one LIF, L = first spike time (a silent neuron reads t_end); EventProp's gradient "
                   f"below w_c is {'exactly 0' if vanish['zero_below'] else 'NOT 0'}"))
    report.append(("vanishing spike: exponent of dt*/dw near w_c", f"{vanish['gradient_exponent']:.3f}",
                   "-0.5 (square-root branch)", "log-log fit of EventProp's derivative for w / w_c - 1 in [1e-5, 1e-3]"))
    figures = {"eventprop_comparison.png": _figure(history, rows, probe),
               "vanishing_spike.png": vanishing_spike_figure(vanish)}
    cfg = {"recipe": RECIPE, "mode": m, "epochs": n_epochs, "seed": seed, "quick": quick}
    return save(out_dir, "eventprop", cfg, results, report, figures)


def _figure(history, rows, probe):
    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].plot([0] + [h["epoch"] for h in history], [math.nan] + [h["test_accuracy"] for h in history], "o-")
    ax[0].set(xlabel="epoch", ylabel="test accuracy", title="Yin-Yang, EventProp")
    for beta in sorted({r["beta"] for r in rows if r["method"].startswith("deterministic")}):
        sel = [r for r in rows if r["method"].startswith("deterministic") and r["beta"] == beta]
        ax[1].plot([r["dt_ms"] for r in sel], [r["cosine"] for r in sel], "o-", label=f"SG beta {beta:g}")
    for name in sorted({r["method"] for r in rows if not r["method"].startswith("deterministic")}):
        sel = [r for r in rows if r["method"] == name]
        ax[1].scatter([s["dt_ms"] for s in sel], [s["cosine"] for s in sel], marker="x", label=name)
    ax[1].set(xscale="log", xlabel="dt (ms)", ylabel="cosine to EventProp", title="gradients on the trained weights")
    ax[1].legend(fontsize=7)
    ax[2].bar(range(len(probe)), [r["silent_row_norm"] for r in probe])
    ax[2].set_xticks(range(len(probe)), [r["method"].split(" (")[0].split(",")[0] for r in probe], rotation=20, fontsize=7)
    ax[2].set(ylabel="|grad| on silent neuron", title="silent output neuron")
    fig.tight_layout()
    return fig
