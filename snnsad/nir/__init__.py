"""NIR (Neuromorphic Intermediate Representation) export and import: `to_nir(net)`, `from_nir(graph)`.

See the module docstring of `snnsad.nir._nir` (rendered in the API page) for the mapping of snnsad's
discrete-time layers to NIR's continuous-time nodes. Needs the `nir` extra.
"""

from ._nir import DISCRETISATION as DISCRETISATION
from ._nir import from_nir as from_nir
from ._nir import require_nir as require_nir
from ._nir import to_nir as to_nir
