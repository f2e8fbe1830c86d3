"""SMORMS3, the optimiser of the paper's experiments, as an optax gradient transformation."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax


class SMORMS3State(NamedTuple):
    mem: Any
    g: Any
    g2: Any


def smorms3(learning_rate: float | optax.Schedule = 1e-3, eps: float = 1e-16) -> optax.GradientTransformation:
    r"""SMORMS3 (Simon Funk, 2015), the optimiser of the paper's experiments.

    Per parameter, with memory `mem` (initially 1) and running moments `g`, `g2`:

        r = 1 / (mem + 1);  g = (1 - r) g + r grad;  g2 = (1 - r) g2 + r grad^2
        x = g^2 / (g2 + eps);  update = -grad * min(lr, x) / (sqrt(g2) + eps);  mem = 1 + mem (1 - x)

    `learning_rate` may be a float, an array or an optax schedule of the step count.
    """

    if not callable(learning_rate):
        lr = np.asarray(learning_rate)
        if not (np.all(np.isfinite(lr)) and np.all(lr > 0)):
            raise ValueError(f"smorms3: `learning_rate` must be finite and > 0, got {learning_rate!r}.")

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return (SMORMS3State(jax.tree.map(jnp.ones_like, params), zeros, zeros), jnp.zeros((), jnp.int32))

    def update(updates, state, params=None):
        del params
        grads = updates
        (st, count) = state
        lr = learning_rate(count) if callable(learning_rate) else learning_rate

        def leaf(grad, mem, g, g2):
            r = 1 / (mem + 1)
            g = (1 - r) * g + r * grad
            g2 = (1 - r) * g2 + r * jnp.square(grad)
            x = jnp.square(g) / (g2 + eps)
            upd = -grad * jnp.minimum(jnp.asarray(lr, grad.dtype), x) / (jnp.sqrt(g2) + eps)
            return upd, 1 + mem * (1 - x), g, g2

        out = jax.tree.map(leaf, grads, st.mem, st.g, st.g2)
        updates, mem, g, g2 = jax.tree.transpose(jax.tree.structure(grads), jax.tree.structure((0, 0, 0, 0)), out)
        return updates, (SMORMS3State(mem, g, g2), count + 1)

    return optax.GradientTransformation(init, update)
