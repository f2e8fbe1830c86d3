"""Training epoch by epoch with one optimiser state, for experiments that measure between epochs."""

from collections.abc import Callable

import optax

from ..estimators import AbstractEstimator
from ..losses import LossFn
from ..train import fit, progress_bar


def train_in_stages(
    net,
    train,
    estimator: AbstractEstimator,
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    before: Callable | None = None,
    val=None,
    metric_fn: LossFn | None = None,
    history: list | None = None,
):
    """Train epoch by epoch (`before(epoch, net)` runs before each), one optimiser state throughout.

    Each epoch is one `snnsad.fit` call that continues from the last one's optimiser state, so
    Adam's moments persist across epochs. With `val` (and `metric_fn`) each epoch is evaluated;
    the per-epoch records of `fit` are appended to `history` when given. Returns `(net, opt_state)`.
    """
    opt_state = None
    for stage in progress_bar(range(epochs), "epochs (one fit each)"):
        if before is not None:
            before(stage, net)
        fitted = fit(
            net,
            train,
            estimator=estimator,
            loss_fn=loss_fn,
            optimizer=optimizer,
            epochs=1,
            batch_size=batch_size,
            seed=seed + stage,
            val=val,
            metric_fn=metric_fn,
            progress=False,
            opt_state=opt_state,
        )
        net, opt_state = fitted.net, fitted.opt_state
        if history is not None:
            history.extend({**h, "epoch": stage} for h in fitted.history)
    return net, opt_state
