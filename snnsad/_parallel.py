"""Data parallelism on JAX's own machinery: a 1-D device mesh and batch/sample-axis shardings.

Under `jit` the compiler partitions a vmapped batch (or a vmapped set of gradient samples)
across the devices of the mesh and inserts the cross-device reductions itself; the network and
optimiser state are replicated. On several hosts, call `jax.distributed.initialize()` first
(once per process); `jax.devices()` then lists every host's devices and the same mesh spans them.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


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
        return jax.device_put(leaf, NamedSharding(mesh, PartitionSpec(axis)))

    return jax.tree.map(put, tree)


def replicate(tree, mesh: Mesh):
    """Put every array leaf of `tree` on every device of `mesh`."""
    sharding = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda leaf: jax.device_put(leaf, sharding), tree)
