"""`snnsad bench`: snnsad against spyx, snnTorch and the matmul floor, side by side in one run.

Workloads (benchmarks/README.md): (a) the Open Neuromorphic workload, Linear(n -> n) + LIF,
batch 16, T = 500, forward + backward of the summed output spikes; (c) a 1000-sample vmapped
gradient-variance study against a Python loop over samples; (d) compile time of a training step at
T = 100 and T = 1000; (e) peak temporary memory of the step at T = 1000 with and without scan
checkpointing (XLA's own memory analysis). Peers are optional (the `bench` extra); a missing
peer is reported as such. Every number is a median of repeats after a warm-up call; in (a) and (b)
the libraries are timed in interleaved rounds (one call of each per round).
"""

import json
import math
import os
import platform
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..analysis import interleaved_seconds, median_seconds, prepared, small_problems, time_jitted
from ..escape import FastSigmoid, Sigmoid
from ..estimators import Autodiff, Batched, StochasticAD
from ..losses import ce_loss
from ..neurons import LIF
from ..nn import feedforward
from ..spikes import Stochastic, Surrogate
from ..train import atomic_write_text, run_info
from ._peers import SHD_SHAPE, on_snntorch, on_spyx, shd_snntorch, shd_spyx, torch_device

# ----------------------------------------------------------------------------- (a) ON workload


def on_snnsad(n, T, batch, unroll=1):
    lif = LIF(tau_mem=20e-3, tau_syn=5e-3, dt=1e-3, reset="subtract")
    spike_fn = Surrogate(FastSigmoid(10.0), scale=1.0)
    net = feedforward((n, n), key=jr.key(0), spike_fn=spike_fn, neuron=lif, readout=False, unroll=unroll)
    xs = jr.uniform(jr.key(1), (T, batch, n))  # time-major, as spyx and snnTorch get it

    @eqx.filter_jit
    def step(net, xs):
        def loss(net):  # per-example simulation vmapped over the batch axis (axis 1): no transposes
            return jnp.sum(jax.vmap(lambda x: net(x).output, in_axes=1, out_axes=1)(xs))

        return eqx.filter_value_and_grad(loss)(net)

    return prepared(step, net, xs)


def on_floor(n, T, batch):
    x = jr.uniform(jr.key(1), (batch * T, n))
    w = jr.normal(jr.key(0), (n, n)) / np.sqrt(n)
    g = jr.normal(jr.key(2), (batch * T, n))

    @jax.jit
    def gemms(x, w, g):
        return x @ w.T, g.T @ x  # forward projection and weight gradient

    return prepared(gemms, x, w, g)


PEERS = {"snnsad": on_snnsad, "spyx": on_spyx, "snnTorch": on_snntorch, "matmul floor": on_floor}


def on_workload(sizes=(512, 2048, 4096), T=500, batch=16, repeats=5):
    return [
        {"n": n, "T": T, "batch": batch, **_side_by_side(PEERS, f"n={n:5d}", (n, T, batch), repeats)} for n in sizes
    ]


# ----------------------------------------------------------------------------- (b) SHD-shaped step


def shd_snnsad(T, batch):
    step, args = _shd_step(T, False, batch=batch)
    return prepared(step, *args)


def shd_floor(T, batch):
    """The step's GEMMs alone, all time steps at once: input, recurrent and readout projections
    forward, their weight gradients, and the input gradients that backpropagation needs."""
    n_in, n_hid, n_out = SHD_SHAPE
    rows = T * batch
    x = jr.uniform(jr.key(1), (rows, n_in))
    h = jr.uniform(jr.key(2), (rows, n_hid))
    g_h = jr.normal(jr.key(3), (rows, n_hid))
    g_o = jr.normal(jr.key(4), (rows, n_out))
    w_in = jr.normal(jr.key(5), (n_hid, n_in))
    w_rec = jr.normal(jr.key(6), (n_hid, n_hid))
    w_out = jr.normal(jr.key(7), (n_out, n_hid))

    @jax.jit
    def gemms(x, h, g_h, g_o, w_in, w_rec, w_out):
        forward = (x @ w_in.T, h @ w_rec.T, h @ w_out.T)
        weight_grads = (g_h.T @ x, g_h.T @ h, g_o.T @ h)
        input_grads = (g_h @ w_rec, g_o @ w_out)
        return forward, weight_grads, input_grads

    return prepared(gemms, x, h, g_h, g_o, w_in, w_rec, w_out)


SHD_PEERS = {"snnsad": shd_snnsad, "spyx": shd_spyx, "snnTorch": shd_snntorch, "matmul floor": shd_floor}


