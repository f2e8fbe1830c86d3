"""The code in the README and the how-to runs as written."""

import pathlib
import re

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _blocks(path):
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), flags=re.S)


@pytest.mark.parametrize("path", ["README.md", "docs/howto.md"])
def test_documented_code_runs(path):
    blocks = _blocks(path)
    assert blocks, f"no python example in {path}"
    namespace = {}
    with jax.numpy_dtype_promotion("standard"):
        for block in blocks:
            exec(compile(block, path, "exec"), namespace)


def test_every_experiment_has_a_docs_section_and_a_script():
    from snnsad.experiments import EXPERIMENTS

    page = (ROOT / "docs/experiments.md").read_text()
    scripts = {p.stem for p in (ROOT / "experiments").glob("*.py")}
    for name, fn in EXPERIMENTS.items():
        assert f"(`{name}`" in page, f"docs/experiments.md has no section for {name!r}"
        assert fn.__name__ in scripts, f"experiments/ has no script for {name!r} ({fn.__name__}.py)"
