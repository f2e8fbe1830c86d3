"""benchmarks/report.py: the performance targets judged from the results files, and the generated sections."""

import importlib.util
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _report():
    spec = importlib.util.spec_from_file_location("benchmarks_report", ROOT / "benchmarks" / "report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


report = _report()


def _bench(*, spyx_b=2.5, floor_b=0.8, floor_a=0.7, speedup=157.0):
    """A `bench.json` of one (a) size and one (b) length, snnsad at 1 s: ratios are the arguments."""
    return {
        "backend": "cpu",
        "hardware": "test machine",
        "commit": "0123456789abcdef",
        "on_workload": [{"n": 2048, "T": 500, "batch": 16, "snnsad": 1.0, "spyx": 3.0, "snnTorch": 0.9,
                         "matmul floor": floor_a}],
        "shd_workload": [{"T": 100, "batch": 64, "snnsad": 1.0, "spyx": spyx_b, "snnTorch": 2.0,
                          "matmul floor": floor_b}],
        "variance_study": [{"speedup": speedup}],
    }  # fmt: skip


def test_each_check_is_judged_against_its_threshold():
    found = report.checks({"bench": _bench(spyx_b=2.5, floor_b=0.8, floor_a=0.7)})
    met = {(c.number, c.target): c.met for c in found}
    assert met[(1, "(b) T = 100: spyx / snnsad")] is True  # 2.5x >= 2x
    assert met[(1, "(b) T = 100: snnsad / GEMM floor")] is True  # 1.25x <= 1.4x
    assert met[(2, "(a) n = 2048: snnsad / GEMM floor")] is False  # 1.43x > 1.25x
    assert met[(2, "(a) n = 2048: the closer peer / snnsad")] is False  # snnTorch at 0.9 s is ahead
    assert met[(4, "variance study, vmapped / Python loop")] is True
    # files not there are "not measured", and say which command writes them
    missing = [c for c in found if c.met is None]
    assert {c.source for c in missing} == {
        "shd_data_path", "e6_throughput", "estimator_cost", "gpu/bench", "workload_floors"
    }  # fmt: skip
    assert all("run `" in c.measured for c in missing if c.source != "gpu/bench")
    assert report.verdicts(found) == {1: True, 2: False, 3: None, 4: None, 5: None, 6: None}


def test_workload_floor_checks_use_each_workloads_bound():
    """Target 6: each timed workload against its own bound (at the bound is met), an untimed one (E5) not
    measured, and a `--quick` run (cut batches) says nothing of the target."""
    rows = [
        {"workload": "E6 conv 32/64/128", "floor": "dense GEMMs", "ratio": 1.5},
        {"workload": "calibrated Randman 20-128-10", "floor": "dense GEMMs", "ratio": 1.61},
        {"workload": "deep Randman 20-128-128-128-15", "floor": "dense GEMMs", "ratio": 1.2},
        {"workload": "EventProp Yin-Yang 5-200-3", "floor": "discrete twin", "ratio": 1.01},
    ]
    found = [c for c in report.checks({"workload_floors": {"quick": False, "rows": rows}}) if c.number == 6]
    met = {c.target.split(" /")[0]: c.met for c in found}
    assert met == {"E6 conv 32/64/128": True, "calibrated Randman 20-128-10": False,
                   "deep Randman 20-128-128-128-15": True, "EventProp Yin-Yang 5-200-3": False, "E5": None}  # fmt: skip
    quick = report.checks({"workload_floors": {"quick": True, "rows": rows}})
    assert all(c.met is None for c in quick if c.number == 6)


def test_boundaries_and_the_other_targets():
    results = {
        "bench": _bench(spyx_b=2.0, floor_b=1 / 1.4, floor_a=0.8, speedup=19.0),
        "shd_data_path": {"data_share": 0.003},
        "e6_throughput": {"overhead_fraction": 0.10},
        "estimator_cost": {"rows": [
            {"estimator": "forward pass (reference)", "forward_equivalents": 1.0},
            {"estimator": "StochasticAD(n_flips=1)", "forward_equivalents": 4.0},  # M < 4: no target
            {"estimator": "StochasticAD(n_flips=4)", "forward_equivalents": 6.0},
            {"estimator": "StochasticAD(n_flips=16)", "forward_equivalents": 18.5},
        ]},
    }  # fmt: skip
    met = {(c.number, c.target): c.met for c in report.checks(results)}
    assert met[(1, "(b) T = 100: spyx / snnsad")] is True  # exactly 2x
    assert met[(1, "(b) T = 100: snnsad / GEMM floor")] is True  # exactly 1.4x
    assert met[(2, "(a) n = 2048: snnsad / GEMM floor")] is True  # exactly 1.25x
    assert met[(3, "E5 epoch at SHD's size: data path")] is True
    assert met[(3, "E6 full epoch: beyond the compute floor")] is False  # "under 10 %"
    assert met[(4, "StochasticAD(4), forward passes")] is True  # exactly M + 2
    assert met[(4, "StochasticAD(16), forward passes")] is False
    assert met[(4, "variance study, vmapped / Python loop")] is False
    assert not any("StochasticAD(1)" in target for _, target in met)


def test_a_gpu_run_is_reported_beside_the_published_anchors():
    gpu = _bench() | {"backend": "gpu", "hardware": "NVIDIA H100"}
    gpu["on_workload"] = [{"n": 4096, "snnsad": 0.005}, {"n": 16384, "snnsad": 0.05}]
    (check,) = report._gpu_checks(gpu)
    assert check.met is True
    assert "NVIDIA H100" in check.measured and "4096: 5.0 ms (spyx on an RTX 4090: 11 ms)" in check.measured
    assert report._gpu_checks(_bench())[0].met is None  # a CPU run is not target 5


def test_generated_sections_are_filled_and_unknown_ones_refused(tmp_path):
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "bench.json").write_text(json.dumps(_bench()))
    (results / "bench.md").write_text("# title\n\n| a table |\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- begin generated: summary -->\nstale text\n<!-- end generated: summary -->\n"
        "<!-- begin generated: results/bench.md -->\n<!-- end generated: results/bench.md -->\nend\n"
    )
    files = report.outputs(results, [readme])
    text = files[readme]
    assert text.startswith("intro\n<!-- begin generated: summary -->\n`snnsad bench` (test machine;")
    assert "| (b) 700 → 256 recurrent → 20 step, batch 64, T = 100 | 1000.0 | 2.50x | 2.00x | 1.25x |" in text
    assert "stale text" not in text and text.endswith("| a table |\n<!-- end generated: results/bench.md -->\nend\n")
    assert (
        "| 1 | (b) T = 100: spyx / snnsad | >= 2.00x | 2.50x | **met** | `bench.json` |"
        in files[results / "targets.md"]
    )
    assert json.loads(files[results / "targets.json"])[0]["number"] == 1
    # rendering its own output again changes nothing
    assert report.render(text, {"summary": report.summary(report.load_results(results), report.checks(
        report.load_results(results)))}, "README", results) == text  # fmt: skip

    readme.write_text("<!-- begin generated: speed -->\n<!-- end generated: speed -->\n")
    with pytest.raises(ValueError, match="unknown generated section 'speed'"):
        report.outputs(results, [readme])


def test_committed_readmes_match_the_results_files(capsys):
    """The READMEs' generated sections and results/targets.* are what the committed results files give:
    rerunning a benchmark without `python benchmarks/report.py` fails here."""
    assert report.main(["--check"]) == 0, capsys.readouterr().err


def test_a_check_is_met_only_when_every_kept_run_meets_it(tmp_path):
    results = tmp_path / "results"
    (results / "history").mkdir(parents=True)
    (results / "bench.json").write_text(json.dumps(_bench(floor_a=0.9)))  # 1.11x: within 1.25x
    (results / "history" / "bench-earlier.json").write_text(json.dumps(_bench(floor_a=0.7)))  # 1.43x: not
    found = report.checks(report.load_results(results), report.load_history(results))
    (floor,) = [c for c in found if c.target == "(a) n = 2048: snnsad / GEMM floor"]
    assert floor.met is False and floor.shown == "1.11x (earlier runs: 1.43x)"
    (spyx,) = [c for c in found if c.target == "(b) T = 100: spyx / snnsad"]
    assert spyx.met is True and spyx.earlier == ("2.50x",)
    table = report.targets_table(found, report.load_results(results), report.load_history(results))
    assert "commit 0123456; earlier runs kept: 0123456" in table
