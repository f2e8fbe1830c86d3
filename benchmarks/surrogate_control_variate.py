"""How well does the surrogate gradient predict the effect of one spike flip? (issue: unbiased gradients
through depth; the relaxation-based control variates)

The coupled-flip estimator (`StochasticAD`) and DisARM spend their variance on `D_n = L(s_n = 1) - L(s_n =
0)`, the exact loss change of flipping site `n` with the rest of the trajectory re-simulated on the same
noise. A control variate for `D_n` from the surrogate network would make them cheaper: the first-order
prediction `P_n = (1 - 2 s_n) dL/df_n`, the derivative of the loss along site `n`'s flip (`simulate(...,
flips=f)` is differentiable in `f`) back-propagated through the stochastic SG's derivative rule (one
backward pass for every site at once), is what REBAR/RELAX's relaxed sample reduces to at first order.
Any per-site prediction keeps the estimator unbiased (`c_n = r_n beta P_n + r_n (D_n - beta P_n) / (M q_n)`
has the same mean over the site draws), and its value is the second moment it removes:
`E_q[(D - beta P)^2] / E_q[D^2]` under the estimator's proposal `q_n ~ r_n`.

This measures it at initialisation, per hidden layer, on the paper's Randman network (20-128-128-128-15)
and the calibrated one (20-128-10): `--draws` sites drawn from `q` on each of `--trajectories` noise
draws of one example, `D_n` by re-simulation; correlation of `D` and `P`, the best scale `beta*` (least
squares) and the remaining second moment with `beta = 1` and `beta = beta*`.

    python benchmarks/surrogate_control_variate.py [--trajectories 4] [--draws 1500]
"""

import argparse
import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad.experiments._randman_calibration import calibrated_loss
from snnsad.experiments._recipes import paper_network
from snnsad.experiments._unbiased_training import TASKS


def flip_pairs(net, loss_fn, x, y, key, n_draws: int):
    """`(sites, D, P)` for `n_draws` sites drawn from `q_n ~ r_n` on one noise draw (see the module docstring)."""
    n_steps = x.shape[0]
    n_sites = net.n_sites(n_steps)
    noise_key, site_key = jr.split(key)
    noise = net.sample_noise(noise_key, n_steps)
    trace = net.simulate(x, noise)
    held = loss_fn(trace, y)
    rate = net.flip_rate(trace, "two_sided")
    spikes = net.flatten_sites(trace.spikes)

    def along_flips(f):
        return loss_fn(net.simulate(x, noise, flips=net.unflatten_sites(f, n_steps)), y)

    predicted = jax.grad(along_flips)(jnp.zeros((n_sites,), net.dtype)) * (1 - 2 * spikes)
    cdf = jnp.cumsum(rate)
    sites = jnp.minimum(jnp.searchsorted(cdf, jr.uniform(site_key, (n_draws,)) * cdf[-1], side="right"), n_sites - 1)
    alt = jax.lax.map(lambda s: along_flips(jnp.zeros((n_sites,), net.dtype).at[s].set(1)), sites, batch_size=100)
    return sites, (alt - held) * (1 - 2 * spikes[sites]), predicted[sites]


def measure(task: str, *, trajectories: int, draws: int, seed: int) -> list[dict]:
    spec = TASKS[task]
    data = snnsad.data.randman(**spec["data"], samples_per_class=20, seed=seed + 1)
    x, y = jnp.asarray(data.x[0]), jnp.asarray(data.y[0])
    net = paper_network(
        (20, *spec["hidden"], spec["data"]["n_classes"]), snnsad.Stochastic(snnsad.Sigmoid(10.0)), seed=seed
    )
    loss_fn = calibrated_loss()
    pairs = eqx.filter_jit(flip_pairs)  # n_draws, a Python int, is static
    bounds = np.cumsum([0] + [x.shape[0] * n for n in net.sizes])
    per_layer: dict[int, list] = {i: [] for i in range(len(net.sizes))}
    for k in range(trajectories):
        sites, d, p = (np.asarray(a) for a in pairs(net, loss_fn, x, y, jr.key(seed + 100 + k), n_draws=draws))
        layer = np.searchsorted(bounds, sites, side="right") - 1
        for i in per_layer:
            per_layer[i].append((d[layer == i], p[layer == i]))
    rows = []
    for i, chunks in per_layer.items():
        d = np.concatenate([a for a, _ in chunks])
        p = np.concatenate([b for _, b in chunks])
        second = float(np.mean(d**2))
        beta = float(np.dot(d, p) / max(np.dot(p, p), 1e-300))
        rows.append({
            "layer": i, "draws": int(d.size), "corr": float(np.corrcoef(d, p)[0, 1]), "beta_star": beta,
            "mean_abs_D": float(np.mean(np.abs(d))), "mean_abs_P": float(np.mean(np.abs(p))),
            "left_beta_1": float(np.mean((d - p) ** 2)) / second,
            "left_beta_star": float(np.mean((d - beta * p) ** 2)) / second,
        })  # fmt: skip
    return rows


def main(*, trajectories: int = 4, draws: int = 1500, seed: int = 0, out: str = "benchmarks/results") -> dict:
    result = {"trajectories": trajectories, "draws": draws, "seed": seed, "tasks": {}, **run_info()}
    lines = [
        "| network | hidden layer | corr(D, P) | mean abs D | mean abs P | beta* | second moment left, beta = 1 | "
        "left, beta* |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for task in ("paper 20-128-128-128-15", "calibrated 20-128-10"):
        rows = measure(task, trajectories=trajectories, draws=draws, seed=seed)
        result["tasks"][task] = rows
        for r in rows:
            lines.append(
                f"| {task} | {r['layer'] + 1} | {r['corr']:.2f} | {r['mean_abs_D']:.3g} | {r['mean_abs_P']:.3g} | "
                f"{r['beta_star']:.3f} | {r['left_beta_1']:.2f} | {r['left_beta_star']:.2f} |"
            )
    text = (
        f"The surrogate gradient's first-order prediction `P` of each spike flip's exact loss change `D` "
        f"(sites drawn as `StochasticAD` draws them, {trajectories} noise draws x {draws} sites of one example, "
        f"networks at initialisation, the study's regularised loss); `left` = E[(D - beta P)^2] / E[D^2].\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(text)
    atomic_write_text(os.path.join(out, "surrogate_control_variate.json"), json.dumps(result, indent=2))
    atomic_write_text(os.path.join(out, "surrogate_control_variate.md"), text)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    main(trajectories=args.trajectories, draws=args.draws, seed=args.seed, out=args.out)
