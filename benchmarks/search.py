"""Search benchmark: optimize() on the ten tasks vs AlphaGrad, and exact solve times.

For each task and budget, the cost ``search.optimize`` finds next to the best
baseline, the reduction, and AlphaGrad's published reduction against its own best
baseline; a quality-over-time plot per task; local-search speed (moves/s); and the
exact optimum on random scalar programs with at most 20 intermediates.

Run:  .venv/bin/python benchmarks/search.py --budgets 1,10,60
Writes benchmarks/results/search.md and benchmarks/results/search_<task>.png.
``--section scale`` runs the scale section alone (``benchmarks/search_scale.py``:
1,000–100,000-intermediate DAGs), writing benchmarks/results/search_scale.md;
``--section unseen-dags`` the DAGs from generators that are not the project's
(``benchmarks/search_unseen.py``), writing benchmarks/results/search_unseen.md;
``--section speed`` the local search speed table alone (seconds), replacing that
table in benchmarks/results/search.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# This file is called search.py: keep its folder off the path so that
# ``import search`` finds the package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import graphs  # noqa: E402
from graphs import tasks  # noqa: E402
from graphs.elimination import build  # noqa: E402
from search import optimize  # noqa: E402
from search.core import ScalarCore  # noqa: E402
from search.fastbaselines import scalar_baselines  # noqa: E402
from search.local import LocalSearch  # noqa: E402

sys.path.insert(0, str(_HERE))  # the scale section's module, after the package
from search_programs import main_programs  # noqa: E402
from search_scale import main_scale  # noqa: E402
from search_unseen import main_unseen  # noqa: E402

sys.path.remove(str(_HERE))

#: AlphaGrad (Lohoff and Neftci, 2024): reduction vs its best baseline, in %.
ALPHAGRAD = {
    "RoeFlux_1d": 12.1,
    "RobotArm_6DOF": 19.8,
    "HumanHeartDipole": 14.0,
    "PropaneCombustion": 2.2,
    "BlackScholes_Jacobian": 11.1,
    "RoeFlux_3d": 16.4,
    "f": 28.0,
    "g": 7.8,
    "MLP": 0.8,
    "Encoder": 0.7,
}
RESULTS = Path(__file__).parent / "results"
#: AlphaGrad's own baseline: the best of forward, reverse and minimal Markowitz.
CLASSIC_BASELINES = ("forward", "reverse", "markowitz")


def run_tasks(budgets, seed, methods, names):
    rows = []
    histories = {}
    for name in names:
        graph = tasks.get(name).graph()
        g = build(graph)
        for budget in budgets:
            result = optimize(g, time_budget_s=budget, seed=seed, methods=methods)
            rows.append((name, len(g.intermediates), g.is_scalar, budget, result))
            histories[name] = (result, budget)
            print(
                f"{name:22s} {budget:5g}s  base {result.best_baseline:6d}  "
                f"found {result.cost:6d}  {100 * result.improvement:5.1f}%  "
                f"(AlphaGrad {ALPHAGRAD.get(name, float('nan')):4.1f}%)  "
                f"{result.method:28s} lb {result.lower_bound}",
                flush=True,
            )
    return rows, histories


def plot(name, result, budget, folder=RESULTS):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    times = [max(t, 1e-3) for t, _, _ in result.history] + [max(result.elapsed_s, 1e-3)]
    costs = [c for _, c, _ in result.history] + [result.cost]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.step(times, costs, where="post", label="ccelim optimize (best so far)")
    base = result.best_baseline
    ax.axhline(base, color="gray", ls="--", label=f"best baseline ({base})")
    if name in ALPHAGRAD:
        target = base * (1 - ALPHAGRAD[name] / 100)
        ax.axhline(
            target,
            color="C3",
            ls=":",
            label=f"AlphaGrad's reduction ({ALPHAGRAD[name]}%)",
        )
    if result.lower_bound is not None:
        ax.axhline(
            result.lower_bound,
            color="C2",
            ls="-.",
            label=f"lower bound ({result.lower_bound})",
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("seconds")
    ax.set_ylabel("multiplications")
    ax.set_title(f"{name}: quality over time ({budget:g} s budget)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = folder / f"search_{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def local_speed(names, moves, repeats=1):
    """Moves/s of ``moves`` moves right after construction, per scalar task: the
    median of ``repeats`` runs, each from a fresh ``LocalSearch``."""
    rows = []
    for name in names:
        g = build(tasks.get(name).graph())
        if not g.is_scalar:
            continue
        inits = [o for o, _ in scalar_baselines(ScalarCore(g)).values()]
        rates = []
        for _ in range(repeats):
            search = LocalSearch(g, seed=0, init_orders=inits)
            start = time.perf_counter()
            search.step(moves)
            rates.append(moves / (time.perf_counter() - start))
        rows.append((name, len(g.intermediates), statistics.median(rates)))
    return rows


def speed_lines(speed, moves, repeats):
    """The local search speed table (markdown lines)."""
    lines = [
        "## Local search speed",
        "",
        f"`LocalSearch(g, seed=0, init_orders=baselines).step({moves:,})` right "
        f"after construction, median of {repeats} run{'s' * (repeats > 1)} "
        "(load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}).",
        "",
        "| task | n | moves/s |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {n} | {rate:,.0f} |" for name, n, rate in speed]
    lines.append("")
    return lines


def write_speed(speed, args):
    """Replaces the speed table of ``args.out`` (written by a full run)."""
    out = Path(args.out)
    text = out.read_text()
    head = "## Local search speed\n"
    if head not in text:
        raise SystemExit(f"{out} has no '{head.strip()}' table; run the tasks section")
    before, rest = text.split(head, 1)
    after = rest[rest.index("\n## ") + 1 :] if "\n## " in rest else ""
    table = "\n".join(speed_lines(speed, args.speed_moves, args.speed_repeats))
    out.write_text(before + table + "\n" + after)
    print(f"wrote the speed table of {out}")


def random_scalar_graphs(count, max_intermediates):
    from graphs.random_programs import random_program

    found = []
    seed = 0
    while len(found) < count and seed < 50 * count:
        fn, args = random_program(seed, num_ops=14 + seed % 12, kind="scalar")
        g = build(graphs.trace(fn, *args))
        if 12 <= len(g.intermediates) <= max_intermediates:
            found.append((seed, g))
        seed += 1
    return found


def _dags(seeds, *, intermediates, inputs, outputs):
    """``(seed, ElimGraph)`` of random DAGs whose sizes cycle with the seed.

    Each size argument is ``(base, period)``: the size is ``base + seed % period``.
    """
    from graphs.random_programs import random_dag

    def size(spec, seed):
        return spec[0] + seed % spec[1]

    return [
        (
            seed,
            build(
                random_dag(
                    seed,
                    num_intermediates=size(intermediates, seed),
                    num_inputs=size(inputs, seed),
                    num_outputs=size(outputs, seed),
                )
            ),
        )
        for seed in seeds
    ]


def random_dags(count):
    return _dags(range(count), intermediates=(16, 5), inputs=(2, 4), outputs=(1, 3))


def _work(result):
    steps = result.work.get("exact_dp_steps", 0)
    if steps:
        return f"DP, {steps} steps"
    if not result.work["exact_expansions"]:
        return "root bound"
    return f"A*, {result.work['exact_expansions']} states"


def fresh_dags(count):
    """DAGs no test or tuning run used (seeds from 4000), 12-22 intermediates."""
    return _dags(
        range(4000, 4000 + count), intermediates=(12, 11), inputs=(1, 8), outputs=(1, 5)
    )


def run_exact(count, limit_s, source=random_scalar_graphs):
    rows = []
    found = source(count, 20) if source is random_scalar_graphs else source(count)
    for seed, g in found:
        # The portfolio as a user runs it: annealing supplies the upper bound.
        result = optimize(g, time_budget_s=limit_s, seed=0, methods=("exact", "local"))
        rows.append((seed, len(g.intermediates), result))
        print(
            f"random graph {seed:3d}: n={len(g.intermediates):2d} "
            f"base {result.best_baseline:4d} found {result.cost:4d} "
            f"optimal={result.optimal} lb {result.lower_bound} "
            f"{result.elapsed_s:6.2f}s ({_work(result)})",
            flush=True,
        )
    return rows


#: Unseen structure-only graphs: (name, generator, seed, size). The seeds are far
#: from every seed the tests and the sections above use, and no tuning run has
#: looked at these graphs (seeds 9001-9005 served as a development check).
UNSEEN = (
    ("dag60", "dag", 9101, 60),
    ("dag120", "dag", 9102, 120),
    ("dag200", "dag", 9103, 200),
    ("prog90", "program", 9104, 90),
    ("prog160", "program", 9105, 160),
)


def unseen_graphs(folder):
    """Writes the :data:`UNSEEN` graphs as ``ccelim.graph/1`` JSON, loads them back.

    DAGs are written in the minimal edge-list form (their edges are all dense);
    random scalar programs are converted with ``Graph.to_structure()`` (explicit
    edges with their partials: copies stay value-less) and ``to_json``.
    """
    import json

    from graphs.random_programs import random_dag, random_program

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, kind, seed, size in UNSEEN:
        if kind == "dag":
            graph = random_dag(
                seed, num_intermediates=size, num_inputs=4 + seed % 5, num_outputs=3
            )
            text = json.dumps(
                {
                    "format": "ccelim.graph/1",
                    "inputs": list(graph.inputs),
                    "outputs": list(graph.outputs),
                    "edges": [[e.src, e.dst] for e in graph.edges],
                }
            )
        else:
            fn, args = random_program(seed, num_ops=size, kind="scalar")
            text = graphs.trace(fn, *args).to_structure().to_json()
        path = folder / f"{name}.json"
        path.write_text(text)
        out.append((name, path, graphs.load(path.read_text())))
    return out


def run_unseen(budgets, seed, methods, folder):
    rows = []
    for name, path, graph in unseen_graphs(folder):
        g = build(graph)
        results = []
        for budget in budgets:
            result = optimize(g, time_budget_s=budget, seed=seed, methods=methods)
            results.append((budget, result))
            print(
                f"unseen {name:8s} n={len(g.intermediates):3d} {budget:5g}s  "
                f"base {result.best_baseline:6d}  found {result.cost:6d}  "
                f"{100 * result.improvement:5.1f}%  {result.method}",
                flush=True,
            )
        rows.append((name, path, len(g.intermediates), len(g.edges), results))
    return rows


def write_unseen(rows, budgets):
    lines = [
        "## Unseen structure-only graphs",
        "",
        "Graphs no test or tuning run has seen (`UNSEEN` in `benchmarks/search.py`, "
        "seeds 9101–9105), written as `ccelim.graph/1` JSON — random DAGs in the "
        "minimal edge-list form, random scalar programs through "
        "`Graph.to_structure()` — and read back with `graphs.load` before the "
        "search. The JSON files are in `benchmarks/results/unseen/`.",
        "",
        "| graph | n | edges | best baseline |"
        + "".join(f" {b:g} s cost (reduction) |" for b in budgets)
        + " method (longest) | lb |",
        "|---|---|---|---|" + "---|" * len(budgets) + "---|---|",
    ]
    for name, path, n, edges, results in rows:
        cells = "".join(f" {r.cost} ({100 * r.improvement:.1f}%) |" for _, r in results)
        last = results[-1][1]
        lines.append(
            f"| [{name}](unseen/{path.name}) | {n} | {edges} | {last.best_baseline} |"
            f"{cells} {last.method} | {last.lower_bound} |"
        )
    lines.append("")
    return lines


def write(rows, plots, speed, exact_rows, args, wall, unseen=(), unseen_budgets=()):
    budgets = sorted({b for *_, b, _ in rows})
    lines = [
        "# Search benchmark",
        "",
        f"`python benchmarks/search.py --budgets {args.budgets} --seed {args.seed} "
        f"--exact-limit {args.exact_limit:g} --unseen-budgets {args.unseen_budgets}` on "
        f"{platform.machine()} with {os.cpu_count()} cores "
        f"(load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}); "
        f"{wall / 60:.1f} min in all. Costs are multiplications as `graphs.cost` counts "
        "them; *reduction* is against the best of our six baselines (forward, reverse, "
        "markowitz, markowitz_latest, relative_markowitz, min_fill); AlphaGrad's "
        "column is its published reduction against *its* best baseline (the best of "
        "forward, reverse and minimal Markowitz), on its own graphs of the same "
        "functions; *vs fwd/rev/markowitz* is our longest-budget cost against that "
        "same definition of baseline on our graphs, the like-for-like comparison. `lb` is a proven lower bound (exact search; "
        "on larger scalar graphs the root cut bound or the group bound of "
        "`search.bounds`, whichever is larger, once computed within the budget): "
        "where it equals the cost, the order is optimal, and no order of that graph "
        "can save more than (best baseline − lb) / best baseline. Method "
        "`local:window` is the exact re-ordering of 12-vertex windows "
        "(`search.window`), `local` simulated annealing.",
        "",
    ]
    header = (
        "| task | n | best baseline |"
        + "".join(f" {b:g} s cost (reduction) |" for b in budgets)
        + " vs fwd/rev/markowitz | AlphaGrad | method (longest) | lb |"
    )
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    by_task: dict[str, dict[float, object]] = {}
    meta = {}
    for name, n, scalar, budget, result in rows:
        by_task.setdefault(name, {})[budget] = result
        meta[name] = (n, scalar)
    for name, results in by_task.items():
        last = results[budgets[-1]]
        cells = "".join(
            f" {r.cost} ({100 * r.improvement:.1f}%) |"
            for r in (results[b] for b in budgets)
        )
        n, scalar = meta[name]
        lb = (
            "—"
            if last.lower_bound is None
            else (
                f"{last.lower_bound} (optimal)"
                if last.optimal
                else str(last.lower_bound)
            )
        )
        classic = min(last.baselines[k] for k in CLASSIC_BASELINES)
        lines.append(
            f"| {name} | {n}{'' if scalar else ' (tensor)'} | {last.best_baseline} |"
            f"{cells} {classic} → {last.cost} ({100 * (1 - last.cost / classic):.1f}%) |"
            f" {ALPHAGRAD.get(name, float('nan')):.1f}% | {last.method} | {lb} |"
        )
    lines += [
        "",
        "Quality over time (longest budget): "
        + ", ".join(f"[{p.stem}]({p.name})" for p in plots),
        "",
    ]
    if speed:
        lines += speed_lines(speed, args.speed_moves, args.speed_repeats)
    for title, rows_ in exact_rows:
        solved = [r for r in rows_ if r[2].optimal]
        times = sorted(r[2].elapsed_s for r in solved)
        lines += [
            f"## Exact optimum on {title}",
            "",
            "`optimize(g, time_budget_s=LIMIT, methods=('exact', 'local'))`: the "
            "numpy DP over all subsets of intermediates (`search.subsetdp`) up to "
            "22 intermediates, else A* over eliminated sets with annealing's best "
            "order as its upper bound. "
            f"Proven optimal: {len(solved)} of {len(rows_)} within "
            f"{args.exact_limit:g} s"
            + (
                f" (median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s)."
                if times
                else "."
            ),
            "",
            "| seed | n | best baseline | found | proven optimal | lower bound "
            "| seconds | exact work |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for seed, n, r in rows_:
            lines.append(
                f"| {seed} | {n} | {r.best_baseline} | {r.cost} | "
                f"{'yes' if r.optimal else 'no'} | {r.lower_bound} | "
                f"{r.elapsed_s:.2f} | {_work(r)} |"
            )
        lines.append("")
    if unseen:
        lines += write_unseen(unseen, unseen_budgets)
    out = Path(args.out)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="1,10,60", help="comma-separated seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", default=",".join(ALPHAGRAD), help="comma-separated")
    parser.add_argument(
        "--methods", default=None, help="subset of baselines,exact,local,mcts"
    )
    parser.add_argument("--exact-graphs", type=int, default=20)
    parser.add_argument("--dag-graphs", type=int, default=10)
    parser.add_argument("--fresh-graphs", type=int, default=20)
    parser.add_argument("--exact-limit", type=float, default=10.0)
    parser.add_argument("--speed-moves", type=int, default=50_000)
    parser.add_argument(
        "--speed-repeats", type=int, default=5, help="the speed table's median of"
    )
    parser.add_argument(
        "--unseen-budgets",
        default="10,60",
        help="comma-separated seconds for the unseen graphs ('' skips them)",
    )
    parser.add_argument("--out", default=str(RESULTS / "search.md"))
    parser.add_argument(
        "--section",
        default="all",
        choices=("all", "tasks", "scale", "unseen-dags", "programs", "speed"),
        help="tasks: the task and exact sections; scale: the scale section alone; "
        "unseen-dags: DAGs from generators that are not the project's; programs: "
        "budgets on traced programs (unrolled loops); speed: "
        "the local search speed table alone (replaced in --out)",
    )
    parser.add_argument("--program-budgets", default="1,10")
    parser.add_argument("--scale-sizes", default="1000,3000,10000,100000")
    parser.add_argument("--scale-budgets", default="1,10,60")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.section in ("all", "scale"):
        main_scale(args, RESULTS)
    if args.section in ("all", "unseen-dags"):
        main_unseen(args, RESULTS)
    if args.section in ("all", "programs"):
        main_programs(args, RESULTS)
    if args.section in ("scale", "unseen-dags", "programs"):
        return
    names = [n for n in args.tasks.split(",") if n]
    if args.section == "speed":
        speed = local_speed(names, args.speed_moves, args.speed_repeats)
        for name, n, rate in speed:
            print(f"local search on {name} (n={n}): {rate:,.0f} moves/s")
        write_speed(speed, args)
        return
    start = time.perf_counter()
    budgets = [float(b) for b in args.budgets.split(",")]
    methods = tuple(args.methods.split(",")) if args.methods else None
    rows, histories = run_tasks(budgets, args.seed, methods, names)
    folder = Path(args.out).parent
    folder.mkdir(parents=True, exist_ok=True)
    plots = [
        plot(name, result, budget, folder)
        for name, (result, budget) in histories.items()
    ]
    speed = (
        local_speed(names, args.speed_moves, args.speed_repeats)
        if args.speed_moves
        else []
    )
    for name, n, rate in speed:
        print(f"local search on {name} (n={n}): {rate:,.0f} moves/s")
    exact_rows = []
    if args.exact_graphs:
        exact_rows.append(
            (
                "random scalar programs (`random_program(kind='scalar')`, "
                "12–20 intermediates)",
                run_exact(args.exact_graphs, args.exact_limit),
            )
        )
    if args.dag_graphs:
        exact_rows.append(
            (
                "random DAGs (`random_dag`, 16–20 intermediates; denser, harder)",
                run_exact(args.dag_graphs, args.exact_limit, source=random_dags),
            )
        )
    if args.fresh_graphs:
        exact_rows.append(
            (
                "fresh random DAGs (`random_dag`, seeds from 4000, 12–22 "
                "intermediates, 1–8 inputs; used by no test or tuning run)",
                run_exact(args.fresh_graphs, args.exact_limit, source=fresh_dags),
            )
        )
    unseen_budgets = [float(b) for b in args.unseen_budgets.split(",") if b]
    unseen = (
        run_unseen(unseen_budgets, args.seed, methods, folder / "unseen")
        if unseen_budgets
        else []
    )
    write(
        rows,
        plots,
        speed,
        exact_rows,
        args,
        time.perf_counter() - start,
        unseen,
        unseen_budgets,
    )


if __name__ == "__main__":
    main()
