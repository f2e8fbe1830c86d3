"""EventProp's memory against the trial length, and its training step beside the discrete-time SG step.

The Yin-Yang network of `snnsad reproduce eventprop` (5-200-3, 400 hidden-event slots, batch 32):

- peak temporary memory of one gradient, read from XLA's compiled memory analysis (exact, not
  sampled), for trial lengths 30 and 300 ms at the same number of event slots: EventProp,
  ImplicitSpikeTimes and the discrete twin's surrogate gradient at dt = 0.1 ms;
- wall time of one training gradient (median of interleaved rounds, after compilation):
  EventProp and ImplicitSpikeTimes beside the discrete twin's SG step at dt = 0.5 and 0.1 ms.

Writes `benchmarks/results/eventprop_memory.{json,md}`. Usage:

    python benchmarks/eventprop_memory.py [--rounds 7]
"""

import argparse
import json
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import snnsad
from snnsad import events
from snnsad.experiments._eventprop_training import yinyang_network
from snnsad.losses import max_over_time_cross_entropy, on_output

HERE = os.path.dirname(os.path.abspath(__file__))


def _gradient_fns(net, x, y, t_end):
    """name -> (function of the network, its input) for every gradient being compared."""
    net = eqx.tree_at(lambda n: n.t_end, net, t_end) if net.t_end != t_end else net
    fns = {}
    for name, est in (("EventProp", events.EventProp()), ("ImplicitSpikeTimes", events.ImplicitSpikeTimes())):
        fns[name] = (
            lambda n, xb, est=est: snnsad.Batched(est)(events.vmax_cross_entropy, n, xb, y, jr.key(0))[1],
            net,
            x,
        )
    loss = on_output(max_over_time_cross_entropy)
    for dt in (0.5, 0.1):
        twin = events.discrete_twin(net, dt, snnsad.Surrogate(snnsad.FastSigmoid(5.0)))
        raster = jnp.asarray(events.to_raster(x, 5, dt, t_end))
        fns[f"discrete SG, dt {dt} ms"] = (
            lambda n, r: snnsad.Batched(snnsad.Autodiff())(loss, n, r, y, jr.key(0))[1],
            twin,
            raster,
        )
    return fns


def temp_bytes(fn, net, inputs) -> int:
    """XLA's temporary buffer size for one call (what the gradient needs beyond inputs and outputs)."""
    params, static = eqx.partition(net, eqx.is_array)
    compiled = jax.jit(lambda p, i: fn(eqx.combine(p, static), i)).lower(params, inputs).compile()
    return int(compiled.memory_analysis().temp_size_in_bytes)


def with_trial_length(net, t_end):
    return events.EventNetwork(net.layers, t_end=t_end, head=net.head)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    x, y = events.yinyang_events(32, seed=0)
    net = yinyang_network(jr.key(0), head="vmax")
    memory = {}
    for t_end in (30.0, 300.0):
        fns = _gradient_fns(with_trial_length(net, t_end), x, y, t_end)
        for name in ("EventProp", "ImplicitSpikeTimes", "discrete SG, dt 0.1 ms"):
            fn, n, inp = fns[name]
            memory.setdefault(name, {})[str(t_end)] = temp_bytes(fn, n, inp)
    fns = _gradient_fns(net, x, y, 30.0)
    jitted = {k: (eqx.filter_jit(f), n, i) for k, (f, n, i) in fns.items()}
    for f, n, i in jitted.values():
        jax.block_until_ready(f(n, i))
    times = {k: [] for k in jitted}
    for _ in range(args.rounds):
        for k, (f, n, i) in jitted.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(n, i))
            times[k].append(time.perf_counter() - t0)
    median = {k: float(np.median(v)) for k, v in times.items()}
    results = {
        "memory_temp_bytes": memory,
        "step_seconds_median": median,
        "rounds": args.rounds,
        "batch": 32,
        "hidden": 200,
        "hidden_event_slots": net.layers[0].max_spikes,
        "device": jax.devices()[0].device_kind,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "eventprop_memory.json"), "w") as f:
        json.dump(results, f, indent=2)
    lines = [
        "# EventProp: memory against trial length, and the step time",
        "",
        "`python benchmarks/eventprop_memory.py` (Yin-Yang network 5-200-3, batch 32, 400 hidden-event slots; "
        f"{results['device']}).",
        "",
        "| gradient | temp memory, 30 ms trial | temp memory, 300 ms trial | ratio |",
        "|---|---|---|---|",
    ]
    for name, m in memory.items():
        a, b = m["30.0"], m["300.0"]
        lines.append(f"| {name} | {a / 2**20:.2f} MiB | {b / 2**20:.2f} MiB | {b / a:.2f} |")
    base = median["EventProp"]
    lines += ["", "| gradient of one batch | median time | vs EventProp |", "|---|---|---|"]
    lines += [f"| {k} | {v * 1e3:.1f} ms | {v / base:.2f} |" for k, v in median.items()]
    with open(os.path.join(args.out, "eventprop_memory.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
