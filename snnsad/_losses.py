"""Per-example, unreduced losses and activity regularisers.

One convention meets the estimators and `fit`: `loss_fn(trace, y) -> scalar` for ONE example
(the caller averages over a batch). The building blocks below that take the network output
`(T, n_out)` are lifted to it by `on_output` (or `make_loss`, which adds activity
regularisers); `ce_loss` and `count_loss` are ready-made.
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._checks import check_choice
from ._custom_types import Label, Output, Scalar
from ._trace import Trace

LossFn = Callable[[Trace, Label], Scalar]


def class_index(label: ArrayLike, n_classes: int, where: str) -> Array:
    """`label` as a checked class index: one integer (trace-time check) in `[0, n_classes)` (run-time check, jit-safe)."""
    label = jnp.asarray(label)
    if label.ndim != 0 or not jnp.issubdtype(label.dtype, jnp.integer):
        raise TypeError(
            f"{where}: the label must be one integer class index per example, got shape {label.shape} and "
            f"dtype {label.dtype}; pass integer labels, one per example (a batch is vmapped)."
        )
    return eqx.error_if(label, (label < 0) | (label >= n_classes), f"{where}: a label is outside [0, {n_classes}).")


def _ce(logits: Array, label: ArrayLike, where: str = "cross-entropy") -> Array:
    label = class_index(label, logits.shape[-1], where)
    return jax.nn.logsumexp(logits) - logits[label]


def max_over_time_cross_entropy(output: Output, label: Label) -> Scalar:
    """Softmax cross-entropy of `max_t output[t]` (the paper's SHD loss)."""
    return _ce(jnp.max(output, axis=0), label)


def sum_over_time_cross_entropy(output: Output, label: Label) -> Scalar:
    """Softmax cross-entropy of `sum_t output[t]`."""
    return _ce(jnp.sum(output, axis=0), label)


def last_step_cross_entropy(output: Output, label: Label) -> Scalar:
    """Softmax cross-entropy of the last time step's output."""
    return _ce(output[-1], label)


def accuracy_max_over_time(output: Output, label: Label) -> Scalar:
    """1.0 if `argmax(max_t output)` is the label (for evaluation)."""
    label = class_index(label, output.shape[-1], "accuracy_max_over_time")
    return (jnp.argmax(jnp.max(output, axis=0)) == label).astype(output.dtype)


def _filter_exp(spikes: Array, tau: float, dt: float) -> Array:
    lam = jnp.exp(-dt / tau)

    def step(trace, s):
        trace = lam * trace + s
        return trace, trace

    _, out = jax.lax.scan(step, jnp.zeros_like(spikes[0]), spikes)
    return out


def van_rossum_distance(spikes: Array, target: Array, *, tau: float = 10e-3, dt: float = 1e-3) -> Array:
    """van Rossum distance: `sqrt(dt / tau * sum_t,n (k * (s - target))^2)`, `k` an exponential of `tau`.

    `spikes` and `target` are `(T, n)`; the result is a scalar (0 iff the trains coincide).
    """
    diff = _filter_exp(spikes - target.astype(spikes.dtype), tau, dt)
    sq = jnp.sum(jnp.square(diff)) * dt / tau
    return jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1)), 0)


def psp_kernel(n_steps: int, *, dt: float = 1e-3, tau_mem: float = 10e-3, tau_syn: float = 5e-3, eps0: float = 0.2):
    """The paper's PSP kernel `eps(t) = eps0 (exp(-t/tau_mem) - exp(-t/tau_syn))` sampled at
    `t = linspace(0, n_steps dt, n_steps)`, as the authors' code samples it (fmi-basel/surrogate-gradient-theory)."""
    t = jnp.linspace(0.0, n_steps * dt, n_steps)
    return eps0 * (jnp.exp(-t / tau_mem) - jnp.exp(-t / tau_syn))


def psp_van_rossum_distance(
    spikes: Array,
    target: Array,
    *,
    dt: float = 1e-3,
    tau_mem: float = 10e-3,
    tau_syn: float = 5e-3,
    eps0: float = 0.2,
) -> Array:
    """The paper's van Rossum distance: `1/2 sum_t (eps * (s - target))[t]^2` per neuron, averaged over neurons.

    `eps` is `psp_kernel` (causal convolution, truncated to the trial), so the value is in the
    paper's absolute units (not normalised; an empty output scores about 11 against the paper's
    target image). `spikes` and `target` are `(T, n)`.
    """
    n_steps = spikes.shape[0]
    eps = psp_kernel(n_steps, dt=dt, tau_mem=tau_mem, tau_syn=tau_syn, eps0=eps0).astype(spikes.dtype)
    lag = jnp.arange(n_steps)[:, None] - jnp.arange(n_steps)[None, :]
    toeplitz = jnp.where(lag >= 0, eps[jnp.clip(lag, 0, n_steps - 1)], 0)  # (eps * x)[t] = sum_k eps[t - k] x[k]
    filtered = toeplitz @ (spikes - target.astype(spikes.dtype))
    return 0.5 * jnp.mean(jnp.sum(jnp.square(filtered), axis=0))


