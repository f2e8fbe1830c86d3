"""Regenerate the performance summary of benchmarks/README.md and README.md from the results files.

Every benchmark script writes its numbers to `benchmarks/results/*.json` (and a Markdown table beside
it). This script reads them, checks each performance target against its threshold (`TARGETS` and the
`_*_checks` functions below; `COMMANDS` names the command that writes each file), writes
`benchmarks/results/targets.md` and `targets.json`, and rewrites the generated sections of the two
READMEs, which lie between

    <!-- begin generated: NAME -->
    <!-- end generated: NAME -->

NAME is `targets` (the table of targets, met or not, with the measured ratio), `summary` (the
README's speed and cost lines) or `results/FILE.md` (that results table, copied as it is). Nothing in
a generated section is written by hand: rerun a benchmark, then this script. Usage:

    python benchmarks/report.py           # rewrite the generated sections and the targets files
    python benchmarks/report.py --check   # write nothing; exit 1 if any of them is out of date

A GPU run (`bash benchmarks/gpu.sh bench` on a machine with a GPU: `snnsad bench --sizes 4096,8192,16384`
and the lower-bound scripts) is read from `benchmarks/results/gpu/bench.json` when it is there.

Machines here are noisy, so earlier runs can be kept: a copy of a results file under `history/` in its
folder, named `NAME-LABEL.json` (e.g. `benchmarks/results/history/bench-00455fb.json`), enters the
verdicts: a check is met only when the latest run and every kept run meet it, and the table shows
what each kept run measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import re
import sys

from snnsad._io import atomic_write_text

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
READMES = (ROOT / "benchmarks" / "README.md", ROOT / "README.md")
MARKER = re.compile(r"<!-- begin generated: (?P<name>\S+) -->\n(?P<body>.*?)<!-- end generated: (?P=name) -->", re.S)

# The command that writes each results file (the key is its path under benchmarks/results, less ".json").
COMMANDS = {
    "bench": "snnsad bench",
    "gpu/bench": "bash benchmarks/gpu.sh bench (on a GPU machine; its bench.json goes to benchmarks/results/gpu)",
    "shd_data_path": "python benchmarks/shd_data_path.py --steps 2",
    "e6_throughput": "python benchmarks/e6_throughput.py --epochs 3",
    "estimator_cost": "python benchmarks/estimator_cost.py --repeats 7",
    "workload_floors": "python benchmarks/workload_floors.py --repeats 15",
}
# Published spyx fp32 times on an RTX 4090 (Open Neuromorphic benchmark, forward + backward), ms by n.
GPU_ANCHORS_MS = {4096: 11.0, 16384: 76.0}


# The targets of the performance issue, by number.
TARGETS = {
    1: "(b) SHD-shaped recurrent training step: >= 2x faster than spyx, <= 1.4x its GEMM floor (T = 100, 350)",
    2: "(a) Linear(n -> n) + LIF: <= 1.25x the GEMM floor at n = 2048, 4096, <= 1.6x at 512; ahead of both peers",
    3: "data path (reading, binning, batching, checks) < 10 % of an epoch: E5 at SHD's size, E6 full",
    4: "StochasticAD(M) <= M + 2 forward passes for M >= 4; vmapped variance study >= 20x a Python loop",
    5: "GPU: `snnsad bench --sizes 4096,8192,16384`, beside the published spyx times",
    6: "real training steps near their floors: E6 conv <= 1.5x its GEMM floor, the dense Randman steps <= 1.6x, "
    "E5's <= 2x; EventProp <= 1.0x its discrete twin at dt 0.1 ms",
}
# Target 6's bound per workload of benchmarks/workload_floors.py (by the start of its name).
FLOOR_BOUNDS = {"E6 conv": 1.5, "calibrated Randman": 1.6, "deep Randman": 1.6, "E5": 2.0, "EventProp": 1.0}


@dataclasses.dataclass(frozen=True)
class Check:
    """One measurement against its target's threshold: `met` is None when it has not been measured."""

    number: int
    target: str
    wanted: str
    measured: str
    met: bool | None
    source: str
    earlier: tuple[str, ...] = ()  # what the kept earlier runs of the same results file measured

    @property
    def shown(self) -> str:
        return self.measured + (f" (earlier runs: {', '.join(self.earlier)})" if self.earlier else "")


