"""Baseline orders on a cost core: the greedy rules with a lazy priority queue.

The rules are ``graphs.baselines.GREEDY_RULES`` (one table). A greedy step
eliminates the remaining intermediate of lowest score; only the vertices whose
edges the elimination changed are re-scored and pushed again (older heap
entries are skipped when popped), so a greedy costs O(E log V) plus the
eliminations, instead of re-scoring every remaining vertex every step. On
:class:`search.core.ScalarCore` the same loop runs in C.

:func:`price_baselines` prices the baselines cheapest-first and stops at a
deadline, naming the ones it skipped.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence

from graphs.baselines import GREEDY_RULES, score_terms
from search.core.base import CostCore
from search.core.scalar import ScalarCore, now
from search.core.structured import StructuredCore

#: The baselines in ``graphs.baselines``' order (ties go to the first).
BASELINE_NAMES = ("forward", "reverse", *GREEDY_RULES)


def core_for(g) -> CostCore:
    """The fastest :class:`CostCore` for an elimination graph ``g``."""
    return ScalarCore(g) if g.is_scalar else StructuredCore(g)


#: Graphs with more intermediates stop pricing a baseline once it costs more
#: than the best one priced (its work grows with its multiplications).
CAP_FROM = 2000


def baseline_order(num_inputs: int, num_outputs: int) -> tuple[str, ...]:
    """Baselines in the order they are priced: cheapest to compute first.

    Pricing an order takes work in proportion to its multiplications, and a
    Markowitz-type greedy about one elimination pass plus its queue; so the
    cheaper of forward and reverse by the textbook rule (reverse when there are
    fewer outputs than inputs) first, then Markowitz, the other mode, the two
    Markowitz variants, and min_fill, which re-scores far more vertices a step.
    """
    modes = (
        ("reverse", "forward") if num_outputs <= num_inputs else ("forward", "reverse")
    )
    return (
        modes[0],
        "markowitz",
        modes[1],
        "markowitz_latest",
        "relative_markowitz",
        "min_fill",
    )


def greedy_order(
    core: CostCore,
    terms: Sequence[str],
    *,
    deadline: float | None = None,
    cap: int = 0,
) -> list[int] | None:
    """The greedy order of the score ``terms`` on ``core``; ``None`` past
    ``deadline`` (``time.perf_counter()`` seconds) or, on a scalar core, once its
    multiplications pass ``cap`` (0: none). Leaves ``core`` eliminated."""
    if isinstance(core, ScalarCore):
        return core.greedy(terms, deadline=_native(deadline), cap=cap)
    core.reset()
    needs_fill = "fill" in terms

    def score(v: int) -> tuple:
        fill = core.fill(v) if needs_fill else 0
        key = score_terms(
            terms, mults=core.cost(v), fill=fill, removed=core.degree(v), position=v
        )
        return key + (v,)

    remaining = set(core.intermediates)
    version = dict.fromkeys(remaining, 0)
    heap = [(score(v), v, 0) for v in remaining]
    heapq.heapify(heap)
    order = []
    while heap:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        _, v, seen = heapq.heappop(heap)
        if v not in remaining or seen != version[v]:
            continue
        preds, succs = core.neighbours(v)
        touched = set(preds) | set(succs)
        if needs_fill:  # the fill of the other predecessors of v's successors too
            for s in succs:
                touched.update(core.neighbours(s)[0])
        core.eliminate(v)
        order.append(v)
        remaining.discard(v)
        for u in touched & remaining:
            version[u] += 1
            heapq.heappush(heap, (score(u), u, version[u]))
    return order


def _native(deadline: float | None) -> float | None:
    """A ``time.perf_counter()`` deadline on the C core's clock."""
    return None if deadline is None else now() + deadline - time.perf_counter()


def _order_cost(core: CostCore, order: Sequence[int], deadline, cap: int):
    if isinstance(core, ScalarCore):
        costs = core.order_costs(order, deadline=_native(deadline), cap=cap)
        return None if costs is None else sum(costs)
    if deadline is not None and time.perf_counter() > deadline:
        return None
    return sum(core.order_costs(order))


def price_baselines(
    core: CostCore, *, deadline: float | None = None
) -> tuple[dict[str, tuple[list[int], int]], dict[str, str]]:
    """Every baseline order and its multiplications, cheapest to compute first.

    Args:
      core: the graph's cost core.
      deadline: ``time.perf_counter()`` seconds after which the baselines not yet
        priced are skipped (the first one always runs to the end).

    Returns:
      ``({name: (order positions, multiplications)}, {name: why not priced})``;
      the orders and costs are those of ``graphs.baselines``. On scalar graphs
      of more than :data:`CAP_FROM` intermediates a baseline is stopped once it
      costs more than the best priced before it.

    Example:
      >>> found, skipped = price_baselines(core_for(g), deadline=time.perf_counter() + 1)
    """
    g = getattr(core, "graph", None)
    inter = list(core.intermediates)
    names = baseline_order(len(g.inputs), len(g.outputs)) if g else BASELINE_NAMES
    capped = isinstance(core, ScalarCore) and len(inter) > CAP_FROM
    found: dict[str, tuple[list[int], int]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        limit = deadline if found else None
        if found and deadline is not None and time.perf_counter() > deadline:
            skipped[name] = "budget"
            continue
        cap = min(c for _, c in found.values()) if capped and found else 0
        if name == "forward":
            order = inter
        elif name == "reverse":
            order = inter[::-1]
        else:
            order = greedy_order(core, GREEDY_RULES[name], deadline=limit, cap=cap)
        cost = None if order is None else _order_cost(core, order, limit, cap)
        if cost is not None:
            found[name] = (list(order), int(cost))
        elif limit is not None and time.perf_counter() > limit:
            skipped[name] = "budget"
        else:
            skipped[name] = f"costs more than {cap}"
    listed = {name: found[name] for name in BASELINE_NAMES if name in found}
    return listed, skipped


def best_baseline_cost(g) -> int:
    """The cheapest baseline's multiplications of an elimination graph (at least 1).

    The reward scale of the game and the corpus: ``graphs.best_baseline``'s
    cost, on the graph's fastest core.
    """
    if not g.intermediates:
        return 1
    found, _ = price_baselines(core_for(g))
    return max(min(cost for _, cost in found.values()), 1)
