"""Atomic file writes (a crash mid-write never leaves a corrupt file behind), run records and run folders."""

import io
import json
import os
import tempfile


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder, fsync and rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private (0600); give it the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def run_info() -> dict:
    """Versions, platform, the git commit of the working tree (if any) and what else changes floating-point results
    on one machine (XLA's flags and the cores the process may use), for results files.

    A run repeats bit for bit for a given seed with the same versions, `XLA_FLAGS` and cores; another XLA
    optimisation level or thread count sums in another order, which a spiking network can amplify
    (docs/development.md, "Reproducibility")."""
    import platform
    import subprocess

    import equinox
    import jax
    import optax

    from ._version import __version__

    try:
        here = os.path.dirname(os.path.abspath(__file__))
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "snnsad": __version__,
        "jax": jax.__version__,
        "equinox": equinox.__version__,
        "optax": optax.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "backend": jax.default_backend(),
        "commit": commit,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def machine_description() -> str:
    """One line for results tables: processor, core count, jax version and the platform it runs on."""
    import platform

    import jax

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
        f"on {jax.devices()[0].platform}"
    )


def earlier_commits(folder: str) -> list[str]:
    """The commits a run folder's `config.json` records (`earlier_commits`, then `commit`), oldest first: what a
    resumed run keeps, so that the folder still says which code trained its first epochs. `[]` without one."""
    try:
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return []
    seen = [*cfg.get("earlier_commits", []), cfg.get("commit")]
    return [c for i, c in enumerate(seen) if isinstance(c, str) and c not in seen[:i]]


def write_run(folder: str, config: dict, results: dict | None = None, figures: dict | None = None) -> list[str]:
    """Write a run's folder: `config.json` (with `run_info()`: versions, machine, commit), `results.json` and
    the figures, each file atomically (a reader never sees half a file).

    **Arguments:**

    - `folder`: the run's folder (created if missing).
    - `config`: what ran (settings, seeds); values JSON cannot hold are written as strings.
    - `results`: what it measured (`None`: no results file); numbers JSON cannot hold are written as floats.
    - `figures`: file name -> matplotlib figure, saved at 110 dpi and closed.

    **Returns:**

    The paths of the figures written.
    """
    os.makedirs(folder, exist_ok=True)
    atomic_write_text(os.path.join(folder, "config.json"), json.dumps({**config, **run_info()}, indent=2, default=str))
    if results is not None:
        atomic_write_text(os.path.join(folder, "results.json"), json.dumps(results, indent=2, default=float))
    paths = []
    for name, fig in (figures or {}).items():
        import matplotlib.pyplot as plt  # a figure exists, so matplotlib is installed

        path = os.path.join(folder, name)
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=110, bbox_inches="tight", format=os.path.splitext(name)[1][1:] or "png")
        plt.close(fig)
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths
