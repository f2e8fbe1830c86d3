"""Whole-network estimators against exact enumeration (ARCHITECTURE.md section 4)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import snnsad

from .helpers import assert_unbiased, documented_namespace, exact_gradient, max_z, small_problem

F64 = jnp.float64
ESC = snnsad.Sigmoid(2.0)
STOCH = snnsad.Stochastic(ESC)
ce_loss = snnsad.losses.ce_loss


with jax.enable_x64(True):
    PROBLEMS = snnsad.analysis.small_problems()
CASES = list(PROBLEMS)


def _exact(net, x, loss_fn, y):
    return eqx.filter_jit(snnsad.ExactEnumeration())(loss_fn, net, x, y)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=str)
def test_cases_are_nontrivial(case, x64):
    """The test networks have firing probabilities away from 0 and 1 and a nonzero exact gradient."""
    net, x, loss_fn, y = small_problem(case)
    probs = np.concatenate([np.asarray(p).ravel() for p in net(x, key=jr.key(0)).prob])
    assert 0.1 < probs.mean() < 0.9
    _, g = exact_gradient(case)
    w = {k: np.abs(np.asarray(v)).max() for k, v in snnsad.nn.parameters(g).items() if not k.endswith("threshold")}
    scale = max(w.values())
    assert all(v > 1e-3 * scale for v in w.values()), w  # every weight matrix influences the loss


# every case for the two reference estimators; DisARM on four (a recurrent layer; two hidden layers, whose
# blocks at one time step are conditioned on the layer below at that step; the recurrent convolution; the
# subtractive reset), leaving the memoryless perceptrons and the spiking output out for the suite's time
UNBIASED_CASES = [
    *((case, est) for est in (snnsad.StochasticAD(4), snnsad.ScoreFunction(8)) for case in CASES),
    *(
        (case, snnsad.DisARM(4))
        for case in ("one_hidden_subtract", "two_hidden_zero", "recurrent_leak", "conv_recurrent")
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "estimator"), UNBIASED_CASES, ids=[f"{type(e).__name__}-{c}" for c, e in UNBIASED_CASES]
)
def test_unbiased_estimators_match_exact_enumeration(case, estimator, x64):
    """Mean of 3000 estimates is within 4 standard errors of the exact gradient for every parameter (fixed seeds)."""
    net, x, loss_fn, y = small_problem(case)
    value, exact = exact_gradient(case)
    values, grads = snnsad.sample_grads(estimator, loss_fn, net, x, y, jr.split(jr.key(5), 3000), chunk_size=1000)
    assert_unbiased(grads, exact, n_se=4.0, label=f"{case}/{type(estimator).__name__}")
    assert_unbiased(values, value, n_se=4.0, label="loss value")


@pytest.mark.slow
@pytest.mark.parametrize(
    "estimator",
    [
        snnsad.StochasticAD("all"),
        snnsad.StochasticAD(3, weighting="right"),
        snnsad.StochasticAD(3, weighting="left"),
        snnsad.StochasticAD(3, weighting="straight_through"),
        snnsad.StochasticAD(3, proposal="stratified"),
        snnsad.StochasticAD(3, proposal="uniform"),
        snnsad.StochasticAD(2, chunk_size=1),
        snnsad.ScoreFunction(4, None),
        snnsad.ScoreFunction(1, None),
        snnsad.DisARM(3, variant="arm"),
        snnsad.DisARM("all"),
        snnsad.DisARM(3, proposal="stratified", chunk_size=2),
        snnsad.DisARM(3, proposal="uniform"),
    ],
    ids=[
        "all_sites",
        "right",
        "left",
        "straight_through",
        "stratified_proposal",
        "uniform_proposal",
        "chunked",
        "score_no_baseline",
        "score_single",
        "arm",
        "disarm_all_blocks",
        "disarm_stratified_chunked",
        "disarm_uniform",
    ],
)
def test_estimator_variants_are_unbiased(estimator, x64):
    """Every weighting/proposal/baseline/variant option is unbiased (4 standard errors, 3000 samples, fixed seed)."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    _, exact = exact_gradient("two_hidden_zero")
    _, grads = snnsad.sample_grads(estimator, loss_fn, net, x, y, jr.split(jr.key(6), 3000), chunk_size=1000)
    assert_unbiased(grads, exact, n_se=4.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "estimator",
    [
        snnsad.MixedEstimator(coupled=(1,), n_flips=3, n_samples=4),
        snnsad.MixedEstimator(coupled=(0,), n_flips=3, n_samples=2, weighting="two_sided"),
        snnsad.MixedEstimator(coupled=(), n_samples=3, baseline=None),
    ],
    ids=["flips_on_output", "flips_on_hidden", "score_everywhere"],
)
def test_per_layer_mix_of_flips_and_score_is_unbiased(estimator, x64):
    """Coupled flips on some stochastic layers and the score function on the others: each site's term of
    dE[L]/dtheta keeps its own unbiased estimator, so the sum is unbiased; checked against exact enumeration
    on the two-layer problem (4 standard errors, 3000 samples, fixed seed) for every split."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    value, exact = exact_gradient("two_hidden_zero")
    values, grads = snnsad.sample_grads(estimator, loss_fn, net, x, y, jr.split(jr.key(8), 3000), chunk_size=1000)
    assert_unbiased(grads, exact, n_se=4.0)
    assert_unbiased(values, value, n_se=4.0, label="loss value")


def test_stratified_proposal_needs_a_flip_per_layer(x64):
    """`proposal="stratified"` gives every stochastic layer at least one flip: fewer flips than layers is refused."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    with pytest.raises(ValueError, match="fewer than the 2 stochastic layers"):
        snnsad.StochasticAD(1, proposal="stratified")(loss_fn, net, x, y, jr.key(0))


