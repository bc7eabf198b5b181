"""How much a 1 s answer leaves on the table: the search without a network at 1 s,
10 s and 60 s on the DAGs of ``benchmarks/search_unseen.py``.

Issue 14 asks the network to make 1 s answers on 500–3,000 intermediates ≥ 5 %
cheaper on average than the search without it. Any method, learned or not, that
only gets the classic search's own answer sooner can win at most the gap between
the 1 s answer and what the same search finds with more time; this measures
that gap. A method that finds a different, better basin could win more: the
60 s runs from a second seed say how different the basins the search lands in
are. Every order is re-priced by ``search_unseen.reference_cost``.

Run:  .venv/bin/python benchmarks/headroom.py
Writes benchmarks/results/headroom.md (about 20 minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from search import optimize  # noqa: E402
from search_unseen import (  # noqa: E402
    FAMILIES,
    HELD_OUT_SEEDS,
    NO_NETWORK,
    intermediates,
    reference_cost,
    reference_markowitz,
)

SIZES = (500, 1000, 3000)
BUDGETS = (1.0, 10.0, 60.0)
SECOND_SEED = 1  # the 60 s run again, from another search seed
LONG_MIN = 1000  # smaller graphs: 60 s is not run (10 s already equals 1 s)


def measure(family: str, seed: int, n: int, budgets, second_seed: bool) -> dict:
    graph = FAMILIES[family](seed, n)
    inter = intermediates(graph)
    best = min(
        reference_cost(graph, order)
        for order in (inter, inter[::-1], reference_markowitz(graph))
    )
    costs = {}
    for budget in budgets:
        if budget > 10 and n < LONG_MIN:
            continue
        result = optimize(graph, time_budget_s=budget, seed=0, methods=NO_NETWORK)
        assert sorted(result.order) == sorted(inter), "not a permutation"
        costs[budget] = reference_cost(graph, result.order)
    other = None
    if second_seed and n == LONG_MIN and budgets[-1] in costs:
        result = optimize(
            graph, time_budget_s=budgets[-1], seed=SECOND_SEED, methods=NO_NETWORK
        )
        other = reference_cost(graph, result.order)
    row = dict(
        family=family,
        seed=seed,
        n=n,
        best=best,
        costs=costs,
        other=other,
        load=os.getloadavg()[0],
    )
    print(row, flush=True)
    return row


def _gap(cost: int, ref: int) -> str:
    return f"{(cost - ref) / cost:.2%}"


def write(rows, budgets, out: Path, command: str, wall: float) -> None:
    last = budgets[-1]
    head = " | ".join(f"{b:g} s" for b in budgets)
    lines = [
        "# Headroom: the 1 s answer against longer runs of the same search",
        "",
        f"`{command}` on {platform.machine()} with {os.cpu_count()} cores, shared "
        f"with other work (1-min load in each row); {wall / 60:.1f} min in all. "
        f"`search.optimize(g, methods={NO_NETWORK!r})` (no network), search seed 0; "
        "graphs from `benchmarks/search_unseen.py` (generator seed in the row), "
        "orders re-priced there. *gap*: how much cheaper than the 1 s answer the "
        f"best longer run is. *seed {SECOND_SEED}*: the {last:g} s run from search "
        f"seed {SECOND_SEED}, on 1,000 intermediates (where two seeds land apart, "
        "other basins exist). 60 s runs only on 1,000 intermediates and more.",
        "",
        f"| family | seed | n | best of fwd/rev/Markowitz | {head} "
        f"| gap {budgets[0]:g} s → best "
        f"| {last:g} s, seed {SECOND_SEED} | load |",
        "|---|---:|---:|---:|" + "---:|" * len(budgets) + "---:|---:|---:|",
    ]
    gaps = []
    for r in rows:
        costs = r["costs"]
        first = costs[budgets[0]]
        best = min([*costs.values(), *([r["other"]] if r["other"] else [])])
        gaps.append((first - best) / first)
        cells = " | ".join(f"{costs[b]}" if b in costs else "—" for b in budgets)
        other = f"{r['other']}" if r["other"] is not None else "—"
        lines.append(
            f"| {r['family']} | {r['seed']} | {r['n']:,} | {r['best']} | {cells} | "
            f"{_gap(first, best)} | {other} | {r['load']:.1f} |"
        )
    lines += [
        "",
        f"Mean gap over {len(gaps)} graphs: {sum(gaps) / len(gaps):.2%}; largest "
        f"{max(gaps):.2%}. Issue 14's check asks for 5 % on average at 1 s.",
    ]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--no-second-seed", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "headroom.md"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    # Untimed: a checkout whose C source changed compiles the core on first use.
    optimize(FAMILIES["layered_dag"](1, 400), time_budget_s=0.5, methods=NO_NETWORK)
    rows = [
        measure(family, seed, n, args.budgets, not args.no_second_seed)
        for family in FAMILIES
        for seed in HELD_OUT_SEEDS
        for n in args.sizes
    ]
    write(rows, args.budgets, args.out, "python benchmarks/headroom.py",
          time.perf_counter() - start)


if __name__ == "__main__":
    main()
