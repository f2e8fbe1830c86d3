"""The SG-NTK experiment (quick) and the stochastic SG-NTK study on finite networks."""

import math

import numpy as np
import pytest

import snnsad
import snnsad.experiments


@pytest.mark.slow
def test_sg_ntk_experiment_small(tmp_path):
    """The sg-ntk experiment at a small size (widths 20 and 200, 20 networks, 500 steps, seed 0): files
    written, closed forms within 1e-10, the network means inside the SG-NTK 95 % band at >= 90 % of angles;
    after training, the empirical SG-NTK of erf_2 and erf_20 networks (3 per width) stays closer to the analytic
    one at width 100 than at width 10 by more than 3 standard errors (measured 0.17 vs 0.86, 0.74 vs 5.6)."""
    out = snnsad.experiments.sg_ntk(
        str(tmp_path), quick=True, widths=(20, 200), n_networks=20, steps=500, stochastic_widths=(100,)
    )
    r = out["results"]
    assert max(r["closed_form_vs_quadrature"].values()) < 1e-10
    for w in ("20", "200"):
        assert r["training"][w]["inside_95_band"] >= 0.9
    assert (tmp_path / "sg_ntk" / "sg_ntk.png").stat().st_size > 1000
    parts = sorted(p.name for p in (tmp_path / "sg_ntk" / "parts").iterdir())  # what a rerun resumes from
    assert "sign_networks_w200.json" in parts and "stochastic_w100.json" in parts and "kernels_m20_w100.json" in parts
    for by_width in r["kernels_after_training"].values():
        narrow, wide = by_width["10"]["trained"], by_width["100"]["trained"]
        assert narrow["mean"] - wide["mean"] > 3 * math.hypot(narrow["se"], wide["se"])
    assert r["training"]["200"]["rms_standard_error"] > 0
    st = r["stochastic"]["100"]
    assert st["rms_standard_error"] > 0 and len(st["network_mean"]) == 120


def test_sign_networks_are_saved_in_chunks_and_an_interrupted_width_resumes(tmp_path, monkeypatch):
    """A width's networks are trained and saved `chunk` at a time (network i keeps the key it has in the whole
    width's split), so a width cut off after some chunks retrains only the rest; the finished width is one part."""
    from snnsad.experiments import _sg_ntk

    x, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.5, -0.5])
    args = (str(tmp_path), 4, 3, x, y, x, 0.1, 5, 0)
    whole = _sg_ntk._sign_networks(*args, chunk=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["sign_networks_w4.json", "sign_networks_w4_0-2.json", "sign_networks_w4_2-3.json"]
    assert np.asarray(whole).shape == (3, 2)
    (tmp_path / "sign_networks_w4.json").unlink()  # cut off before the width's part was written ...
    (tmp_path / "sign_networks_w4_2-3.json").unlink()  # ... and before its last chunk
    trained = []
    real = _sg_ntk._train_sign_networks
    monkeypatch.setattr(
        _sg_ntk, "_train_sign_networks", lambda w, keys, *a: trained.append(len(keys)) or real(w, keys, *a)
    )
    np.testing.assert_array_equal(_sg_ntk._sign_networks(*args, chunk=2), whole)
    assert trained == [1]  # only the missing chunk's network


@pytest.mark.slow
@pytest.mark.optimized(seconds=17)
def test_matched_stochastic_sg_follows_the_smoothed_networks_kernel_as_width_grows():
    """One hidden layer, 30 stochastic sign networks per width, 500 steps, seed 0: the RMS distance of the
    networks' noise-averaged mean to the smoothed network's NTK prediction falls from width 500 to 4000 and
    ends within 3 RMS standard errors of it, closer than to the deterministic sign network's SG-NTK."""
    from snnsad.experiments._sg_ntk import circle
    from snnsad.experiments._sg_ntk_stochastic import stochastic_study

    _, x, y = circle(15)
    _, xt, _ = circle(60, offset=np.pi / 60)
    r = stochastic_study(x, y, xt, widths=(500, 4000), n_networks=30, steps=500, seed=0)
    small, large = r["500"], r["4000"]
    assert large["rms_to_smoothed_ntk"] < small["rms_to_smoothed_ntk"]
    assert large["rms_to_smoothed_ntk"] < 3 * large["rms_standard_error"]
    assert large["rms_to_smoothed_ntk"] < large["rms_to_sign_sg_ntk"]