def load_results(results: pathlib.Path = RESULTS) -> dict[str, dict]:
    """Every results file the targets read, by its name under `results` without ".json" (absent: not a key)."""
    found = {}
    for name in COMMANDS:
        path = results / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def load_history(results: pathlib.Path = RESULTS) -> dict[str, list[dict]]:
    """Earlier runs kept beside each results file, `history/NAME-*.json` in its folder, oldest name first."""
    found = {}
    for name in COMMANDS:
        path = results / f"{name}.json"
        runs = sorted((path.parent / "history").glob(f"{path.stem}-*.json"))
        if runs:
            found[name] = [json.loads(run.read_text()) for run in runs]
    return found


def _missing(number: int, target: str, wanted: str, name: str) -> Check:
    return Check(number, target, wanted, f"no `{name}.json`: run `{COMMANDS[name]}`", None, name)


def _at_most(number: int, target: str, value: float, bound: float, name: str, fmt: str = "{:.2f}x") -> Check:
    return Check(number, target, "<= " + fmt.format(bound), fmt.format(value), value <= bound, name)


def _at_least(number: int, target: str, value: float, bound: float, name: str, fmt: str = "{:.2f}x") -> Check:
    return Check(number, target, ">= " + fmt.format(bound), fmt.format(value), value >= bound, name)


def _peer_checks(bench: dict | None) -> list[Check]:
    """Targets 1 and 2, from `snnsad bench`."""
    if bench is None:
        return [
            _missing(1, "(b) SHD-shaped recurrent step", ">= 2x spyx, <= 1.4x the GEMM floor", "bench"),
            _missing(2, "(a) Linear + LIF", "<= 1.25x the GEMM floor (1.6x at n = 512)", "bench"),
        ]
    checks = []
    for row in bench["shd_workload"]:
        what = f"(b) T = {row['T']}"
        checks.append(_at_least(1, f"{what}: spyx / snnsad", row["spyx"] / row["snnsad"], 2.0, "bench"))
        checks.append(_at_most(1, f"{what}: snnsad / GEMM floor", row["snnsad"] / row["matmul floor"], 1.4, "bench"))
    for row in bench["on_workload"]:
        what = f"(a) n = {row['n']}"
        bound = {512: 1.6, 2048: 1.25, 4096: 1.25}.get(row["n"])
        if bound is not None:
            floor = row["snnsad"] / row["matmul floor"]
            checks.append(_at_most(2, f"{what}: snnsad / GEMM floor", floor, bound, "bench"))
        ahead = min(row["spyx"], row["snnTorch"]) / row["snnsad"]
        checks.append(Check(2, f"{what}: the closer peer / snnsad", "> 1.00x", f"{ahead:.2f}x", ahead > 1, "bench"))
    return checks


def _throughput_checks(results: dict[str, dict]) -> list[Check]:
    """Target 3, from the two throughput scripts."""
    checks = []
    for name, what, key in (
        ("shd_data_path", "E5 epoch at SHD's size: data path", "data_share"),
        ("e6_throughput", "E6 full epoch: beyond the compute floor", "overhead_fraction"),
    ):
        if name not in results:
            checks.append(_missing(3, what, "< 10 % of an epoch", name))
            continue
        share = results[name][key]
        checks.append(Check(3, what, "< 10 % of an epoch", f"{100 * share:.1f} %", share < 0.10, name))
    return checks


def _estimator_checks(cost: dict | None, bench: dict | None) -> list[Check]:
    """Target 4: the estimators' cost, and the vmapped variance study of `snnsad bench`."""
    checks = []
    if cost is None:
        checks.append(_missing(4, "StochasticAD(M) cost", "<= M + 2 forward passes for M >= 4", "estimator_cost"))
    else:
        for row in cost["rows"]:
            m = re.fullmatch(r"StochasticAD\(n_flips=(\d+)\)", row["estimator"])
            if m and int(m.group(1)) >= 4:
                flips = int(m.group(1))
                what = f"StochasticAD({flips}), forward passes"
                checks.append(_at_most(4, what, row["forward_equivalents"], flips + 2, "estimator_cost", "{:.2f}"))
    if bench is None:
        checks.append(_missing(4, "variance study, vmapped / Python loop", ">= 20x", "bench"))
    else:
        study = bench["variance_study"][0]  # the network of exact-enumeration size
        checks.append(_at_least(4, "variance study, vmapped / Python loop", study["speedup"], 20.0, "bench", "{:.0f}x"))
    return checks


