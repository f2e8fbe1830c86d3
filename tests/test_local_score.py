"""`LocalScoreFunction`: unbiased against exact enumeration, its fast per-neuron losses, its lower variance, its errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad
from snnsad.estimators._local_score import _swapped_losses, _systematic_sites

from .helpers import assert_unbiased, exact_gradient, small_problem

F64 = jnp.float64
STOCH = snnsad.Stochastic(snnsad.Sigmoid(2.0))
FAST = snnsad.LIF(tau_mem=2e-3, tau_syn=2e-3, dt=1e-3, reset="subtract")  # short memory: lively on few steps
ce_loss = snnsad.losses.ce_loss
# a loss that reads spikes: cross-entropy with the calibrated study's kind of activity bounds (strong enough
# to matter on the small problems)
regularised = snnsad.losses.make_loss(
    snnsad.losses.sum_over_time_cross_entropy,
    [
        snnsad.losses.ActivityRegulariser(0.5, 1.0, "upper", 2, "layer"),
        snnsad.losses.ActivityRegulariser(0.3, 2.0, "lower", 2),
    ],
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "n_samples", "groups", "spikes_too", "last", "sites"),
    [
        ("one_hidden_subtract", 4, None, True, "score", None),
        ("two_hidden_zero", 2, None, False, "score", None),
        ("two_hidden_zero", 3, 2, True, "score", None),
        ("one_hidden_subtract", 2, None, True, "flips", None),
        ("two_hidden_zero", 2, 2, True, "flips", 2),
    ],
)  # both sample counts (the two-draw baseline is a special case), both problems, the group credit, a loss
# that reads spikes and the coupled flips of the last layer (every site, and 2 sampled of 6), each once
def test_local_score_function_matches_exact_enumeration(case, n_samples, groups, spikes_too, last, sites, x64):
    """The mean of 3000 estimates (and of the loss values) is within 4 standard errors of exact enumeration
    for every parameter (fixed seeds). `two_hidden_zero` has a stochastic layer below the last one, so it
    also checks the score-function term of the layers below, and with `groups=2` their credit by groups
    (one neuron per group there: each swapped group is re-simulated through the layers above).
    `spikes_too`: the loss adds activity regularisers (upper bound per layer, lower bound per neuron), which
    the swapped configurations must evaluate on their own spikes. `last="flips"` on `one_hidden_subtract`
    (reset by subtraction: a flipped spike changes the neuron's later membrane) checks that each flipped
    branch re-simulates the neuron's future with the same noise; holding the later spikes at the draw
    instead is off by about 16 standard errors there. `sites=2` draws 2 of the 6 steps per neuron (weighted
    by the inverse inclusion probability); drawing them with a key that `sample_noise` also uses for the
    last layer's noise is off by 5 standard errors on `two_hidden_zero`."""
    net, x, loss_fn, y = small_problem(case)
    if spikes_too:
        loss_fn = regularised
        value, exact = snnsad.ExactEnumeration()(loss_fn, net, x, y)
    else:
        value, exact = exact_gradient(case)
    est = snnsad.LocalScoreFunction(n_samples, groups=groups, last=last, sites=sites)
    values, grads = snnsad.sample_grads(est, loss_fn, net, x, y, jr.split(jr.key(7), 3000), chunk_size=1000)
    assert_unbiased(grads, exact, n_se=4.0, label=f"{case}/{n_samples}/{last}: ")
    assert_unbiased(values, value, n_se=4.0, label="loss value")


def test_systematic_sites_include_each_step_with_its_probability(x64):
    """`_systematic_sites` draws at most `k` distinct steps per neuron and returns `1 / pi_t` at each, where
    `pi_t` is the step's inclusion probability, so the Horvitz-Thompson sum over the drawn steps is unbiased:
    for every step, the weighted count (`1 / pi_t` when drawn, else 0) has mean 1 within 4 standard errors
    over 20000 draws (fixed seed; the standard error from the draws' spread), and `1 / pi_t` times the step's
    frequency is 1 within 4 standard errors of that frequency. Weights of very different sizes, one large
    enough that its step is drawn every time (pi = 1), and a zero weight (kept drawable by the floor)."""
    weight = jnp.asarray([[0.01, 5.0, 0.3], [0.2, 0.1, 0.3], [3.0, 0.05, 0.3], [0.0, 0.4, 0.3], [0.5, 0.2, 0.3]], F64)
    draws = 20000
    at, inverse = jax.vmap(lambda k: _systematic_sites(weight, 2, k))(jr.split(jr.key(0), draws))
    at, inverse = np.asarray(at), np.asarray(inverse)  # (draws, 2 slots, 3 neurons)
    assert np.all((at[:, 0] != at[:, 1]) | (at[:, 0] == 5)), "a step drawn twice"
    assert np.all(np.where(at == 5, inverse, 1.0) > 0) and np.all(inverse[at == 5] == 0)
    for step in range(5):
        weighted = np.where(at == step, inverse, 0.0).sum(axis=1)  # (draws, 3)
        se = weighted.std(axis=0, ddof=1) / np.sqrt(draws)
        assert np.all(np.abs(weighted.mean(axis=0) - 1) <= 4 * se + 1e-12), (step, weighted.mean(axis=0), se)
        for neuron in range(3):
            drawn = (at[:, :, neuron] == step).any(axis=1)
            inv = np.unique(inverse[:, :, neuron][at[:, :, neuron] == step])
            assert inv.size == 1  # 1 / pi_t depends on the step alone
            pi, freq = 1 / inv[0], drawn.mean()
            assert abs(freq - pi) <= 4 * np.sqrt(pi * (1 - pi) / draws) + 1e-12, (step, neuron, freq, pi)
    assert np.all((at[:, :, 1] == 0).any(axis=1))  # weight 5.0 of 5.85: drawn every time


def test_swapped_losses_equal_a_rerun_with_the_swapped_spikes(x64):
    """`L(s_i^k, s_{-i}^1)` from the readout's linearity equals the loss of a run whose last layer is forced
    to those spikes, for every draw k and neuron i (float64, to 1e-10): for a loss of the readout, for a
    `make_loss` loss with activity regularisers (the swaps update spike counts) and for any other function
    of the spike trains (the swaps carry whole trains)."""
    net = snnsad.feedforward((3, 5, 4, 3), key=jr.key(0), spike_fn=STOCH, neuron=FAST, gain=2.0, dtype=F64)
    x = 2 * jr.uniform(jr.key(1), (12, 3), F64)
    y = jnp.asarray(2)
    first = net.sample_noise(jr.key(2), 12)
    lasts = jr.uniform(jr.key(3), (3, 12, 4), F64)
    traces = jax.vmap(lambda u: net.simulate(x, (first[0], u)))(lasts)
    spikes = np.asarray(traces.spikes[1])
    assert 0.1 < spikes.mean() < 0.9 and np.all(np.any(spikes[1:] != spikes[:1], axis=(1, 2)))  # draws differ

    def reads_trains(trace, y):  # a spike-reading loss that is not a `Loss`: the swaps carry whole trains
        return ce_loss(trace, y) + 0.1 * jnp.sum(trace.spikes[1][::2]) + 0.05 * jnp.sum(trace.spikes[0] ** 2)

    for loss_fn in (ce_loss, regularised, reads_trains):
        swapped = _swapped_losses(net.readout, traces, loss_fn, y)
        rerun_loss = jax.jit(lambda forced, f=loss_fn: f(net.simulate(x, first, forced=(None, forced)), y))
        for k in range(3):
            for i in range(4):
                forced = spikes[0].copy()
                forced[:, i] = spikes[k][:, i]
                np.testing.assert_allclose(swapped[k, i], rerun_loss(jnp.asarray(forced)), rtol=0, atol=1e-10)


def test_chunked_swaps_give_the_same_estimate(x64):
    """`chunk_size` only changes how many neurons' swapped readouts are evaluated at once: the same key gives
    the same loss and gradient (float64, to 1e-12), and a bad chunk size is refused."""
    net, x, loss_fn, y = small_problem("one_hidden_subtract")
    whole = eqx.filter_jit(snnsad.LocalScoreFunction(3))(loss_fn, net, x, y, jr.key(4))
    chunked = eqx.filter_jit(snnsad.LocalScoreFunction(3, chunk_size=2))(loss_fn, net, x, y, jr.key(4))
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(chunked), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="chunk_size"):
        snnsad.LocalScoreFunction(2, chunk_size=0)


