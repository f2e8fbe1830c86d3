"""Progress bars: tqdm's transient bar on a terminal, nothing off it or without tqdm."""


def _tqdm_class():
    """tqdm's notebook-aware bar where ipywidgets can draw it, its text bar otherwise (`tqdm.auto` in a
    notebook without ipywidgets prints a TqdmWarning on every use); `None` without tqdm."""
    import importlib.util

    if importlib.util.find_spec("tqdm") is None:  # tqdm comes with the [data] extra
        return None
    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


def progress_bar(iterable, desc: str, total: int | None = None):
    """`iterable` with a transient tqdm bar, or unchanged when tqdm is not installed."""
    tqdm = _tqdm_class()
    if tqdm is None:
        return iterable
    # disable=None: no bar when stderr is not a terminal (logs and CI stay clean)
    return tqdm(iterable, desc=desc, total=total, leave=False, disable=None)


def epoch_bar(total: int, desc: str):
    """A transient bar counted by hand (`.update()`), `None` without tqdm; quiet off a terminal."""
    tqdm = _tqdm_class()
    return None if tqdm is None else tqdm(total=total, desc=desc, leave=False, disable=None)