def test_disarm_stratified_needs_a_block_per_layer(x64):
    """`DisARM(proposal="stratified")` draws blocks in every stochastic layer: fewer blocks than layers is refused."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    with pytest.raises(ValueError, match="fewer than the 2 stochastic layers"):
        snnsad.DisARM(1, proposal="stratified")(loss_fn, net, x, y, jr.key(0))


def test_mixed_estimator_refuses_bad_settings(x64):
    """Layer indices that are not stochastic layers, too few samples for the baseline, bad options: clear errors."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    with pytest.raises(ValueError, match="not stochastic spiking layers"):
        snnsad.MixedEstimator(coupled=(5,))(loss_fn, net, x, y, jr.key(0))
    with pytest.raises(ValueError, match="n_samples >= 2"):
        snnsad.MixedEstimator(coupled=(0,), n_samples=1)
    with pytest.raises((ValueError, TypeError), match="weighting"):
        snnsad.MixedEstimator(coupled=(0,), weighting="both")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="coupled"):
        snnsad.MixedEstimator(coupled=(-1,))


def test_matched_stochastic_sg_is_biased_in_two_layers(x64):
    """Theory: smoothing is exact only through linear maps, so the SG of a 2-layer stochastic net is biased.

    3000 samples; the largest deviation exceeds 10 standard errors, while StochasticAD on the same
    network stays within 4 (test above).
    """
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    _, exact = exact_gradient("two_hidden_zero")
    _, grads = snnsad.sample_grads(snnsad.Autodiff(), loss_fn, net, x, y, jr.split(jr.key(7), 3000), chunk_size=1000)
    assert max_z(grads, exact) > 10


def test_exact_enumeration_single_neuron_closed_form(x64):
    """One stochastic perceptron, L = (s - y)^2: dE[L]/dw = F'(w.x - theta) x ((1 - y)^2 - y^2)."""
    net = snnsad.feedforward(
        (3, 1), key=jr.key(0), spike_fn=STOCH, neuron=snnsad.Perceptron(0.3), readout=False, dtype=F64
    )
    x = jnp.asarray([[0.5, -1.0, 2.0]], F64)
    y = jnp.asarray(0.3, F64)
    loss = lambda tr, y: jnp.sum(jnp.square(tr.output - y))
    value, g = snnsad.ExactEnumeration()(loss, net, x, y)
    w = net.layers[0].weight[0]  # pyright: ignore[reportAttributeAccessIssue]
    u = w @ x[0] - 0.3
    p = ESC.cdf(u)
    np.testing.assert_allclose(value, p * 0.7**2 + (1 - p) * 0.3**2, rtol=1e-12)
    np.testing.assert_allclose(g.layers[0].weight[0], ESC.pdf(u) * x[0] * (0.7**2 - 0.3**2), rtol=1e-12)
    np.testing.assert_allclose(g.layers[0].neuron.threshold, -ESC.pdf(u) * (0.7**2 - 0.3**2), rtol=1e-12)
    # The matched stochastic SG of the expected *output* equals dE[s]/dw exactly (Gygax & Zenke, single neuron).
    out = lambda tr, y: jnp.sum(tr.output)
    _, sg = snnsad.Autodiff()(out, net, x, None, jr.key(3))
    np.testing.assert_allclose(sg.layers[0].weight[0], ESC.pdf(u) * x[0], rtol=1e-12)


