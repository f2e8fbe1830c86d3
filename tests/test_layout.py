"""The library's layout rules: the layering contract, the application on public names only, no peer library.

The layering contract itself lives in `pyproject.toml` (`[tool.importlinter]`) and is checked by
import-linter (`lint-imports`); these tests run it on the package and on a copy with one deliberate
upward import, so a contract that could not fail would show here.
"""

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
ROOT = REPO / "snnsad"
APPLICATION = ("experiments", "_cli")
APPLICATION_ONLY = {"argparse", "torch", "spyx", "snntorch", "flax"}
LINT_IMPORTS = pathlib.Path(sys.executable).with_name("lint-imports")


def _modules(root=ROOT):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: pathlib.Path, package: str):
    """Absolute names of the modules `path` imports (relative imports resolved against `package`)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)  # `from . import x` may import module x


def _package(path: pathlib.Path) -> str:
    """The package a module's relative imports resolve against (its folder, for `__init__.py` too)."""
    return ".".join(path.relative_to(REPO).parts[:-1])


def _lint_imports(cwd: pathlib.Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"lint-imports not found beside {sys.executable}; install the [test] extra (import-linter).")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layering_contract_holds():
    """`lint-imports` keeps every contract of pyproject.toml on the package as it is."""
    out = _lint_imports(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_the_layering_contract_fails_on_an_upward_import(tmp_path):
    """The same contract on a copy of the package in which `snnsad.nn` imports `snnsad.analysis` (an upward
    import): lint-imports exits non-zero and names the offending import."""
    shutil.copytree(ROOT, tmp_path / "snnsad", ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    layers = tmp_path / "snnsad" / "nn" / "_layers.py"
    layers.write_text(layers.read_text() + "\nfrom ..analysis import sample_grads  # deliberate violation\n")
    out = _lint_imports(tmp_path)
    assert out.returncode != 0, out.stdout
    assert "BROKEN" in out.stdout and "snnsad.nn._layers -> snnsad.analysis" in out.stdout, out.stdout


def test_the_library_imports_no_peer_library_or_argparse():
    """Only the private CLI package (snnsad/_cli) may import argparse or a peer library."""
    offenders = []
    for path in _modules():
        if "_cli" in path.relative_to(ROOT).parts:
            continue
        names = _imports(path, _package(path))
        offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in APPLICATION_ONLY]
    assert not offenders, offenders


def test_the_application_imports_public_names_only():
    """snnsad/experiments and snnsad/_cli import the library through its public modules only: no module
    or sub-package of the library whose name starts with `_` (their own private modules excepted)."""
    offenders = []
    for path in _modules():
        parts = path.relative_to(ROOT).parts
        if parts[0] not in APPLICATION:
            continue
        own = f"snnsad.{parts[0]}"
        for name in _imports(path, _package(path)):
            if not name.startswith("snnsad.") or name.startswith(own) or name == "snnsad.__version__":
                continue
            if any(p.startswith("_") for p in name.split(".")[1:]):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders


def test_importing_the_package_does_not_import_the_application():
    """`import snnsad` (and every public sub-package) leaves snnsad.experiments and snnsad._cli unimported, so a
    bare install (no extras) imports, and fast. Run in a fresh interpreter."""
    code = (
        "import sys, snnsad, snnsad.nn, snnsad.estimators, snnsad.events, snnsad.kernels, snnsad.data, "
        "snnsad.train, snnsad.analysis, snnsad.plot, snnsad.nir, snnsad.escape, snnsad.spikes, snnsad.neurons, snnsad.losses\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('snnsad.experiments', 'snnsad._cli', 'tqdm', 'matplotlib', 'h5py')))\n"
        "assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_unit_tests_import_no_experiment():
    """The unit tier (tests/*.py) tests the library; the experiments, CLI and docs are tested in tests/e2e/."""
    offenders = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for name in _imports(path, "tests"):
            if name.startswith(("snnsad.experiments", "snnsad._cli")):
                offenders.append(f"{path.name}: {name}")
    assert not offenders, offenders
