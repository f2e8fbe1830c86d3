"""Data parallelism on JAX's own machinery: a 1-D device mesh and batch/sample-axis shardings.

Under `jit` the compiler partitions a vmapped batch (or a vmapped set of gradient samples)
across the devices of the mesh and inserts the cross-device reductions itself; the network and
optimiser state are replicated. On several processes or hosts, call `init_processes()` first (once
per process, before anything else touches JAX's devices); `jax.devices()` then lists every
process's devices and `device_mesh()` spans them. Every process runs the same program on the same
batches (`fit` draws them from `(seed, epoch, step)`), so each puts its own share of a batch on its
own devices and the gradients are reduced across processes (docs: "Run on several machines").
"""

from collections.abc import Sequence
from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

T = TypeVar("T")


def init_processes(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None, **kwargs
) -> None:
    """Join this process to a multi-process JAX run (`jax.distributed.initialize`), once, before any
    other use of JAX's devices.

    Without arguments JAX reads the cluster from its environment (SLURM, Open MPI, ...); otherwise
    give the coordinator's `host:port`, the number of processes and this one's index (0 is the
    coordinator). On CPU the cross-process reductions use gloo (set here unless already chosen).
    `kwargs` go to `jax.distributed.initialize` (e.g. `initialization_timeout` in seconds).
    """
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") in (None, "", "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes, process_id, **kwargs)


def process_share(items: Sequence[T]) -> list[T]:
    """This process's share of `items` (round robin over `jax.process_count()` processes): spread the
    seeds or grid cells of a sweep over the processes of a run; one process alone gets them all."""
    return list(items)[jax.process_index() :: jax.process_count()]


def device_mesh(axis_name: str = "batch", devices=None) -> Mesh:
    """A 1-D mesh over `devices` (default: all of `jax.devices()`)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (axis_name,))


def shard(tree, mesh: Mesh):
    """Put every array leaf of `tree` on `mesh`, split along its leading (batch or sample) axis."""
    (axis,) = mesh.axis_names
    n = mesh.devices.size

    def put(leaf):
        if leaf.shape[0] % n:
            raise ValueError(
                f"shard: a leading axis of {leaf.shape[0]} does not divide over {n} devices; "
                f"use a batch size (or number of samples) that is a multiple of {n}."
            )
        return _put(leaf, NamedSharding(mesh, PartitionSpec(axis)))

    return jax.tree.map(put, tree)


def replicate(tree, mesh: Mesh):
    """Put every array leaf of `tree` on every device of `mesh`."""
    sharding = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda leaf: _put(leaf, sharding), tree)


def _put(leaf, sharding: NamedSharding):
    """`jax.device_put`, also onto a mesh that spans other processes' devices: there every process holds
    the same value (the same batch, keys or network) and places its own devices' pieces of it."""
    if sharding.is_fully_addressable:
        return jax.device_put(leaf, sharding)
    if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):  # typed keys: place their data
        return jax.random.wrap_key_data(_put(jax.random.key_data(leaf), sharding), impl=jax.random.key_impl(leaf))
    host = np.asarray(leaf)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