def _gpu_checks(gpu: dict | None) -> list[Check]:
    """Target 5: a `snnsad bench` run on a GPU, beside the published spyx times."""
    what = "`snnsad bench` at n = 4096-16384"
    if gpu is None or gpu.get("backend") == "cpu":
        return [
            Check(
                5,
                what,
                "run on a GPU",
                "not run: no GPU lent to the project yet (`bash benchmarks/gpu.sh bench`)",
                None,
                "gpu/bench",
            )
        ]
    rows = {row["n"]: row for row in gpu["on_workload"]}
    anchors = "; ".join(
        f"n = {n}: {1e3 * rows[n]['snnsad']:.1f} ms (spyx on an RTX 4090: {ms:.0f} ms)"
        for n, ms in GPU_ANCHORS_MS.items()
        if n in rows
    )
    return [Check(5, what, "run on a GPU", f"{gpu['hardware']}; {anchors}", True, "gpu/bench")]


def _floor_checks(floors: dict | None) -> list[Check]:
    """Target 6, from workload_floors: each workload's step over its floor, against its bound (a workload
    the script does not time yet is not measured)."""
    rows = {} if floors is None or floors.get("quick") else {r["workload"]: r for r in floors["rows"]}
    checks = []
    for prefix, bound in FLOOR_BOUNDS.items():
        row = next((r for name, r in rows.items() if name.startswith(prefix)), None)
        if row is None:
            checks.append(_missing(6, prefix, f"<= {bound:g}x", "workload_floors"))
            continue
        checks.append(_at_most(6, f"{row['workload']} / {row['floor']}", row["ratio"], bound, "workload_floors"))
    return checks


def _checks_of_one_run(results: dict[str, dict]) -> list[Check]:
    return (
        _peer_checks(results.get("bench"))
        + _throughput_checks(results)
        + _estimator_checks(results.get("estimator_cost"), results.get("bench"))
        + _gpu_checks(results.get("gpu/bench"))
        + _floor_checks(results.get("workload_floors"))
    )


def checks(results: dict[str, dict], history: dict[str, list[dict]] | None = None) -> list[Check]:
    """Every measurement of the performance targets, in the targets' order, against the results files.

    A check is met only if it is met in the latest run and in every earlier run kept in `history`
    (machines here are noisy: one lucky run does not meet a target)."""
    found = _checks_of_one_run(results)
    for name, runs in (history or {}).items():
        if name not in results:
            continue  # an earlier run alone does not stand for the latest
        for run in runs:
            other = {(c.number, c.target): c for c in _checks_of_one_run(results | {name: run}) if c.source == name}
            for i, c in enumerate(found):
                o = other.get((c.number, c.target))
                if c.source == name and o is not None and c.met is not None and o.met is not None:
                    found[i] = dataclasses.replace(c, met=c.met and o.met, earlier=(*c.earlier, o.measured))
    return found


def verdicts(found: list[Check]) -> dict[int, bool | None]:
    """Each target met (every check met), not met (one check missed) or not measured (some check not measured)."""
    out = {}
    for number in TARGETS:
        mine = [c.met for c in found if c.number == number]
        out[number] = False if False in mine else (None if None in mine or not mine else True)
    return out


_VERDICT = {True: "**met**", False: "not met", None: "not measured"}


def by_target(found: list[Check]) -> str:
    """One row per target: met or not, and how many of its checks."""
    verdict = verdicts(found)
    lines = ["| target | checks met | verdict |", "|---|---:|---|"]
    for number, text in TARGETS.items():
        mine = [c for c in found if c.number == number]
        lines.append(
            f"| {number}. {text} | {sum(c.met is True for c in mine)} of {len(mine)} | {_VERDICT[verdict[number]]} |"
        )
    return "\n".join(lines)


def targets_table(found: list[Check], results: dict[str, dict], history: dict[str, list[dict]]) -> str:
    """The whole account: each target's verdict, then every check with its threshold and measured ratio."""
    kept = {name: ", ".join(_commit(run) for run in runs) for name, runs in history.items() if name in results}
    lines = [
        by_target(found),
        "",
        "Every check, with the results file it reads (a check is met when the latest run and every earlier run "
        "kept in `history/` meet it); the command that writes each file:",
        "",
        *(
            f"- `{name}.json`: `{COMMANDS[name]}` (commit {_commit(results[name])}"
            + (f"; earlier runs kept: {kept[name]})" if name in kept else ")")
            for name in sorted(results)
        ),
        "",
        "| target | check | wanted | measured | met | results |",
        "|---:|---|---|---|---|---|",
        *(
            f"| {c.number} | {c.target} | {c.wanted} | {c.shown} | {_VERDICT[c.met]} | `{c.source}.json` |"
            for c in found
        ),
    ]
    return "\n".join(lines)


