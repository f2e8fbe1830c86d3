"""What every experiment writes: a folder with config (versions, commit), results and figures."""

import os

import equinox as eqx

from ..nn import trainable
from ..train import load_checkpoint, write_run


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(out_dir, name, config, results, report, figures):
    """Write the experiment's folder `out_dir/name` (`snnsad.train.write_run`) and return its summary."""
    paths = write_run(os.path.join(out_dir, name), config, results, figures)
    return {"name": name, "results": results, "report": report, "figures": paths}


def load_network(path: str, template):
    """`(net, record)` from a checkpoint of a trained network, also one written before the network's
    constants became hyper-parameter arrays (those files hold the trained arrays only: they are read
    into the trained part of `template`, whose constants then complete the network)."""
    try:
        return load_checkpoint(path, template)
    except (ValueError, KeyError, IndexError, TypeError, RuntimeError) as err:
        params, static = eqx.partition(template, trainable(template))
        try:
            params, record = load_checkpoint(path, params)
        except Exception:
            raise err from None
        return eqx.combine(params, static), record
