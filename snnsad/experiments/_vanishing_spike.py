"""Where exact gradients stop: a spike that vanishes as its input weight falls.

One input at `t0` into one LIF neuron (the Yin-Yang recipe's tau_mem 20 ms, tau_syn 5 ms,
threshold 1): the voltage is `w k(t - t0)` with peak `w k_max`, so the neuron fires iff
`w >= w_c = theta / k_max`. Above `w_c` the spike time follows a square-root branch,
`t* ~ t_peak - c sqrt(w - w_c)`, and its exact derivative grows as `(w - w_c)^(-1/2)`; at `w_c` the
spike leaves and a time-to-first-spike loss jumps (a silent neuron reads the trial end). EventProp
is exact on each side and says nothing about the jump: below `w_c` its gradient is exactly 0.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import events


def vanishing_spike_sweep(
    n_points: int = 201,
    *,
    t0: float = 2.0,
    tau_mem: float = 20.0,
    tau_syn: float = 5.0,
    threshold: float = 1.0,
    t_end: float = 30.0,
) -> dict:
    """Spike time and its EventProp derivative over a sweep of the input weight across `w_c` (float64)."""
    with jax.enable_x64(True):
        s = np.linspace(1e-4, t_end, 300_001)
        k = tau_syn / (tau_syn - tau_mem) * (np.exp(-s / tau_syn) - np.exp(-s / tau_mem))
        w_c = threshold / k.max()
        t_peak = t0 + s[np.argmax(k)]
        ws = w_c * np.concatenate(
            [
                np.linspace(0.9, 1.0, n_points // 4, endpoint=False),
                1 + np.geomspace(1e-6, 0.5, n_points - n_points // 4),
            ]
        )
        x = events.EventTrain(jnp.asarray([t0]), jnp.zeros((1,), jnp.int32))

        def spike_time(w):
            layer = events.EventLayer(
                jnp.reshape(w, (1, 1)),
                mode="single",
                tau_mem=tau_mem,
                tau_syn=tau_syn,
                threshold=threshold,
                max_spikes=2,
                newton_steps=60,
            )
            return events.EventNetwork([layer], head="ttfs", t_end=t_end)(x).output[0]

        values, grads = eqx.filter_jit(jax.vmap(jax.value_and_grad(spike_time)))(jnp.asarray(ws))
        values, grads = np.asarray(values), np.asarray(grads)
    fires = values < t_end
    above = fires & (ws > w_c * (1 + 1e-5)) & (ws < w_c * 1.001)
    slope = np.polyfit(np.log(ws[above] / w_c - 1), np.log(np.abs(grads[above])), 1)[0]
    return {
        "w_c": float(w_c),
        "t_peak": float(t_peak),
        "weights": ws.tolist(),
        "spike_time": values.tolist(),
        "gradient": grads.tolist(),
        "jump": float(t_end - values[fires].max()),
        "gradient_exponent": float(slope),
        "zero_below": bool(np.all(grads[~fires] == 0)),
    }


def vanishing_spike_figure(sweep: dict):
    from ._results import pyplot

    plt = pyplot()
    ws, t, g = (np.asarray(sweep[k]) for k in ("weights", "spike_time", "gradient"))
    rel = ws / sweep["w_c"]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    fires = t < max(t)
    ax[0].plot(rel[fires], t[fires], ".", ms=3, label="spike time")
    ax[0].plot(rel[~fires], t[~fires], ".", ms=3, color="C3", label="silent: loss reads t_end")
    ax[0].axvline(1, color="k", lw=0.6, ls=":")
    ax[0].set(xlabel="w / w_c", ylabel="first spike time (ms)", title=f"jump {sweep['jump']:.2f} ms at w_c")
    ax[0].legend(fontsize=7)
    above = fires & (rel > 1)
    ax[1].loglog(rel[above] - 1, np.abs(g[above]), ".", ms=3, label="|dt*/dw|, EventProp")
    x0 = rel[above] - 1
    ax[1].loglog(x0, np.abs(g[above])[0] * (x0 / x0[0]) ** -0.5, "k--", lw=0.8, label="slope -1/2")
    ax[1].set(
        xlabel="w / w_c - 1", ylabel="|dt*/dw|", title=f"fitted exponent {sweep['gradient_exponent']:.3f}; 0 below w_c"
    )
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
