"""How good is one training step's gradient estimate, layer by layer, before and after training? (issue: unbiased
gradients through depth)

On the paper's Randman network (20-128-128-128-15, sigmoid escape noise 10) the unbiased `LocalScoreFunction`
trails the matched stochastic SG even where only the last hidden layer and the readout train
(`lower_layer_credit.py`). That gap has two possible sources: the SG's direction (its mean is not the true
gradient; at initialisation it is close, cosine about 0.97 per layer, `surrogate_bias_by_layer.py`) or the unbiased
estimate's noise at the training batch. This measures both where training happens: at initialisation and at the
checkpoints of the study's runs (`results/unbiased-training-deep`), on batches of the study's training split at its
batch size (250), with the study's regularised loss.

For each network state, batch and method, `--draws` independent estimates `e` of the batch gradient; the true
gradient `g` of the stochastic network's expected batch loss is the mean of `--reference` independent
`LocalScoreFunction(2, groups=2)` estimates (unbiased, checked against exact enumeration in the tests), in 8
independent blocks. Per weight matrix:

- `noise`: `tr Cov(e) / ||g||^2`, the noise of one step's estimate over the squared norm of the true gradient,
  with `||g||^2` the mean over pairs of blocks of `<m_a, m_b>` (unbiased: the blocks are independent; a jackknife
  over blocks gives its standard error, and a layer where it is under 3 standard errors is `unresolved`: the
  reference cannot tell its true gradient from zero);
- `one-step cosine`: the mean over draws of `<e, g> / (||e|| ||g||)`, `<e, g>` estimated by `<e, mean of the
  reference>` (unbiased given `e`): how close the step an optimiser is handed points to the true gradient;
- `mean cosine` and `mean norm`: the direction and length of `E[e]` against `g` (`||E[e]||^2 = ||mean||^2 -
  tr Cov / draws`); 1 for an unbiased method up to noise, which checks the machinery;
- `SNR`: the method's own `||E[e]||^2 / tr Cov(e)` (no reference needed), the signal-to-noise per step that an
  optimiser normalising each weight's step (SMORMS3) responds to, whatever the estimate's scale.

Each value is the mean over `--batches` batches, with its standard error over them. States: `initialisation` and
every `--run NAME=FOLDER` (a `fit` run folder of the study, its `checkpoint.eqx`; by default the study's seed-0
runs of the matched SG and of `LocalScoreFunction(2), groups 2` at their chosen rate 2e-1). Each (state, batch) is
saved as it finishes and a rerun with the same arguments resumes (a state trained further since is measured
again, beside the earlier); `--report` rewrites the table from the saved units alone. Writes
`step_quality.{json,md}` in `--out`; `--cost` instead times the methods' training steps at batch 250 as the study
does (`step_cost.{json,md}`).

    python benchmarks/step_quality.py [--batches 2] [--draws 16] [--reference 64] [--run NAME=FOLDER ...]
"""

import argparse
import json
import os

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from surrogate_bias_by_layer import _flat_by_leaf

import snnsad
from snnsad._io import atomic_write_text, run_info
from snnsad.experiments._randman_calibration import calibrated_loss, split_80_10_10
from snnsad.experiments._recipes import paper_network
from snnsad.experiments._unbiased_training import TASKS, _step_seconds
from snnsad.train import freeze, load_checkpoint, smorms3

TASK = "paper 20-128-128-128-15"
RUNS = "results/unbiased-training-deep/unbiased_training/runs/paper_20_128_128_128_15_"
DEFAULT_RUNS = {
    "matched SG run": RUNS + "stochastic_SG__matched__lr0.2_seed0",
    "LocalScoreFunction(2), groups 2 run": RUNS + "LocalScoreFunction_2___groups_2_lr0.2_seed0",
}
METHODS = {
    "stochastic SG (matched)": snnsad.Autodiff(),
    "LocalScoreFunction(2), groups 2": snnsad.LocalScoreFunction(2, groups=2),
    "LocalScoreFunction(4), groups 2": snnsad.LocalScoreFunction(4, groups=2),
    "LocalScoreFunction(2), groups 2, flips": snnsad.LocalScoreFunction(2, groups=2, last="flips"),
    "LocalScoreFunction(2), groups 2, flips at 4 sites": snnsad.LocalScoreFunction(2, groups=2, last="flips", sites=4),
    "LocalScoreFunction(2), groups 2, flips at 8 sites": snnsad.LocalScoreFunction(2, groups=2, last="flips", sites=8),
}
DEFAULT_METHODS = tuple(METHODS)[:3]
REFERENCE = snnsad.LocalScoreFunction(2, groups=2)
BLOCKS = 8  # independent blocks of the reference: ||g||^2 and its standard error


