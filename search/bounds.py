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
every order's cost, and it is never below the root bound (``lb(v, Y) ≥ lb(v, {})``
is not needed: with groups of one vertex it *is* the root bound, and any partition
is valid, so the larger of the two is reported). Several partitions (groups of
consecutive vertices in topological order, at different offsets) each give a
bound; their maximum is one too.
"""

from __future__ import annotations

from search.exact import _CutBound
from search.fastcost import ScalarModel


def _group_dp(lb: _CutBound, group: list[int]) -> int:
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
        self._lb = _CutBound(model)
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
