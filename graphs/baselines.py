"""Baseline orders (forward, reverse, greedy Markowitz-type rules) and ``cost`` by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from graphs.elimination import (
    CostReport,
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


#: The greedy rules, one table for every implementation: name -> score terms,
#: compared in turn, lowest eliminated first. ``mults``: multiplications of
#: eliminating the vertex now; ``removed``: its edges (|P| + |S|), which the
#: elimination removes; ``fill``: the edges it would create; ``position``: its
#: position in program order (``-position``: the latest first). The fast cores
#: (``search.core``) take the same terms.
GREEDY_RULES: dict[str, tuple[str, ...]] = {
    "markowitz": ("mults", "position"),
    "markowitz_latest": ("mults", "-position"),
    "relative_markowitz": ("mults-removed", "mults", "position"),
    "min_fill": ("fill", "mults", "position"),
}


def score_terms(
    terms: Sequence[str], *, mults: int, fill: int, removed: int, position: int
) -> tuple[int, ...]:
    """A rule's score from the vertex's numbers (see :data:`GREEDY_RULES`)."""
    values = {
        "mults": mults,
        "mults-removed": mults - removed,
        "fill": fill,
        "position": position,
        "-position": -position,
    }
    return tuple(values[t] for t in terms)


def _rule(terms: tuple[str, ...]) -> ScoreFn:
    def score(g: ElimGraph, v: int) -> tuple:
        mults, fill = elimination_cost(g, v)
        removed = len(g.pred.get(v, ())) + len(g.succ.get(v, ()))
        return score_terms(terms, mults=mults, fill=fill, removed=removed, position=v)

    return score


#: ``name -> score_fn`` of every rule of :data:`GREEDY_RULES`.
GREEDY: dict[str, ScoreFn] = {name: _rule(t) for name, t in GREEDY_RULES.items()}


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


def cost(graph: Graph | ElimGraph, order: str | Sequence[str]) -> CostReport:
    """The multiplications and additions that eliminating ``order`` costs.

    Args:
      graph: a program or structure-only graph (or its elimination graph).
      order: a permutation of the intermediate ids, ``"forward"``, ``"reverse"``,
        or a baseline name (``"markowitz"`` …).

    Returns:
      A :class:`CostReport`.

    Example:
      >>> g = graphs.load({"format": "ccelim.graph/1", "inputs": ["x"],
      ...     "outputs": ["y"], "edges": [["x", "v"], ["v", "y"]]})
      >>> graphs.cost(g, ["v"]).multiplications
      1
    """
    g = graph if isinstance(graph, ElimGraph) else build(graph)
    return cost_of(g, order_positions(g, order))
