"""The benchmark runner works without the optional peers (it times nothing that a test asserts on)."""

import importlib.util

import pytest

from snnsad._cli import _bench


@pytest.mark.slow
def test_on_workload_reports_missing_peers_and_formats_a_table():
    rows = _bench.on_workload((32,), T=5, batch=2, repeats=1)
    row = rows[0]
    assert row["snnsad"] > 0 and row["matmul floor"] > 0
    for peer, module in (("spyx", "spyx"), ("snnTorch", "snntorch")):
        if importlib.util.find_spec(module) is None:
            assert row[peer] is None and "not installed" in row[f"{peer}_error"]
    shd = _bench.shd_workload((3,), batch=2, repeats=1)
    assert shd[0]["snnsad"] > 0 and shd[0]["matmul floor"] > 0
    fake = {
        "hardware": "test",
        "on_workload": rows,
        "shd_workload": shd,
        "variance_study": [
            {"problem": "tiny", "n_samples": 10, "vmapped_s": 1.0, "python_loop_s": 2.0, "speedup": 2.0}
        ],
        "compile_s": {100: 1.0, 1000: 1.1},
        "memory_bytes": {"plain": 2**21, "checkpointed": 2**20},
    }
    md = _bench.to_markdown(fake)
    assert "| 32 | 5 |" in md and "| 3 | 2 |" in md and "| tiny | 10 |" in md
    assert "ratio 1.10" in md and "2 MiB plain" in md


def _benchmark_module(name):
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recurrent_lif_backward_matches_autodiff(x64):
    """benchmarks/recurrent_lower_bound.py's hand-written batch-level backward of the recurrent LIF layer
    (recurrent weight gradient as one GEMM after the scan) gives autodiff's gradients of every parameter
    to float64 rounding, on the benchmark's network (T = 30, batch 4) where the hidden layer fires."""
    import jax
    import numpy as np

    rb = _benchmark_module("recurrent_lower_bound")
    params, xs, ys = rb.params_and_batch(30, 4, dtype=np.float64)
    spikes = rb.recurrent_lif_autodiff(xs @ params[0].T, params[1], params[2])
    assert 50 < float(spikes.sum()) < 0.5 * spikes.size  # the recurrent path and the reset are exercised
    ref = jax.grad(lambda p: rb.loss(p, xs, ys))(params)
    grads = jax.grad(lambda p: rb.loss(p, xs, ys, rb.recurrent_lif))(params)
    for name, g, r in zip(("w_in", "w_rec", "theta", "w_out"), grads, ref, strict=True):
        assert float(np.abs(r).max()) > 0, name
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12 * float(np.abs(r).max()), err_msg=name)
