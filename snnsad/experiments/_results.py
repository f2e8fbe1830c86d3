"""What every experiment writes: a folder with config (versions, commit), results and figures."""

import json
import os
from collections.abc import Callable
from typing import Any

import equinox as eqx

from ..nn import trainable
from ..train import atomic_write_text, load_checkpoint, write_run


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


def cached(folder: str, name: str, settings: dict, compute: Callable[[], Any]) -> Any:
    """`compute()`, or its saved value when `folder/name.json` holds one made with the same `settings`.

    The parts of a long study (one width, one grid cell) are saved atomically as they finish, so the
    study resumes after an interruption with the parts it has; the value must be JSON (lists, not arrays).
    """
    path = os.path.join(folder, f"{name}.json")
    settings = json.loads(json.dumps(settings))  # as it reads back (tuples become lists)
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("settings") == settings:
            return saved["value"]
    value = compute()
    os.makedirs(folder, exist_ok=True)
    atomic_write_text(path, json.dumps({"settings": settings, "value": value}))
    return value