def load_network(folder: str, net0):
    """The network of a `fit` run folder of the study (its `checkpoint.eqx`) and the epochs it had trained."""
    path = os.path.join(folder, "checkpoint.eqx")
    if not os.path.exists(path):
        raise ValueError(
            f"--run: {folder!r} holds no checkpoint.eqx; pass a run folder of the study (`fit`'s out_dir)."
        )
    with open(os.path.join(folder, "config.json")) as f:
        lr = json.load(f)["lr"]
    opt_state = freeze(smorms3(lr), "threshold").init(eqx.filter(net0, snnsad.trainable(net0)))
    (net, _), meta = load_checkpoint(path, (net0, opt_state))
    return net, int(meta["epoch"]) + 1  # epochs trained (the checkpoint holds the last index)


def _norm_sq(blocks: np.ndarray) -> tuple[float, float]:
    """`||E[block mean]||^2` from independent block means `(B, size)` and its jackknife standard error.

    The mean over pairs `a != b` of `<m_a, m_b>`: unbiased, since the blocks are independent (no noise term)."""
    n = blocks.shape[0]

    def u(m):
        total = m.sum(0)
        return (float(total @ total) - float(np.einsum("bi,bi->", m, m))) / (len(m) * (len(m) - 1))

    leave_one_out = np.array([u(np.delete(blocks, b, axis=0)) for b in range(n)])
    return u(blocks), float(np.sqrt((n - 1) / n * np.sum(np.square(leave_one_out - leave_one_out.mean()))))