def test_exact_enumeration_refuses_too_many_sites():
    net = snnsad.feedforward((3, 5, 2), key=jr.key(0), spike_fn=STOCH)
    with pytest.raises(ValueError, match="has 25 stochastic sites"):
        snnsad.ExactEnumeration(max_sites=20)(ce_loss, net, jnp.ones((5, 3)), jnp.asarray(0))


def test_exact_enumeration_needs_a_stochastic_layer():
    net = snnsad.feedforward((3, 2, 2), key=jr.key(0), spike_fn=snnsad.Heaviside())
    with pytest.raises(ValueError, match="no stochastic layer"):
        snnsad.ExactEnumeration()(ce_loss, net, jnp.ones((3, 3)), jnp.asarray(0))


@pytest.mark.slow
def test_chunking_does_not_change_exact_enumeration(x64):
    net, x, loss_fn, y = small_problem("one_hidden_subtract")
    v1, g1 = eqx.filter_jit(snnsad.ExactEnumeration(chunk_size=4096))(loss_fn, net, x, y)
    v2, g2 = eqx.filter_jit(snnsad.ExactEnumeration(chunk_size=256))(loss_fn, net, x, y)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "estimator", [snnsad.StochasticAD(3), snnsad.ScoreFunction(2), snnsad.ExactEnumeration()], ids=repr
)
def test_estimators_of_the_expectation_refuse_a_deterministic_network(estimator):
    """Without a stochastic layer there is no expectation to differentiate: a clear error, not zeros."""
    net = snnsad.feedforward((3, 3, 2), key=jr.key(0), spike_fn=snnsad.Heaviside(), gain=2.0)
    with pytest.raises(ValueError, match="no stochastic layer.*Autodiff"):
        estimator(ce_loss, net, jnp.ones((6, 3)), jnp.asarray(1), jr.key(2))


@pytest.mark.slow
def test_estimators_batch_with_vmap_under_jit(getkey):
    net = snnsad.feedforward((4, 8, 3), key=getkey(), spike_fn=STOCH, gain=3.0)
    xs = jr.uniform(getkey(), (5, 10, 4))
    ys = jnp.arange(5) % 3
    keys = jr.split(getkey(), 5)
    for est in (snnsad.StochasticAD(4), snnsad.ScoreFunction(4), snnsad.Autodiff()):

        @eqx.filter_jit
        def batch(net, xs, ys, keys):
            values, grads = jax.vmap(lambda x, y, k: est(ce_loss, net, x, y, k))(xs, ys, keys)
            return values, grads

        values, grads = batch(net, xs, ys, keys)
        assert values.shape == (5,)
        assert grads.layers[0].weight.shape == (5, 8, 4)
        assert np.all(np.isfinite(np.asarray(grads.layers[0].weight)))
        assert jax.tree.structure(jax.tree.map(lambda g: g[0], grads)) == jax.tree.structure(
            eqx.filter(net, snnsad.nn.trainable(net))
        )


def test_estimator_options_are_validated():
    with pytest.raises(ValueError, match="n_flips"):
        snnsad.StochasticAD(0)
    # Literal options: ValueError for a user; the test suite's type checker raises TypeError first.
    with pytest.raises((ValueError, TypeError), match="weighting"):
        snnsad.StochasticAD(2, weighting="both")
    with pytest.raises((ValueError, TypeError), match="proposal"):
        snnsad.StochasticAD(2, proposal="greedy")
    with pytest.raises((ValueError, TypeError), match="baseline"):
        snnsad.ScoreFunction(4, baseline="median")
    with pytest.raises(ValueError, match="n_samples >= 2"):
        snnsad.ScoreFunction(1)
    with pytest.raises(TypeError, match="snnsad.nn.AbstractNetwork"):
        snnsad.StochasticAD(2)(ce_loss, "net", jnp.ones((3, 3)), 0, jr.key(0))
    with pytest.raises(ValueError, match="n_blocks"):
        snnsad.DisARM(0)
    with pytest.raises((ValueError, TypeError), match="variant"):
        snnsad.DisARM(2, variant="relax")
    with pytest.raises(ValueError, match="chunk_size"):
        snnsad.DisARM(2, chunk_size=0)
    with pytest.raises(ValueError, match="StochasticAD: `chunk_size` must be an int >= 1 or None, got 0"):
        snnsad.StochasticAD(2, chunk_size=0)
    with pytest.raises(ValueError, match="Averaged: `n_draws` must be an int >= 1, got 0"):
        snnsad.Averaged(snnsad.Autodiff(), 0)
    with pytest.raises(ValueError, match="n_draws"):
        snnsad.Averaged(snnsad.Autodiff(), True)
    with pytest.raises(TypeError, match="estimator"):  # the suite's type checker may raise first
        snnsad.Averaged(snnsad.Batched(snnsad.Autodiff()), 2)


