"""An unbiased per-layer mix of coupled spike flips and the score function."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .._checks import check_count
from .._custom_types import Baseline, Proposal, Weighting
from ._base import AbstractNetworkEstimator, require_key, require_stochastic
from ._stochastic_ad import StochasticAD, coupled_flip_terms


class MixedEstimator(AbstractNetworkEstimator):
    r"""Coupled spike flips on the stochastic layers in `coupled`, the score function on the others.

    $$
    \frac{dE[L]}{d\theta} = E\Big[\frac{\partial L}{\partial\theta}\Big|_{s}\Big]
        + \sum_n E\Big[\frac{\partial p_n}{\partial\theta}\Big|_{s}\,
          \big(E[L \mid s_n = 1, \ldots] - E[L \mid s_n = 0, \ldots]\big)\Big]
    $$

    Every site `n` contributes its own term, and each term has more than one unbiased estimator: the
    coupled flip `w_n D_n` (`StochasticAD`) or the score `(L - b) dlog P(s_n)/dtheta`. Estimating the
    sites of some layers one way and the rest the other way keeps the sum unbiased. The objective is

        mean_i [L_i + (L_i - b_i) log P_B(s^i)]  +  jumps_A(an independent trajectory),

    over `n_samples` trajectories `i` (`b_i`: leave-one-out baseline; `log P_B`: the log-probability
    of the non-coupled layers' spikes only) plus the jump term of `n_flips` coupled flips drawn among
    the `coupled` layers' sites of one more trajectory (its pathwise loss is not added again).
    `coupled` holds network layer indices (`0` = first spiking layer). Cost: `n_samples + 1` forward
    and backward passes plus `n_flips` flipped forwards. Use it where the score function wins in
    some layers (typically early ones, whose flips start long cascades) and coupled flips in others;
    `snnsad.sample_grads` measures both per layer.
    """

    coupled: tuple[int, ...] = eqx.field(static=True, converter=tuple)
    n_flips: int = eqx.field(static=True, default=8)
    n_samples: int = eqx.field(static=True, default=4)
    weighting: Weighting = eqx.field(static=True, default="straight_through")
    proposal: Proposal = eqx.field(static=True, default="weighted")
    baseline: Baseline = eqx.field(static=True, default="leave_one_out")
    chunk_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in self.coupled):
            raise ValueError(f"MixedEstimator: `coupled` must hold layer indices (ints >= 0), got {self.coupled!r}.")
        check_count("n_samples", self.n_samples, where="MixedEstimator")
        if self.baseline not in ("leave_one_out", None):
            raise ValueError(
                f"MixedEstimator: `baseline` must be 'leave_one_out' or None (both unbiased), got {self.baseline!r}."
            )
        if self.baseline == "leave_one_out" and self.n_samples < 2:
            raise ValueError("MixedEstimator: the leave_one_out baseline needs n_samples >= 2.")
        StochasticAD(self.n_flips, self.weighting, self.proposal, self.chunk_size)  # validates those options

    def objective(self, loss_fn, params, static, x, y, key):
        key = require_key(key, "MixedEstimator")
        net = eqx.combine(params, static)
        require_stochastic(net, "MixedEstimator")
        stochastic = [i for i, s in enumerate(net.stochastic) if s]
        unknown = [i for i in self.coupled if i not in stochastic]
        if unknown:
            raise ValueError(
                f"MixedEstimator: `coupled` names layers {unknown} that are not stochastic spiking layers of this "
                f"network (stochastic layers: {stochastic})."
            )
        scored = tuple(i for i in stochastic if i not in self.coupled)
        score_key, flip_key = jr.split(key)
        n = self.n_samples

        def one(k):
            trace = net.simulate(x, net.sample_noise(k, x.shape[0]), fixed_spikes=True)
            return loss_fn(trace, y), net.log_prob(trace, scored)

        losses, logps = jax.vmap(one)(jr.split(score_key, n))
        held = jax.lax.stop_gradient(losses)
        base = (jnp.sum(held) - held) / (n - 1) if self.baseline == "leave_one_out" else jnp.zeros_like(held)
        objective = jnp.mean(losses + (held - base) * logps)
        if self.coupled:
            est = StochasticAD(self.n_flips, self.weighting, self.proposal, self.chunk_size)
            mask = net.site_mask(self.coupled, x.shape[0])
            _, jumps, _ = coupled_flip_terms(est, net, loss_fn, x, y, flip_key, mask)
            objective = objective + jumps
        return objective, jnp.mean(held)
