"""Fitting and checking the time model on measured kernel times (benchmarks/timemodel.py).

Rows are ``{"program", "order", "batch", "seconds", "features", ...}``: one measured
kernel. Two fits (:data:`FITS`), the evaluation on a set of rows (R², rank
correlation over each program's orders, which order the model would pick) and the
Markdown report.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from scipy.optimize import nnls

from search.timemodel import FEATURES, TimeModel


def _design(rows) -> tuple[np.ndarray, np.ndarray]:
    f = np.array([[r["features"][k] for k in FEATURES] for r in rows], dtype=float)
    b = np.array([r["batch"] for r in rows], dtype=float)[:, None]
    return np.hstack([f, b * f]), np.array([r["seconds"] for r in rows])


#: Features that differ between orders of one program (the rest set its level).
ORDER_FEATURES = (
    "multiplications", "additions", "products", "accumulations", "contractions",
    "presums", "fill", "final_edges", "final_core",
)  # fmt: skip


def _nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares with the columns scaled to unit norm."""
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    coef, _ = nnls(a / norms, y)
    return coef / norms


def _model(coef: np.ndarray, source: str) -> TimeModel:
    k = len(FEATURES)
    fixed = {n: float(c) for n, c in zip(FEATURES, coef[:k]) if c > 0}
    per = {n: float(c) for n, c in zip(FEATURES, coef[k:]) if c > 0}
    return TimeModel(fixed, per, source)


def fit_joint(rows, source: str) -> TimeModel:
    """NNLS on relative error over all rows: minimises sum ((predicted - t) / t)^2."""
    x, t = _design(rows)
    return _model(_nnls(x / t[:, None], np.ones(len(t))), source)


def fit_within(rows, source: str) -> TimeModel:
    """Two stages, so that the order-dependent terms rank a program's orders.

    1. Within each (program, batch): the deviation of each order's time from the
       group mean against the deviation of its order-dependent features
       (:data:`ORDER_FEATURES`, fixed and per-example), relative to the group's
       mean time; NNLS.
    2. The group means left over against the order-independent features; NNLS
       on relative error.
    """
    x, t = _design(rows)
    k = len(FEATURES)
    dep = np.array([n in ORDER_FEATURES for n in FEATURES] * 2)
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r["program"], r["batch"]), []).append(i)
    xs, ys = [], []
    for idx in groups.values():
        scale = t[idx].mean()
        xs.append((x[idx][:, dep] - x[idx][:, dep].mean(axis=0)) / scale)
        ys.append((t[idx] - t[idx].mean()) / scale)
    coef = np.zeros(2 * k)
    coef[dep] = _nnls(np.vstack(xs), np.concatenate(ys))
    rest = t - x @ coef
    means = np.array([[rest[idx].mean(), t[idx].mean()] for idx in groups.values()])
    xm = np.array([x[idx][:, ~dep].mean(axis=0) for idx in groups.values()])
    coef[~dep] = _nnls(xm / means[:, 1:], means[:, 0] / means[:, 1])
    return _model(coef, source)


FITS = {"joint": fit_joint, "within": fit_within}


def predict(model: TimeModel, rows) -> np.ndarray:
    x, _ = _design(rows)
    k = len(FEATURES)
    w = np.array(
        [model.fixed_s.get(n, 0.0) for n in FEATURES]
        + [model.per_example_s.get(n, 0.0) for n in FEATURES]
    )
    assert x.shape[1] == 2 * k
    return x @ w


def _r2(pred, t) -> float:
    return float(1 - np.sum((t - pred) ** 2) / np.sum((t - t.mean()) ** 2))


def _spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if len(a) < 3 or np.std(ra) == 0 or np.std(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def evaluate(model: TimeModel, rows, aliases=None) -> dict:
    """Fit quality over ``rows``, and per (program, batch) the order choice."""
    pred, t = predict(model, rows), np.array([r["seconds"] for r in rows])
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r["program"], r["batch"]), []).append(i)
    per_group = []
    for (program, batch), idx in groups.items():
        mults = [rows[i]["features"]["multiplications"] for i in idx]
        names = [rows[i]["order"] for i in idx]
        by_time = idx[int(np.argmin(pred[idx]))]
        fewest = min(mults)
        # Among the orders with the fewest multiplications, the searched one (else
        # the first): what objective="mults" would hand the kernel.
        tied = [i for i, m in zip(idx, mults) if m == fewest]
        by_mults = next(
            (i for i in tied if rows[i]["order"] == "searched:mults"), tied[0]
        )
        named = dict(zip(names, idx))
        for alias, name in (aliases or {}).get(program, {}).items():
            named.setdefault(alias, named[name])
        per_group.append(
            {
                "program": program,
                "batch": batch,
                "orders": len(idx),
                "spearman": _spearman(pred[idx], t[idx]),
                "by_time": (rows[by_time]["order"], t[by_time]),
                "by_mults": (rows[by_mults]["order"], t[by_mults]),
                "best": (names[int(np.argmin(t[idx]))], float(np.min(t[idx]))),
                "searched": {
                    k.split("@")[0]: t[named[k]]
                    for k in ("searched:mults", f"searched:time@{batch}")
                    if k in named
                },
            }
        )
    rel = np.abs(pred - t) / t
    return {
        "r2": _r2(pred, t),
        "r2_log": _r2(np.log(np.maximum(pred, 1e-9)), np.log(t)),
        "median_rel_err": float(np.median(rel)),
        "spearman_pooled": _spearman(pred, t),
        "groups": per_group,
    }


