r"""Export to and import from NIR, the Neuromorphic Intermediate Representation (the `nir` package).

snnsad's networks are discrete-time; NIR's nodes are continuous-time. The mapping (stated once,
used both ways):

- a `Dense` layer is `Linear(W)` (or `Affine(W, b)`) into a `CubaLIF(tau_syn, tau_mem, r=1,
  v_leak=0, v_threshold=theta, v_reset=0, w_in=1)`; a recurrent one adds `Linear(V)` from the
  `CubaLIF` back to itself; a `Conv1D` layer is `Conv1d(W, stride, padding 0)` (and a recurrent
  `Conv1d` with same padding) into a `CubaLIF` of shape `(channels, length)`, followed by a
  `Flatten` before a dense node;
- the readout is `Linear(W)` into a `CubaLI(tau_syn, tau_mem, r=1, v_leak=0, w_in=1)`;
- the graph's metadata records snnsad's discretisation, `"snnsad": {"dt", "reset",
  "detach_reset", "discretisation"}`: `I[t+1] = exp(-dt/tau_syn) I[t] + W x[t]`,
  `U[t+1] = exp(-dt/tau_mem) U[t] + (1 - exp(-dt/tau_mem)) I[t]`, spike `U[t] > theta`, reset
  `"zero"` (multiplicative, NIR's `v_reset = 0`). Read back by `from_nir`, it gives the same network
  bit for bit. Another library's NIR importer discretises the same nodes its own way (the
  per-step input scaling and whether the membrane sees this step's or last step's current): expect
  the same network up to those conventions, not the same spikes, unless its importer follows the
  metadata.

Graphs written by other libraries import too: their CubaLIF nodes may carry NIR's `r` and `w_in`
(snnTorch's exporter writes `r = tau_mem / dt`, `w_in = tau_syn / dt`), which fold exactly into
snnsad's threshold (divided by `r`) and weights (times `w_in`); pass their `dt`, which they do not
record (snnTorch derives its time constants with dt = 1e-4 s). Tested on a graph written by
snnTorch 1.0.0's `export_to_nir` (`tests/data/snntorch_export.nir`).

Only the `"zero"` reset has a NIR equivalent; other resets are refused on export.
"""

import numpy as np

from .._checks import require
from .._neurons import LIF, LeakyIntegrator
from .._spikes import AbstractSpikeFunction, Heaviside
from ..nn._layers import Conv1D, Dense, Readout
from ..nn._network import Network

DISCRETISATION = (
    "I[t+1] = exp(-dt/tau_syn) I[t] + W x[t]; U[t+1] = exp(-dt/tau_mem) U[t] + (1 - exp(-dt/tau_mem)) I[t]; "
    "spike s[t] = 1[U[t] > theta]; reset U[t+1] *= 1 - s[t]"
)


def require_nir():
    """The `nir` module, or a `snnsad.MissingDependencyError` naming the extra that installs it (`snnsad[nir]`)."""
    return require("nir", "nir", "snnsad.nir")


def _a(x):
    return np.asarray(x)


def _full(value, shape) -> np.ndarray:
    """`value` (a scalar or per-neuron array) as a writable array of one NIR node's `shape`."""
    return np.broadcast_to(np.asarray(value), shape).copy()


