"""Fits the time model (``search.timemodel``) to measured kernel times and checks it.

For every program and a set of its orders (forward, reverse, the distinct
Markowitz-type baselines, randomised Markowitz orders, ``search.optimize``'s order
for multiplications), times ``jax.jit(jax.vmap(interpreter.jacobian(graph,
order)))`` in float64 at each batch size, the orders of one program interleaved
round by round (medians; ``benchmarks/kernels.py``'s ``time_all``). Training
programs: scalar benchmark tasks, vector forms (``graphs/tasks/vector.py``) and
realistic programs (``graphs/tasks/realistic.py``). The fit is non-negative least
squares on relative error of ``predicted_s(batch) = sum_i (fixed_i + batch *
per_example_i) * feature_i``. Held-out programs (the unseen vector programs of
``benchmarks/kernels_unseen.py``, random programs of ``graphs.random_programs`` and
the vector forms of three tasks whose scalar forms are trained on), which also get
``search.optimize(..., objective="time", batch_size=b)``'s order under the new fit,
check it: R², rank correlation of predicted and measured times over each program's
orders, and whether the order with the lowest predicted time runs faster than the
one with the fewest multiplications.

Writes the coefficients to ``search/models/timemodel.json``, the measurements to
``benchmarks/results/timemodel_measurements.json`` and the report to
``benchmarks/results/timemodel.md``.

Usage::

    python benchmarks/timemodel.py [--batches 256,2048] [--min-time 0.05]
        [--fit joint|within] [--refit | --reuse-train]

``--refit`` refits and reports from the saved measurements (no timing);
``--reuse-train`` keeps the saved training measurements and measures the held-out
programs again (under the new fit).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))  # after the packages

from kernels import (  # noqa: E402
    batched_args,
    compile_fn,
    realistic_tasks,
    task_graph,
    time_all,
)
from kernels_unseen import PROGRAMS as UNSEEN  # noqa: E402
from timemodel_fit import FITS, _geomean, evaluate, report  # noqa: E402

import graphs  # noqa: E402
import interpreter  # noqa: E402
import search  # noqa: E402
from graphs import tasks as task_registry  # noqa: E402
from graphs.baselines import GREEDY  # noqa: E402
from graphs.elimination import build  # noqa: E402
from graphs.tasks.base import Task  # noqa: E402
from search.local import greedy_randomized  # noqa: E402
from search.timemodel import MODEL_PATH, time_features  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
REPORT = RESULTS / "timemodel.md"
DATA = RESULTS / "timemodel_measurements.json"

TRAIN = (
    "RoeFlux_1d", "RoeFlux_3d", "RobotArm_6DOF", "HumanHeartDipole",
    "PropaneCombustion", "BlackScholes_Jacobian", "f", "MLP", "Encoder",
    "HumanHeartDipole/vec", "PropaneCombustion/vec", "BlackScholes_Jacobian/vec",
    "RoeFlux_1d/vec", "rk4_lotka_volterra", "kalman_step",
)  # fmt: skip
RANDOM_HELD_OUT = (("scalar", 1, 80), ("scalar", 2, 150), ("vector", 3, 60))
#: Vector forms of tasks whose scalar forms (but not these) are trained on.
VECTOR_HELD_OUT = ("RoeFlux_3d/vec", "RobotArm_6DOF/vec", "f/vec")
NUM_RANDOM_ORDERS = 2
SEARCH_S = 1.0


def held_out_tasks(names: str | None = None) -> dict[str, Task]:
    out = {name: Task(name, fn, (x,)) for name, (fn, x) in UNSEEN.items()}
    for kind, seed, num_ops in RANDOM_HELD_OUT:
        fn, args = graphs.random_program(seed, num_ops=num_ops, kind=kind)
        name = f"random_{kind}_{seed}_{num_ops}"
        out[name] = Task(name, fn, tuple(args))
    out.update({name: task_registry.get(name) for name in VECTOR_HELD_OUT})
    return {k: v for k, v in out.items() if names is None or k in names.split(",")}


def train_tasks(names: str | None = None) -> dict[str, Task]:
    extra = realistic_tasks()
    chosen = names.split(",") if names else TRAIN
    return {n: extra[n] if n in extra else task_registry.get(n) for n in chosen}


def candidate_orders(
    graph: graphs.Graph,
    *,
    time_batches: tuple[int, ...] = (),
    aliases: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Distinct orders of ``graph`` by name (the first name of each order kept;
    a later name of the same order goes to ``aliases``); ``searched:time@<b>`` is
    ``search.optimize(objective="time", batch_size=b)``'s for each time batch."""
    g = build(graph)
    orders: dict[str, list[str]] = {}
    seen: set[tuple[str, ...]] = set()

    def add(name, ids):
        if tuple(ids) not in seen:
            seen.add(tuple(ids))
            orders[name] = list(ids)
        elif aliases is not None:
            aliases[name] = next(k for k, o in orders.items() if o == list(ids))

    for name in ("forward", "reverse", *GREEDY):
        add(name, graphs.cost(g, name).order)
    for k in range(NUM_RANDOM_ORDERS):
        positions = greedy_randomized(g, random.Random(k), noise=1.0)
        add(f"random{k}", [g.ids[v] for v in positions])
    add("searched:mults", search.optimize(g, time_budget_s=SEARCH_S).order)
    for b in time_batches:
        timed = search.optimize(
            g, time_budget_s=SEARCH_S, objective="time", batch_size=b
        )
        add(f"searched:time@{b}", timed.order)
    return orders


