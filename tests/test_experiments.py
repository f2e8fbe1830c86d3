"""The paper's experiments (quick mode) reproduce its claims and write their files."""

import json
import os

import pytest

from snnsad import experiments
from snnsad._cli import main as cli_main


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("reproduce"))
    experiments.reproduce(["e1", "e2", "e3"], out, quick=True, seed=0)
    return out


def _results(out, name):
    with open(os.path.join(out, name, "results.json")) as f:
        return json.load(f)


def test_e1_single_neuron_claims(report_dir):
    """Fixed seed, 2000 samples; z-scores are |MC mean - closed form| in standard errors (<= 4)."""
    r = _results(report_dir, "e1_single_neuron")
    assert r["max_abs_matched_sg_minus_dEdu"] < 1e-12
    assert max(r["smoothed_max_z"].values()) <= 4
    assert r["mean_sg_vs_grad_of_loss_of_mean_max_z"] <= 4  # mean SG = d L(E[y]) / du ...
    assert abs(r["mean_sg_minus_true_at_p_half"]) < 1e-12  # ... = d E[L] / du at p = 1/2 ...
    assert r["max_abs_mean_sg_minus_true"] > 0.1  # ... and not elsewhere


def test_e2_closed_loop_claims(report_dir):
    r = _results(report_dir, "e2_closed_loop")
    sg = [abs(r[b]["sg_loop_integral"]) for b in ("1.0", "5.0", "20.0")]
    assert sg[0] > 1e-3 and sg[0] < sg[1] < sg[2]
    assert all(abs(r[b]["exact_loop_integral"]) < 1e-8 for b in r)
    assert all(r[b]["sg_jacobian_asymmetry"] > 1e-3 and r[b]["exact_jacobian_asymmetry"] < 1e-12 for b in r)


def test_e3_wrong_direction_claims(report_dir):
    r = _results(report_dir, "e3_wrong_direction")
    assert any(r[b]["example_w_opposite_sign"] is not None for b in ("15.0", "30.0"))
    assert any(abs(r[b]["w_integrated_sg_minimum"] - r["w_true_minimum"]) > 0.01 for b in ("15.0", "30.0"))


def test_report_and_figures_are_written(report_dir):
    report = open(os.path.join(report_dir, "report.md")).read()
    for name in ("e1_single_neuron", "e2_closed_loop", "e3_wrong_direction"):
        assert f"## {name}" in report
        assert os.path.getsize(os.path.join(report_dir, name, f"{name}.png")) > 1000
        assert "commit" in json.load(open(os.path.join(report_dir, name, "config.json")))


def test_reproduce_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment"):
        cli_main(["reproduce", "e9", "--out", str(tmp_path)])


def test_fano_factor_separates_deterministic_and_stochastic_networks():
    import jax.numpy as jnp
    import jax.random as jr

    import snnsad

    x = jnp.ones((4, 30, 5)) * 0.5
    det = snnsad.feedforward((5, 20, 2), key=jr.key(0), spike_fn=snnsad.Surrogate(snnsad.FastSigmoid(10.0)), gain=8.0)
    sto = snnsad.feedforward((5, 20, 2), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(1.0)), gain=8.0)
    assert experiments.fano_factor(det, x, jr.key(1))[0] == 0.0  # same spikes on every trial
    assert experiments.fano_factor(sto, x, jr.key(1))[0] > 0.1  # soft escape noise: trial-to-trial variability
