"""The peer libraries' side of `snnsad bench`: spyx and snnTorch on the same workloads (the `bench` extra).

Each `on_*`/`shd_*` builds its library's model, warms it up and returns a zero-argument call that
waits for one step; a missing library raises `ImportError`, which the runner reports as such.
"""

import os

import jax
import jax.numpy as jnp
import jax.random as jr
import optax

from ..analysis import prepared

SHD_SHAPE = (700, 256, 20)


def on_spyx(n, T, batch):
    import spyx
    from flax import nnx

    model = spyx.nn.Sequential(
        nnx.Linear(n, n, rngs=nnx.Rngs(0)),
        spyx.nn.LIF((n,), beta=0.8, activation=spyx.axn.superspike(10.0), rngs=nnx.Rngs(1)),
    )
    graphdef, params = nnx.split(model)
    xs = jr.uniform(jr.key(1), (T, batch, n))

    @jax.jit
    def step(params, xs):
        def loss(params):
            out, _ = spyx.nn.run(nnx.merge(graphdef, params), xs)
            return jnp.sum(out)

        return jax.value_and_grad(loss)(params)

    return prepared(step, params, xs)


def torch_device() -> str:
    """Where the snnTorch peer runs: `"cuda"` when the installed torch sees a GPU, else `"cpu"`."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_sync(device):
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def on_snntorch(n, T, batch):
    import snntorch
    import torch
    from snntorch import surrogate

    torch.set_num_threads(os.cpu_count() or 1)
    dev = torch_device()
    fc = torch.nn.Linear(n, n).to(dev)
    lif = snntorch.Leaky(beta=0.8, spike_grad=surrogate.fast_sigmoid(slope=10.0)).to(dev)
    xs = torch.rand(T, batch, n, device=dev)

    def step():
        fc.zero_grad()
        mem = lif.init_leaky()
        total = 0.0
        for t in range(T):
            spk, mem = lif(fc(xs[t]), mem)
            total = total + spk.sum()
        total.backward()  # pyright: ignore[reportAttributeAccessIssue]  (a torch tensor)
        _torch_sync(dev)

    step()  # warm-up
    return step


def shd_spyx(T, batch):
    import spyx
    from flax import nnx

    n_in, n_hid, n_out = SHD_SHAPE
    model = spyx.nn.Sequential(
        nnx.Linear(n_in, n_hid, rngs=nnx.Rngs(0)),
        spyx.nn.RLIF((n_hid,), beta=0.8, activation=spyx.axn.superspike(10.0), rngs=nnx.Rngs(1)),
        nnx.Linear(n_hid, n_out, rngs=nnx.Rngs(2)),
        spyx.nn.LI((n_out,), beta=0.9, rngs=nnx.Rngs(3)),
    )
    graphdef, params = nnx.split(model)
    xs = jr.bernoulli(jr.key(1), 0.02, (T, batch, n_in)).astype(jnp.float32)
    ys = jnp.arange(batch) % n_out

    @jax.jit
    def step(params, xs, ys):
        def loss(params):
            out, _ = spyx.nn.run(nnx.merge(graphdef, params), xs)
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(jnp.sum(out, 0), ys))

        return jax.value_and_grad(loss)(params)

    return prepared(step, params, xs, ys)


def shd_snntorch(T, batch):
    import snntorch
    import torch
    from snntorch import surrogate

    torch.set_num_threads(os.cpu_count() or 1)
    dev = torch_device()
    n_in, n_hid, n_out = SHD_SHAPE
    fc1, fc2 = torch.nn.Linear(n_in, n_hid).to(dev), torch.nn.Linear(n_hid, n_out).to(dev)
    spike_grad = surrogate.fast_sigmoid(slope=10.0)
    rlif = snntorch.RLeaky(beta=0.8, linear_features=n_hid, spike_grad=spike_grad).to(dev)
    readout = snntorch.Leaky(beta=0.9, reset_mechanism="none").to(dev)
    params = [*fc1.parameters(), *fc2.parameters(), *rlif.parameters()]
    xs = (torch.rand(T, batch, n_in, device=dev) < 0.02).float()
    ys = torch.arange(batch, device=dev) % n_out

    def step():
        for p in params:
            p.grad = None
        spk, mem = rlif.init_rleaky()
        mem_out = readout.init_leaky()
        total = 0.0
        for t in range(T):
            spk, mem = rlif(fc1(xs[t]), spk, mem)
            _, mem_out = readout(fc2(spk), mem_out)
            total = total + mem_out
        torch.nn.functional.cross_entropy(total, ys).backward()
        _torch_sync(dev)

    step()  # warm-up
    return step