@pytest.mark.slow
def test_local_score_function_and_its_flips_cut_the_variance_of_a_wide_layer(x64):
    """On a layer of 24 neurons, the hidden weights' per-estimate variance (summed over entries) of
    `LocalScoreFunction(4)` is below a third of `ScoreFunction(4)`'s (about 1/24 for identical neurons,
    since each neuron's score meets only its own loss fluctuation; measured 1/9.8 on these unequal
    ones), and `LocalScoreFunction(2, last="flips")`'s below a quarter of `LocalScoreFunction(4)`'s (measured
    1/16: every site's flip is exact over the site, no draw of it). 300 estimates each, fixed seeds: the
    relative standard error of each variance is about sqrt(2/300) = 8 % for Gaussian estimates, so the
    factors 3 and 4 leave a wide margin for heavier tails."""
    net = snnsad.feedforward((6, 24, 3), key=jr.key(4), spike_fn=STOCH, neuron=FAST, gain=2.0, dtype=F64)
    x = 2 * jr.uniform(jr.key(5), (20, 6), F64)
    y = jnp.asarray(0)
    keys = jr.split(jr.key(6), 300)
    variance = {}
    estimators = {
        "local": snnsad.LocalScoreFunction(4),
        "plain": snnsad.ScoreFunction(4),
        "flips": snnsad.LocalScoreFunction(2, last="flips"),
    }
    for name, est in estimators.items():
        _, grads = snnsad.sample_grads(est, ce_loss, net, x, y, keys, chunk_size=100)
        variance[name] = float(np.var(np.asarray(grads.layers[0].weight), axis=0, ddof=1).sum())
    assert variance["local"] < variance["plain"] / 3, variance
    assert variance["flips"] < variance["local"] / 4, variance