def _side_by_side(peers, label, args, repeats, min_seconds=5.0, max_rounds=25):
    """Median seconds per peer, timed in interleaved rounds (one call of each peer per round), so
    that a slow spell of the machine hits every peer alike instead of whichever ran during it.
    At least `repeats` rounds, more (up to `max_rounds`) while all rounds take under `min_seconds`."""
    row, runs = {}, {}
    for name, prepare in peers.items():
        try:
            runs[name] = prepare(*args)  # builds, compiles and warms up
        except ImportError as err:
            row[name] = None
            row[f"{name}_error"] = f"not installed ({err.name}); pip install 'snnsad[bench]'"
    times = {name: [] for name in runs}
    done, rounds = 0, repeats if runs else 0
    while done < rounds:
        for name, seconds in interleaved_seconds(runs).items():
            times[name] += seconds
        done += 1
        spent = sum(map(sum, times.values()))
        rounds = max(repeats, min(max_rounds, math.ceil(min_seconds * done / spent)))
    row["runs_s"] = times  # every timed call, in round order
    for name in peers:
        if name in runs:
            row[name] = statistics.median(times[name])
        print(
            f"  {label} {name:12s} " + (f"{row[name] * 1e3:9.1f} ms" if row[name] else row[f"{name}_error"]), flush=True
        )
    return row


def shd_workload(lengths=(100, 350), batch=64, repeats=5):
    return [{"T": T, "batch": batch, **_side_by_side(SHD_PEERS, f"T={T:4d}", (T, batch), repeats)} for T in lengths]


# ----------------------------------------------------------------------------- (c) variance study


def _vmapped_vs_loop(net, x, y, est, n_samples, loop_samples, repeats):
    keys = jr.split(jr.key(2), n_samples)

    @eqx.filter_jit
    def vmapped(net, keys):
        return jax.vmap(lambda k: est(ce_loss, net, x, y, k))(keys)

    one = eqx.filter_jit(lambda net, k: est(ce_loss, net, x, y, k))
    t_vmap = time_jitted(vmapped, net, keys, repeats=repeats)[1]

    def loop():
        for k in keys[:loop_samples]:
            jax.block_until_ready(one(net, k))

    loop()  # warm-up
    t_loop = median_seconds(loop, repeats) * n_samples / loop_samples  # extrapolated from loop_samples
    return {"n_samples": n_samples, "vmapped_s": t_vmap, "python_loop_s": t_loop, "speedup": t_loop / t_vmap}


def variance_study(n_samples=1000, loop_samples=50, repeats=3):
    """N vmapped StochasticAD(4) estimates in one jit vs a Python loop of jitted single estimates, on
    (i) a network small enough for exact enumeration (what `snnsad reproduce variance` and the
    unbiasedness tests sample; float64) and (ii) a mid-sized classifier (20-100-100-15, T = 100)."""
    est = StochasticAD(4)
    rows = []
    with jax.enable_x64(True):
        net, x, _, y, _ = small_problems()["two_hidden_zero"]
        row = _vmapped_vs_loop(net, x, y, est, n_samples, loop_samples, repeats)
        rows.append({"problem": "3-2-1-2, T = 6 (exact-enumeration size, float64)", **row})
    lif = LIF.paper()
    net = feedforward(
        (20, 100, 100, 15), key=jr.key(0), spike_fn=Stochastic(Sigmoid(10.0)), neuron=lif, init="fluctuation", rate=5.0
    )
    x = jr.bernoulli(jr.key(1), 0.01, (100, 20)).astype(jnp.float32)
    row = _vmapped_vs_loop(net, x, jnp.asarray(3), est, n_samples, loop_samples, repeats)
    rows.append({"problem": "20-100-100-15, T = 100 (float32)", **row})
    for r in rows:
        print(f"  {r['problem']:50s} vmapped {r['vmapped_s']:.3f} s, loop {r['python_loop_s']:.2f} s", flush=True)
    return rows


# ----------------------------------------------------------------------------- (d) compile, (e) memory


def _shd_step(T, checkpoint, batch=64):
    lif = LIF.paper()
    net = feedforward(
        (700, 256, 20),
        key=jr.key(0),
        spike_fn=Surrogate(FastSigmoid(10.0), scale=1.0),  # deterministic, as the peers
        neuron=lif,
        recurrent=True,
        checkpoint=checkpoint,
    )
    xs = jr.bernoulli(jr.key(1), 0.02, (T, batch, 700)).astype(jnp.float32)  # time-major, as the peers get it
    ys = jnp.arange(batch) % 20
    batched = Batched(Autodiff(), batch_axis=1)
    params, static = eqx.partition(net, eqx.is_array)

    @jax.jit  # plain jit over the array leaves, so XLA's memory analysis is reachable
    def step(params, xs, ys, key):
        return batched(ce_loss, eqx.combine(params, static), xs, ys, key)

    return step, (params, xs, ys, jr.key(2))


def compile_times(lengths=(100, 1000)):
    out = {}
    for T in lengths:
        step, args = _shd_step(T, False, batch=8)
        t0 = time.perf_counter()
        step.lower(*args).compile()
        out[T] = time.perf_counter() - t0
    return out


