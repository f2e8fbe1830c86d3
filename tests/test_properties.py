"""Property-based checks (hypothesis): over random shapes, dtypes and parameter values, `simulate` and
the estimators either return finite values or raise a ValueError/TypeError that names the argument.

Fixed derandomised search (`derandomize=True`), so a run is reproducible; parameter values stay
within the documented numerical contract (escape steepness up to 1e4) or are plainly invalid.
"""

import math
import re

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnsad

pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
BAD = [0.0, -1.0, math.nan, math.inf]
betas = st.one_of(st.floats(1e-2, 1e4), st.sampled_from(BAD))
dtypes = st.sampled_from([jnp.float32, jnp.float16, jnp.int32, jnp.bool_])
# an argument name as snnsad's messages (`x`) or the test suite's type checker ('x') write it
NAMED = re.compile(r"[`'](x|beta|noise|net[^`']*|y|sizes entry|in_size|out_size)[`'\[]")


def _finite(tree) -> bool:
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(tree) if eqx_inexact(leaf))


def eqx_inexact(leaf) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.inexact)


def _input(T, n, dtype, scale, nan_at):
    x = scale * np.random.default_rng(T * 7 + n).uniform(size=(T, n))
    if nan_at and x.size:
        x.flat[0] = np.nan
    return jnp.asarray(x).astype(dtype)


@SETTINGS
@given(
    T=st.integers(0, 5),
    n_in=st.integers(1, 4),
    hidden=st.integers(1, 4),
    extra_inputs=st.integers(0, 1),
    dtype=dtypes,
    beta=betas,
    scale=st.floats(0.0, 50.0),
    nan_at=st.booleans(),
)
def test_simulate_is_finite_or_names_the_argument(T, n_in, hidden, extra_inputs, dtype, beta, scale, nan_at):
    try:
        spike = snnsad.Stochastic(snnsad.Sigmoid(beta))
        net = snnsad.feedforward((n_in, hidden, 2), key=jr.key(0), spike_fn=spike)
        trace = net(_input(T, n_in + extra_inputs, dtype, scale, nan_at), key=jr.key(1))
    except (ValueError, TypeError) as err:
        assert NAMED.search(str(err)), str(err)
    else:
        assert _finite(trace)


@SETTINGS
@given(
    T=st.integers(0, 4),
    hidden=st.integers(1, 3),
    beta=betas,
    scale=st.floats(0.0, 20.0),
    nan_at=st.booleans(),
    label=st.integers(-1, 2),
    which=st.sampled_from(["autodiff", "stochastic_ad", "score"]),
)
def test_estimators_are_finite_or_name_the_argument(T, hidden, beta, scale, nan_at, label, which):
    estimator = {
        "autodiff": snnsad.Autodiff(),
        "stochastic_ad": snnsad.StochasticAD(2),
        "score": snnsad.ScoreFunction(2),
    }[which]
    try:
        net = snnsad.feedforward((3, hidden, 2), key=jr.key(0), spike_fn=snnsad.Stochastic(snnsad.Sigmoid(beta)))
        x = _input(T, 3, jnp.float32, scale, nan_at)
        value, grads = estimator(snnsad.losses.ce_loss, net, x, jnp.asarray(label), jr.key(2))
        jax.block_until_ready((value, grads))
    except (ValueError, TypeError) as err:
        assert NAMED.search(str(err)), str(err)
    except Exception as err:  # a run-time check under jit (eqx.error_if): the label range
        assert "outside [0, 2)" in str(err) and label not in (0, 1), str(err)
    else:
        assert label in (0, 1) and np.isfinite(float(value)) and _finite(grads)
