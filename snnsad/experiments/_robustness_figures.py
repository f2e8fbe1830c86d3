"""Figures of the surrogate robustness study: the shape x steepness grid and the sparse-activity sweep."""

import numpy as np


def grid_figure(grid: list[dict], plt):
    """Top: a heat map of test accuracy (shape x beta) per surrogate scale and reset; bottom: accuracy vs beta per shape."""
    variants = list(dict.fromkeys((c["scale"], c["reset"]) for c in grid))
    shapes = list(dict.fromkeys(c["shape"] for c in grid))
    fig, axes = plt.subplots(2, len(variants), figsize=(3.6 * len(variants), 5.6), squeeze=False)
    for j, (scale, reset) in enumerate(variants):
        sel = [c for c in grid if (c["scale"], c["reset"]) == (scale, reset)]
        betas = sorted({c["beta"] for c in sel})
        acc = np.full((len(shapes), len(betas)), np.nan)
        for c in sel:
            acc[shapes.index(c["shape"]), betas.index(c["beta"])] = c["test_accuracy_mean"]
        ax = axes[0, j]
        im = ax.imshow(acc, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set(xticks=range(len(betas)), xticklabels=[f"{b:g}" for b in betas], yticks=range(len(shapes)),
               yticklabels=shapes, xlabel="steepness beta", title=f"{scale}, reset {reset}")  # fmt: skip
        for (i, k), v in np.ndenumerate(acc):
            if np.isfinite(v):
                ax.text(k, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="w" if v < 0.6 else "k")
        ax = axes[1, j]
        for s in shapes:
            cells = sorted((c for c in sel if c["shape"] == s), key=lambda c: c["beta"])
            if not cells:
                continue
            m = np.array([c["test_accuracy_mean"] for c in cells])
            sd = np.array([c["test_accuracy_sd"] or 0.0 for c in cells])
            b = [c["beta"] for c in cells]
            ax.plot(b, m, marker="o", ms=3, label=s)
            ax.fill_between(b, m - sd, m + sd, alpha=0.2)
        ax.set(xscale="log", xlabel="steepness beta", ylabel="test accuracy", ylim=(0, 1))
        ax.legend(fontsize=6)
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="test accuracy")
    return fig


def sparse_figure(sparse: list[dict], plt):
    """Test accuracy against the mean hidden spike count per neuron and trial, and against the fraction of active
    neurons; one marker per (method, strength), points along the upper bound's threshold."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
    groups = list(dict.fromkeys((c["method"], c["strength"]) for c in sparse))
    for g, (method, strength) in enumerate(groups):
        cells = sorted((c for c in sparse if (c["method"], c["strength"]) == (method, strength)),
                       key=lambda c: c["upper_threshold"])  # fmt: skip
        acc = [c["test_accuracy_mean"] for c in cells]
        style = dict(marker="os^"[g % 3], ls="-" if method.startswith("deterministic") else "--",
                     label=f"{method}, strength {strength:g}")  # fmt: skip
        axes[0].plot([c["spikes_per_neuron"] for c in cells], acc, **style)
        axes[1].plot([c["fraction_active"] for c in cells], acc, **style)
    axes[0].set(xscale="log", xlabel="hidden spikes per neuron and trial", ylabel="test accuracy", ylim=(0, 1))
    axes[1].set(xlabel="fraction of hidden neurons active", ylim=(0, 1))
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    return fig
