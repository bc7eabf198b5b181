"""The scale section of the search benchmark: 1,000–100,000-intermediate DAGs.

``search.optimize`` on ``graphs.random_dag`` DAGs of 1,000 / 3,000 / 10,000 /
100,000 intermediates at each budget, side by side: elapsed time (graph building
included) against the budget rule ``budget + max(0.2 s, 10 %)``, the best greedy
and the best baseline priced, the cost found, annealing moves and moves/s, and
which baselines were not priced. Then the check on DAGs from a generator that is
not the project's (:func:`layered_dag`, written here): each returned order is
checked to be a permutation of the intermediates and re-priced with a reference
cost function written here (:func:`reference_cost`), and compared with forward,
reverse and Markowitz computed here too.

Run alone:  .venv/bin/python benchmarks/search.py --section scale
Writes benchmarks/results/search_scale.md.
"""

from __future__ import annotations

import heapq
import os
import platform
import random
import time
from pathlib import Path

from graphs.ir import INPUT, NODE, Edge, Graph, Vertex
from graphs.random_programs import random_dag
from search import optimize

GREEDY = ("markowitz", "markowitz_latest", "relative_markowitz", "min_fill")


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


def layered_dag(seed: int, n: int) -> Graph:
    """A DAG unlike ``graphs.random_dag``: layers of 3–40 vertices, each with 1–4
    operands from the previous two layers; ``n // 50`` inputs, ``n // 100``
    outputs, each vertex without a consumer read by a random output."""
    rng = random.Random(seed)
    inputs = [f"in{i}" for i in range(max(2, n // 50))]
    outputs = [f"out{j}" for j in range(max(2, n // 100))]
    layers, edges, made = [inputs], [], 0
    while made < n:
        layer = [f"m{made + k}" for k in range(min(n - made, rng.randint(3, 40)))]
        pool = layers[-1] + (layers[-2] if len(layers) > 1 else [])
        for vid in layer:
            edges += [
                (src, vid)
                for src in rng.sample(pool, min(len(pool), rng.randint(1, 4)))
            ]
        layers.append(layer)
        made += len(layer)
    used = {src for src, _ in edges}
    edges += [
        (v, rng.choice(outputs)) for lay in layers[1:] for v in lay if v not in used
    ]
    for out in outputs:
        if all(dst != out for _, dst in edges):
            edges.append((rng.choice(layers[-1]), out))
    vertices = [Vertex(x, INPUT) for x in inputs]
    vertices += [Vertex(v, NODE) for lay in layers[1:] for v in lay]
    vertices += [Vertex(y, NODE) for y in outputs]
    return Graph(
        tuple(vertices),
        tuple(inputs),
        tuple(outputs),
        tuple(Edge(s, d) for s, d in edges),
        name=f"layered_{seed}",
    )


def _adjacency(graph: Graph):
    pred: dict[str, set[str]] = {v.id: set() for v in graph.vertices}
    succ: dict[str, set[str]] = {v.id: set() for v in graph.vertices}
    for e in graph.edges:
        pred[e.dst].add(e.src)
        succ[e.src].add(e.dst)
    return pred, succ


def _eliminate(pred, succ, v) -> int:
    ps, ss = pred.pop(v), succ.pop(v)
    for p in ps:
        succ[p].discard(v)
        succ[p] |= ss
    for s in ss:
        pred[s].discard(v)
        pred[s] |= ps
    return len(ps) * len(ss)


def reference_cost(graph: Graph, order) -> int:
    """Textbook scalar cost of an order (every partial has a value): eliminating
    ``v`` costs |preds|·|succs| and joins every predecessor to every successor."""
    pred, succ = _adjacency(graph)
    return sum(_eliminate(pred, succ, v) for v in order)


def intermediates(graph: Graph) -> list[str]:
    ends = set(graph.inputs) | set(graph.outputs)
    return [v.id for v in graph.vertices if v.id not in ends]


def reference_markowitz(graph: Graph) -> list[str]:
    """Lowest |preds|·|succs| first, ties to the earliest vertex (lazy heap)."""
    pred, succ = _adjacency(graph)
    inter = intermediates(graph)
    index = {v: k for k, v in enumerate(inter)}
    heap = [(len(pred[v]) * len(succ[v]), index[v], v) for v in inter]
    heapq.heapify(heap)
    order = []
    while heap:
        cost, _, v = heapq.heappop(heap)
        if v not in pred or cost != len(pred[v]) * len(succ[v]):
            continue
        touched = (pred[v] | succ[v]) & index.keys()
        _eliminate(pred, succ, v)
        order.append(v)
        for u in touched:
            if u in pred:
                heapq.heappush(heap, (len(pred[u]) * len(succ[u]), index[u], u))
    return order


def run_scale(sizes, budgets, seed=0):
    rows = []
    for n in sizes:
        graph = project_dag(n, seed)
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
                    skipped="; ".join(
                        x for x in result.notes if x.startswith("baselines")
                    ),
                    load=os.getloadavg()[0],
                )
            )
            print(rows[-1], flush=True)
    return rows


def run_unseen_family(checks, seed=0):
    rows = []
    for n, budget, target in checks:
        graph = layered_dag(seed, n)
        inter = intermediates(graph)
        classic = {
            "forward": reference_cost(graph, inter),
            "reverse": reference_cost(graph, inter[::-1]),
            "markowitz": reference_cost(graph, reference_markowitz(graph)),
        }
        t0 = time.perf_counter()
        result = optimize(graph, time_budget_s=budget, seed=seed)
        elapsed = time.perf_counter() - t0
        valid = sorted(result.order) == sorted(inter)
        rescored = reference_cost(graph, result.order)
        best = min(classic.values())
        rows.append(
            dict(
                n=n,
                edges=len(graph.edges),
                budget=budget,
                elapsed=elapsed,
                ok=within(elapsed, budget),
                valid=valid,
                reported=result.cost,
                rescored=rescored,
                classic=classic,
                reduction=(best - rescored) / best,
                target=target,
                load=os.getloadavg()[0],
            )
        )
        print(rows[-1], flush=True)
    return rows


def write_scale(rows, unseen, out: Path, command: str, wall: float) -> None:
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
        "not priced within half the budget are named.",
        "",
        "| n | edges | budget s | elapsed s | in rule | best greedy | best baseline "
        "| found | vs best baseline | moves | moves/s | load | not priced |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['edges']:,} | {r['budget']:g} | {r['elapsed']:.2f} | "
            f"{'yes' if r['ok'] else '**no**'} | "
            f"{r['best_greedy'] if r['best_greedy'] is not None else '—'} | "
            f"{r['best']} | {r['cost']} | {r['reduction']:.1%} | {r['moves']:,} | "
            f"{r['rate']:,.0f} | {r['load']:.1f} | {r['skipped'] or '—'} |"
        )
    lines += [
        "",
        "## DAGs from another generator, re-priced independently",
        "",
        "`layered_dag` (this file: layers of 3–40 vertices, 1–4 operands from the two "
        "layers before). The order returned is checked to be a permutation of the "
        "intermediates and re-priced by `reference_cost` (this file: |P|·|S| on edge "
        "sets); forward, reverse and Markowitz (lazy heap, ties to the earliest) are "
        "computed in this file too.",
        "",
        "| n | edges | budget s | elapsed s | in rule | valid order | reported = "
        "re-priced | forward | reverse | markowitz | found | vs best of the three "
        "| target | load |",
        "|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in unseen:
        c = r["classic"]
        lines.append(
            f"| {r['n']:,} | {r['edges']:,} | {r['budget']:g} | {r['elapsed']:.2f} | "
            f"{'yes' if r['ok'] else '**no**'} | {'yes' if r['valid'] else '**no**'} | "
            f"{'yes' if r['reported'] == r['rescored'] else '**no**'} | "
            f"{c['forward']} | {c['reverse']} | {c['markowitz']} | {r['rescored']} | "
            f"{r['reduction']:.1%} | ≥ {r['target']:.0%} | {r['load']:.1f} |"
        )
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main_scale(args, results: Path) -> None:
    start = time.perf_counter()
    sizes = [int(s) for s in args.scale_sizes.split(",") if s]
    budgets = [float(b) for b in args.scale_budgets.split(",") if b]
    rows = run_scale(sizes, budgets, args.seed)
    unseen = run_unseen_family([(1000, 1.0, 0.15), (10_000, 10.0, 0.10)], args.seed)
    command = (
        f"python benchmarks/search.py --section scale --scale-sizes {args.scale_sizes} "
        f"--scale-budgets {args.scale_budgets}"
    )
    write_scale(
        rows, unseen, results / "search_scale.md", command, time.perf_counter() - start
    )