def half_l2_spike_distance(spikes: Array, target: Array) -> Array:
    """The paper's L2 distance: `1/2 sum_t (s - target)^2` per neuron, averaged over neurons."""
    return 0.5 * jnp.mean(jnp.sum(jnp.square(spikes - target.astype(spikes.dtype)), axis=0))


def l2_spike_distance(spikes: Array, target: Array) -> Array:
    """`sum_t,n (s - target)^2` (squared L2 distance of rasters)."""
    return jnp.sum(jnp.square(spikes - target.astype(spikes.dtype)))


def spike_count_mse(spikes: Array, target_counts: Array) -> Array:
    """Mean over neurons of `(count_n - target_n)^2`, `count_n = sum_t s[t, n]`."""
    return jnp.mean(jnp.square(jnp.sum(spikes, axis=0) - target_counts.astype(spikes.dtype)))


class ActivityRegulariser(eqx.Module):
    r"""Penalty on spike counts of the spiking layers (the paper's activity regularisers).

    `bound="upper"`: `strength * mean(relu(c - threshold)^order)`; `"lower"`:
    `strength * mean(relu(threshold - c)^order)`, with `c` the spike count per neuron
    (`per="neuron"`) or the mean count of the layer (`per="layer"`), summed over the layers in
    `layers` (all when None). The paper's SHD setting: `ActivityRegulariser(0.1, 7.0, "upper", 2)`.
    """

    strength: float
    threshold: float
    bound: str = eqx.field(static=True, default="upper")
    order: int = eqx.field(static=True, default=2)
    per: str = eqx.field(static=True, default="neuron")
    layers: tuple[int, ...] | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        where = "ActivityRegulariser"
        check_choice("bound", self.bound, ("upper", "lower"), where=where)
        check_choice("order", self.order, (1, 2), where=where)
        check_choice("per", self.per, ("neuron", "layer"), where=where)

    def __call__(self, trace: Trace) -> Array:
        if len(trace.spikes) == 0:
            raise ValueError(
                "ActivityRegulariser: the trace holds no spiking layer (`trace.spikes` is empty), so there is no "
                "activity to penalise; a penalty of 0 here would silently change the objective. A trace "
                "rebuilt from the readout alone cannot carry a spike-reading loss term."
            )
        return self.from_counts(tuple(jnp.sum(s, axis=0) for s in trace.spikes), trace.output.dtype)

    def from_counts(self, counts: Sequence[Array], dtype=None) -> Array:
        """The penalty from each spiking layer's spike counts per neuron, `(n_l,)` per layer (what it reads of
        a trace): estimators that evaluate many spike configurations update counts instead of trains."""
        n = len(counts)
        chosen = range(n) if self.layers is None else self.layers
        bad = [i for i in chosen if not -n <= i < n]
        if bad:
            raise ValueError(f"ActivityRegulariser: `layers` {bad} out of range for a trace of {n} spiking layers.")
        total = jnp.zeros((), counts[0].dtype if dtype is None else dtype)
        for i in chosen:
            c = counts[i]
            if self.per == "layer":
                c = jnp.mean(c, keepdims=True)
            excess = c - self.threshold if self.bound == "upper" else self.threshold - c
            total = total + jnp.mean(jnp.maximum(excess, 0) ** self.order)
        return self.strength * total


def on_output(output_loss: Callable[[Output, Label], Scalar]) -> LossFn:
    """Lift a loss (or metric) of the output to the convention `loss_fn(trace, y) = output_loss(trace.output, y)`.

    ```python
    loss_fn = snnsad.losses.on_output(snnsad.losses.max_over_time_cross_entropy)
    ```
    """
    return make_loss(output_loss)


class Loss(eqx.Module):
    """`loss_fn(trace, y) = output_loss(trace.output, y) + sum(r(trace) for r in regularisers)`: what
    `make_loss` returns. A loss like any other to `fit` and the estimators; `LocalScoreFunction` reads its
    parts, so that its per-neuron losses update `ActivityRegulariser` terms from spike counts."""

    output_loss: Callable[[Output, Label], Scalar]
    regularisers: tuple[Callable[[Trace], Scalar], ...]

    def __call__(self, trace: Trace, y: Label) -> Scalar:
        value = self.output_loss(trace.output, y)
        for reg in self.regularisers:
            value = value + reg(trace)
        return value


def make_loss(
    output_loss: Callable[[Output, Label], Scalar], regularisers: Sequence[Callable[[Trace], Scalar]] = ()
) -> LossFn:
    """`loss_fn(trace, y) = output_loss(trace.output, y) + sum(r(trace) for r in regularisers)` (a `Loss`)."""
    return Loss(output_loss, tuple(regularisers))


def ce_loss(trace: Trace, y: Label) -> Scalar:
    """Softmax cross-entropy of the time-summed readout (`sum_over_time_cross_entropy` on the trace)."""
    return sum_over_time_cross_entropy(trace.output, y)


def count_loss(trace: Trace, y: Array) -> Scalar:
    """Squared error of the output spike counts, `sum_n (sum_t output[t, n] - y[n])^2`."""
    return jnp.sum(jnp.square(jnp.sum(trace.output, 0) - y))
