"""Image data for the smooth-exact experiments: IDX files (MNIST and its kin) from a path, and scikit-learn's digits."""

import gzip
import os
from typing import Any, cast

import numpy as np

from .._checks import check_choice, require

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (optionally gzipped), e.g. MNIST's `train-images-idx3-ubyte`."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path!r} is not an IDX file (bad magic number {data[:4]!r}).")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(dims)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"read_idx: {path!r} holds {len(data)} bytes, its header promises {expected}; truncated?")
    return np.frombuffer(data, dtype, offset=offset).reshape(dims)


_MNIST = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_mnist(folder: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST (or Fashion-MNIST) from the standard IDX files in `folder` (plain or `.gz`); never downloads.

    Returns images `(N, 28, 28)` as float32 in [0, 1] and labels `(N,)` int32.
    """
    check_choice("split", split, tuple(_MNIST), where="load_mnist")
    paths = []
    for name in _MNIST[split]:
        found = [
            os.path.join(folder, name + ext) for ext in ("", ".gz") if os.path.exists(os.path.join(folder, name + ext))
        ]
        if not found:
            raise FileNotFoundError(
                f"load_mnist: {name}[.gz] not found in {folder!r}; put the four standard MNIST IDX files there "
                "(snnsad does not download data)."
            )
        paths.append(found[0])
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"load_mnist: images {images.shape} and labels {labels.shape} do not match.")
    return images.astype(np.float32) / 255.0, labels.astype(np.int32)


FASHION_MNIST_FOLDERS = ("/usr/share/datasets/fashion-mnist",)
"""Where system packages put Fashion-MNIST's IDX files (Debian/Ubuntu: `apt-get install dataset-fashion-mnist`)."""


def find_fashion_mnist() -> str | None:
    """The first folder of `FASHION_MNIST_FOLDERS` holding Fashion-MNIST's four IDX files, or `None`."""
    for folder in FASHION_MNIST_FOLDERS:
        names = [n for pair in _MNIST.values() for n in pair]
        if all(any(os.path.exists(os.path.join(folder, n + ext)) for ext in ("", ".gz")) for n in names):
            return folder
    return None


def load_fashion_mnist(folder: str | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Xiao et al. 2017) from its IDX files: in `folder`, or, by default, where the system
    package puts them (`find_fashion_mnist`); never downloads. Same format as `load_mnist`."""
    if folder is None:
        folder = find_fashion_mnist()
        if folder is None:
            raise FileNotFoundError(
                "load_fashion_mnist: no Fashion-MNIST files found in "
                f"{', '.join(FASHION_MNIST_FOLDERS)}; install them (`apt-get install dataset-fashion-mnist` on "
                "Debian/Ubuntu) or pass the folder holding the four IDX files (snnsad does not download data)."
            )
    return load_mnist(folder, split)


def load_digits_split(seed: int = 0, test_fraction: float = 0.2) -> dict:
    """scikit-learn's 8x8 digits (1,797 images, shipped with the package) split into train and test by `seed`.

    Images are float32 in [0, 1] (pixel / 16). Needs scikit-learn (`pip install snnsad[digits]`).
    """
    datasets = require("sklearn.datasets", "digits", "load_digits_split")
    d = cast(Any, datasets.load_digits())
    images = (d.images / 16.0).astype(np.float32)
    labels = d.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    test, train = order[:n_test], order[n_test:]
    return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}
