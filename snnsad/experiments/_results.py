"""What every experiment writes: a folder with config (versions, commit), results and figures."""

import json
import os

from ..train import atomic_write_text, run_info


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(out_dir, name, config, results, report, figures):
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    atomic_write_text(os.path.join(folder, "config.json"), json.dumps({**config, **run_info()}, indent=2, default=str))
    atomic_write_text(os.path.join(folder, "results.json"), json.dumps(results, indent=2, default=float))
    paths = []
    for fname, fig in figures.items():
        path = os.path.join(folder, fname)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        pyplot().close(fig)
        paths.append(path)
    return {"name": name, "results": results, "report": report, "figures": paths}
