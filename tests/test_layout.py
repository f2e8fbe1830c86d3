"""The library folder holds the library: no peer library or argparse outside the CLI, short modules."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "snnsad"
APPLICATION_ONLY = {"argparse", "torch", "spyx", "snntorch", "flax"}


def _modules():
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_library_imports_no_peer_library_or_argparse():
    """Only the private CLI package (snnsad/_cli) may import argparse or a peer library."""
    offenders = []
    for path in _modules():
        if "_cli" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in APPLICATION_ONLY]
    assert not offenders, offenders


def test_no_module_is_longer_than_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_the_library_does_not_import_the_application():
    """Nothing outside snnsad/experiments and snnsad/_cli imports them (the library stands alone)."""
    offenders = []
    for path in _modules():
        parts = path.relative_to(ROOT).parts
        if parts[0] in ("experiments", "_cli") or parts in (("__init__.py",), ("__main__.py",)):
            continue  # the package root re-exports snnsad.experiments; `python -m snnsad` is the CLI
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level >= 1
                and (node.module or "").split(".")[0]
                in (
                    "experiments",
                    "_cli",
                )
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert not offenders, offenders
