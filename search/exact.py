"""Exact optimum: best-first search (A*) over the *sets* of eliminated vertices.

The elimination graph after eliminating a set ``X`` does not depend on the order
within ``X``: an edge ``(s, p)`` exists iff a path ``p → … → s`` has its interior in
``X``, and its partial is the sum over those paths. For scalar graphs this is exact
(``search.fastcost``); for tensor graphs it holds up to the structure algebra
(``graphs.algebra.add`` of the same terms in another order gives the same
structure), which the tests check against brute force. So the cheapest order is a
shortest path from ``{}`` to "all intermediates" in the lattice of subsets, with
step cost ``cost(v, X)``: at most ``2^n`` states instead of ``n!`` orders.

The search is A* with an admissible lower bound ``h(X) = Σ_{v ∉ X} lb(v, X)`` and
an upper bound (the best known order) that prunes every state with
``g + h ≥ upper``. For a scalar graph ``lb(v, X) = cut⁻(v, X) · cut⁺(v, X)``: when
``v`` is eliminated, its predecessors are not eliminated and every path from an
input to ``v`` passes through one of them, so they form a vertex cut between the
inputs and ``v`` that avoids ``X`` — at least the minimum such cut (a max-flow with
unit capacities on non-eliminated vertices); likewise its successors. Only
predecessors joined by a dense path cost a multiplication: a value-less in-edge from
an input can be one such predecessor at most, and a value-less in-edge from an
intermediate drops that side's bound to 0. A second bound counts the final edges
still missing, and a third sums group cost-to-go tables over these cuts
(:class:`GroupTables`, the argument of ``search.bounds``); ``h`` is the largest.
Tensor graphs use ``h = 0``.

With a time limit the search stops early and reports the best proven lower bound,
``min(upper, min over open states of g + h)``.

Scalar graphs with at most ``search.subsetdp.MAX_SET`` intermediates (and at most
64 vertices next to them) skip the search: ``search.subsetdp`` evaluates the same
recurrence on every subset at once with numpy, which is faster than A* on the
hard cases (a 20-intermediate graph in about a second, whatever its bound gap).
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from collections.abc import Sequence

from graphs.elimination import ElimGraph
from search.bounds import CutBound, GroupTables
from search.fastcost import ScalarModel, bits, eliminate_step
from search.subsetdp import MAX_SET, SubsetDP, whole_graph_problem

_INF = float("inf")


@dataclasses.dataclass(frozen=True)
class ExactResult:
    """The outcome of :func:`exact_optimum`.

    Attributes:
      order: the best order found (positions of the elimination graph).
      cost: its multiplications.
      optimal: whether ``cost`` is proven minimal.
      lower_bound: a proven lower bound on the optimum (``cost`` if optimal).
      expanded: states expanded.
    """

    order: tuple[int, ...]
    cost: int
    optimal: bool
    lower_bound: int
    expanded: int


class ExactSearch:
    """Resumable A* over eliminated sets; :meth:`step` expands a number of states.

    Args:
      g: the elimination graph.
      upper_order: a known order (positions) whose cost prunes the search, e.g.
        the best baseline; without one, the forward order.
      group_tables: use the group bound ``h3`` (its tables take about a second
        on 200 intermediates; off where only a quick root bound is wanted).
    """

    def __init__(
        self,
        g: ElimGraph,
        *,
        upper_order: Sequence[int] | None = None,
        group_tables: bool = True,
    ):
        self.graph = g
        self.full = sum(1 << v for v in g.intermediates)
        self.model = ScalarModel(g) if g.is_scalar else None
        self._lb = CutBound(self.model) if self.model else None
        self._states: dict[int, ElimGraph] = {0: g}
        order = list(upper_order) if upper_order is not None else list(g.intermediates)
        self.best_order = tuple(order)
        self.best_cost = self._order_cost(order)
        self._g: dict[int, int] = {0: 0}
        self._parent: dict[int, tuple[int, int]] = {}
        self._h: dict[int, tuple] = {}
        self._groups = (
            GroupTables(self._lb, self.model)
            if self._lb is not None and group_tables
            else None
        )
        self._heap: list[tuple[int, int, int]] = [(self._bound(0), 0, 0)]
        self.expanded = 0
        self.done = False

    def _order_cost(self, order: Sequence[int]) -> int:
        x = total = 0
        for v in order:
            total += self._step_cost(v, x)
            x |= 1 << v
        return total

    def _step_cost(self, v: int, x: int) -> int:
        if self.model is not None:
            return self.model.vertex_cost(v, x)
        state = self._states.get(x)
        if state is None:  # only for pricing the upper order
            state = self.graph
            for u in bits(x):
                state, _ = eliminate_step(state, u)
        new, mults = eliminate_step(state, v)
        self._states[x | 1 << v] = new
        return mults

    def _bound(self, x: int) -> int:
        """``max(h1, h2)`` from scratch (h1: per-vertex cuts, h2: final edges)."""
        if self._lb is None:
            return 0
        lb = self._lb
        h1 = sum(lb(v, x) for v in bits(self.full & ~x))
        h2 = sum(lb.missing(o, x) for o in lb.targets)
        h3 = self._groups.totals(x) if self._groups else ()
        self._h[x] = (h1, h2, h3)
        return max(h1, h2, *h3)

    def _child_bound(self, x: int, v: int, lbx: dict[int, tuple[int, int]]) -> int:
        """The bound of ``x | v`` from that of ``x``, re-pricing what ``v`` touches."""
        lb = self._lb
        if lb is None:
            return 0
        y = x | 1 << v
        m = self.model
        h1, h2, h3 = self._h[x]
        p, q = lbx[v]
        h1 -= p * q
        # Only u's side towards v can change (v is its ancestor or descendant).
        for u in bits(m.related[v] & self.full & ~y):
            p, q = lbx[u]
            if m.ancestors[u] >> v & 1:
                h1 += (lb.side_in(u, y) - p) * q
            else:
                h1 += p * (lb.side_out(u, y) - q)
        for o in lb.targets:
            if m.ancestors[o] >> v & 1:
                h2 += lb.missing(o, y) - lb.missing(o, x)
        if self._groups:
            h3 = self._groups.update(h3, x, v)
        self._h[y] = (h1, h2, h3)
        return max(h1, h2, *h3)

    def offer(self, order: Sequence[int], cost: int) -> None:
        """Tightens the upper bound with an order found elsewhere (e.g. local search).

        ``cost`` must be the order's true cost.
        """
        if cost < self.best_cost:
            self.best_cost = cost
            self.best_order = tuple(order)

    @property
    def open_states(self) -> int:
        """States waiting in the open list (memory grows with it)."""
        return len(self._heap)

    @property
    def lower_bound(self) -> int:
        """A proven lower bound on the optimum."""
        if self.done or not self._heap:
            return self.best_cost
        return min(self.best_cost, self._heap[0][0])

    @property
    def result(self) -> ExactResult:
        return ExactResult(
            self.best_order, self.best_cost, self.done, self.lower_bound, self.expanded
        )

    def step(self, num_expansions: int) -> ExactResult:
        """Expands up to ``num_expansions`` states (fewer if the search finishes)."""
        heap, gbest, full = self._heap, self._g, self.full
        for _ in range(num_expansions):
            if self.done:
                break
            if not heap or heap[0][0] >= self.best_cost:
                self.done = True
                self._heap = heap = []
                self._states.clear()
                break
            f, neg_g, x = heapq.heappop(heap)
            g_x = -neg_g
            if g_x > gbest.get(x, _INF):
                continue
            self.expanded += 1
            rem = full & ~x
            lbx = {u: self._lb.sides(u, x) for u in bits(rem)} if self._lb else {}
            for v in bits(rem):
                y = x | 1 << v
                g_y = g_x + self._step_cost(v, x)
                if g_y >= gbest.get(y, _INF):
                    continue
                if y == full:
                    if g_y < self.best_cost:
                        gbest[y] = g_y
                        self._parent[y] = (x, v)
                        self.best_cost = g_y
                        self.best_order = self._trace(y)
                    continue
                f_y = g_y + self._child_bound(x, v, lbx)
                if f_y >= self.best_cost:
                    continue
                gbest[y] = g_y
                self._parent[y] = (x, v)
                heapq.heappush(heap, (f_y, -g_y, y))
            if self.model is None:
                self._states.pop(x, None)
        return self.result

    def _trace(self, x: int) -> tuple[int, ...]:
        order = []
        while x:
            x, v = self._parent[x]
            order.append(v)
        return tuple(reversed(order))


def subset_dp(g: ElimGraph) -> SubsetDP | None:
    """A :class:`SubsetDP` over all intermediates of ``g``, where one applies."""
    if not g.is_scalar or not 0 < len(g.intermediates) <= MAX_SET:
        return None
    prob = whole_graph_problem(ScalarModel(g))
    return SubsetDP(prob) if prob is not None else None


def exact_optimum(
    g: ElimGraph,
    *,
    time_limit_s: float = 10.0,
    upper_order: Sequence[int] | None = None,
    max_expansions: int | None = None,
    method: str = "auto",
) -> ExactResult:
    """The cheapest order, or the best found and a lower bound when time runs out.

    Args:
      g: the elimination graph (``graphs.build(graph)``).
      time_limit_s: wall-clock limit.
      upper_order: a good order (positions) to prune with, e.g. the best baseline.
      max_expansions: stop after this many expanded states (for reproducibility).
      method: ``"astar"``, ``"dp"`` (scalar graphs of at most ``MAX_SET``
        intermediates) or ``"auto"`` (``"dp"`` where it applies).

    Returns:
      An :class:`ExactResult`; ``optimal`` says whether the search finished.

    Example:
      >>> r = exact_optimum(graphs.build(graph), time_limit_s=5)
      >>> r.cost, r.optimal
    """
    deadline = time.perf_counter() + time_limit_s
    if method not in ("auto", "astar", "dp"):
        raise ValueError(f"method must be 'auto', 'astar' or 'dp'; got {method!r}")
    dp = subset_dp(g) if method != "astar" else None
    if dp is None and method == "dp":
        raise ValueError(
            "method='dp' needs a scalar graph with at most "
            f"{MAX_SET} intermediates and at most 64 vertices next to them"
        )
    if dp is not None:
        while not dp.done and time.perf_counter() < deadline:
            dp.step()
        if dp.done:
            return ExactResult(dp.order, dp.cost, True, dp.cost, dp.units)
    search = ExactSearch(g, upper_order=upper_order)
    budget = max_expansions if max_expansions is not None else 1 << 62
    while not search.done and budget > 0 and time.perf_counter() < deadline:
        chunk = min(64, budget)
        search.step(chunk)
        budget -= chunk
    return search.result