def test_local_score_function_refuses_models_it_cannot_handle(x64):
    """Each requirement (n_samples >= 2, a Network with a linear readout, a stochastic and non-recurrent
    last layer, a loss of the readout alone) gets an error that names it."""
    net, x, _, y = small_problem("one_hidden_subtract")
    key = jr.key(0)
    est = snnsad.LocalScoreFunction(2)
    with pytest.raises(ValueError, match="n_samples.*>= 2"):
        snnsad.LocalScoreFunction(1)
    with pytest.raises(ValueError, match="groups"):
        snnsad.LocalScoreFunction(2, groups=0)
    with pytest.raises(ValueError, match="`last` must be 'score'.*got 'flip'"):
        snnsad.LocalScoreFunction(2, last="flip")
    two, x4, loss4, y4 = small_problem("two_hidden_zero")
    with pytest.raises(ValueError, match="groups.*exceeds the 2 neurons of spiking layer 0"):
        snnsad.LocalScoreFunction(2, groups=3)(loss4, two, x4, y4, key)
    with pytest.raises(ValueError, match="linear readout"):
        no_readout, x2, loss2, y2 = small_problem("spiking_output_none")
        est(loss2, no_readout, x2, y2, key)
    with pytest.raises(ValueError, match="recurrent"):
        recurrent, x3, loss3, y3 = small_problem("recurrent_leak")
        est(loss3, recurrent, x3, y3, key)
    mixed = snnsad.feedforward(
        (3, 3, 2, 2), key=jr.key(1), spike_fn=[STOCH, snnsad.Surrogate(snnsad.Sigmoid(2.0))], dtype=F64
    )
    with pytest.raises(ValueError, match="last spiking layer must be stochastic"):
        est(ce_loss, mixed, x, y, key)

    def reads_drive(trace, y):
        return ce_loss(trace, y) + 1e-3 * jnp.sum(trace.drive[0])

    with pytest.raises(ValueError, match=r"readout \(trace.output\) and the spikes \(trace.spikes\) only"):
        est(reads_drive, net, x, y, key)

    class Wrapped(snnsad.AbstractNetwork):
        inner: snnsad.Network

        @property
        def sizes(self):
            return self.inner.sizes

        @property
        def spike_fns(self):
            return self.inner.spike_fns

        def simulate(self, x, noise, *, forced=None, flips=None, fixed_spikes=False):
            return self.inner.simulate(x, noise, forced=forced, flips=flips, fixed_spikes=fixed_spikes)

    with pytest.raises(TypeError, match="snnsad.nn.Network"):
        est(ce_loss, Wrapped(net), x, y, key)


def test_swap_currents_equal_the_projection_of_the_swapped_input(x64):
    """The grouped credit's shortcut for a `Dense` layer above (draw 1's currents plus the projection of one
    group's change) equals projecting the swapped input, for groups of unequal size (7 neurons in 3 groups)
    and a layer with a bias (float64, to 1e-12); another layer type projects the swapped input itself."""
    from snnsad.estimators._local_score import _swap_currents

    above = snnsad.nn.Dense(7, 5, neuron=FAST, spike_fn=STOCH, key=jr.key(0), bias=True, dtype=F64)
    above = eqx.tree_at(lambda d: d.bias, above, jr.normal(jr.key(1), (5,), F64))
    spikes = (jr.uniform(jr.key(2), (3, 9, 7), F64) < 0.4).astype(F64)  # 3 draws, T = 9, 7 neurons
    member = np.arange(7) * 3 // 7
    currents = _swap_currents(above, spikes, member, 3)
    for k in range(3):
        for g in range(3):
            swapped = jnp.where(jnp.asarray(member == g)[None, :], spikes[k], spikes[0])
            np.testing.assert_allclose(currents(k, g, swapped), above.project(swapped), rtol=0, atol=1e-12)
    conv = snnsad.nn.Conv1D(
        1, 7, 2, 3, recurrent_kernel_size=None, neuron=FAST, spike_fn=STOCH, key=jr.key(3), dtype=F64
    )
    swapped = spikes[1]
    np.testing.assert_array_equal(_swap_currents(conv, spikes, member, 3)(1, 0, swapped), conv.project(swapped))
