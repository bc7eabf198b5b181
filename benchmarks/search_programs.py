"""Budgets on traced programs as users write them: unrolled loops in vector form.

Issue 13's budget rule (``optimize`` returns within budget + max(0.2 s, 10 %)) on
programs, not only on structure-only DAGs: an explicit Euler loop of the Lorenz
system written with ``u[i]`` indexing and a stacked output (a scalar graph: its
one-element slices are scalars), the same kind of loop on a 3-vector with a
matrix product (a tensor graph, searched on the reference states), and a
2,000-primitive random scalar program. Each is traced once; every returned order
is re-priced by ``graphs.cost``.

Run alone:  .venv/bin/python benchmarks/search.py --section programs
Writes benchmarks/results/search_programs.md.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from search_scale import within

import graphs
from graphs.elimination import build
from graphs.random_programs import random_program
from search import optimize

_A = np.array([[0.1, -0.2, 0.0], [0.3, 0.1, 0.2], [0.0, -0.1, 0.1]])


def lorenz_vector(u, steps: int = 100):
    """Explicit Euler steps of the Lorenz system, written with indexing."""
    x, y, z = u[0], u[1], u[2]
    for _ in range(steps):
        x, y, z = (
            x + 0.001 * 10.0 * (y - x),
            y + 0.001 * (x * (28.0 - z) - y),
            z + 0.001 * (x * y - 8.0 / 3.0 * z),
        )
    return jnp.stack([x, y, z])


def matrix_loop(u, steps: int = 300):
    """A loop on a 3-vector with a matrix product: a tensor graph."""
    for _ in range(steps):
        u = u + 0.01 * (_A @ u) * jnp.sin(u)
    return u


def programs() -> list[tuple[str, graphs.Graph]]:
    fn, args = random_program(1, num_ops=2000, kind="scalar")
    return [
        ("lorenz_vector (100 steps)", graphs.trace(lorenz_vector, np.ones(3) * 0.5)),
        ("matrix_loop (300 steps)", graphs.trace(matrix_loop, np.ones(3) * 0.5)),
        ("random_program (2,000 ops)", graphs.trace(fn, *args)),
    ]


def main_programs(args, results: Path) -> None:
    jax.config.update("jax_enable_x64", True)
    budgets = [float(b) for b in args.program_budgets.split(",")]
    start = time.perf_counter()
    rows = []
    for name, graph in programs():
        g = build(graph)
        optimize(graph, time_budget_s=0.2)  # warm: the C core, the policy model
        for budget in budgets:
            t0 = time.perf_counter()
            r = optimize(graph, time_budget_s=budget)
            elapsed = time.perf_counter() - t0
            priced = graphs.cost(graph, list(r.order)).multiplications
            rows.append((name, g, budget, elapsed, r, priced, os.getloadavg()[0]))
            print(
                f"{name}: {budget:g} s -> {elapsed:.2f} s, {r.cost} "
                f"(best baseline {r.best_baseline}, {r.method})",
                flush=True,
            )
    lines = [
        "# Search budgets on traced programs",
        "",
        f"`python benchmarks/search.py --section programs` on {platform.machine()} "
        f"with {os.cpu_count()} cores, shared with other work (1-min load in each "
        f"row); {(time.perf_counter() - start) / 60:.1f} min in all. Programs in "
        "`benchmarks/search_programs.py`; *in rule*: elapsed ≤ budget + max(0.2 s, "
        "10 %); *priced*: the reported cost equals `graphs.cost` of the order; "
        "*path*: scalar (C core: exact, annealing, insertions) or tensor (the "
        "reference states); *saved*: against the best baseline priced.",
        "",
        "| program | path | intermediates | budget s | elapsed s | in rule | priced "
        "| best baseline | found | saved | method | notes | load |",
        "|---|---|---:|---:|---:|---|---|---:|---:|---:|---|---|---:|",
    ]
    for name, g, budget, elapsed, r, priced, load in rows:
        notes = "; ".join(n for n in r.notes if not n.startswith("exact: skipped"))
        lines.append(
            f"| {name} | {'scalar' if g.is_scalar else 'tensor'} | "
            f"{len(g.intermediates):,} | {budget:g} | {elapsed:.2f} | "
            f"{'yes' if within(elapsed, budget) else '**no**'} | "
            f"{'yes' if priced == r.cost else '**no**'} | {r.best_baseline:,} | "
            f"{r.cost:,} | {100 * r.improvement:.1f}% | {r.method} | "
            f"{notes or '—'} | {load:.1f} |"
        )
    out = results / "search_programs.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
