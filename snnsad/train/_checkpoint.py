"""Checkpoints: a pytree of arrays and a JSON header in one file, written atomically."""

import hashlib
import io
import json
import os
import struct
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._io import atomic_write_bytes

_MAGIC = b"SNNSADCK"
_CHECKSUM = "sha256"


def save_checkpoint(path: str, tree, meta: dict) -> None:
    """Write `tree` (arrays) and `meta` (JSON) to one file, atomically, with a SHA-256 of the arrays."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    payload = buf.getvalue()
    header = json.dumps({**meta, _CHECKSUM: hashlib.sha256(payload).hexdigest()}).encode()
    atomic_write_bytes(path, _MAGIC + struct.pack("<Q", len(header)) + header + payload)


def _header(head: bytes, path: str) -> tuple[dict, int]:
    """The JSON header at the start of a checkpoint file and the offset where its arrays begin."""
    start = len(_MAGIC) + 8
    if not head.startswith(_MAGIC) or len(head) < start:
        raise ValueError(f"load_checkpoint: {path!r} is not an snnsad checkpoint.")
    (n,) = struct.unpack("<Q", head[len(_MAGIC) : start])
    try:
        meta = json.loads(head[start : start + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        meta = None
    if not isinstance(meta, dict):
        raise ValueError(f"load_checkpoint: {path!r} has a damaged header (truncated or corrupt file).")
    return meta, start + n


def _open(path: str):
    if os.path.isdir(path):
        raise ValueError(f"load_checkpoint: {path!r} is a directory, not a checkpoint file.")
    return open(path, "rb")


def _read(path: str) -> tuple[dict, bytes]:
    """The header and the checked array bytes of a checkpoint file (see `load_checkpoint`)."""
    with _open(path) as f:
        data = f.read()
    meta, offset = _header(data, path)
    payload = data[offset:]
    if meta.pop(_CHECKSUM, None) != hashlib.sha256(payload).hexdigest():
        raise ValueError(
            f"load_checkpoint: {path!r} is damaged (its arrays do not match their checksum: truncated, "
            "bytes changed or appended) or was written by an older snnsad; start the run over."
        )
    return meta, payload


def checkpoint_meta(path: str) -> dict:
    """The JSON header of a checkpoint (its `meta`), read without reading or checking the arrays
    (`load_checkpoint` checks them)."""
    with _open(path) as f:
        head = f.read(len(_MAGIC) + 8)
        if head.startswith(_MAGIC) and len(head) == len(_MAGIC) + 8:
            head += f.read(struct.unpack("<Q", head[len(_MAGIC) :])[0])
    meta, _ = _header(head, path)
    meta.pop(_CHECKSUM, None)
    return meta


def load_checkpoint(path: str, like) -> tuple[Any, dict]:
    """Read a checkpoint written by `save_checkpoint`; `like` gives the structure.

    Refused with a `ValueError` naming the file: anything that is not a complete snnsad checkpoint
    (wrong magic, truncated, bytes flipped or appended: the SHA-256 of the arrays must match), a
    checkpoint whose arrays do not fit `like` (another size or structure) and a checkpoint holding
    NaN or infinite values.
    """
    meta, payload = _read(path)
    try:
        tree = eqx.tree_deserialise_leaves(io.BytesIO(payload), like)
    except Exception as err:  # the bytes passed their checksum: any failure here is a structure mismatch
        raise ValueError(
            f"load_checkpoint: {path!r} holds arrays that do not fit the structure given (a network of another "
            f"size or structure): {err}"
        ) from None
    bad = [
        jax.tree_util.keystr(p)
        for p, leaf in jax.tree_util.tree_leaves_with_path(tree)
        if eqx.is_inexact_array(leaf) and not bool(jnp.all(jnp.isfinite(leaf)))
    ]
    if bad:
        raise ValueError(f"load_checkpoint: {path!r} holds NaN or infinite values in {bad[:4]}; it is not resumable.")
    return tree, meta