def peak_memory(T=1000, batch=16):
    out = {}
    for checkpoint in (False, True):
        step, args = _shd_step(T, checkpoint, batch=batch)
        stats = step.lower(*args).compile().memory_analysis()
        out["checkpointed" if checkpoint else "plain"] = None if stats is None else int(stats.temp_size_in_bytes)
    return out


# ----------------------------------------------------------------------------- runner


def run_bench(out_dir="benchmarks/results", sizes=(512, 2048, 4096), repeats=5, quick=False) -> dict:
    """Run every workload, print a table of medians and ratios, write `bench.json` and `bench.md`."""
    if quick:
        sizes, repeats = (256,), 2
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} on {jax.default_backend()} "
        f"({jax.devices()[0].device_kind})"
    )
    try:
        import torch

        machine += f"; snnTorch on torch {torch.__version__} ({torch_device()})"
    except ImportError:  # the bench extra is not installed: the table says which peers are missing
        pass
    T = 100 if quick else 500
    print(f"snnsad bench ({machine})\n(a) Linear(n->n) + LIF, batch 16, T = {T}, forward + backward", flush=True)
    on = on_workload(sizes, T=T, repeats=repeats)
    print("(b) SHD-shaped step (700 -> 256 recurrent -> 20, batch 64)", flush=True)
    shd = shd_workload((20,) if quick else (100, 350), batch=8 if quick else 64, repeats=repeats)
    print("(c) variance study: vmapped vs Python loop", flush=True)
    var = variance_study(200 if quick else 1000, 20 if quick else 50, repeats)
    print("(d) compile time of the training step", flush=True)
    comp = compile_times()
    print("(e) peak temporary memory at T = 1000", flush=True)
    mem = peak_memory()
    result = {
        **run_info(),
        "hardware": machine,
        "on_workload": on,
        "shd_workload": shd,
        "variance_study": var,
        "compile_s": comp,
        "memory_bytes": mem,
    }
    md = to_markdown(result)
    print("\n" + md)
    atomic_write_text(os.path.join(out_dir, "bench.json"), json.dumps(result, indent=2, default=str))
    atomic_write_text(os.path.join(out_dir, "bench.md"), md)
    return result


def _ratio(a, b):
    return "n/a" if not a or not b else f"{a / b:.2f}x"


def _ms(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e3:.1f}"


def _peer_row(lead, row) -> str:
    """A Markdown row: the leading columns, each library's median ms, then snnsad's ratios."""
    s = row["snnsad"]
    times = [_ms(row[name]) for name in ("snnsad", "spyx", "snnTorch", "matmul floor")]
    ratios = [_ratio(row["spyx"], s), _ratio(row["snnTorch"], s), _ratio(s, row["matmul floor"])]
    return "| " + " | ".join([*map(str, lead), *times, *ratios]) + " |"


def to_markdown(r) -> str:
    lines = [
        f"Machine: {r['hardware']}.",
        "",
        "(a) Linear(n -> n) + LIF, batch 16, forward + backward (median ms; "
        "ratio = peer time / snnsad time, floor ratio = snnsad time / GEMM-only time)",
        "",
        "| n | T | snnsad | spyx | snnTorch | GEMM floor | vs spyx | vs snnTorch | snnsad / floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_peer_row((row["n"], row["T"]), row) for row in r["on_workload"]]
    lines += [
        "",
        "(b) SHD-shaped training step, 700 -> 256 recurrent LIF -> 20 leaky readout, forward + backward of the "
        "cross-entropy (median ms)",
        "",
        "| T | batch | snnsad | spyx | snnTorch | GEMM floor | vs spyx | vs snnTorch | snnsad / floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_peer_row((row["T"], row["batch"]), row) for row in r["shd_workload"]]
    lines += ["", "(c) StochasticAD(4) gradient samples, vmapped in one jit vs a Python loop of jitted calls", ""]
    lines += ["| network | samples | vmapped (s) | Python loop (s) | speed-up |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| {v['problem']} | {v['n_samples']} | {v['vmapped_s']:.3f} | {v['python_loop_s']:.2f} | {v['speedup']:.1f}x |"
        for v in r["variance_study"]
    ]
    lines += [""]
    c = r["compile_s"]
    lines += [
        "(d) compile time of the step: "
        + ", ".join(f"T = {t}: {s:.2f} s" for t, s in c.items())
        + f" (ratio {list(c.values())[-1] / list(c.values())[0]:.2f})"
    ]
    m = r["memory_bytes"]
    if m.get("plain") and m.get("checkpointed"):
        lines += [
            f"(e) temporary memory of the step at T = 1000: {m['plain'] / 2**20:.0f} MiB plain, "
            f"{m['checkpointed'] / 2**20:.0f} MiB with scan checkpointing"
        ]
    return "\n".join(lines) + "\n"
