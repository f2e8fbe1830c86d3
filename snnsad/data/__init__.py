"""Data sets: Randman, Yin-Yang, SHD/SSC (HDF5), MNIST and Fashion-MNIST (IDX files) and scikit-learn's digits, image-raster targets, frozen Poisson inputs, batching."""

from ._datasets import RANDMAN_PRESET as RANDMAN_PRESET
from ._datasets import SpikeDataset as SpikeDataset
from ._datasets import Subset as Subset
from ._datasets import batches as batches
from ._datasets import default_image_path as default_image_path
from ._datasets import image_to_raster as image_to_raster
from ._datasets import latency_encode as latency_encode
from ._datasets import poisson_raster as poisson_raster
from ._datasets import randman as randman
from ._datasets import randman_preset as randman_preset
from ._datasets import split_indices as split_indices
from ._datasets import yinyang as yinyang
from ._datasets import yinyang_class as yinyang_class
from ._datasets import yinyang_spikes as yinyang_spikes
from ._mnist import FASHION_MNIST_FOLDERS as FASHION_MNIST_FOLDERS
from ._mnist import find_fashion_mnist as find_fashion_mnist
from ._mnist import load_digits_split as load_digits_split
from ._mnist import load_fashion_mnist as load_fashion_mnist
from ._mnist import load_mnist as load_mnist
from ._mnist import read_idx as read_idx
from ._shd import SHD as SHD
from ._shd import check_classes as check_classes
from ._shd import write_synthetic_shd as write_synthetic_shd
from ._tonic import from_tonic as from_tonic
