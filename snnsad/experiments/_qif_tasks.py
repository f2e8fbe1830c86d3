"""Klos & Memmesheimer's QIF tasks: one neuron learning two spike times, continuity where a spike
leaves the trial, and a recurrent network learning target spike trains (float64 throughout).

Setups follow chklos/spikegd (experiments/singleneuron, experiments/rnn): tau = 1, trial T = 10,
pseudo-current softplus scale alpha = 10; see docs/experiments.md for what differs.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..data import SpikeDataset
from ..estimators import Autodiff
from ..events import QIF, pseudo_rates, run_layer, spike_train
from ..nn import hyperparameter
from ..train import Callback, EpochInfo, EpochProgress, fit, project

SINGLE: dict[str, Any] = dict(t_end=10.0, n_fixed=20, targets=(2.5, 7.5), lr=0.1, clip=2e-2, steps=3000, max_spikes=25)
"""Single neuron (spikegd's singleneuron): 20 fixed inputs at U(0, T) with weights N(0, 1), 2 trained
inputs (weights from 0, times from 1 and 9), MSE to the targets, SGD 0.1 after clipping each gradient
entry to +-0.02, 3000 steps."""


def single_neuron_inputs(seed: int) -> dict:
    """The fixed inputs of seed `seed` (float64 numpy)."""
    rng = np.random.default_rng(seed)
    return {
        "times": rng.uniform(0.0, SINGLE["t_end"], SINGLE["n_fixed"]),
        "weights": rng.normal(size=SINGLE["n_fixed"]),
    }


def single_neuron_output(params: dict, fixed: dict, count: int = 2, model: QIF | None = None) -> jax.Array:
    """First `count` output times (ordinary, then pseudospikes) of the single QIF neuron."""
    model = QIF() if model is None else model
    times = jnp.concatenate([params["t"], jnp.asarray(fixed["times"])])
    weights = jnp.concatenate([params["w"], jnp.asarray(fixed["weights"])])
    order = jnp.argsort(times)
    state0 = model.initial(1, times.dtype)
    run = run_layer(model, state0, weights[order][None, :], times[order], None, SINGLE["t_end"], SINGLE["max_spikes"])
    _, phase, period = pseudo_rates(model, run, jnp.zeros((1,), times.dtype))
    return spike_train(run, phase, period, 0, count, SINGLE["t_end"])


def silent_seed(start: int = 0) -> int:
    """The first seed from `start` whose neuron is silent at initialisation (the task is spike creation)."""
    with jax.enable_x64(True):
        for seed in range(start, start + 100):
            p = {"w": jnp.zeros(2), "t": jnp.asarray([1.0, 9.0])}
            out = single_neuron_output(p, single_neuron_inputs(seed), count=1)
            if float(out[0]) > SINGLE["t_end"]:
                return seed
    raise RuntimeError("silent_seed: no silent initial neuron among 100 seeds.")


class _Problem(eqx.Module):
    """One fixed problem as a model `fit` trains: `forward(params, data)`, the input ignored.

    `params` (a dict of arrays) is trained; `data` (the problem's fixed inputs and targets) is
    declared a hyper-parameter, so no estimator or optimiser touches it."""

    params: dict
    forward: Callable = eqx.field(static=True)
    data: dict = hyperparameter(converter=None)

    def __init__(self, params: dict, data: dict, forward: Callable):
        self.params, self.data, self.forward = params, data, forward

    def __call__(self, x, *, key=None):
        del x, key
        return self.forward(self.params, self.data)


def _fit_problem(model: _Problem, loss_fn, optimizer, steps: int):
    """`snnsad.fit` on a data set of one (empty) example: `steps` epochs of one full-problem step each.

    Returns the trained model, the loss before each step and the model's output before each step."""
    measure = eqx.filter_jit(lambda m: m(None))
    seen = [measure(model)]

    class _Outputs(Callback):
        def on_epoch(self, info: EpochInfo) -> None:
            seen.append(measure(info.net))

    fitted = fit(
        model,
        SpikeDataset(np.zeros((1, 1)), np.zeros(1)),
        estimator=Autodiff(),
        loss_fn=lambda out, y: loss_fn(out),
        optimizer=optimizer,
        epochs=steps,
        batch_size=1,
        progress=False,
        callbacks=[_Outputs(), EpochProgress(steps, "QIF task")],
    )
    losses = np.asarray([h["train_loss"] for h in fitted.history])
    return fitted.net, losses, seen[:-1]


def _single_forward(params, data):
    return single_neuron_output(params, data)


def train_single_neuron(seed: int, steps: int | None = None) -> dict:
    """SGD on the two trained inputs through `snnsad.fit`; returns per-step loss and output times, and the
    final parameters."""
    n_steps = int(SINGLE["steps"] if steps is None else steps)
    t_end = SINGLE["t_end"]
    with jax.enable_x64(True):
        targets = jnp.asarray(SINGLE["targets"])
        fixed = {k: jnp.asarray(v) for k, v in single_neuron_inputs(seed).items()}
        model = _Problem({"w": jnp.zeros(2), "t": jnp.asarray([1.0, 9.0])}, fixed, _single_forward)
        opt = optax.chain(
            optax.clip(SINGLE["clip"]),
            optax.sgd(SINGLE["lr"]),
            project(lambda p: eqx.tree_at(lambda m: m.params["t"], p, jnp.clip(p.params["t"], 0.0, t_end))),
        )
        model, losses, outs = _fit_problem(model, lambda out: jnp.mean((out - targets) ** 2), opt, n_steps)
        params = model.params
        final = single_neuron_output(params, fixed)
    err = np.abs(np.asarray(outs) - np.asarray(SINGLE["targets"]))
    within = np.all(err < 0.05, axis=1)
    return {
        "seed": seed,
        "loss": losses,
        "outputs": np.asarray(outs),
        "final_outputs": np.asarray(final).tolist(),
        "first_step_within_0.05": int(np.argmax(within)) if within.any() else None,
        "params": {k: np.asarray(v).tolist() for k, v in params.items()},
    }


def continuity_sweep(seed: int, params: dict, n_points: int = 2001, span: float = 4.0) -> dict:
    """Sweep the second trained input's weight down from its trained value by `span`, so that the
    output's second spike leaves the trial.

    Loss = MSE of the first two output times (ordinary or pseudo) to the targets. Returns the sweep,
    the weight where the spike crosses `T` (bisection to 1e-13) and the loss jump across it.
    """
    with jax.enable_x64(True):
        fixed = single_neuron_inputs(seed)
        targets = jnp.asarray(SINGLE["targets"])
        w_trained, t_trained = jnp.asarray(params["w"]), jnp.asarray(params["t"])

        def outputs(w):
            return single_neuron_output({"w": w_trained.at[1].set(w), "t": t_trained}, fixed)

        def loss(w):
            return jnp.mean((outputs(w) - targets) ** 2)

        f = eqx.filter_jit(jax.vmap(jax.value_and_grad(loss)))
        spikes = eqx.filter_jit(jax.vmap(outputs))
        ws = jnp.linspace(w_trained[1] - span, w_trained[1], n_points)
        values, grads = f(ws)
        second = np.asarray(spikes(ws))[:, 1]
        inside = second < SINGLE["t_end"]
        if inside.all() or not inside.any():
            raise RuntimeError("continuity_sweep: the second spike does not cross the trial end in the sweep.")
        k = int(np.argmax(inside != inside[0]))
        lo, hi = float(ws[k - 1]), float(ws[k])
        side_lo = bool(inside[k - 1])
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if (float(spikes(jnp.asarray([mid]))[0, 1]) < SINGLE["t_end"]) == side_lo:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-13:
                break
        (v_lo, v_hi), (g_lo, g_hi) = f(jnp.asarray([lo, hi]))
        steps = np.abs(np.diff(np.asarray(values)))
    return {
        "w": np.asarray(ws),
        "loss": np.asarray(values),
        "grad": np.asarray(grads),
        "second_spike": second,
        "w_cross": 0.5 * (lo + hi),
        "jump": float(abs(v_hi - v_lo)),
        "grad_left_right": (float(g_lo), float(g_hi)),
        "max_step_over_grid": float(steps.max()),
        "max_grad": float(np.abs(np.asarray(grads)).max()),
        "grid_spacing": float(ws[1] - ws[0]),
    }


RNN: dict[str, Any] = dict(
    n=10, w_in=5.0, rate_in=1.0, t_end=10.0, n_targets=2, target_rates=(1.0, 0.5), lr=1e-2, steps=2000
)
"""Recurrent network (spikegd's rnn): 10 QIF neurons, each driven by its own excitatory (+5) and
inhibitory (-5) Poisson train at rate 1; neurons 0 and 1 learn Poisson target trains (rates 1 and 1/2,
ISIs shifted by 1) by training the recurrent weights (from 0) with AdaBelief 1e-2."""


def rnn_problem(seed: int) -> dict:
    """Inputs (EventTrain-like arrays) and target trains of seed `seed`; each target ends with an extra
    `1.1 T` entry that penalises surplus spikes (only when the output comes earlier)."""
    rng = np.random.default_rng(seed)
    n, t_end = RNN["n"], RNN["t_end"]
    times, index = [], []
    for j in range(2 * n):
        t = np.cumsum(rng.exponential(1.0 / RNN["rate_in"], size=int(5 * t_end * RNN["rate_in"]) + 5))
        t = t[t < t_end]
        times.append(t)
        index.append(np.full(t.size, j))
    times, index = np.concatenate(times), np.concatenate(index)
    order = np.argsort(times, kind="stable")
    w_in = np.zeros((n, 2 * n))
    w_in[np.arange(n), np.arange(n)] = RNN["w_in"]
    w_in[np.arange(n), n + np.arange(n)] = -RNN["w_in"]
    targets = []
    for r in RNN["target_rates"]:
        isi = rng.exponential(1.0 / r, size=int(3 * t_end))
        isi[1:] += 1.0
        t = np.cumsum(isi)
        targets.append(np.append(t[t < t_end], 1.1 * t_end))
    return {"times": times[order], "index": index[order], "w_in": w_in, "targets": targets}


def rnn_outputs(w_rec, problem: dict, model: QIF | None = None) -> list:
    """Spike trains (ordinary, then pseudospikes) of the target neurons, one per target train."""
    model = QIF() if model is None else model
    w_in = jnp.asarray(problem["w_in"])
    w_events = w_in[:, jnp.asarray(problem["index"])]
    n = w_in.shape[0]
    w_rec = w_rec * (1.0 - jnp.eye(n))  # no self-connections
    run = run_layer(
        model, model.initial(n, w_in.dtype), w_events, jnp.asarray(problem["times"]), w_rec, RNN["t_end"], 400
    )
    _, phase, period = pseudo_rates(model, run, jnp.zeros((n,)), w_rec)
    return [spike_train(run, phase, period, i, len(t), RNN["t_end"]) for i, t in enumerate(problem["targets"])]


def rnn_loss(outs: list, targets: list):
    """spikegd's spike-train loss: squared time errors scaled by `1 / (t_target + 2)`, the extra end entry
    only when the output is earlier, averaged over all target entries."""
    total, count = 0.0, 0
    for t_out, t_tar in zip(outs, targets):
        t_tar = jnp.asarray(t_tar)
        err = ((t_out - t_tar) / (t_tar + 2.0)) ** 2
        total = total + jnp.sum(err[:-1]) + jnp.where(t_out[-1] < t_tar[-1], err[-1], 0.0)
        count += len(t_tar)
    return total / count


def _rnn_forward(params, data):
    return rnn_outputs(params["w"], data)


def train_rnn(seed: int, steps: int | None = None) -> dict:
    """AdaBelief on the recurrent weights through `snnsad.fit`; returns per-step loss, the targets and
    the target neurons' trains before and after training."""
    n_steps = int(RNN["steps"] if steps is None else steps)
    with jax.enable_x64(True):
        problem = rnn_problem(seed)
        targets = [jnp.asarray(t) for t in problem["targets"]]
        data: dict[str, Any] = {k: jnp.asarray(v) for k, v in problem.items() if k != "targets"}
        data["targets"] = targets
        model = _Problem({"w": jnp.zeros((RNN["n"], RNN["n"]))}, data, _rnn_forward)
        model, losses, _ = _fit_problem(
            model, lambda outs: rnn_loss(outs, targets), optax.adabelief(RNN["lr"]), n_steps
        )
        final = [np.asarray(o).tolist() for o in rnn_outputs(model.params["w"], problem)]
        initial = [np.asarray(o).tolist() for o in rnn_outputs(jnp.zeros((RNN["n"], RNN["n"])), problem)]
    return {
        "seed": seed,
        "loss": losses,
        "targets": [t.tolist() for t in problem["targets"]],
        "initial_outputs": initial,
        "final_outputs": final,
    }
