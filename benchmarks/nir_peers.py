"""An snnsad network exported to NIR and imported into snnTorch and spyx: do the peers spike the same?

Three steps, because the peers live in their own environment (the `bench` extra pins torch):

    python benchmarks/nir_peers.py export OUT          # snnsad's environment: graph + reference spikes
    BENCH/bin/python benchmarks/nir_peers.py peers OUT # an environment with nir, snntorch, nirtorch, spyx
    python benchmarks/nir_peers.py report OUT          # agreement table -> OUT/nir_peers.md

The network: 20 inputs -> 16 -> 8 LIF (tau_syn 10 ms, tau_mem 20 ms, dt 1 ms, reset to zero),
100 steps of Poisson input. Each peer's importer discretises NIR's continuous-time `CubaLIF` its
own way; the report states how, and measures the spike agreement that results.
"""

import json
import os
import sys


def export(out):
    import jax.numpy as jnp
    import jax.random as jr
    import nir
    import numpy as np

    import snnsad
    from snnsad.nir import to_nir

    os.makedirs(out, exist_ok=True)
    lif = snnsad.LIF.paper(dt=1e-3)
    net = snnsad.feedforward(
        (20, 16, 8), key=jr.key(0), spike_fn=snnsad.Heaviside(), neuron=lif, readout=False, gain=6.0
    )
    nir.write(os.path.join(out, "net.nir"), to_nir(net))
    x = jr.bernoulli(jr.key(1), 0.2, (100, 20)).astype(jnp.float32)
    trace = net(x)
    np.savez(os.path.join(out, "snnsad.npz"), x=np.asarray(x), output=np.asarray(trace.spikes[-1]))


def peers(out):
    import nir
    import numpy as np

    graph = nir.read(os.path.join(out, "net.nir"))
    x = np.load(os.path.join(out, "snnsad.npz"))["x"]
    result = {}
    try:
        from snntorch.import_nir import import_from_nir

        import_from_nir(graph)
        result["snntorch"] = {"imported": True}
    except Exception as err:  # noqa: BLE001 - the peer's refusal is the measurement
        result["snntorch"] = {"imported": False, "error": f"{type(err).__name__}: {err}"}
    try:
        import spyx.nir

        _, spikes = spyx.nir.from_nir(graph, x[:, None].astype(np.float32), dt=1e-3)
        np.save(os.path.join(out, "spyx.npy"), np.asarray(spikes)[:, 0])
        result["spyx"] = {"imported": True}
    except Exception as err:  # noqa: BLE001
        result["spyx"] = {"imported": False, "error": f"{type(err).__name__}: {err}"}
    with open(os.path.join(out, "peers.json"), "w") as f:
        json.dump(result, f, indent=2)


def report(out):
    import numpy as np

    ref = np.load(os.path.join(out, "snnsad.npz"))["output"]
    with open(os.path.join(out, "peers.json")) as f:
        result = json.load(f)
    lines = ["| library | imports the graph | output spike rate | bins equal to snnsad's |", "|---|---|---|---|"]
    lines.append(f"| snnsad (`from_nir`) | yes | {ref.mean():.3f} | 1.000 (bit-identical round trip) |")
    for name in ("snntorch", "spyx"):
        r = result[name]
        if r["imported"] and os.path.exists(os.path.join(out, f"{name}.npy")):
            s = np.load(os.path.join(out, f"{name}.npy"))
            lines.append(f"| {name} | yes | {s.mean():.3f} | {(s == ref).mean():.3f} |")
        else:
            lines.append(f"| {name} | no: {r.get('error', 'not run')} | - | - |")
    text = "\n".join(lines)
    with open(os.path.join(out, "nir_peers.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    {"export": export, "peers": peers, "report": report}[sys.argv[1]](sys.argv[2])
