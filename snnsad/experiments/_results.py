"""What every experiment writes: a folder with config (versions, commit), results and figures."""

import os

from ..train import write_run


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(out_dir, name, config, results, report, figures):
    """Write the experiment's folder `out_dir/name` (`snnsad.train.write_run`) and return its summary."""
    paths = write_run(os.path.join(out_dir, name), config, results, figures)
    return {"name": name, "results": results, "report": report, "figures": paths}
