"""Checkpoints: a pytree of arrays and a JSON header in one file, written atomically."""

import io
import json
import struct
from typing import Any

import equinox as eqx

from ._io import atomic_write_bytes

_MAGIC = b"SNNSADCK"


def save_checkpoint(path: str, tree, meta: dict) -> None:
    """Write `tree` (arrays) and `meta` (JSON) to one file, atomically."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    header = json.dumps(meta).encode()
    atomic_write_bytes(path, _MAGIC + struct.pack("<Q", len(header)) + header + buf.getvalue())


def load_checkpoint(path: str, like) -> tuple[Any, dict]:
    """Read a checkpoint written by `save_checkpoint`; `like` gives the structure."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8:
        raise ValueError(f"load_checkpoint: {path!r} is not an snnsad checkpoint.")
    (n,) = struct.unpack("<Q", data[len(_MAGIC) : len(_MAGIC) + 8])
    start = len(_MAGIC) + 8
    meta = json.loads(data[start : start + n].decode())
    tree = eqx.tree_deserialise_leaves(io.BytesIO(data[start + n :]), like)
    return tree, meta
