"""SG-NTK, snnsad's addition: stochastic sign networks trained with the matched surrogate, in the kernel regime.

A sign unit with Gaussian escape noise, `s = sign(h + sigma xi)`, fires with `E[s | h] =
erf(h / (sqrt(2) sigma))`: the smoothed probabilistic network is an `erf_m` network with
`m = 1 / (sqrt(2) sigma)`, and its ordinary NTK is `analytic_kernels(..., ErfActivation(m)).ntk`.
The matched stochastic surrogate back-propagates `psi = d E[s | h] / dh` through sampled spikes.
With one hidden layer the hidden pre-activations are deterministic, so the expected output and the
expected matched-SG update are exactly those of the smoothed network: in the kernel regime,
matched stochastic SG learning *is* kernel regression with the smoothed network's NTK (the
infinite-width form of "surrogate gradients are smoothed stochastic derivatives"). Measured here
for one hidden layer against trained networks of growing width, beside the deterministic sign
network's SG-NTK. With two or more hidden layers the first layer's spike noise reaches the next
layer's pre-activations (an O(1) Gaussian term by the central limit theorem) and the smoothed
network's NTK is no longer exact; that case is not covered.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ..escape import Erf
from ..kernels import ErfActivation, SignActivation, SurrogateDerivative, analytic_kernels, init_mlp, kernel_regression
from ._results import cached

SIGMA = 0.5  # escape noise sd; the matched surrogate is 2 Erf(SIGMA).pdf, the SURROGATE of the SG-NTK study


@jax.custom_jvp
def _noisy_sign(h, xi):
    return jnp.sign(h + SIGMA * xi)


@_noisy_sign.defjvp
def _noisy_sign_jvp(primals, tangents):
    h, xi = primals
    dh, _ = tangents
    psi = 2 * jnp.exp(-0.5 * (h / SIGMA) ** 2) / (SIGMA * math.sqrt(2 * math.pi))  # d E[s | h] / dh
    return _noisy_sign(h, xi), psi * dh


def _forward(params, x, key, sigma_w=1.0, sigma_b=0.1):
    h = x
    for i, (w, b) in enumerate(params):
        pre = sigma_w / jnp.sqrt(h.shape[0]) * (w @ h) + sigma_b * b
        if i == len(params) - 1:
            return pre[0]
        h = _noisy_sign(pre, jr.normal(jr.fold_in(key, i), pre.shape, pre.dtype))
    raise AssertionError("unreachable")


def train_stochastic(width, depth, n_networks, x, y, xt, lr, steps, key, repeats=20):
    """Matched stochastic SG (fresh noise every step), then the noise-averaged test prediction, per network."""
    x, y, xt = (jnp.asarray(a, jnp.float32) for a in (x, y, xt))

    def one(k):
        params = init_mlp(jr.fold_in(k, 0), (2,) + (width,) * depth + (1,))

        def batch(p, xs, kk):
            return jax.vmap(lambda xi, kx: _forward(p, xi, kx))(xs, jr.split(kk, len(xs)))

        def step(p, t):
            g = jax.grad(lambda q: 0.5 * jnp.sum(jnp.square(batch(q, x, jr.fold_in(k, t + 1)) - y)))(p)
            return jax.tree.map(lambda a, b: a - lr * b, p, g), None

        params, _ = jax.lax.scan(step, params, jnp.arange(steps))
        keys = jr.split(jr.fold_in(k, steps + 1), repeats)
        return jnp.mean(jax.vmap(lambda kk: batch(params, xt, kk))(keys), 0)

    return np.asarray(jax.lax.map(jax.jit(one), jr.split(key, n_networks)))


def stochastic_study(x, y, xt, *, widths, n_networks: int, steps: int, seed: int, parts: str | None = None) -> dict:
    """Trained one-hidden-layer stochastic sign networks against the smoothed network's NTK and the sign SG-NTK.

    For each width: the RMS distance (over test angles) of the mean over `n_networks` networks of
    their noise-averaged predictions to each kernel's mean after the same `steps` of gradient
    descent, and the RMS standard error of that network mean. With `parts` (a folder) each width's
    predictions are saved as they finish and reused by a rerun.
    """
    smooth = ErfActivation(1 / (math.sqrt(2) * SIGMA))
    psi = SurrogateDerivative(Erf(SIGMA))
    k_sm_tr = analytic_kernels(x, x, depth=1, activation=smooth).ntk
    k_sm_te = analytic_kernels(xt, x, depth=1, activation=smooth).ntk
    k_sg_tr = analytic_kernels(x, x, depth=1, activation=SignActivation(), surrogate=psi).sg_ntk
    k_sg_te = analytic_kernels(xt, x, depth=1, activation=SignActivation(), surrogate=psi).sg_ntk
    assert k_sm_tr is not None and k_sm_te is not None and k_sg_tr is not None and k_sg_te is not None
    lr = 0.5 / float(np.max(np.real(np.linalg.eigvals(k_sm_tr))))
    zeros = np.zeros((len(xt), len(xt))), np.zeros((len(xt), len(x))), np.zeros((len(x), len(x)))
    smooth_mean = kernel_regression(k_sm_te, k_sm_tr, *zeros, y, lr=lr, steps=steps).mean
    sg_mean = kernel_regression(k_sg_te, k_sg_tr, *zeros, y, lr=lr, steps=steps).mean
    out: dict = {"lr": lr, "smoothed_ntk_mean": smooth_mean.tolist(), "sign_sg_ntk_mean": sg_mean.tolist()}
    for width in widths:
        print(f"  SG-NTK: {n_networks} stochastic sign networks (one hidden layer of {width}) ...", flush=True)

        def run(width=width):
            return np.asarray(
                train_stochastic(width, 1, n_networks, x, y, xt, lr, steps, jr.key(seed + width))
            ).tolist()

        settings = {"n": n_networks, "steps": steps, "seed": seed, "lr": lr}
        preds = np.asarray(run() if parts is None else cached(parts, f"stochastic_w{width}", settings, run))
        mean = preds.mean(0)
        se = preds.std(0, ddof=1) / math.sqrt(n_networks)
        out[str(width)] = {
            "network_mean": mean.tolist(),
            "rms_to_smoothed_ntk": float(np.sqrt(np.mean((mean - smooth_mean) ** 2))),
            "rms_to_sign_sg_ntk": float(np.sqrt(np.mean((mean - sg_mean) ** 2))),
            "rms_standard_error": float(np.sqrt(np.mean(se**2))),
        }
    return out
