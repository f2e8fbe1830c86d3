"""Non-spiking baselines on spike-time data: how hard a Randman task is before any SNN is trained."""

import jax
import jax.numpy as jnp
import numpy as np
import optax


def first_spike_times(x: np.ndarray) -> np.ndarray:
    """`(N, T, n)` rasters -> `(N, n)` time step of each unit's first spike (`T` where a unit is silent)."""
    x = np.asarray(x)
    spiked = x.any(axis=1)
    return np.where(spiked, x.argmax(axis=1), x.shape[1]).astype(np.float64)


def nearest_neighbour_accuracy(train_x, train_y, test_x, test_y, *, chunk: int = 512) -> float:
    """Test accuracy of 1-nearest-neighbour (Euclidean) on first-spike times."""
    a, b = first_spike_times(train_x), first_spike_times(test_x)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    correct = 0
    for start in range(0, len(b), chunk):
        q = b[start : start + chunk]
        d = (q**2).sum(1)[:, None] - 2 * q @ a.T + (a**2).sum(1)[None]
        correct += int((train_y[d.argmin(1)] == test_y[start : start + chunk]).sum())
    return correct / len(b)


def linear_accuracy(
    train_x, train_y, test_x, test_y, *, steps: int = 2000, lr: float = 0.05, l2: float = 1e-4
) -> float:
    """Test accuracy of multinomial logistic regression on standardised first-spike times.

    Full-batch Adam for `steps` steps on softmax cross-entropy plus `l2 * |W|^2`.
    """
    a, b = first_spike_times(train_x), first_spike_times(test_x)
    mu, sd = a.mean(0), a.std(0) + 1e-9
    a, b = jnp.asarray((a - mu) / sd, jnp.float32), jnp.asarray((b - mu) / sd, jnp.float32)
    ya = jnp.asarray(train_y)
    n_classes = int(max(np.max(train_y), np.max(test_y))) + 1
    params = (jnp.zeros((a.shape[1], n_classes)), jnp.zeros((n_classes,)))
    opt = optax.adam(lr)

    def loss(p):
        logits = a @ p[0] + p[1][None, :]
        return optax.softmax_cross_entropy_with_integer_labels(logits, ya).mean() + l2 * jnp.sum(p[0] ** 2)

    @jax.jit
    def run(p):
        def step(carry, _):
            p, s = carry
            g = jax.grad(loss)(p)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), None, length=steps)
        return p

    w, c = run(params)
    return float(np.mean(np.asarray(jnp.argmax(b @ w + c[None, :], 1)) == np.asarray(test_y)))


def spike_time_baselines(train, test) -> dict[str, float]:
    """`{"nearest_neighbour": ..., "linear": ...}` test accuracies on first-spike times."""
    return {
        "nearest_neighbour": nearest_neighbour_accuracy(train.x, train.y, test.x, test.y),
        "linear": linear_accuracy(train.x, train.y, test.x, test.y),
    }
