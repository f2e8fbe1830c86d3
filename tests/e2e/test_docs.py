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