def measure(task: Task, orders, batches, min_time) -> list[dict]:
    graph = task_graph(task, "float64")
    rows = []
    feats = {name: time_features(graph, order) for name, order in orders.items()}
    for batch in batches:
        args = batched_args(task, batch, seed=batch)
        compiled = {
            name: compile_fn(jax.jit(jax.vmap(interpreter.jacobian(graph, o))), args)
            for name, o in orders.items()
        }
        timings = time_all(compiled, args, min_time=min_time)
        for name, t in timings.items():
            rows.append(
                {
                    "program": task.name,
                    "order": name,
                    "batch": batch,
                    "seconds": t.median_s,
                    "compile_s": t.compile_s,
                    "features": feats[name]._asdict(),
                    "ids": orders[name],
                    "load": os.getloadavg()[0],
                }
            )
            print(
                f"{task.name:28s} {name:22s} {batch:5d} {t.median_s * 1e6:10.1f} µs "
                f"mults {feats[name].multiplications}",
                flush=True,
            )
    return rows


def _load_range(rows) -> str:
    loads = [r["load"] for r in rows]
    return f"{min(loads):.1f}–{max(loads):.1f}" if loads else "–"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="256,2048")
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--refit", action="store_true")
    parser.add_argument("--fit", choices=sorted(FITS), default="joint")
    parser.add_argument(
        "--reuse-train", action="store_true", help="saved training data, new held-out"
    )
    parser.add_argument("--train", default=None, help="comma list (default: TRAIN)")
    parser.add_argument("--held-out", default=None, help="comma list (default: all)")
    parser.add_argument("--no-write", action="store_true", help="no report, no data")
    ns = parser.parse_args(argv)
    batches = tuple(int(b) for b in ns.batches.split(","))
    load_start = os.getloadavg()[0]
    if ns.refit or ns.reuse_train:
        data = json.loads(DATA.read_text())
        train_rows, held_rows = data["train"], data["held_out"]
        aliases = data["aliases"]
        load_start = data["load_start"] if ns.refit else load_start
    else:
        train_rows = []
        for task in train_tasks(ns.train).values():
            orders = candidate_orders(task_graph(task, "float64"))
            train_rows += measure(task, orders, batches, ns.min_time)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    source = (
        f"python benchmarks/timemodel.py {' '.join(sys.argv[1:])}".rstrip()
        + f" (--fit {ns.fit} of {len(train_rows)} training measurements in "
        f"{DATA.name}; {date}, {os.cpu_count()} cores, jax {jax.__version__} "
        f"{jax.default_backend()}, float64)"
    )
    model = FITS[ns.fit](train_rows, source)
    MODEL_PATH.write_text(model.to_json())  # optimize(objective="time") reads it
    search.timemodel.load_time_model.cache_clear()
    if not ns.refit:
        held_rows, aliases = [], {}
        for task in held_out_tasks(ns.held_out).values():
            aliases[task.name] = {}
            graph = task_graph(task, "float64")
            orders = candidate_orders(
                graph, time_batches=batches, aliases=aliases[task.name]
            )
            held_rows += measure(task, orders, batches, ns.min_time)
    if not ns.refit and not ns.no_write:
        DATA.write_text(
            json.dumps(
                {
                    "train": train_rows,
                    "held_out": held_rows,
                    "aliases": aliases,
                    "load_start": load_start,
                }
            )
        )
    meta = {
        "argv": "" if not argv and len(sys.argv) < 2 else " " + " ".join(sys.argv[1:]),
        "date": date,
        "batches": ", ".join(map(str, sorted({r["batch"] for r in train_rows}))),
        "load_train": _load_range(train_rows),
        "load_held": _load_range(held_rows),
        "train_rows": len(train_rows),
        "train_names": list(dict.fromkeys(r["program"] for r in train_rows)),
        "fit": ns.fit,
        "refit": ns.refit,
        "held_rows": len(held_rows),
    }
    meta["alternatives"] = []
    for name, fit_fn in FITS.items():
        ev = evaluate(fit_fn(train_rows, source), held_rows, aliases)
        sp = [g["spearman"] for g in ev["groups"] if not np.isnan(g["spearman"])]
        pick = [g["by_mults"][1] / g["by_time"][1] for g in ev["groups"]]
        meta["alternatives"].append(
            f"| `--fit {name}`{' (shipped)' if name == ns.fit else ''} "
            f"| {ev['r2']:.3f} | {ev['median_rel_err'] * 100:.1f} % "
            f"| {np.mean(sp):.2f} | {_geomean(pick):.3f} |"
        )
    text = report(
        model, evaluate(model, train_rows), evaluate(model, held_rows, aliases), meta
    )
    if not ns.no_write:
        REPORT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
