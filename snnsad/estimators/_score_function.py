"""The score-function (REINFORCE) estimator with the pathwise term."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .._checks import check_count
from .._custom_types import Baseline
from ._base import AbstractNetworkEstimator, require_key, require_stochastic


class ScoreFunction(AbstractNetworkEstimator):
    r"""REINFORCE / likelihood-ratio estimator with the pathwise term.

    $$
    \frac{dE[L]}{d\theta} = E\Big[\frac{\partial L}{\partial\theta}\Big|_{s}
        + (L - b)\, \frac{\partial \log P(s)}{\partial\theta}\Big]
    $$

    with `log P(s) = sum_n s_n log p_n + (1 - s_n) log(1 - p_n)` computed from logits, averaged
    over `n_samples` trajectories. Baselines: `"leave_one_out"` (`b_i` = mean of the other
    samples' losses; unbiased, needs `n_samples >= 2`), `"mean"` (all samples, so the score
    term shrinks by `(N-1)/N`: slightly biased) or `None` (unbiased, high variance).
    Cost: `n_samples` forward + backward passes.
    """

    n_samples: int = eqx.field(static=True, default=16)
    baseline: Baseline = eqx.field(static=True, default="leave_one_out")

    def __check_init__(self):
        check_count("n_samples", self.n_samples, where="ScoreFunction")
        if self.baseline not in ("leave_one_out", "mean", None):
            raise ValueError(
                f"ScoreFunction: `baseline` must be 'leave_one_out', 'mean' or None, got {self.baseline!r}."
            )
        if self.baseline == "leave_one_out" and self.n_samples < 2:
            raise ValueError("ScoreFunction: the leave_one_out baseline needs n_samples >= 2.")

    def objective(self, loss_fn, params, static, x, y, key):
        key = require_key(key, "ScoreFunction")
        require_stochastic(eqx.combine(params, static), "ScoreFunction")
        keys = jr.split(key, self.n_samples)
        n = self.n_samples

        def objective(p):
            model = eqx.combine(p, static)

            def one(k):
                trace = model.simulate(x, model.sample_noise(k, x.shape[0]), fixed_spikes=True)
                return loss_fn(trace, y), model.log_prob(trace)

            losses, logps = jax.vmap(one)(keys)
            held = jax.lax.stop_gradient(losses)
            if self.baseline == "leave_one_out":
                base = (jnp.sum(held) - held) / (n - 1)
            elif self.baseline == "mean":
                base = jnp.mean(held)
            else:
                base = jnp.zeros_like(held)
            surrogate = jnp.mean(losses + (held - base) * logps)
            return surrogate, jnp.mean(held)

        return objective(params)