def to_nir(net: Network):
    """A `nir.NIRGraph` of `net` (dense, recurrent dense and 1-D convolutional LIF layers, leaky readout).

    Spike functions are not part of NIR (a graph is its forward pass with deterministic spikes);
    time constants, thresholds and weights are. Raises `ValueError` for anything without a NIR
    equivalent (a reset other than `"zero"`, a non-LIF neuron, a custom layer).
    """
    nir = require_nir()
    if not isinstance(net, Network):
        raise TypeError(f"to_nir: needs an snnsad.Network, got {type(net).__name__}.")
    first = net.layers[0]
    in_shape = [first.in_channels, first.in_length] if isinstance(first, Conv1D) else [first.in_size]
    nodes: dict = {"input": nir.Input(input_type={"input": np.array(in_shape)})}
    edges, prev, dt, reset = [], "input", None, None
    for i, layer in enumerate(net.layers):
        neuron = layer.neuron
        if not isinstance(neuron, LIF):
            raise ValueError(f"to_nir: layer {i} has a {type(neuron).__name__} neuron; NIR export knows LIF only.")
        if neuron.reset != "zero":
            raise ValueError(
                f"to_nir: layer {i} resets with {neuron.reset!r}; only the multiplicative reset to zero ('zero') "
                "has a NIR equivalent (v_reset = 0)."
            )
        dt, reset = float(neuron.dt), neuron.reset
        if isinstance(layer, Dense):
            n = layer.size
            before = net.layers[i - 1] if i else None
            if isinstance(before, Conv1D):
                nodes[f"flatten{i}"] = nir.Flatten(input_type={"input": np.array(_shape(before))}, start_dim=0)
                edges.append((prev, f"flatten{i}"))
                prev = f"flatten{i}"
            w = _a(layer.weight)
            nodes[f"w{i}"] = nir.Affine(w, _a(layer.bias)) if layer.bias is not None else nir.Linear(w)
            shape = (n,)
        elif isinstance(layer, Conv1D):
            shape = _shape(layer)
            nodes[f"w{i}"] = nir.Conv1d(
                input_shape=layer.in_length, weight=_a(layer.kernel), stride=layer.stride, padding=0, dilation=1,
                groups=1, bias=np.zeros(layer.channels, _a(layer.kernel).dtype),
            )  # fmt: skip
        else:
            raise ValueError(f"to_nir: layer {i} is a {type(layer).__name__}; NIR export knows Dense and Conv1D.")
        edges.append((prev, f"w{i}"))
        nodes[f"lif{i}"] = nir.CubaLIF(
            tau_syn=_full(neuron.tau_syn, shape), tau_mem=_full(neuron.tau_mem, shape), r=_full(1.0, shape),
            v_leak=_full(0.0, shape), v_threshold=_full(neuron.threshold, shape), v_reset=_full(0.0, shape),
            w_in=_full(1.0, shape),
        )  # fmt: skip
        edges.append((f"w{i}", f"lif{i}"))
        if isinstance(layer, Dense) and layer.recurrent_weight is not None:
            nodes[f"rec{i}"] = nir.Linear(_a(layer.recurrent_weight))
            edges += [(f"lif{i}", f"rec{i}"), (f"rec{i}", f"lif{i}")]
        if isinstance(layer, Conv1D) and layer.recurrent_kernel is not None:
            k = layer.recurrent_kernel
            nodes[f"rec{i}"] = nir.Conv1d(
                input_shape=layer.out_length, weight=_a(k), stride=1, padding=k.shape[2] // 2, dilation=1, groups=1,
                bias=np.zeros(layer.channels, _a(k).dtype),
            )  # fmt: skip
            edges += [(f"lif{i}", f"rec{i}"), (f"rec{i}", f"lif{i}")]
        prev = f"lif{i}"
    if net.readout is not None:
        last = net.layers[-1]
        if isinstance(last, Conv1D):
            nodes["flatten_out"] = nir.Flatten(input_type={"input": np.array(_shape(last))}, start_dim=0)
            edges.append((prev, "flatten_out"))
            prev = "flatten_out"
        ro, m = net.readout, net.readout.size
        nodes["w_out"] = nir.Linear(_a(ro.weight))
        nodes["readout"] = nir.CubaLI(
            tau_syn=_full(ro.neuron.tau_syn, (m,)), tau_mem=_full(ro.neuron.tau_mem, (m,)), r=_full(1.0, (m,)),
            v_leak=_full(0.0, (m,)), w_in=_full(1.0, (m,)),
        )  # fmt: skip
        edges += [(prev, "w_out"), ("w_out", "readout")]
        prev = "readout"
    nodes["output"] = nir.Output(output_type={"output": np.array([net.readout.size if net.readout else net.sizes[-1]])})
    edges.append((prev, "output"))
    meta = {"snnsad": {"dt": dt, "reset": reset, "detach_reset": True, "discretisation": DISCRETISATION}}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _shape(layer: Conv1D):
    return (layer.channels, layer.out_length)


