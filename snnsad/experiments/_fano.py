"""Trial-to-trial variability of a stochastic network's spike counts."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np


def fano_factor(net, xs, key, trials: int = 10) -> list[float]:
    """Mean trial-to-trial Fano factor (var/mean of spike counts over repeated noise draws) per spiking layer.

    Averaged over the (example, neuron) pairs that spike at least once on average.
    """

    @jax.jit
    def counts(keys):
        def one_trial(k):
            ks = jr.split(k, xs.shape[0])
            return jax.vmap(lambda x, kk: tuple(jnp.sum(s, 0) for s in net(x, key=kk).spikes))(xs, ks)

        return jax.vmap(one_trial)(keys)

    out = []
    for c in counts(jr.split(key, trials)):  # per layer: (trials, B, n)
        c = np.asarray(c, np.float64)
        mean, var = c.mean(0), c.var(0, ddof=1)
        active = mean >= 1
        out.append(float((var[active] / mean[active]).mean()) if active.any() else 0.0)
    return out
