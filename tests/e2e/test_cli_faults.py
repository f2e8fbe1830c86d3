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
    """`snnsad train` on a run folder whose checkpoint was truncated: exit 2, one line, file untouched."""
    out = str(tmp_path / "run")
    args = ["train", "--samples-per-class", "8", "--epochs", "1", "--hidden", "8", "--batch-size", "8", "--quiet"]
    cli_main([*args, "--out", out])
    ckpt = tmp_path / "run" / "checkpoint.eqx"
    damaged = ckpt.read_bytes()[:-100]
    ckpt.write_bytes(damaged)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli_main([*args, "--epochs", "2", "--out", out])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "checkpoint.eqx" in err and "damaged" in err
    assert ckpt.read_bytes() == damaged
