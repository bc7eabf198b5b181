"""Baseline orders: forward, reverse and greedy Markowitz-type heuristics."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from graphs.elimination import (
    ElimGraph,
    build,
    cost_of,
    eliminate,
    elimination_cost,
    resolve_order,
)
from graphs.errors import GraphError
from graphs.ir import Graph

#: ``score(graph, v) -> sortable``; the greedy eliminates the lowest score first.
ScoreFn = Callable[[ElimGraph, int], tuple]


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A baseline order and what it costs."""

    order: tuple[str, ...]
    cost: int


def _markowitz(g: ElimGraph, v: int) -> tuple:
    mults, _ = elimination_cost(g, v)
    return (mults, v)


def _markowitz_latest(g: ElimGraph, v: int) -> tuple:
    mults, _ = elimination_cost(g, v)
    return (mults, -v)


def _relative_markowitz(g: ElimGraph, v: int) -> tuple:
    # Markowitz cost relative to the edges the elimination removes (|P| + |S|).
    mults, _ = elimination_cost(g, v)
    removed = len(g.pred.get(v, ())) + len(g.succ.get(v, ()))
    return (mults - removed, mults, v)


def _min_fill(g: ElimGraph, v: int) -> tuple:
    mults, fill = elimination_cost(g, v)
    return (fill, mults, v)


GREEDY: dict[str, ScoreFn] = {
    "markowitz": _markowitz,
    "markowitz_latest": _markowitz_latest,
    "relative_markowitz": _relative_markowitz,
    "min_fill": _min_fill,
}


def greedy_order(g: ElimGraph, score_fn: ScoreFn) -> list[int]:
    """Eliminates, step by step, the remaining intermediate of lowest score."""
    remaining = set(g.intermediates)
    order = []
    while remaining:
        v = min(remaining, key=lambda u: score_fn(g, u))
        g, _, _, _ = eliminate(g, v)
        remaining.remove(v)
        order.append(v)
    return order


def baselines(graph: Graph | ElimGraph) -> dict[str, Baseline]:
    """Every baseline order with its cost (multiplications).

    Returns ``forward`` (program order), ``reverse``, ``markowitz`` (lowest
    elimination cost first, ties to the earliest vertex; for scalar graphs the
    textbook lowest |P|·|S|), ``markowitz_latest`` (ties to the latest),
    ``relative_markowitz`` (cost minus the |P|+|S| edges removed) and ``min_fill``
    (fewest new edges, then Markowitz).

    Example:
      >>> {name: b.cost for name, b in graphs.baselines(g).items()}
    """
    g = graph if isinstance(graph, ElimGraph) else build(graph)
    orders = {
        "forward": list(g.intermediates),
        "reverse": list(reversed(g.intermediates)),
    }
    for name, score_fn in GREEDY.items():
        orders[name] = greedy_order(g, score_fn)
    result = {}
    for name, order in orders.items():
        report = cost_of(g, order)
        result[name] = Baseline(report.order, report.multiplications)
    return result


def best_baseline(graph: Graph | ElimGraph) -> tuple[str, Baseline]:
    """The cheapest baseline (ties to the first in ``baselines``' order)."""
    found = baselines(graph)
    name = min(found, key=lambda k: found[k].cost)
    return name, found[name]


def order_positions(g: ElimGraph, order: str | Sequence[str]) -> list[int]:
    """Positions of an order given as ids, ``"forward"``, ``"reverse"`` or a baseline name.

    A greedy baseline name runs only that greedy, not every baseline.

    Raises:
      GraphError: for an unknown name, or ids that are not a permutation of the
        intermediates (see ``graphs.elimination.resolve_order``).
    """
    if isinstance(order, str) and order not in ("forward", "reverse"):
        if order not in GREEDY:
            raise GraphError(
                f"unknown order {order!r}; use a list of ids or one of "
                f"{sorted(['forward', 'reverse', *GREEDY])}",
                path="order",
            )
        return greedy_order(g, GREEDY[order])
    return resolve_order(g, order)
