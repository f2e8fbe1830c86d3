"""The paper's five-weight sigmoid network of E2 and E3."""

import jax

from ..escape import Sigmoid
from ..spikes import with_slope


def toy_output(theta, beta_fwd, beta_sg, x=1.0):
    """The paper's 5-weight sigmoid network: `g = s(w x)`, `h_i = s(v_i g)`, `y = s(u1 h1 + u2 h2)`.

    Forward `s = sigma(beta_fwd z)`; the backward pass uses `sigma'` at `beta_sg` (a surrogate
    gradient unless the two are equal, when it is the exact gradient of the smooth network).
    """
    fwd, sg = Sigmoid(beta_fwd), Sigmoid(beta_sg)

    def s(z):
        return with_slope(z, fwd.cdf(z), sg.pdf(z))

    w, v1, v2, u1, u2 = theta
    g = s(w * x)
    return s(u1 * s(v1 * g) + u2 * s(v2 * g))


# Compiled once per argument shape, whatever the steepness (a traced argument): the E2/E3 sweeps called fresh
# lambdas with the steepness baked in, which ran op by op and compiled every operation on its own.
toy_output_jit = jax.jit(toy_output)
toy_field = jax.jit(jax.grad(toy_output))  # d y / d theta at (beta_fwd, beta_sg): a surrogate field unless equal