@pytest.mark.slow
def test_mixed_network_with_expected_layer_is_unbiased(x64):
    """A smooth (Expected) layer after a stochastic one: StochasticAD stays unbiased (4 SE, 3000 samples)."""
    net = snnsad.feedforward(
        (3, 3, 2, 2),
        key=jr.key(3),
        spike_fn=[STOCH, snnsad.Expected(ESC)],
        neuron=snnsad.LIF(tau_mem=2e-3, tau_syn=2e-3, dt=1e-3, reset="subtract"),
        gain=2.0,
        dtype=F64,
    )
    x = 2 * jr.uniform(jr.key(4), (6, 3), F64)
    y = jnp.asarray(1)
    _, exact = _exact(net, x, ce_loss, y)
    _, grads = snnsad.sample_grads(
        snnsad.StochasticAD(4), ce_loss, net, x, y, jr.split(jr.key(8), 3000), chunk_size=1000
    )
    assert_unbiased(grads, exact, n_se=4.0)
    assert np.abs(np.asarray(exact.layers[1].weight)).max() > 1e-3  # the smooth layer's weights matter


def test_an_estimator_declares_its_objective():
    """``objective`` is abstract: an estimator without one cannot be made (Batched and fit rely on it)."""

    class CallOnly(snnsad.AbstractEstimator):
        def __call__(self, loss_fn, net, x, y, key):
            return snnsad.StochasticAD(2)(loss_fn, net, x, y, key)

    with pytest.raises(TypeError, match="objective"):
        CallOnly()  # pyright: ignore[reportAbstractUsage]
    with pytest.raises(TypeError, match="estimator"):
        snnsad.Batched(lambda *a: a)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", [snnsad.Autodiff(), snnsad.StochasticAD(2), snnsad.ScoreFunction(3)], ids=repr)
