"""A lower bound for scalar graphs too large for exact search: DP over vertex groups.

``search.exact`` bounds the cost of eliminating ``v`` after a set ``X`` from below
by ``lb(v, X)`` (min vertex cuts between ``v`` and the inputs / outputs that avoid
``X``), valid for *every* later set ``X' ⊇ X``; its root bound is ``Σ_v lb(v, {})``.
That ignores that some vertices must go late: whichever of two related vertices is
eliminated second sees the first one gone, and its cuts can no longer use it.

**The group bound.** Split the intermediates into disjoint groups ``G``. In any
order, vertex ``v ∈ G`` is eliminated after some set ``X_v``, and
``Y_v = X_v ∩ G`` is exactly the set of ``G``'s vertices before ``v``; since
``X_v ⊇ Y_v``, ``cost(v, X_v) ≥ lb(v, Y_v)``. So the order's cost is at least
``Σ_G Σ_{v ∈ G} lb(v, Y_v)``, and each inner sum is the cost of one ordering of
``G`` under step costs ``lb(v, Y)`` — at least the cheapest such ordering,

    B(G) = min over orderings of G of Σ_v lb(v, {G's vertices before v}),

a DP over the ``2^|G|`` subsets of ``G``. Hence ``Σ_G B(G)`` is a lower bound on
every order's cost; with groups of one vertex it is the per-vertex root bound.
Several partitions (groups of consecutive vertices in topological order, at
different offsets) each give a bound, and their maximum is one too.

:class:`CutBound` is ``lb``; :class:`GroupTables` is the same argument from an A*
state ``X`` (cost-to-go tables per group); :class:`GroupBound` the root bound in
resumable steps.
"""

from __future__ import annotations

from search.fastcost import ScalarModel, neighbours_through


class CutBound:
    """``lb(v, X)`` for scalar graphs: the cut bound of ``search.exact``'s docstring.

    Valid for every later set: ``lb(v, X) <= cost(v, X')`` for all ``X' ⊇ X``.
    """

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


class GroupTables:
    """A third admissible bound ``h3`` for A*: group cost-to-go tables.

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

    def __init__(self, lb: CutBound, model: ScalarModel):
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


def _togo(lb: CutBound, group: list[int]) -> list[int]:
    """``togo[Y]`` over the subsets ``Y`` of ``group`` (see :class:`GroupTables`)."""
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


def _group_dp(lb: CutBound, group: list[int]) -> int:
    n = len(group)
    masks = [1 << v for v in group]
    dp = [0] * (1 << n)
    eliminated = [0] * (1 << n)  # the group's vertices in subset y, as positions
    for y in range(1, 1 << n):
        low = y & -y
        j = low.bit_length() - 1
        eliminated[y] = eliminated[y ^ low] | masks[j]
        best = None
        rest = y
        while rest:
            low = rest & -rest
            j = low.bit_length() - 1
            rest ^= low
            prev = y ^ low
            c = dp[prev] + lb(group[j], eliminated[prev])
            if best is None or c < best:
                best = c
        dp[y] = best
    return dp[-1]


class GroupBound:
    """The group bound (module docstring), one group's DP per :meth:`step`.

    Args:
      model: the graph's :class:`ScalarModel`.
      size: vertices per group (the DP takes ``2^size · size`` cut bounds each).
      offsets: partitions tried, consecutive topological groups shifted by
        ``size // offsets`` each; the best partition's sum is the bound.
    """

    def __init__(self, model: ScalarModel, *, size: int = 8, offsets: int = 2):
        self._lb = CutBound(model)
        topo = sorted(model.intermediates, key=model.rank.__getitem__)
        n = len(topo)
        self._jobs: list[tuple[int, list[int]]] = []
        for k in range(max(1, offsets)):
            shift = (k * size) // max(1, offsets)
            cuts = sorted({0, n, *range(shift or size, n, size)})
            for a, b in zip(cuts, cuts[1:], strict=False):
                self._jobs.append((k, topo[a:b]))
        self._sums = [0] * max(1, offsets)
        self._next = 0

    @property
    def done(self) -> bool:
        return self._next >= len(self._jobs)

    @property
    def value(self) -> int:
        """The bound proven so far (final once :attr:`done`)."""
        return max(self._sums) if self.done else 0

    def step(self) -> bool:
        """Solves one group; returns :attr:`done`."""
        if not self.done:
            k, group = self._jobs[self._next]
            self._sums[k] += _group_dp(self._lb, group)
            self._next += 1
        return self.done


def group_bound(model: ScalarModel, *, size: int = 8, offsets: int = 2) -> int:
    """The group lower bound (module docstring) of a scalar graph.

    Args:
      model: the graph's :class:`ScalarModel`.
      size: vertices per group (the DP takes ``2^size · size`` cut bounds each).
      offsets: partitions tried (see :class:`GroupBound`).

    Returns:
      A proven lower bound on the multiplications of every elimination order.

    Example:
      >>> group_bound(ScalarModel(graphs.build(graph)), size=8)
    """
    bound = GroupBound(model, size=size, offsets=offsets)
    while not bound.step():
        pass
    return bound.value
