"""Exact optimum: best-first search (A*) over the *sets* of eliminated vertices.

The elimination graph after eliminating a set ``X`` does not depend on the order
within ``X``: an edge ``(s, p)`` exists iff a path ``p → … → s`` has its interior in
``X``, and its partial is the sum over those paths. For scalar graphs this is exact
(``search.fastcost``); for tensor graphs it holds up to the structure algebra
(``graphs.structure.add`` of the same terms in another order gives the same
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
(:class:`_GroupTables`, the argument of ``search.bounds``); ``h`` is the largest.
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
from search.fastcost import ScalarModel, bits, eliminate_step, neighbours_through
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


class _CutBound:
    """``lb(v, X)`` for scalar graphs (see the module docstring)."""

    def __init__(self, model: ScalarModel):
        self.m = model
        inter = model.inter_mask
        n = model.n
        # Per side: 0 = no value-less edge on v's side, k = at most k value-less
        # neighbours (value-less edges from non-intermediates), -1 = unbounded.
        self.slack_in = [self._slack(model.vl_in[v], inter) for v in range(n)]
        self.slack_out = [self._slack(model.vl_out[v], inter) for v in range(n)]
        self._memo: dict[tuple[int, int, int], int] = {}
        self.sources = sum(1 << u for u in range(n) if not model.pred[u])
        self.sinks = sum(1 << u for u in range(n) if not model.succ[u])
        # Final edges (output, input) that must be created by a dense product.
        g = model.graph
        inputs = set(g.inputs)
        self.targets = sorted({o for o in g.outputs.values() if o not in inputs})
        dense_from = sum(1 << i for i in inputs if not model.vl_out[i])
        self.need = {}
        for o in self.targets:
            # Both factors of the product that creates (o, i) must be dense.
            dense = model.ancestors[o] & dense_from
            self.need[o] = 0 if model.vl_in[o] else dense

    def missing(self, o: int, x: int) -> int:
        """Final edges into target ``o`` that are not there yet after ``x``."""
        x &= self.m.ancestors[o]
        key = (o, x, 2)
        found = self._memo.get(key)
        if found is None:
            found = (self.need[o] & ~neighbours_through(o, x, self.m.pred)).bit_count()
            self._memo[key] = found
        return found

    @staticmethod
    def _slack(vl: int, inter: int) -> int:
        if vl & inter:
            return -1
        return vl.bit_count()

    def __call__(self, v: int, x: int) -> int:
        lo_in, lo_out = self.sides(v, x)
        return lo_in * lo_out

    def sides(self, v: int, x: int) -> tuple[int, int]:
        """The predecessor-side and successor-side bounds of ``v`` after ``x``."""
        return self.side_in(v, x), self.side_out(v, x)

    def side_in(self, v: int, x: int) -> int:
        m = self.m
        return self._side(v, x & m.ancestors[v], m.pred, self.slack_in[v], 0)

    def side_out(self, v: int, x: int) -> int:
        m = self.m
        return self._side(v, x & m.descendants[v], m.succ, self.slack_out[v], 1)

    def _side(self, v: int, x: int, nxt: list[int], slack: int, side: int) -> int:
        if slack < 0:
            return 0
        key = (v, x, side)
        found = self._memo.get(key)
        if found is None:
            # The current neighbours form a cut; one of them is the minimum.
            found = neighbours_through(v, x, nxt).bit_count()
            if found > 1:
                back = self.m.succ if side == 0 else self.m.pred
                ends = self.sources if side == 0 else self.sinks
                found = _disjoint_paths(v, x, nxt, back, ends, found)
            self._memo[key] = found
        return max(0, found - slack)


def _disjoint_paths(
    v: int, x: int, nxt: list[int], back: list[int], ends: int, limit: int
) -> int:
    """A lower bound on the fewest vertices outside ``x`` (and not ``v``) that meet
    every ``nxt``-path from ``v`` to a vertex with no ``nxt`` neighbours.

    Greedily packs shortest paths that share no vertex outside ``x`` (vertices in
    ``x`` cannot be cut, so paths may share them); by Menger's theorem every such
    packing is at most the minimum cut. ``ends`` marks the path ends (vertices
    without ``nxt`` neighbours); the packing stops at ``limit``, a known cut size.
    """
    used = 0
    count = 0
    start = 1 << v
    while count < limit:
        layers = [start]
        seen = start
        frontier = start
        blocked = used & ~x
        while True:
            rest, frontier = frontier, 0
            while rest:
                low = rest & -rest
                frontier |= nxt[low.bit_length() - 1]
                rest ^= low
            frontier &= ~seen & ~blocked
            if not frontier:
                return count
            seen |= frontier
            layers.append(frontier)
            hit = frontier & ends
            if hit:
                break
        # Walk back from one reached end through the layers, marking the path.
        hit &= -hit
        w = hit.bit_length() - 1
        used |= hit
        for layer in reversed(layers[1:-1]):
            prev = back[w] & layer
            prev &= -prev
            w = prev.bit_length() - 1
            used |= prev
        count += 1
    return count


class _GroupTables:
    """A third admissible bound ``h3``: group cost-to-go tables (``search.bounds``).

    The intermediates are split into groups of consecutive vertices in
    topological order (:data:`GROUP_SIZE`, two partitions at different offsets).
    For a group ``G`` and ``Y ⊆ G``, ``togo_G[Y]`` is the cheapest way to order
    ``G - Y`` when each step ``v`` costs ``lb(v, Y ∪ {G's vertices before v})`` —
    a DP over the group's subsets. From a state ``X``, every remaining ``v ∈ G``
    is eliminated after a set ``X_v ⊇ X`` whose part in ``G`` is ``X ∩ G`` plus
    the group's vertices eliminated before it, and ``cost(v, X_v) ≥ lb(v, X_v ∩
    G)`` since ``lb`` holds for every superset; so the remaining cost is at least
    ``Σ_G togo_G[X ∩ G]``, for each partition. Only ``v``'s group changes when
    ``v`` is eliminated, so children update one table entry per partition.
    """

    def __init__(self, lb: _CutBound, model: ScalarModel):
        topo = sorted(model.intermediates, key=model.rank.__getitem__)
        n = len(topo)
        size = GROUP_SIZE
        self.parts: list[list[tuple[list[int], list[int]]]] = []
        self.where: list[dict[int, tuple[int, int]]] = []
        for shift in (0, size // 2) if n > size else (0,):
            cuts = sorted({0, n, *range(shift or size, n, size)})
            part, where = [], {}
            for a, b in zip(cuts, cuts[1:], strict=False):
                group = topo[a:b]
                for j, v in enumerate(group):
                    where[v] = (len(part), j)
                part.append((group, _togo(lb, group)))
            self.parts.append(part)
            self.where.append(where)

    @staticmethod
    def _local(x: int, group: list[int]) -> int:
        return sum(1 << j for j, v in enumerate(group) if x >> v & 1)

    def totals(self, x: int) -> tuple[int, ...]:
        return tuple(
            sum(table[self._local(x, group)] for group, table in part)
            for part in self.parts
        )

    def update(self, h3: tuple[int, ...], x: int, v: int) -> tuple[int, ...]:
        out = []
        for total, part, where in zip(h3, self.parts, self.where, strict=True):
            i, j = where[v]
            group, table = part[i]
            y = self._local(x, group)
            out.append(total - table[y] + table[y | 1 << j])
        return tuple(out)


#: Vertices per group of the ``h3`` bound (its tables have ``2^size`` entries).
GROUP_SIZE = 10


def _togo(lb: _CutBound, group: list[int]) -> list[int]:
    """``togo[Y]`` over the subsets ``Y`` of ``group`` (see :class:`_GroupTables`)."""
    n = len(group)
    full = (1 << n) - 1
    masks = [1 << v for v in group]
    gone = [0] * (1 << n)
    for y in range(1, 1 << n):
        low = y & -y
        gone[y] = gone[y ^ low] | masks[low.bit_length() - 1]
    togo = [0] * (1 << n)
    for y in range(full - 1, -1, -1):
        rest = full & ~y
        best = None
        while rest:
            low = rest & -rest
            rest ^= low
            c = lb(group[low.bit_length() - 1], gone[y]) + togo[y | low]
            if best is None or c < best:
                best = c
        togo[y] = best
    return togo


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
        self._lb = _CutBound(self.model) if self.model else None
        self._states: dict[int, ElimGraph] = {0: g}
        order = list(upper_order) if upper_order is not None else list(g.intermediates)
        self.best_order = tuple(order)
        self.best_cost = self._order_cost(order)
        self._g: dict[int, int] = {0: 0}
        self._parent: dict[int, tuple[int, int]] = {}
        self._h: dict[int, tuple] = {}
        self._groups = (
            _GroupTables(self._lb, self.model)
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