def test_batched_equals_the_mean_of_per_example_estimates(estimator, x64):
    """Batched differentiates the batch mean of the objectives in one backward pass (time-major inside);
    that must equal the mean of the per-example estimates with the same keys, to float64 rounding."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    xs = jnp.stack([x, 0.5 * x, x[::-1]])
    ys = jnp.asarray([0, 1, 1])
    key = jr.key(3)
    value, grads = eqx.filter_jit(snnsad.Batched(estimator))(loss_fn, net, xs, ys, key)
    per = [estimator(loss_fn, net, xi, yi, ki) for xi, yi, ki in zip(xs, ys, jr.split(key, 3))]
    np.testing.assert_allclose(value, np.mean([v for v, _ in per]), rtol=1e-12)
    for got, *each in zip(jax.tree.leaves(grads), *[jax.tree.leaves(g) for _, g in per]):
        np.testing.assert_allclose(got, np.mean(each, axis=0), rtol=1e-10, atol=1e-14)
    # The same batch handed over time-major (T, B, n) gives the same estimate.
    batched_tm = snnsad.Batched(estimator, batch_axis=1)
    value_tm, grads_tm = eqx.filter_jit(batched_tm)(loss_fn, net, jnp.swapaxes(xs, 0, 1), ys, key)
    np.testing.assert_allclose(value_tm, value, rtol=1e-12)
    for got, want in zip(jax.tree.leaves(grads_tm), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_averaged_is_the_mean_of_the_estimates_with_split_keys(x64):
    """`Averaged(est, R)` returns exactly the mean of `est`'s R estimates with the keys `jr.split(key, R)`
    (float64 rounding; evaluated in chunks, the `lax.map` path of `map_in_chunks`), so it inherits their bias
    (none for an unbiased estimator) and has 1/R of their variance; it checks the model as the estimator
    does and needs a key."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    base, key = snnsad.ScoreFunction(2), jr.key(11)
    value, grads = eqx.filter_jit(snnsad.Averaged(base, 3, chunk_size=2))(loss_fn, net, x, y, key)
    per = [base(loss_fn, net, x, y, k) for k in jr.split(key, 3)]
    np.testing.assert_allclose(value, np.mean([v for v, _ in per]), rtol=1e-12)
    for got, *each in zip(jax.tree.leaves(grads), *[jax.tree.leaves(g) for _, g in per], strict=True):
        np.testing.assert_allclose(got, np.mean(each, axis=0), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        snnsad.Averaged(base, 2)(loss_fn, net, x, y, None)
    with pytest.raises(TypeError, match="snnsad.nn.AbstractNetwork"):
        snnsad.Averaged(base, 2)(loss_fn, lambda x, key: x, x, y, key)


def test_batched_takes_no_key_for_a_deterministic_network():
    """`key=None` works where no estimator samples (the same estimate as with any key); a sampling estimator
    given no key says it needs one instead of failing inside `jr.split`."""
    xs = (jr.uniform(jr.key(0), (3, 12, 5)) < 0.3).astype(jnp.float32)
    ys = jnp.asarray([0, 1, 1])
    loss_fn = snnsad.losses.make_loss(snnsad.losses.max_over_time_cross_entropy)
    net = snnsad.feedforward((5, 6, 2), key=jr.key(1), spike_fn=snnsad.Surrogate(snnsad.FastSigmoid(10.0)))
    batched = eqx.filter_jit(snnsad.Batched(snnsad.Autodiff()))
    value, grads = batched(loss_fn, net, xs, ys)
    value_k, grads_k = batched(loss_fn, net, xs, ys, jr.key(5))
    assert value == value_k
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_k), strict=True):
        np.testing.assert_array_equal(got, want)
    noisy = snnsad.feedforward((5, 6, 2), key=jr.key(1), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(10.0)))
    with pytest.raises(ValueError, match="ScoreFunction: needs a PRNG key"):
        snnsad.Batched(snnsad.ScoreFunction(2))(loss_fn, noisy, xs, ys)


def test_batched_rejects_a_bad_batch_axis():
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    with pytest.raises(ValueError, match="`batch_axis` must be 0 .* or 1 .*, got 2"):
        snnsad.Batched(snnsad.Autodiff(), batch_axis=2)
    with pytest.raises(ValueError, match=r"batch_axis=1\): `x` must be one time-major \(T, B, n\) array"):
        snnsad.Batched(snnsad.Autodiff(), batch_axis=1)(loss_fn, net, (x, x), jnp.asarray([0]), jr.key(0))


# ------------------------------------------------------------------------------------------ your own model


@pytest.fixture(scope="module")
def byo():
    """The neuron, layer and network of docs/howto.md, "Bring your own model", exactly as documented."""
    ns = documented_namespace("docs/howto.md", section="7. Bring your own model")
    return ns["ALIF"], ns["LowRankDense"], ns["AdaptiveNet"]


def _byo_problems(byo):
    alif, low_rank, adaptive = byo
    spike = snnsad.Stochastic(snnsad.Sigmoid(2.0))
    x = 2 * jr.uniform(jr.key(12), (5, 3), jnp.float64)
    own_net = adaptive(3, 3, 2, spike_fn=spike, key=jr.key(2), dtype=jnp.float64)
    layer = low_rank(3, 3, 2, neuron=alif(threshold=0.5), spike_fn=spike, key=jr.key(0))
    own_layer = snnsad.Network([layer], snnsad.Readout(3, 2, key=jr.key(1), dtype=jnp.float64, std=1.5))
    return {"own network (AbstractNetwork)": own_net, "own layer and neuron in Network": own_layer}, x


