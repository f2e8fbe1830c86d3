"""The code in the README and the how-to runs as written."""

import pathlib

import pytest

from ..helpers import documented_namespace

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["README.md", "docs/howto.md"])
def test_documented_code_runs(path):
    namespace = documented_namespace(path)
    assert any(not k.startswith("__") for k in namespace), f"no python example in {path}"


def test_every_experiment_has_a_docs_section_and_a_script():
    from snnsad.experiments import EXPERIMENTS

    page = (ROOT / "docs/experiments.md").read_text()
    scripts = {p.stem for p in (ROOT / "experiments").glob("*.py")}
    for name, fn in EXPERIMENTS.items():
        assert f"(`{name}`" in page, f"docs/experiments.md has no section for {name!r}"
        assert fn.__name__ in scripts, f"experiments/ has no script for {name!r} ({fn.__name__}.py)"


def test_every_name_the_readme_and_docs_use_resolves():
    """Every dotted `snnsad.…` name in README.md and docs/ (API pages included) resolves, each part imported as
    a module or looked up as an attribute: the public import paths did not change when the modules moved into
    their family sub-packages."""
    import importlib
    import re

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    names = set()
    for page in pages:
        names |= set(re.findall(r"\bsnnsad(?:\.[A-Za-z_][A-Za-z_0-9]*)+", page.read_text()))
    assert len(names) > 100, len(names)
    missing = []
    for name in sorted(names):
        parts = name.split(".")
        obj = importlib.import_module("snnsad")
        for i in range(1, len(parts)):
            if hasattr(obj, parts[i]):
                obj = getattr(obj, parts[i])
                continue
            try:
                obj = importlib.import_module(".".join(parts[: i + 1]))
            except ModuleNotFoundError:
                missing.append(name)
                break
    assert not missing, missing