def from_nir(graph, *, dt: float | None = None, spike_fn: AbstractSpikeFunction | None = None) -> Network:
    """An snnsad `Network` from a `nir.NIRGraph` of the shapes `to_nir` writes (chains of Linear/Affine or
    Conv1d into CubaLIF, optional recurrent Linear/Conv1d, a CubaLI readout).

    `dt` defaults to the graph's `snnsad` metadata (required otherwise); `spike_fn` (default
    `Heaviside()`) is given to every layer, e.g. `snnsad.Stochastic(...)` to train the imported
    network with an estimator. `v_leak` and `v_reset` must be 0 (snnsad's LIF has no other form;
    anything else is refused with the node's name); NIR's `r` and `w_in` (snnTorch's exporter writes
    `tau_mem / dt` and `tau_syn / dt`) fold exactly into the weights (times `w_in`) and the threshold
    (divided by `r`). Graphs of other exporters carry no snnsad metadata: pass their `dt` (snnTorch
    derives its time constants with dt = 1e-4 s).
    """
    import jax.numpy as jnp
    import jax.random as jr

    require_nir()
    meta = (graph.metadata or {}).get("snnsad", {})
    dt = meta.get("dt") if dt is None else dt
    if dt is None:
        raise ValueError("from_nir: the graph carries no snnsad metadata; pass `dt` (seconds per step).")
    spike_fn = Heaviside() if spike_fn is None else spike_fn
    nodes = graph.nodes
    out_of: dict = {}
    for a, b in graph.edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"from_nir: an edge names {end!r}, which is not a node of the graph.")
        out_of.setdefault(a, []).append(b)
    # Recurrence is read from the graph's structure, never from node names: a node R is the recurrent
    # weight of the neuron node N when the edges N -> R and R -> N form a cycle through N.
    recurrent_of = {
        n: [r for r in out_of.get(n, []) if n in out_of.get(r, [])] for n in nodes if _kind(nodes[n]) == "CubaLIF"
    }
    inputs = [n for n, node in nodes.items() if _kind(node) == "Input"]
    if len(inputs) != 1:
        raise ValueError(f"from_nir: the graph needs exactly one Input node, found {inputs}.")
    layers, readout, cur, key = [], None, inputs[0], jr.key(0)
    visited = {cur}
    for _ in range(len(nodes) + 1):  # a chain visits every node at most once: bounded
        forward = [n for n in out_of.get(cur, []) if n not in recurrent_of.get(cur, [])]
        if len(forward) != 1:
            raise ValueError(
                f"from_nir: node {cur!r} leads to {forward or 'nothing'}; expected one chain from input to output "
                "(recurrence only as a cycle through a CubaLIF node)."
            )
        name = forward[0]
        if name in visited:
            raise ValueError(f"from_nir: node {name!r} is reached twice; a cycle that is not a neuron's recurrence.")
        visited.add(name)
        node, kind = nodes[name], _kind(nodes[name])
        if kind == "Output":
            break
        if kind == "Flatten":
            cur = name
            continue
        if kind not in ("Linear", "Affine", "Conv1d"):
            raise ValueError(f"from_nir: node {name!r} is a {kind}; expected Linear, Affine or Conv1d before a neuron.")
        targets = out_of.get(name, [])
        if len(targets) != 1:
            raise ValueError(f"from_nir: the weights {name!r} feed {targets or 'nothing'}; expected one neuron node.")
        target = targets[0]
        if target in visited:
            raise ValueError(f"from_nir: node {target!r} is reached twice; a cycle that is not a neuron's recurrence.")
        visited.add(target)
        cell, cell_kind = nodes[target], _kind(nodes[target])
        w = jnp.asarray(node.weight)
        if cell_kind == "CubaLI":
            neuron = LeakyIntegrator(tau_mem=_scalar(cell.tau_mem), tau_syn=_scalar(cell.tau_syn), dt=dt)
            readout = _replace(Readout(w.shape[1], w.shape[0], key=key, neuron=neuron), weight=w)
            cur = target
            continue
        if cell_kind != "CubaLIF":
            raise ValueError(f"from_nir: node {target!r} is a {cell_kind}; expected CubaLIF (or CubaLI for a readout).")
        if not np.allclose(cell.v_leak, 0.0):
            raise ValueError(f"from_nir: {target!r} has v_leak != 0; snnsad's LIF needs v_leak = 0.")
        if cell.v_reset is not None and not np.allclose(cell.v_reset, 0.0):
            raise ValueError(f"from_nir: {target!r} resets to {cell.v_reset}; snnsad's LIF resets to 0.")
        r, w_in = (_per_neuron(cell, f, target, w.shape[0], kind) for f in ("r", "w_in"))
        # NIR's v = r v', I = w_in I' with v', I' the r = w_in = 1 neuron: w_in goes into the weights, r
        # into the threshold (exact, as v_leak = v_reset = 0)
        scale = jnp.asarray(w_in, w.dtype).reshape((-1,) + (1,) * (w.ndim - 1))
        w = w * scale
        theta = np.ravel(np.asarray(cell.v_threshold, np.float64)) / r
        lif = LIF(
            tau_mem=_scalar(cell.tau_mem),
            tau_syn=_scalar(cell.tau_syn),
            dt=dt,
            threshold=theta[0] if np.all(theta == theta[0]) else theta,
            reset="zero",
        )
        rec = [nodes[n] for n in recurrent_of[target]]
        if len(rec) > 1:
            raise ValueError(f"from_nir: {target!r} has {len(rec)} recurrent weight nodes; snnsad's layers take one.")
        visited.update(recurrent_of[target])
        recurrent = jnp.asarray(rec[0].weight) if rec else None
        if recurrent is not None:
            recurrent = recurrent * jnp.asarray(w_in, recurrent.dtype).reshape((-1,) + (1,) * (recurrent.ndim - 1))
        if kind == "Conv1d":
            length = int(np.ravel(node.input_shape)[0])
            layer = Conv1D(w.shape[1], length, w.shape[0], w.shape[2], int(np.ravel(node.stride)[0]),
                           None if recurrent is None else recurrent.shape[2], neuron=lif, spike_fn=spike_fn, key=key)  # fmt: skip
            layer = _replace(layer, kernel=w)
            if recurrent is not None:
                layer = _replace(layer, recurrent_kernel=recurrent)
        else:
            layer = Dense(w.shape[1], w.shape[0], neuron=lif, spike_fn=spike_fn, key=key,
                          recurrent=recurrent is not None, bias=kind == "Affine")  # fmt: skip
            layer = _replace(layer, weight=w)
            if recurrent is not None:
                layer = _replace(layer, recurrent_weight=recurrent)
            if kind == "Affine":
                layer = _replace(layer, bias=jnp.asarray(node.bias) * jnp.asarray(w_in, w.dtype))
        layers.append(layer)
        cur = target
    else:
        raise ValueError("from_nir: the chain from the input does not end in an Output node.")
    if not layers:
        raise ValueError("from_nir: the graph has no CubaLIF layer.")
    return Network(layers, readout)


