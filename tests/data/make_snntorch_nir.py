"""Writes tests/data/snntorch_export.nir with snnTorch's own exporter (a peer's NIR graph for tests/test_nir.py).

Run in the bench environment (`pip install -e ".[bench]"`; snnTorch 1.0.0, nir 1.0.8, nirtorch 2.6 wrote the
committed file): `python tests/data/make_snntorch_nir.py`. A 4-6-3 feed-forward network of `snn.Synaptic`
neurons (alpha 0.8, beta 0.9, threshold 1; per-neuron tensors, which the exporter's shape inference needs)
with weights from `torch.manual_seed(0)`.
"""

import os

import nir
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir


def synaptic(n: int, **kw) -> snn.Synaptic:
    return snn.Synaptic(alpha=torch.full((n,), 0.8), beta=torch.full((n,), 0.9), threshold=torch.ones(n), **kw)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 6, bias=False),
        synaptic(6, init_hidden=True),
        torch.nn.Linear(6, 3, bias=False),
        synaptic(3, init_hidden=True, output=True),
    )
    nir.write(os.path.join(os.path.dirname(__file__), "snntorch_export.nir"), export_to_nir(net, torch.zeros(4)))
