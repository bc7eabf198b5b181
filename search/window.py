"""Exact re-ordering of windows of an order: a large-neighbourhood local search.

For a scalar graph, replacing the segment ``order[lo:lo+w]`` by another ordering
of the same vertices changes only the segment's own step costs: the set
eliminated before every later step is unchanged, and so is the graph it sees
(``search.fastcost``). So the cheapest ordering of the segment, found exactly by
``search.subsetdp`` on the graph after ``order[:lo]``, is the best of all ``w!``
moves of that window at once. Annealing's single swaps and insertions cannot
reach an improvement that needs several vertices to move together when every
one of the single moves on the way is uphill (on a random 200-vertex DAG, 600,000
annealing moves leave reverse mode's 495 untouched; one sweep of windows of 16
finds 482).

:class:`WindowSearch` sweeps windows of ``width`` vertices with stride
``width // 2`` over its order, alternating the offset of the first window, until
two whole sweeps find nothing; a cheaper order offered from outside (annealing)
starts it again. Every step is a deterministic function of the orders offered
and the steps made.
"""

from __future__ import annotations

from collections.abc import Sequence

from search.bitgraph import BitGraph, simulate
from search.fastcost import ScalarModel
from search.subsetdp import SubsetDP, local_problem


class WindowSearch:
    """Anytime exact window re-ordering of an order (see the module docstring).

    Args:
      model: the scalar graph's :class:`ScalarModel`.
      order: the starting order (positions).
      width: vertices per window (the DP takes ``2^width`` subsets).

    Attributes:
      order, cost: the current order (positions) and its multiplications.
      windows: windows solved so far.
    """

    def __init__(self, model: ScalarModel, order: Sequence[int], *, width: int = 14):
        self.model = model
        self.width = max(2, min(width, len(order)))
        self.stride = max(1, self.width // 2)
        self.windows = 0
        self._restart(list(order))

    def _restart(self, order: list[int]) -> None:
        self.order = order
        self.costs = simulate(self.model, order)
        self.cost = sum(self.costs)
        self._sweep = 0
        self._since_gain = 0
        self._begin_sweep()

    def _begin_sweep(self) -> None:
        self._state = BitGraph(self.model)
        self._lo = 0
        self._next = (self._sweep % 2) * (self.stride // 2)
        self._sweep += 1

    @property
    def converged(self) -> bool:
        """Whether two whole sweeps in a row found nothing cheaper."""
        n = len(self.order)
        return n < 2 or self._since_gain >= 2 * (n // self.stride + 1) + 2

    def offer(self, order: Sequence[int], cost: int) -> None:
        """Continues from ``order`` if it is cheaper than the current order.

        The sweep goes on where it was (on the new order), so that frequent
        offers do not keep sending it back to the first window.
        """
        if cost >= self.cost:
            return
        self.order = list(order)
        self.costs = simulate(self.model, self.order)
        self.cost = sum(self.costs)
        self._since_gain = 0
        self._state = BitGraph(self.model)
        for v in self.order[: self._lo]:
            self._state.eliminate(v)

    def step(self) -> bool:
        """Re-orders one window optimally; returns whether the order got cheaper."""
        n = len(self.order)
        if self.converged:
            return False
        if self._next + 2 > n:
            self._begin_sweep()
        lo, hi = self._next, min(n, self._next + self.width)
        state = self._state
        for v in self.order[self._lo : lo]:
            state.eliminate(v)
        self._lo = lo
        self._next = lo + self.stride
        self.windows += 1
        self._since_gain += 1
        segment = self.order[lo:hi]
        prob = local_problem(
            state.pred, state.succ, state.vl_in, state.vl_out, segment, self.model.rank
        )
        if prob is None:  # more than 64 vertices around the window
            return False
        new, new_cost = SubsetDP(prob).run()
        if new_cost >= sum(self.costs[lo:hi]):
            return False
        probe = state.copy()
        steps = []
        for v in new:
            steps.append(probe.cost(v))
            probe.eliminate(v)
        self.order[lo:hi] = new
        self.costs[lo:hi] = steps
        self.cost = sum(self.costs)
        self._since_gain = 0
        return True
