"""Training and gradient sampling across two processes (`jax.distributed`, local CPU processes, gloo)
equal a single-process run on the same batches."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

WORKER = textwrap.dedent(
    """
    import json, sys
    import jax
    import snnsad
    process_id, n_processes, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    snnsad.init_processes(f"127.0.0.1:{port}", n_processes, process_id, initialization_timeout=60)
    jax.config.update("jax_numpy_dtype_promotion", "standard")
    assert len(jax.devices()) == n_processes and len(jax.local_devices()) == 1
    from tests.test_distributed import run
    json.dump({**run(snnsad.device_mesh()), "share": snnsad.process_share(list(range(5)))}, open(out, "w"))  # noqa: SIM115
    """
)


def run(mesh) -> dict:
    """`fit` (StochasticAD(2), Adam, 2 epochs of 6 batches) and `sample_grads` (8 samples), on `mesh` or on one
    device; the weights, history and this process's shards of the samples, as lists."""
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import optax

    import snnsad

    data = snnsad.data.randman(3, 8, 20, samples_per_class=16, alpha=2.0, seed=0)
    net = snnsad.feedforward((8, 12, 3), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(5.0)), gain=3.0)
    loss_fn = snnsad.losses.ce_loss
    fitted = snnsad.fit(net, data, estimator=snnsad.StochasticAD(2), loss_fn=loss_fn, optimizer=optax.adam(1e-2),
                        epochs=2, batch_size=8, val=data, progress=False, mesh=mesh,
                        metric_fn=snnsad.losses.on_output(snnsad.losses.accuracy_max_over_time))  # fmt: skip
    x, y = (jnp.asarray(a) for a in data.batch(np.arange(1)))
    _, samples = snnsad.sample_grads(snnsad.StochasticAD(2), loss_fn, fitted.net, x[0], y[0], jr.split(jr.key(3), 8),
                                     mesh=mesh)  # fmt: skip
    weight, shards = fitted.net.layers[0].weight, samples.layers[0].weight.addressable_shards
    return {
        "weight": np.asarray(weight.addressable_data(0)).tolist(),
        "history": fitted.history,
        "samples": {str(s.index[0].start or 0): np.asarray(s.data).tolist() for s in shards},
        "processes": jax.process_count(),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_and_sample_like_one(tmp_path, standard_promotion):
    """Two local CPU processes joined by `snnsad.init_processes` (coordinator on 127.0.0.1, a free port) run
    `fit` data-parallel over the global mesh (StochasticAD(2), Adam, 2 epochs of 6 batches) and `sample_grads`
    with the samples split over the processes: both processes end with the same network, equal to one process
    training on the same batches to float32 rounding (1e-6), with the same history, and their sample shards
    together are the single process's samples; `process_share` deals a sweep's items round robin."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the worker imports `run` from here
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": root}
    env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split() if "device_count" not in f)
    port = str(_free_port())
    runs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(i), "2", port, str(tmp_path / f"p{i}.json")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)
    ]  # fmt: skip
    logs = []
    try:
        one = json.loads(json.dumps(run(None)))  # meanwhile, one process on one device
        for r in runs:
            logs.append(r.communicate(timeout=300)[0])
    finally:
        for r in runs:
            r.kill()
    assert all(r.returncode == 0 for r in runs), "\n".join(logs)
    p0, p1 = (json.loads((tmp_path / f).read_text()) for f in ("p0.json", "p1.json"))
    assert p0["processes"] == p1["processes"] == 2 and one["processes"] == 1
    assert p0["share"] == [0, 2, 4] and p1["share"] == [1, 3]  # process_share: round robin over the processes
    np.testing.assert_array_equal(p0["weight"], p1["weight"])
    np.testing.assert_allclose(p0["weight"], one["weight"], rtol=1e-6, atol=1e-6)
    strip = lambda h: [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in h]  # noqa: E731
    assert strip(p0["history"]) == strip(p1["history"])
    for a, b in zip(strip(p0["history"]), strip(one["history"]), strict=True):
        assert a.keys() == b.keys() and all(np.isclose(a[k], b[k], rtol=1e-5) for k in a)
    assert set(p0["samples"]) | set(p1["samples"]) == {"0", "4"}  # each process holds half of the 8 samples
    gathered = np.concatenate([{**p0["samples"], **p1["samples"]}[k] for k in ("0", "4")])
    np.testing.assert_allclose(gathered, one["samples"]["0"], rtol=1e-5, atol=1e-6)