def _per_neuron(cell, field: str, name: str, n: int, kind: str) -> np.ndarray:
    """NIR's `r` or `w_in` of a neuron node as one value per output unit of its weights (`n`): a scalar when
    uniform (shape `(1,)`), per neuron only behind a dense layer (shape `(n,)`); positive."""
    flat = np.ravel(np.asarray(getattr(cell, field), np.float64))
    if np.all(flat == flat[0]):
        flat = flat[:1]
    elif kind == "Conv1d" or flat.size != n:
        raise ValueError(
            f"from_nir: {name!r} has {flat.size} different values of {field}; snnsad imports one value per layer, "
            "or one per neuron behind a dense layer."
        )
    if not np.all(flat > 0):
        raise ValueError(f"from_nir: {name!r} needs {field} > 0, got {flat}.")
    return flat


def _kind(node) -> str:
    return type(node).__name__


def _scalar(value) -> float:
    flat = np.ravel(np.asarray(value, np.float64))
    if not np.all(flat == flat[0]):
        raise ValueError("from_nir: per-neuron time constants are not supported by snnsad's LIF import.")
    return float(flat[0])


def _replace(module, **fields):
    import equinox as eqx

    for name, value in fields.items():
        module = eqx.tree_at(lambda m, name=name: getattr(m, name), module, value)
    return module
