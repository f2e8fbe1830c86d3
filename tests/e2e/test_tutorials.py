"""The tutorials in docs/tutorials (jupytext Markdown notebooks) execute top to bottom in a fresh kernel."""

import pathlib
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))


def test_there_are_tutorials():
    assert len(TUTORIALS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path):
    """Executed as a notebook (jupytext -> nbclient, python3 kernel); an exception in any cell fails the
    test with the cell's traceback. Each must take under a minute (all four: about three)."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(path)
    start = time.perf_counter()
    nbclient.NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    assert time.perf_counter() - start < 120, f"{path.name} took too long for the test suite"
