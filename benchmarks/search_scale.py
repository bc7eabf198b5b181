"""The scale section of the search benchmark: 1,000–100,000-intermediate DAGs.

``search.optimize`` on ``graphs.random_dag`` DAGs of 1,000 / 3,000 / 10,000 /
100,000 intermediates at each budget, side by side: elapsed time (graph building
included) against the budget rule ``budget + max(0.2 s, 10 %)``, the best greedy
and the best baseline priced, the cost found, annealing moves and moves/s, and
which baselines were not priced. DAGs from generators that are not the
project's are the ``unseen-dags`` section (``benchmarks/search_unseen.py``).

Run alone:  .venv/bin/python benchmarks/search.py --section scale
Writes benchmarks/results/search_scale.md.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from graphs.baselines import GREEDY_RULES
from graphs.elimination import build
from graphs.ir import Graph
from graphs.random_programs import random_dag
from search import optimize
from search.core import ScalarCore

GREEDY = ("markowitz", "markowitz_latest", "relative_markowitz", "min_fill")
MARKOWITZ_TYPE = GREEDY[:3]


def within(elapsed: float, budget: float) -> bool:
    """The budget rule of issue 13: budget + max(0.2 s, 10 %)."""
    return elapsed <= budget + max(0.2, 0.1 * budget)


def project_dag(n: int, seed: int = 0) -> Graph:
    return random_dag(
        seed,
        num_intermediates=n,
        num_inputs=max(4, n // 50),
        num_outputs=max(2, n // 100),
    )


def greedies_apart(core: ScalarCore, found: int) -> str:
    """The Markowitz-type greedies run apart (outside the budget), each stopped
    once its multiplications pass ``found``: those that do not, with their
    costs, or that all three cost more."""
    cheaper = []
    for name in MARKOWITZ_TYPE:
        order = core.greedy(GREEDY_RULES[name], cap=found)
        if order is not None:
            cheaper.append(f"{name} {core.order_cost(order)}")
    return ", ".join(cheaper) or "all 3 cost more"


def run_scale(sizes, budgets, seed=0):
    rows = []
    for n in sizes:
        graph = project_dag(n, seed)
        core = ScalarCore(build(graph))
        for budget in budgets:
            t0 = time.perf_counter()
            result = optimize(graph, time_budget_s=budget, seed=seed)
            elapsed = time.perf_counter() - t0
            greedy = [c for k, c in result.baselines.items() if k in GREEDY]
            moves = result.work.get("local_moves", 0)
            rows.append(
                dict(
                    n=n,
                    edges=len(graph.edges),
                    budget=budget,
                    elapsed=elapsed,
                    ok=within(elapsed, budget),
                    best_greedy=min(greedy) if greedy else None,
                    best=result.best_baseline,
                    cost=result.cost,
                    reduction=result.improvement,
                    moves=moves,
                    rate=moves / elapsed,
                    insertions=result.work.get("insertions", 0),
                    skipped="; ".join(
                        x for x in result.notes if x.startswith("baselines")
                    ),
                    load=os.getloadavg()[0],
                )
            )
            rows[-1]["apart"] = greedies_apart(core, result.cost)
            print(rows[-1], flush=True)
    return rows


def write_scale(rows, out: Path, command: str, wall: float) -> None:
    lines = [
        "# Search at scale",
        "",
        f"`{command}` on {platform.machine()} with {os.cpu_count()} cores, shared "
        f"with other work (load average, 1 min, in each row); {wall / 60:.1f} min in "
        "all. `graphs.random_dag(0, num_intermediates=n, num_inputs=max(4, n//50), "
        "num_outputs=max(2, n//100))`; *elapsed* includes building the elimination "
        "graph; *in rule*: elapsed ≤ budget + max(0.2 s, 10 %). *best greedy*: the "
        "cheapest of the Markowitz-type greedies priced; *best baseline*: the "
        "cheapest of all baselines priced (forward and reverse included); baselines "
        "not priced within a quarter of the budget are named. *Markowitz-type "
        "greedies, apart*: markowitz, markowitz_latest and relative_markowitz run "
        "after the timed call (`ScalarCore.greedy`, lazy heap in C), each stopped "
        "once it costs more than *found*: the order found is no worse than the "
        "best of them where all three cost more. *moves*, *moves/s*: annealing's "
        "(a move eliminates a few vertices, or none where it only exchanges "
        "vertices that are not adjacent); *insertions*: best insertions "
        "(`search.insertion`, each an elimination pass over the order), which "
        "take part of the time once annealing's savings slow down.",
        "",
        "| n | edges | budget s | elapsed s | in rule | best greedy | best baseline "
        "| found | vs best baseline | Markowitz-type greedies, apart | moves | moves/s "
        "| insertions | load | not priced |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['edges']:,} | {r['budget']:g} | {r['elapsed']:.2f} | "
            f"{'yes' if r['ok'] else '**no**'} | "
            f"{r['best_greedy'] if r['best_greedy'] is not None else '—'} | "
            f"{r['best']} | {r['cost']} | {r['reduction']:.1%} | {r['apart']} | "
            f"{r['moves']:,} | "
            f"{r['rate']:,.0f} | {r.get('insertions', 0):,} | {r['load']:.1f} | "
            f"{r['skipped'] or '—'} |"
        )
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main_scale(args, results: Path) -> None:
    start = time.perf_counter()
    sizes = [int(s) for s in args.scale_sizes.split(",") if s]
    budgets = [float(b) for b in args.scale_budgets.split(",") if b]
    rows = run_scale(sizes, budgets, args.seed)
    command = (
        f"python benchmarks/search.py --section scale --scale-sizes {args.scale_sizes} "
        f"--scale-budgets {args.scale_budgets}"
    )
    write_scale(rows, results / "search_scale.md", command, time.perf_counter() - start)