def _commit(result: dict) -> str:
    commit = result.get("commit")
    return commit[:7] if commit else "not recorded"


def summary(results: dict[str, dict], found: list[Check]) -> str:
    """The README's lines: the peers side by side, the estimators' cost and the targets' count."""
    lines = []
    bench = results.get("bench")
    if bench is not None:
        lines += [
            f"`snnsad bench` ({bench['hardware']}; median ms, libraries timed in interleaved rounds; "
            "ratio = peer time / snnsad time):",
            "",
            "| workload | snnsad | vs spyx | vs snnTorch | snnsad / GEMM floor |",
            "|---|---:|---:|---:|---:|",
        ]
        for key, label in (("on_workload", "(a) Linear(n → n) + LIF, n = {n}, batch {batch}, T = {T}"),
                           ("shd_workload", "(b) 700 → 256 recurrent → 20 step, batch {batch}, T = {T}")):  # fmt: skip
            for row in bench[key]:
                s = row["snnsad"]
                lines.append(
                    f"| {label.format(**row)} | {1e3 * s:.1f} | {row['spyx'] / s:.2f}x | {row['snnTorch'] / s:.2f}x "
                    f"| {s / row['matmul floor']:.2f}x |"
                )
        lines.append("")
    cost = results.get("estimator_cost")
    if cost is not None:
        parts = [f"{row['estimator']} {row['forward_equivalents']:.2f}" for row in cost["rows"][1:]]
        lines += [
            f"Cost in forward passes (`{COMMANDS['estimator_cost']}`; 20-128-128-15, T = {cost['T']}, "
            f"batch {cost['batch']}): " + ", ".join(parts) + ".",
            "",
        ]
    lines += [
        "Performance targets (every check, its threshold and the measured ratio: "
        "[benchmarks/README.md](benchmarks/README.md#performance-targets)):",
        "",
        by_target(found),
    ]
    return "\n".join(lines)


def _results_table(name: str, results_dir: pathlib.Path) -> str:
    path = results_dir.parent / name
    if not path.exists():
        return f"(`benchmarks/{name}` is missing: run the script that writes it)"
    text = path.read_text().strip()
    if text.startswith("# "):  # a results file's own title; the README section has a heading of its own
        text = text.split("\n", 1)[1].strip()
    return text


def render(text: str, sections: dict[str, str], where: str, results_dir: pathlib.Path = RESULTS) -> str:
    """`text` with every generated section's body replaced; a section this script cannot fill is an error."""

    def fill(m: re.Match) -> str:
        name = m.group("name")
        if name.startswith("results/"):
            body = _results_table(name, results_dir)
        elif name in sections:
            body = sections[name]
        else:
            raise ValueError(
                f"{where}: unknown generated section {name!r}; known: {sorted(sections)} and results/FILE.md"
            )
        return f"<!-- begin generated: {name} -->\n{body}\n<!-- end generated: {name} -->"

    return MARKER.sub(fill, text)


def outputs(results_dir: pathlib.Path = RESULTS, readmes=READMES) -> dict[pathlib.Path, str]:
    """Every file this script writes, with its new contents."""
    results, history = load_results(results_dir), load_history(results_dir)
    found = checks(results, history)
    sections = {"targets": targets_table(found, results, history), "summary": summary(results, found)}
    files = {
        results_dir / "targets.md": "# Performance targets\n\n" + sections["targets"] + "\n",
        results_dir / "targets.json": json.dumps([dataclasses.asdict(c) for c in found], indent=2) + "\n",
    }
    for path in readmes:
        files[path] = render(path.read_text(), sections, str(path), results_dir)
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                atomic_write_text(str(path), text)
    rel = [str(p.relative_to(ROOT)) for p in stale]
    if args.check:
        if stale:
            print(f"out of date: {', '.join(rel)}; run `python benchmarks/report.py`", file=sys.stderr)
            return 1
        print("generated sections are up to date")
        return 0
    print(f"rewrote {', '.join(rel)}" if stale else "nothing to rewrite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
