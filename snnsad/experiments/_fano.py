"""Trial-to-trial variability of a stochastic network's spikes, as the paper measures it."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np


def windowed_fano_factor(spikes, window: int = 1, *, ddof: int = 0) -> float:
    """Fano factor across trials of spike counts in sliding windows, the paper's definition.

    `spikes` is `(trials, T, ...)`. For every window of `window` steps (start `0 .. T - window`)
    and every neuron, the count's variance over trials (`ddof`) is divided by its mean over
    trials; the result is the mean over the (window, neuron) pairs with a nonzero mean. With
    `window=1` and `ddof=0` (E4: 1 ms bins, 10 trials) a binary bin of firing probability `p`
    gives `1 - p`; E5 uses 20 ms windows over 400 repeats with `ddof=1`, as the authors' code.
    Returns NaN when no window has a nonzero mean.
    """
    s = np.asarray(spikes, np.float64)
    if s.ndim < 3 or s.shape[0] < 2:
        raise ValueError(f"windowed_fano_factor: need (trials >= 2, T, ...) spikes, got shape {s.shape}.")
    if not 1 <= window <= s.shape[1]:
        raise ValueError(f"windowed_fano_factor: `window` must lie in [1, T={s.shape[1]}], got {window}.")
    c = np.cumsum(s, axis=1)
    c = np.concatenate([np.zeros_like(c[:, :1]), c], axis=1)
    counts = c[:, window:] - c[:, :-window]  # (trials, T - window + 1, ...)
    mean, var = counts.mean(0), counts.var(0, ddof=ddof)
    active = mean > 0
    return float((var[active] / mean[active]).mean()) if active.any() else float("nan")


@eqx.filter_jit
def _spikes_per_key(net, x, keys):
    # module level, the network an argument: one compile per structure, not one per network
    return jax.vmap(lambda k: net(x, key=k).spikes)(keys)


def repeated_spikes(net, x, key, trials: int, *, chunk: int = 100) -> list[np.ndarray]:
    """Per spiking layer, `(trials, T, n)` spikes of `net` on the one input `x` under `trials` noise draws."""
    keys = jr.split(key, trials)
    parts = [_spikes_per_key(net, x, keys[i : i + chunk]) for i in range(0, trials, chunk)]
    return [np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(len(parts[0]))]


def fano_factor(net, xs, key, trials: int = 10) -> list[float]:
    """Mean trial-to-trial Fano factor of whole-trial spike counts per spiking layer (snnsad's own measure).

    Var/mean (ddof 1) of each neuron's spike count over `trials` noise draws, averaged over the
    (example, neuron) pairs that spike at least once on average. Not the paper's measure (see
    `windowed_fano_factor`), which counts in short windows.
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