def quality(estimates: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per weight matrix: the quantities of the module docstring, for the estimates of one method on one batch.

    `resolved` is false where the reference cannot tell `||g||^2` from zero (it is under 3 standard errors):
    the values relative to `g` are then NaN; `snr`, the method's own `||E e||^2 / tr Cov`, needs no reference."""
    out = {}
    for name, ref in reference.items():
        if not name.endswith("weight"):
            continue
        g_sq, g_sq_se = _norm_sq(np.stack([b.mean(0) for b in np.array_split(ref, BLOCKS)]))
        g_hat = ref.mean(0)
        e = estimates[name]
        mean = e.mean(0)
        trace_cov = float(e.var(0, ddof=1).sum())
        mean_sq = float(mean @ mean) - trace_cov / e.shape[0]  # unbiased for ||E e||^2
        q = {"true_norm_sq": g_sq, "true_norm_sq_se": g_sq_se, "resolved": bool(g_sq > 3 * g_sq_se),
             "snr": mean_sq / trace_cov}  # fmt: skip
        nan = float("nan")
        if not q["resolved"]:
            q.update(noise=nan, one_step_cosine=nan, mean_cosine=nan, mean_norm=nan)
        else:
            g_norm, mean_norm = np.sqrt(g_sq), np.sqrt(mean_sq) if mean_sq > 0 else nan
            q.update(
                noise=trace_cov / g_sq,
                one_step_cosine=float(np.mean(e @ g_hat / (np.linalg.norm(e, axis=1) * g_norm))),
                mean_cosine=float(mean @ g_hat / (mean_norm * g_norm)),
                mean_norm=float(mean_norm / g_norm),
            )
        out[name] = q
    return out


def main(
    *,
    batches=2,
    draws=16,
    reference=64,
    runs=None,
    methods=DEFAULT_METHODS,
    batch=250,
    seed=0,
    out="results/step-quality",
):
    runs = dict(DEFAULT_RUNS if runs is None else runs)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"--methods: must name some of {list(METHODS)}, got {list(methods)}.")
    spec = TASKS[TASK]
    data = snnsad.data.randman(**spec["data"], samples_per_class=1000, seed=1)  # the study's data
    train, _, _ = split_80_10_10(data)
    order = np.random.default_rng(seed).permutation(len(train))
    sizes = (20, *spec["hidden"], spec["data"]["n_classes"])
    net0 = paper_network(sizes, snnsad.Stochastic(snnsad.Sigmoid(10.0)), seed=seed)
    states = {"initialisation": (net0, 0)}
    states.update({name: load_network(folder, net0) for name, folder in runs.items()})
    loss_fn = calibrated_loss()
    config = {"task": TASK, "batches": batches, "draws": draws, "reference": reference, "batch": batch,
              "seed": seed, "runs": runs, "methods": list(methods)}  # fmt: skip
    path = os.path.join(out, "step_quality.json")
    done = {}
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("config") == config:  # resume; another configuration starts afresh
            done = saved["units"]
    os.makedirs(out, exist_ok=True)

    def estimates(estimator, net, xs, ys, key, n):
        _, grads = snnsad.sample_grads(snnsad.Batched(estimator), loss_fn, net, xs, ys, jr.split(key, n), chunk_size=1)
        return _flat_by_leaf(grads)

    for state, (net, epoch) in states.items():
        for b in range(batches):
            unit = f"{state} (epoch {epoch}) / batch {b}"  # a state trained further is measured again
            if unit in done:
                continue
            xs, ys = train.batch(order[b * batch : (b + 1) * batch])
            key = jr.fold_in(jr.key(seed + 11), b)
            ref = estimates(REFERENCE, net, xs, ys, jr.fold_in(key, 0), reference)
            done[unit] = {
                name: quality(estimates(METHODS[name], net, xs, ys, jr.fold_in(key, i + 1), draws), ref)
                for i, name in enumerate(METHODS)  # each method's keys by its place in METHODS
                if name in methods
            }
            print(f"{unit} done", flush=True)
            atomic_write_text(path, json.dumps({"config": config, "units": done, **run_info()}, indent=2))
    text = _table(done, config, out)
    print(text)
    atomic_write_text(os.path.join(out, "step_quality.md"), text)
    return done


def step_costs(methods, *, batch=250, seed=0, out="results/step-quality"):
    """Each method's training step at `batch` over the matched SG's, timed as the study times its steps (every
    method in turn, median of 7 rounds) on the initial network; writes `step_cost.{json,md}` in `out`."""
    spec = TASKS[TASK]
    data = snnsad.data.randman(**spec["data"], samples_per_class=1000, seed=1)
    xs, ys = (jnp.asarray(a) for a in split_80_10_10(data)[0].batch(np.arange(batch)))
    sizes = (20, *spec["hidden"], spec["data"]["n_classes"])
    net0 = paper_network(sizes, snnsad.Stochastic(snnsad.Sigmoid(10.0)), seed=seed)
    names = ["stochastic SG (matched)", *(m for m in methods if m != "stochastic SG (matched)")]
    seconds = _step_seconds({m: (net0, METHODS[m]) for m in names}, calibrated_loss(), xs, ys)
    ratios = {m: seconds[m] / seconds["stochastic SG (matched)"] for m in names}
    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, "step_cost.json"), json.dumps({"seconds": seconds, "ratios": ratios,
                                                                       "batch": batch, **run_info()}, indent=2))  # fmt: skip
    methods_arg = " ".join(f"'{m}'" for m in methods)
    text = (
        f"Training step at batch {batch} over the matched SG's ({TASK}, median of 7 round-robin rounds). Command: "
        f"`python benchmarks/step_quality.py --cost --methods {methods_arg} --out {out}`.\n\n"
        "| method | seconds | over the matched SG |\n|---|---:|---:|\n"
        + "".join(f"| {m} | {seconds[m]:.3f} | {ratios[m]:.2f} |\n" for m in names)
    )
    atomic_write_text(os.path.join(out, "step_cost.md"), text)
    print(text)
    return ratios


