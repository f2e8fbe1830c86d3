"""`snnsad.train.fit_cells`: many networks of one structure trained in one vmapped step."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad


def test_fit_cells_equals_fit_of_each_cell_and_isolates_a_diverging_one(tmp_path, monkeypatch):
    """Three cells in one vmapped step (robustness grid style: FastSigmoid surrogates of steepness 3 and 30,
    seeds 0 and 1, SMORMS3 with frozen thresholds): cells 0 and 1 equal `fit` of each network with its seed,
    weights and the per-epoch history (float32, rtol 1e-4: vmapped products sum in another order); cell 2
    (its readout weights at 3e38, so the first step overflows) is frozen at its initial weights and reported
    as diverged without touching the others. A rerun resumes from the checkpoint without training again."""
    d = snnsad.data.randman(3, 8, 20, samples_per_class=40, alpha=2.0, seed=0)
    train, val = snnsad.data.SpikeDataset(d.x[:96], d.y[:96]), snnsad.data.SpikeDataset(d.x[96:108], d.y[96:108])

    def net(beta, seed):
        spike = snnsad.Surrogate(snnsad.FastSigmoid(beta), scale=1.0)
        n = snnsad.feedforward((8, 16, 3), key=jr.key(seed), spike_fn=spike)
        return eqx.tree_at(lambda n: n.layers[0].weight, n, 8 * n.layers[0].weight)  # hidden neurons fire  # pyright: ignore[reportAttributeAccessIssue]

    bad = net(3.0, 0)
    bad = eqx.tree_at(lambda n: n.readout.weight, bad, jnp.full_like(bad.readout.weight, 3e38))
    nets, seeds = [net(3.0, 0), net(30.0, 1), bad], [0, 1, 0]
    opt = snnsad.train.freeze(snnsad.train.smorms3(1e-2), "threshold")
    common = dict(estimator=snnsad.Autodiff(), loss_fn=snnsad.losses.ce_loss, optimizer=opt, epochs=2,
                  batch_size=16, val=val, metric_fn=snnsad.losses.on_output(snnsad.losses.accuracy_max_over_time),
                  progress=False)  # fmt: skip
    out = snnsad.train.fit_cells(nets, train, seeds=seeds, out_dir=str(tmp_path / "cells"), **common)
    for c in (0, 1):
        ref = snnsad.fit(nets[c], train, seed=seeds[c], **common)
        for a, b in zip(jax.tree.leaves(eqx.filter(out.nets[c], eqx.is_array)),
                        jax.tree.leaves(eqx.filter(ref.net, eqx.is_array)), strict=True):  # fmt: skip
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        assert out.diverged[c] is None
        for mine, theirs in zip(out.histories[c], ref.history, strict=True):
            assert mine["val_metric"] == pytest.approx(theirs["val_metric"], abs=1e-9)
            assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-4)
    for c in (0, 1):  # both layers trained
        assert not np.allclose(out.nets[c].readout.weight, nets[c].readout.weight)
        assert not np.allclose(out.nets[c].layers[0].weight, nets[c].layers[0].weight)
    assert out.diverged[2] is not None and "epoch 0, step 0" in out.diverged[2] and out.histories[2] == []
    assert float(out.nets[2].readout.weight[0, 0]) == pytest.approx(3e38)
    from snnsad.train import _cells

    monkeypatch.setattr(_cells, "_cells_step", lambda *a: pytest.fail("a finished run was trained again"))
    again = snnsad.train.fit_cells(nets, train, seeds=seeds, out_dir=str(tmp_path / "cells"), **common)
    assert again.histories == out.histories and again.diverged == out.diverged