@pytest.mark.slow
@pytest.mark.parametrize("estimator", [snnsad.StochasticAD(4), snnsad.ScoreFunction(8)], ids=["stochastic_ad", "score"])
def test_unbiased_estimators_on_your_own_model(byo, estimator, x64):
    """A model that is not built from snnsad's layers (its own time loop, neuron and layer code) gets
    unbiased gradients: the mean of 3000 estimates is within 4 standard errors of exact enumeration
    for every parameter (fixed seeds; see helpers.assert_unbiased for the false-alarm rate)."""
    models, x = _byo_problems(byo)
    y = jnp.asarray(1)
    for name, net in models.items():
        _, exact = _exact(net, x, ce_loss, y)
        grads = snnsad.nn.parameters(exact)
        assert len(grads) >= 3 and all(np.abs(np.asarray(g)).max() > 1e-4 for g in grads.values()), (name, grads)
        _, samples = snnsad.sample_grads(estimator, ce_loss, net, x, y, jr.split(jr.key(5), 3000), chunk_size=1000)
        assert_unbiased(samples, exact, label=f"{name}: ")


@pytest.mark.slow
def test_local_score_function_on_your_own_layer_and_neuron(byo, x64):
    """`LocalScoreFunction` on a `Network` whose only layer is a researcher's own (the ALIF low-rank layer of
    docs/howto.md): the mean of 3000 estimates is within 4 standard errors of exact enumeration (fixed seeds)."""
    models, x = _byo_problems(byo)
    net, y = models["own layer and neuron in Network"], jnp.asarray(1)
    _, exact = _exact(net, x, ce_loss, y)
    est = snnsad.LocalScoreFunction(2)
    _, samples = snnsad.sample_grads(est, ce_loss, net, x, y, jr.split(jr.key(9), 3000), chunk_size=1000)
    assert_unbiased(samples, exact, label="own layer in Network: ")


@pytest.mark.slow
def test_your_own_model_with_autodiff_and_the_protocol_errors(byo, x64):
    """Autodiff takes any callable model; the other estimators name what a model must implement."""
    models, x = _byo_problems(byo)
    net = models["own network (AbstractNetwork)"]
    value, grads = snnsad.Autodiff()(ce_loss, net, x, jnp.asarray(1), jr.key(0))
    assert np.isfinite(value) and set(snnsad.nn.parameters(grads)) == {".threshold", ".w_in", ".w_out"}
    assert grads.decay_mem is None and grads.adaptation is None  # declared hyper-parameters

    def plain(x, *, key):  # a plain function is a model for Autodiff, not for the others
        return net(x, key=key)

    with pytest.raises(TypeError, match="AbstractNetwork.*sizes.*spike_fns.*simulate"):
        snnsad.StochasticAD(2)(ce_loss, plain, x, jnp.asarray(1), jr.key(0))


@pytest.mark.slow
def test_profiles_and_the_proposed_mix_are_measured(x64):
    """`profile_estimators` reports per-parameter relative variance, measured cost and cosine for each
    estimator against exact enumeration; `propose_mix` returns the cheapest measured split whose total
    relative variance meets the target, and bad arguments are refused."""
    net, x, loss_fn, y = small_problem("two_hidden_zero")
    _, exact = exact_gradient("two_hidden_zero")
    profiles = snnsad.analysis.profile_estimators(
        {"flips": snnsad.StochasticAD(4), "score": snnsad.ScoreFunction(4)}, loss_fn, net, x, y, jr.key(0),
        n_estimates=50, reference=exact,
    )  # fmt: skip
    assert [p.name for p in profiles] == ["flips", "score"]
    for p in profiles:
        assert set(p.variance) == set(snnsad.nn.parameters(exact))
        assert all(np.isfinite(v) and v >= 0 for v in p.variance.values()) and max(p.variance.values()) > 0
        assert p.cost > 0 and -1 <= p.cosine <= 1 and p.total > 0
    best, ranked = snnsad.analysis.propose_mix(
        loss_fn, net, x, y, jr.key(1), target=1e3, n_flips=2, n_samples=2, n_estimates=50, reference=exact, layers=[1]
    )
    assert [p.cost for p in ranked] == sorted(p.cost for p in ranked) and len(ranked) == 2
    chosen = next(p for p in ranked if p.total <= 1e3)
    assert best is not None and ("flips 1" if best.coupled else "flips none") == chosen.name
    with pytest.raises(ValueError, match="empty"):
        snnsad.analysis.profile_estimators({}, loss_fn, net, x, y, jr.key(0))
    with pytest.raises(ValueError, match="target"):
        snnsad.analysis.propose_mix(loss_fn, net, x, y, jr.key(0), target=0.0)
