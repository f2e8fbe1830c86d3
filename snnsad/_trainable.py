"""What is trained: one filter, `trainable`, used by every estimator, `fit` and the statistics.

A parameter is trainable when it is an inexact array leaf that no module declares a
*hyper-parameter*. snnsad's modules declare their time constants, `dt` and every parameter of an
escape or spike function with `hyperparameter`; a custom module does the same for its own
fields. Everything else (weights, biases, recurrent weights and kernels, thresholds, a custom
layer's own arrays) is trained, so nothing of a custom model is silently left out.

```python
params, static = eqx.partition(net, snnsad.nn.trainable(net))
opt = optax.adamw(1e-3)
state = opt.init(params)  # weight decay never touches tau_mem, tau_syn, dt or beta
```
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
from jaxtyping import Array, PyTree

from ._checks import float_array

_HYPER = "snnsad_hyperparameter"


def hyperparameter(*, converter: Callable[[Any], Any] | None = float_array, **kwargs) -> Any:
    """A module field holding a hyper-parameter: an array (so a new value never recompiles) that is not trained.

    Use it like `eqx.field`: `tau: Array = snnsad.nn.hyperparameter()`. The default converter makes
    the value a strongly typed float array; `converter=None` keeps the value as given (for a field
    that holds a whole module, e.g. the escape function of a spike function: all of it is frozen).
    """
    metadata = {**kwargs.pop("metadata", {}), _HYPER: True}
    if converter is not None:
        kwargs["converter"] = converter
    return eqx.field(metadata=metadata, **kwargs)


def _is_hyper_field(node, name: str) -> bool:
    if not isinstance(node, eqx.Module):
        return False
    for f in dataclasses.fields(node):
        if f.name == name:
            return bool(f.metadata.get(_HYPER, False))
    return False


def _declared_hyper(tree, path) -> bool:
    """Whether a leaf at `path` lies under a field that its module declares a hyper-parameter."""
    node = tree
    for key in path:
        if isinstance(key, jax.tree_util.GetAttrKey):
            if _is_hyper_field(node, key.name):
                return True
            node = getattr(node, key.name)
        elif isinstance(key, jax.tree_util.SequenceKey):
            node = node[key.idx]
        elif isinstance(key, jax.tree_util.DictKey):
            node = node[key.key]
        else:  # a custom pytree node: its children carry no declarations
            return False
    return False


def trainable(tree: PyTree) -> PyTree[bool]:
    """The filter spec of the trained parameters of `tree` (a network, or gradients shaped like one).

    `True` for inexact array leaves that are not declared hyper-parameters, `False` elsewhere;
    use it with `eqx.partition`/`eqx.filter`. Every estimator differentiates exactly these.
    """
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: eqx.is_inexact_array(leaf) and not _declared_hyper(tree, path), tree
    )


def parameters(tree: PyTree) -> dict[str, Array]:
    """The trained parameters of a network (or of gradients shaped like it), keyed by path.

    Keys are `jax.tree_util.keystr` paths such as `".layers[0].weight"`; works for any model, so
    estimates of networks whose spike functions differ compare parameter by parameter.
    """
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(tree, trainable(tree)))
    return {jax.tree_util.keystr(path): leaf for path, leaf in leaves}
