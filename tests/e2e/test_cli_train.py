"""`snnsad train` and the training recipes of the command line, end to end."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnsad
import snnsad.experiments
from snnsad import losses
from snnsad._cli import _train_config as _recipes
from snnsad._cli import main as cli_main

from ..helpers import write_shd


@pytest.mark.slow
@pytest.mark.optimized(seconds=21)
def test_stochastic_sg_learns_randman_preset(standard_promotion):
    """The paper's Randman preset (15 classes, chance 6.7%): 4 epochs of the matched stochastic SG reach
    > 12% test accuracy. With 3000 test examples the accuracy's standard error at chance is 0.5%,
    so 12% is more than 10 standard errors above chance."""
    cfg = _recipes.load_config(None, dict(epochs=4, batch_size=64, lr=1e-2, hidden=[128]))
    train, val, test, net, loss_fn, est, opt = _recipes.build(cfg)
    res = snnsad.fit(
        net,
        train,
        estimator=est,
        loss_fn=loss_fn,
        optimizer=opt,
        epochs=4,
        batch_size=64,
        seed=0,
        test=test,
        metric_fn=losses.on_output(losses.accuracy_max_over_time),
        progress=False,
    )
    print([round(h["test_metric"], 3) for h in res.history])
    assert len(test) == 3000
    assert res.history[-1]["test_metric"] > 0.12


@pytest.mark.slow
def test_cli_train_prints_progress_and_writes_results(tmp_path, capsys, standard_promotion):
    out = str(tmp_path / "run")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"hidden": [16], "epochs": 1}))
    cli_main(
        [
            "train",
            "--dataset",
            "yinyang",
            "--estimator",
            "stochastic-ad",
            "--flips",
            "2",
            "--config",
            str(cfg),
            "--batch-size",
            "100",
            "--out",
            out,
        ]
    )
    printed = capsys.readouterr()
    assert "epoch=0" in printed.out and "done:" in printed.out
    config = json.loads(pathlib.Path(out, "config.json").read_text())
    assert config["hidden"] == [16] and config["estimator"] == "stochastic-ad" and config["flips"] == 2
    assert "commit" in config and "jax" in config
    history = json.loads(pathlib.Path(out, "metrics.json").read_text())
    assert len(history) == 1 and {"train_loss", "val_loss", "val_metric", "test_metric"} <= set(history[0])
    assert pathlib.Path(out, "curves.png").stat().st_size > 1000  # train draws its learning curves
    # `snnsad evaluate` rebuilds the run from its config and reproduces the test accuracy train recorded
    # (the stochastic network's noise key included)
    cli_main(["evaluate", out])
    evaluation = json.loads(pathlib.Path(out, "evaluation.json").read_text())
    assert evaluation["data"] == "test" and evaluation["epoch"] == 0
    assert evaluation["accuracy"] == pytest.approx(history[0]["test_metric"], abs=1e-12)
    assert evaluation["recorded_accuracy"] == history[0]["test_metric"]
    cli_main(["plot", out, "--raster"])
    printed = capsys.readouterr().out
    assert "curves.png" in printed and "raster.png" in printed
    for name in ("raster.png", "membrane.png", "rates.png"):  # the trained network on a test example
        assert pathlib.Path(out, name).stat().st_size > 1000
    # the trained network leaves as a NIR graph and comes back spiking the same (deterministic forward)
    nir = pytest.importorskip("nir")
    cli_main(["export", out, "--nir", str(tmp_path / "net.nir")])
    from snnsad._cli._runs import load_run

    _, (_, _, test), net, _, _, _ = load_run(out)
    # the run read back from Python without the CLI's data: the same trained network, settings and history
    import snnsad.cli

    run = snnsad.cli.load_run(out)
    assert run.config["hidden"] == [16] and run.config["estimator"] == "stochastic-ad" and run.epoch == 0
    assert run.history == history
    for a, b in zip(jax.tree.leaves(run.net), jax.tree.leaves(net), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(FileNotFoundError, match="not a `snnsad train` run folder"):
        snnsad.cli.load_run(str(tmp_path))
    back = snnsad.nir.from_nir(nir.read(str(tmp_path / "net.nir")))
    x = jnp.asarray(test.x[0])  # pyright: ignore[reportAttributeAccessIssue]
    det = net.with_spike_fns(snnsad.Heaviside())
    np.testing.assert_array_equal(np.asarray(det(x).output), np.asarray(back(x).output))


def test_cli_errors(tmp_path, capsys):
    """Bad input ends the command with exit status 2 and a one-line message, not a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", "--dataset", "shd", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "--shd-train PATH" in capsys.readouterr().err
    bad = tmp_path / "cfg.json"
    bad.write_text(json.dumps({"hiddn": [3]}))
    with pytest.raises(SystemExit):
        cli_main(["train", "--config", str(bad), "--out", str(tmp_path)])
    assert "unknown keys ['hiddn']" in capsys.readouterr().err
    both = tmp_path / "hidden.json"  # `hidden` as the flag writes it, in a config file too
    both.write_text(json.dumps({"hidden": "32,16"}))
    assert _recipes.load_config(str(both), {})["hidden"] == [32, 16]
    assert _recipes.load_config(str(both), {"hidden": [8]})["hidden"] == [8]
    assert _recipes.load_config(None, {"estimator": "local-score"})["estimator"] == "local-score"
    with pytest.raises(ValueError, match="reg_strength 0"):  # LocalScoreFunction takes a loss of the readout alone
        _recipes.load_config(None, {"estimator": "local-score", "reg_strength": 1.0})
    both.write_text(json.dumps({"hidden": "32;16"}))
    with pytest.raises(ValueError, match="comma-separated"):
        _recipes.load_config(str(both), {})
    with pytest.raises(SystemExit):
        cli_main(["train", "--dataset", "randman", "--architecture", "conv", "--out", str(tmp_path)])
    assert "use it with dataset 'shd'" in capsys.readouterr().err


