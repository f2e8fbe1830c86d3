"""Fault injection through the command line: bad config values, a NaN learning rate, an unwritable output
and a damaged checkpoint each end with exit status 2 and an error naming the cause."""

import json

import pytest

from snnsad._cli import main as cli_main


@pytest.mark.parametrize(
    "bad, key",
    [({"epochs": "1"}, "epochs"), ({"hidden": 16}, "hidden"), ({"lr": "fast"}, "lr"), ({"optimizer": "sgd"}, "optimizer"),
     ({"batch_size": 0}, "batch_size"), ({"val_fraction": 1.5}, "val_fraction")],
)  # fmt: skip
def test_cli_rejects_bad_config_values_before_building_anything(tmp_path, capsys, bad, key):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", "--config", str(path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"`{key}` must be" in err and len(err.strip().splitlines()) == 1


def test_cli_names_a_config_file_that_is_not_json(tmp_path, capsys):
    for text, says in (("epochs: 3", "is not valid JSON"), ("[1, 2]", "one JSON object")):
        path = tmp_path / "cfg.json"
        path.write_text(text)
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["train", "--config", str(path), "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and str(path) in err and says in err and len(err.strip().splitlines()) == 1


def test_cli_rejects_a_nan_learning_rate_and_an_unwritable_output(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", "--lr", "nan", "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2 and "`lr` must be a finite number" in capsys.readouterr().err
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    for out in (a_file, a_file / "run"):
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["train", "--out", str(out)])
        assert exit_info.value.code == 2 and "--out" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_refuses_a_damaged_checkpoint_and_keeps_it(tmp_path, capsys, standard_promotion):
    """`snnsad train` on a run folder of another width (`--hidden`), and on one whose checkpoint was truncated:
    exit 2, one line naming the cause, the file untouched."""
    out = str(tmp_path / "run")
    args = ["train", "--samples-per-class", "8", "--epochs", "1", "--hidden", "8", "--batch-size", "8", "--quiet"]
    cli_main([*args, "--out", out])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:  # another width: the differing setting, one line, exit 2
        cli_main([*args, "--epochs", "2", "--hidden", "16", "--out", out])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "'hidden'" in err and len(err.strip().splitlines()) == 1
    ckpt = tmp_path / "run" / "checkpoint.eqx"
    damaged = ckpt.read_bytes()[:-100]
    ckpt.write_bytes(damaged)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli_main([*args, "--epochs", "2", "--out", out])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "checkpoint.eqx" in err and "damaged" in err
    assert ckpt.read_bytes() == damaged


def test_cli_names_the_extra_of_a_missing_optional_dependency(tmp_path, capsys, monkeypatch):
    """`snnsad export --nir` without the `nir` package: exit 2 and one line naming `snnsad[nir]`, before the run
    folder is read (the library raises `snnsad.MissingDependencyError`, an ImportError, with the same text)."""
    import sys

    import snnsad

    monkeypatch.setitem(sys.modules, "nir", None)  # an import of nir now fails as if it were not installed
    with pytest.raises(snnsad.MissingDependencyError, match=r"pip install 'snnsad\[nir\]'"):
        snnsad.nir.require_nir()
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["export", str(tmp_path / "no-run"), "--nir", str(tmp_path / "net.nir")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "snnsad[nir]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "net.nir").exists()


def test_cli_list_names_every_public_estimator_and_whole_sentences(capsys):
    """`snnsad list` is generated from the public modules: every estimator and event gradient appears (the hand-kept
    list missed LocalScoreFunction, MixedEstimator, EventProp, ImplicitSpikeTimes and Pseudospikes), each with the
    whole first sentence of its docstring, and no file that a user does not have is cited."""
    assert cli_main(["list"]) in (0, None)
    out = capsys.readouterr().out
    for name in ("LocalScoreFunction", "MixedEstimator", "StochasticAD", "ScoreFunction", "ExactEnumeration",
                 "Autodiff", "Batched", "EventProp", "ImplicitSpikeTimes", "Pseudospikes", "Theta", "QIF", "Dense"):  # fmt: skip
        assert f"  {name} " in out, name
    lines = [line for line in out.splitlines() if line.startswith("  ") and "  " in line.strip()]
    described = [line.split(None, 1)[1] for line in lines if len(line.split(None, 1)) == 2]
    assert described and all(d.rstrip().endswith(".") for d in described), described
    assert "ARCHITECTURE" not in out


def test_a_failed_run_leaves_no_empty_output_folder(tmp_path, capsys):
    """`snnsad train` that fails after its output check (here: an SHD file that does not exist) removes the folders
    it created for the run (they stayed behind, empty); a folder that existed before is kept."""
    out = tmp_path / "new" / "run"
    args = ["train", "--dataset", "shd", "--shd-train", str(tmp_path / "none.h5"), "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    assert exit_info.value.code == 2 and "none.h5" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(SystemExit):
        cli_main([*args[:-1], str(tmp_path / "kept")])
    assert (tmp_path / "kept").is_dir()


def test_the_cli_keeps_compiled_programs_between_runs_unless_told_not_to(tmp_path, monkeypatch, capsys):
    """JAX's persistent compilation cache for CLI runs: JAX's own cache directory wins when set (the suite
    sets one); else `$SNNSAD_CACHE_DIR`; `--no-compile-cache` leaves JAX's setting alone."""
    import jax

    from snnsad._cli import _cache_dir, enable_compile_cache

    before = _cache_dir()
    assert before and enable_compile_cache() == before
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        cli_main(["--no-compile-cache", "list"])
        assert _cache_dir() is None
        monkeypatch.setenv("SNNSAD_CACHE_DIR", str(tmp_path / "cache"))
        cli_main(["list"])
        assert _cache_dir() == str(tmp_path / "cache")
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
    capsys.readouterr()
