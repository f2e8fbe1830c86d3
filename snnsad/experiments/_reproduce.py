"""`snnsad reproduce`: run experiments by name and write a Markdown report."""

import inspect
import os
import time

from ..train import atomic_write_text, run_info
from ._e1_single_neuron import e1_single_neuron
from ._e2_closed_loop import e2_closed_loop
from ._e3_wrong_direction import e3_wrong_direction
from ._e4_spike_train_matching import e4_spike_train_matching
from ._e5_shd import SHD_HOWTO, _shd_files, e5_shd
from ._e6_randman import e6_randman
from ._estimators_on_one_example import estimators_on_one_example
from ._eventprop import eventprop_yinyang
from ._randman_calibration import randman_calibration
from ._robustness import robustness
from ._sg_ntk import sg_ntk
from ._smooth_exact import smooth_exact
from ._unbiased_training import unbiased_training
from ._variance_study import variance_study

EXPERIMENTS = {
    "e1": e1_single_neuron,
    "e2": e2_closed_loop,
    "e3": e3_wrong_direction,
    "e4": e4_spike_train_matching,
    "e5": e5_shd,
    "estimators": estimators_on_one_example,
    "eventprop": eventprop_yinyang,
    "e6": e6_randman,
    "randman-calibration": randman_calibration,
    "robustness": robustness,
    "sg-ntk": sg_ntk,
    "smooth-exact": smooth_exact,
    "unbiased-training": unbiased_training,
    "variance": variance_study,
}

TOUR = ("e1", "e2", "e3", "estimators", "e4", "e6", "variance", "eventprop", "unbiased-training", "robustness")
"""`snnsad reproduce tour --quick` (what `make demo` runs, about 3 minutes on 2 cores): the paper's claims E1-E4
and E6, every estimator against exact enumeration, the variance study, EventProp, unbiased training and the
surrogate robustness study; the rest of `all` (SG-NTK, smooth exact gradients, the Randman calibration,
E5 with SHD's files) adds about 3 minutes more."""