def _group_table(groups) -> list[str]:
    lines = [
        "| program | batch | orders | Spearman | lowest predicted: order, µs "
        "| fewest mults: order, µs | ratio | fastest measured |",
        "|---|---:|---:|---:|---|---|---:|---|",
    ]
    for g in groups:
        (nt, tt), (nm, tm), (nb, tb) = g["by_time"], g["by_mults"], g["best"]
        lines.append(
            f"| {g['program']} | {g['batch']} | {g['orders']} | {g['spearman']:.2f} "
            f"| {nt}, {tt * 1e6:,.1f} | {nm}, {tm * 1e6:,.1f} | {tm / tt:.2f}x "
            f"| {nb}, {tb * 1e6:,.1f} |"
        )
    return lines


def _geomean(values) -> float:
    return float(np.exp(np.mean(np.log(values)))) if len(values) else float("nan")


def report(model, train_eval, held_eval, meta) -> str:
    held = held_eval["groups"]
    ratios = [g["by_mults"][1] / g["by_time"][1] for g in held]
    headroom = [g["by_mults"][1] / g["best"][1] for g in held]
    differ = [
        f"{g['program']}@{g['batch']} "
        f"{g['searched']['searched:mults'] / g['searched']['searched:time']:.2f}x"
        for g in held
        if len(g["searched"]) == 2
        and g["searched"]["searched:mults"] != g["searched"]["searched:time"]
    ]
    searched = [
        g["searched"]["searched:mults"] / g["searched"]["searched:time"]
        for g in held
        if len(g["searched"]) == 2
    ]
    coef_rows = [
        f"| {k} | {model.fixed_s.get(k, 0.0) * 1e9:,.2f} "
        f"| {model.per_example_s.get(k, 0.0) * 1e12:,.3f} |"
        for k in FEATURES
    ]
    lines = [
        "# Time model: predicted vs measured kernel time",
        "",
        f"Generated by `python benchmarks/timemodel.py{meta['argv']}` on "
        f"{meta['date']}; {os.cpu_count()} cores, jax {jax.__version__} "
        f"({jax.default_backend()}), float64, batches {meta['batches']}. "
        "The machine is shared: 1-min load average while measuring "
        f"{meta['load_train']} (training programs) and {meta['load_held']} "
        "(held-out programs); samples interleaved per program and batch, medians.",
        "",
        "Model: `predicted_s(batch) = sum_i (fixed_i + batch * per_example_i) * "
        "feature_i` (`search/timemodel.py`), "
        + (
            "fitted in two stages (`--fit within`): the order-dependent terms by "
            "non-negative least squares on each program's deviations from its mean "
            "time (relative), then the order-independent terms on the programs' "
            "mean times (relative error)"
            if meta["fit"] == "within"
            else "non-negative least squares on relative error (`--fit joint`)"
        )
        + (
            " (report regenerated from the saved measurements by `--refit`; the "
            "held-out `searched:time` orders were found with the model of the "
            "measuring run)"
            if meta["refit"]
            else ""
        )
        + f", over {meta['train_rows']} measurements of "
        f"{len(meta['train_names'])} training programs "
        f"({', '.join(meta['train_names'])}); shipped in "
        "`search/models/timemodel.json`.",
        "",
        "| feature | fixed (ns per unit) | per example (ps per unit) |",
        "|---|---:|---:|",
        *coef_rows,
        "",
        "## Fit quality",
        "",
        "| set | measurements | R² | R² of log | median relative error "
        "| Spearman (pooled) | mean Spearman over a program's orders |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ev, n in (
        ("training", train_eval, meta["train_rows"]),
        ("held out", held_eval, meta["held_rows"]),
    ):
        sp = [g["spearman"] for g in ev["groups"] if not np.isnan(g["spearman"])]
        lines.append(
            f"| {name} | {n} | {ev['r2']:.3f} | {ev['r2_log']:.3f} "
            f"| {ev['median_rel_err'] * 100:.1f} % | {ev['spearman_pooled']:.2f} "
            f"| {np.mean(sp):.2f} |"
        )
    lines += [
        "",
        "## Held-out programs: does the lowest predicted time pick a faster kernel?",
        "",
        "Per program and batch, among its measured orders: the order with the "
        "lowest predicted time against the one with the fewest multiplications "
        "(`searched:mults` where it ties); ratio = fewest-mults time / "
        "lowest-predicted time (> 1: the time model's choice is faster). "
        f"Geometric mean ratio {_geomean(ratios):.3f} over {len(ratios)} entries; "
        f"faster on {sum(r > 1.0 for r in ratios)}, slower on "
        f'{sum(r < 1.0 for r in ratios)}. `search.optimize(objective="time", '
        "batch_size=batch)`'s order (`searched:time@batch`) against "
        "`search.optimize`'s (both 1 s): geometric mean "
        f"{_geomean(searched):.3f} over {len(searched)} entries, different "
        f"orders on {len(differ)} of them: {', '.join(differ) or 'none'} (ratio > 1: "
        "the time objective's kernel is faster; equal orders give 1). "
        "Headroom: the fastest measured order against the fewest-multiplications "
        f"one, geometric mean {_geomean(headroom):.3f} (largest "
        f"{max(headroom):.2f}x); part of it is noise (the same kernel timed twice "
        "differs by a few per cent on this machine).",
        "",
        *_group_table(held),
        "",
        "## Other fits of the same measurements",
        "",
        "| fit | held-out R² | median relative error | mean Spearman "
        "| lowest predicted vs fewest mults (geo. mean) |",
        "|---|---:|---:|---:|---:|",
        *meta["alternatives"],
        "",
        "## Training programs",
        "",
        *_group_table(train_eval["groups"]),
        "",
    ]
    return "\n".join(lines)
