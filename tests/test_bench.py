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