def reproduce(
    names,
    out_dir: str = "results/reproduce",
    *,
    quick: bool = True,
    seed: int = 0,
    shd_path: str | None = None,
    image: str | None = None,
    epochs: int | None = None,
    seeds: list[int] | None = None,
    synthetic_shd: bool = False,
    mnist_path: str | None = None,
    fashion_mnist: str | None = None,
) -> str:
    """Run experiments by name (`"all"` for every one, `"tour"` for `TOUR`) and write `out_dir/report.md`;
    returns its path.

    `shd_path` (a folder with `shd_train.h5`/`shd_test.h5`) enables E5; with `"all"` and no
    path E5 is skipped and the report says how to get the files. `image` is E4's target image.
    `synthetic_shd=True` runs E5 on a synthetic stand-in with SHD's layout (a pipeline check, not
    SHD). `epochs` and `seeds` override the mode's values in the experiments that take them (the report
    names the overrides; each experiment's config.json records what ran). `mnist_path` (a folder with
    MNIST's four IDX files) adds MNIST to `smooth-exact`; `fashion_mnist` (a folder, or `"auto"` for
    the system package's) adds Fashion-MNIST.
    """
    names = [names] if isinstance(names, str) else list(names)
    run_all = names == ["all"]
    names = list(EXPERIMENTS) if run_all else [n for name in names for n in (TOUR if name == "tour" else (name,))]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(
            f"reproduce: unknown experiment(s) {unknown}; known: {sorted(EXPERIMENTS)}, 'tour' ({' '.join(TOUR)}) or 'all'."
        )
    if synthetic_shd and shd_path is not None:
        raise ValueError("reproduce: give either `shd_path` (the real SHD files) or `synthetic_shd=True`, not both.")
    if "e5" in names and shd_path is None and not synthetic_shd and not run_all:
        raise ValueError(SHD_HOWTO)
    if shd_path is not None:
        _shd_files(shd_path)  # fail before hours of other experiments, not after
    if image is not None and not os.path.isfile(image):
        raise FileNotFoundError(f"--image {image!r}: no such file (E4's target image; omit it for the shipped one).")
    if mnist_path is not None and not os.path.isdir(mnist_path):
        raise FileNotFoundError(f"--mnist-path {mnist_path!r}: no such folder (MNIST's four IDX files go there).")
    options = {"shd_path": shd_path, "image": image, "epochs": epochs, "seeds": seeds, "synthetic": synthetic_shd}
    if fashion_mnist is not None:
        from ..data import find_fashion_mnist

        if fashion_mnist == "auto" and find_fashion_mnist() is None:
            raise FileNotFoundError(
                "--fashion-mnist: no Fashion-MNIST files where the system package puts them; install them "
                "(`apt-get install dataset-fashion-mnist`) or give their folder: --fashion-mnist FOLDER."
            )
        if fashion_mnist != "auto" and not os.path.isdir(fashion_mnist):
            raise FileNotFoundError(f"--fashion-mnist {fashion_mnist!r}: no such folder (its four IDX files go there).")
    options["mnist_path"] = mnist_path
    options["fashion_mnist"] = fashion_mnist
    options = {k: v for k, v in options.items() if v is not None and v is not False}
    outs = []
    print(
        f"snnsad reproduce: {len(names)} experiment(s) ({'quick' if quick else 'full'} mode) into {out_dir}", flush=True
    )
    for i, name in enumerate(names):
        if name == "e5" and shd_path is None and not synthetic_shd:
            print(f"[e5] skipped: {SHD_HOWTO}", flush=True)
            outs.append({"name": "e5_shd", "report": [("skipped", "no SHD files given", SHD_HOWTO)], "figures": []})
            continue
        fn = EXPERIMENTS[name]
        params = inspect.signature(fn).parameters
        t0 = time.perf_counter()
        print(f"[{name}] ({i + 1}/{len(names)}) {_summary(fn)} ...", flush=True)
        out = fn(out_dir, quick=quick, seed=seed, **{k: v for k, v in options.items() if k in params})
        out["seconds"] = time.perf_counter() - t0
        print(f"[{name}] done in {out['seconds']:.1f} s", flush=True)
        outs.append(out)
    lines = [
        "# snnsad reproduction report",
        "",
        f"Mode: {'quick' if quick else 'full'}; seed {seed}; {run_info()['commit'] or 'no git commit'}.",
        "",
    ]
    for out in outs:
        took = f" ({out['seconds']:.0f} s)" if "seconds" in out else ""
        cfg = f"Overrides: {', '.join(f'{k}={v}' for k, v in options.items())}." if options else ""
        lines += [
            f"## {out['name']}{took}",
            "",
            cfg,
            "",
            "| quantity | snnsad | paper | definition |",
            "|---|---|---|---|",
        ]
        lines += [f"| {q} | {ours} | {paper} | {' '.join(rest)} |" for q, ours, paper, *rest in out["report"]]
        lines += [""] + [f"![{os.path.basename(p)}]({os.path.relpath(p, out_dir)})" for p in out["figures"]] + [""]
    path = os.path.join(out_dir, "report.md")
    atomic_write_text(path, "\n".join(lines))
    atomic_write_text(os.path.join(out_dir, "report.html"), html_report(outs, quick=quick, seed=seed, options=options))
    print(f"wrote {path} and report.html")
    return path


def html_report(outs, *, quick: bool, seed: int, options: dict) -> str:
    """One self-contained HTML page: every experiment's table and its figures embedded (base64 PNG)."""
    import base64
    import html

    esc = html.escape
    head = (
        "<!doctype html><html><head><meta charset='utf-8'><title>snnsad reproduction report</title><style>"
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;"
        "font-size:14px}th{background:#f3f3f3}img{max-width:100%;margin:0.5em 0}</style></head><body>"
    )
    parts = [
        head,
        "<h1>snnsad reproduction report</h1>",
        f"<p>Mode: {'quick' if quick else 'full'}; seed {seed}; {esc(run_info()['commit'] or 'no git commit')}."
        + (f" Overrides: {esc(', '.join(f'{k}={v}' for k, v in options.items()))}." if options else "")
        + "</p>",
    ]
    for out in outs:
        took = f" ({out['seconds']:.0f} s)" if "seconds" in out else ""
        parts.append(f"<h2>{esc(out['name'])}{took}</h2><table>")
        parts.append("<tr><th>quantity</th><th>snnsad</th><th>paper</th><th>definition</th></tr>")
        for q, ours, paper, *rest in out["report"]:
            cells = (q, ours, paper, " ".join(rest))
            parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
        for fig in out["figures"]:
            with open(fig, "rb") as f:
                data = base64.b64encode(f.read()).decode()
            parts.append(f"<img alt='{esc(os.path.basename(fig))}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(fn) -> str:
    """The experiment's one-line description: the first sentence of its docstring, shortened."""
    first = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
    first = first.split(". ")[0].rstrip(".")
    return first if len(first) <= 100 else first[:97] + "..."
