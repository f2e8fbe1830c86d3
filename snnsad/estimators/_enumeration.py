"""Exact enumeration: the true gradient of the expected loss of a small stochastic network."""

import equinox as eqx
import jax
import jax.numpy as jnp

from ._base import AbstractNetworkEstimator, require_stochastic


class ExactEnumeration(AbstractNetworkEstimator):
    r"""Ground truth: `E[L] = sum_patterns P(pattern) L(pattern)` over all spike patterns.

    Every pattern of the `K` stochastic (time, neuron) sites is teacher-forced through
    `simulate(..., forced=pattern)` (vmapped, in chunks of `chunk_size` patterns so memory stays
    bounded), with `P(pattern) = prod_n p_n^{s_n} (1 - p_n)^{1 - s_n}` evaluated along the
    forced trajectory (log-space, from logits). The gradient of this sum is the exact gradient of
    the expected loss. Cost: `2^K` forward passes; refuses `K > max_sites`. `key` is unused.
    """

    max_sites: int = eqx.field(static=True, default=20)
    chunk_size: int = eqx.field(static=True, default=4096)

    def __check_init__(self):
        if not isinstance(self.max_sites, int) or not 1 <= self.max_sites <= 30:
            raise ValueError(f"ExactEnumeration: `max_sites` must be an int in [1, 30], got {self.max_sites!r}.")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1 or self.chunk_size & (self.chunk_size - 1):
            raise ValueError(f"ExactEnumeration: `chunk_size` must be a power of two, got {self.chunk_size!r}.")

    def objective(self, loss_fn, params, static, x, y, key=None):
        net = eqx.combine(params, static)
        require_stochastic(net, "ExactEnumeration")
        n_steps = x.shape[0]
        k = net.n_sites(n_steps)
        if k > self.max_sites:
            raise ValueError(
                f"ExactEnumeration: the network has {k} stochastic sites (T={n_steps} x neurons "
                f"{[n for n, st in zip(net.sizes, net.stochastic) if st]}), more than max_sites={self.max_sites}; "
                f"2^{k} patterns is too many. Use a smaller network or raise max_sites."
            )
        n_patterns = 2**k
        chunk = min(self.chunk_size, n_patterns)
        n_chunks = n_patterns // chunk  # both powers of two
        bits = jnp.arange(k, dtype=jnp.uint32)
        noise = tuple(jnp.zeros((n_steps, n), net.dtype) for n in net.sizes)

        def expected_loss(p):
            model = eqx.combine(p, static)

            def one(index):
                flat = ((index >> bits) & 1).astype(net.dtype)
                trace = model.simulate(x, noise, forced=model.unflatten_sites(flat, n_steps))
                return jnp.exp(model.log_prob(trace)) * loss_fn(trace, y)

            def chunk_sum(start):
                return jnp.sum(jax.vmap(one)(start + jnp.arange(chunk, dtype=jnp.uint32)))

            starts = jnp.arange(n_chunks, dtype=jnp.uint32) * chunk
            return jnp.sum(jax.lax.map(chunk_sum, starts))

        value = expected_loss(params)
        return value, value