def _table(done: dict, config: dict, out: str) -> str:
    lines = [
        "| state | method | weight | noise: tr Cov / ‖g‖² | one-step cosine | mean cosine | ‖E e‖ / ‖g‖ "
        "| SNR: ‖E e‖² / tr Cov |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    measured = dict.fromkeys(unit.rsplit(" / batch ", 1)[0] for unit in done)  # "state (epoch E)", in order
    for state in measured:
        units = [done.get(f"{state} / batch {b}") for b in range(config["batches"])]
        if any(u is None for u in units):
            continue  # a state some of whose batches are still to come
        for method in units[0]:
            for weight in units[0][method]:

                def cell(q, digits):
                    v = np.array([u[method][weight][q] for u in units])
                    # E[e] is resolved by the draws only where its squared norm is at least their mean's noise
                    own = [u[method][weight]["snr"] * config["draws"] >= 1 for u in units]
                    if not np.all(np.isfinite(v)) or (q in ("mean_cosine", "mean_norm") and not all(own)):
                        return "unresolved"
                    se = f" ± {v.std(ddof=1) / np.sqrt(len(v)):{digits}}" if len(v) > 1 else ""
                    return f"{v.mean():{digits}}{se}"

                lines.append(
                    f"| {state} | {method} | {weight.lstrip('.')} | {cell('noise', '.3g')} | "
                    f"{cell('one_step_cosine', '.3f')} | {cell('mean_cosine', '.3f')} | {cell('mean_norm', '.3g')} | "
                    f"{cell('snr', '.3g')} |"
                )
    c = config
    return (
        f"{c['task']} Randman, the stochastic network (sigmoid escape noise 10); per network state, {c['batches']} "
        f"batches of {c['batch']} training examples (mean ± standard error over batches), {c['draws']} estimates of "
        f"the batch gradient per method, the true gradient g from {c['reference']} `LocalScoreFunction(2, groups=2)` "
        "estimates; the study's regularised loss. Noise is one estimate's; cosines are of one estimate (one-step) and "
        "of the method's mean to g; 'unresolved' where the reference's own noise swamps ||g||^2 in a batch "
        "(its squared norm under 3 standard errors of the reference's estimate of it), and for the mean's cosine and "
        "norm where the method's own mean is (SNR x draws < 1). Command: `python benchmarks/step_quality.py "
        f"--batches {c['batches']} --draws {c['draws']} --reference {c['reference']}"
        + ("" if tuple(c["methods"]) == DEFAULT_METHODS else " --methods " + " ".join(f"'{m}'" for m in c["methods"]))
        + ("" if c["runs"] == DEFAULT_RUNS else "".join(f" --run '{k}={v}'" for k, v in c["runs"].items()))
        + f" --out {out}`.\n\n"
        + "\n".join(lines)
        + "\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--reference", type=int, default=64)
    parser.add_argument("--run", action="append", metavar="NAME=FOLDER", help="a study run folder (repeatable)")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=list(METHODS))
    parser.add_argument("--out", default="results/step-quality")
    parser.add_argument("--report", action="store_true", help="only rewrite step_quality.md from the saved units")
    parser.add_argument("--cost", action="store_true", help="only time the methods' training steps (step_cost.md)")
    args = parser.parse_args()
    if args.cost:
        step_costs(args.methods, out=args.out)
        raise SystemExit(0)
    if args.report:
        with open(os.path.join(args.out, "step_quality.json")) as f:
            saved = json.load(f)
        text = _table(saved["units"], saved["config"], args.out)
        atomic_write_text(os.path.join(args.out, "step_quality.md"), text)
        print(text)
        raise SystemExit(0)
    if args.batches < 1 or args.draws < 2 or args.reference < 4:
        parser.error(f"need --batches >= 1, --draws >= 2, --reference >= 4; got {args.batches}, {args.draws}, "
                     f"{args.reference}.")  # fmt: skip
    bad = [r for r in args.run or [] if "=" not in r]
    if bad:
        parser.error(f"--run takes NAME=FOLDER, got {bad}.")
    main(batches=args.batches, draws=args.draws, reference=args.reference, out=args.out, methods=tuple(args.methods),
         runs=None if args.run is None else dict(r.split("=", 1) for r in args.run))  # fmt: skip