@pytest.mark.slow
def test_shd_recipe_builds_the_papers_conv_network(tmp_path):
    """`snnsad train --dataset shd` builds the paper's network: 700 channels -> 16 x 68 -> 32 x 21 ->
    64 x 5 recurrent conv LIF layers -> 20-class readout, initialised for the data's input rate."""
    rng = np.random.default_rng(0)
    path = str(tmp_path / "shd_train.h5")
    labels = rng.integers(0, 20, 40)
    labels[:20] = np.arange(20)  # every class present
    write_shd(
        path, [np.sort(rng.uniform(0, 0.04, 50)) for _ in labels], [rng.integers(0, 700, 50) for _ in labels], labels
    )
    cfg = _recipes.load_config(None, {"dataset": "shd", "shd_train": path, "n_steps": 20})
    train, val, test, net, *_ = _recipes.build(cfg)
    assert [type(layer).__name__ for layer in net.layers] == ["Conv1D"] * 3
    assert net.sizes == (16 * 68, 32 * 21, 64 * 5) and net.readout.size == 20
    assert all(layer.recurrent_kernel is not None for layer in net.layers)  # pyright: ignore[reportAttributeAccessIssue]
    assert len(train) == 36 and len(val) == 4 and test is None
    dense = _recipes.build({**cfg, "architecture": "dense", "hidden": [8]})[3]
    assert type(dense.layers[0]).__name__ == "Dense" and dense.sizes == (8,)
    with pytest.raises(ValueError, match="too small"):
        snnsad.experiments.shd_conv_network(snnsad.Heaviside(), n_channels=30)


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("snnsad ")


def test_the_cli_page_documents_every_train_setting_and_its_example_is_a_valid_config(tmp_path):
    """docs/cli.md has a row for every key of `snnsad train`'s config, and its complete JSON example loads."""
    import re

    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    rows = set(re.findall(r"^\| `(\w+)` \|", page, flags=re.M))
    assert rows == set(_recipes.DEFAULTS)
    example = re.search(r"```json\n(.*?)```", page, flags=re.S).group(1)  # pyright: ignore[reportOptionalMemberAccess]
    path = tmp_path / "example.json"
    path.write_text(example)
    assert set(json.loads(example)) == set(_recipes.DEFAULTS)
    assert _recipes.load_config(str(path), {})["hidden"] == [128, 64]
