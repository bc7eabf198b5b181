"""Exact optimum of a scalar elimination subproblem by vectorised DP over subsets.

For a scalar graph the graph after eliminating a set ``Y`` does not depend on the
order within ``Y`` (``search.fastcost``), so the cheapest order of a set ``E`` is

    dp[{}] = 0,   dp[Y] = min over v in Y of dp[Y - v] + cost(v, Y - v),

and the optimum is ``dp[E]``. This module evaluates that recurrence for *all*
``2^|E|`` subsets with numpy, instead of one Python step per state:

* **costs** — ``cost(v, Y) = |valued P_Y(v)| · |valued S_Y(v)|`` where ``P_Y(v)``
  are the vertices outside ``Y`` that reach ``v`` through ``Y``. In topological
  order, ``v``'s predecessor set through ``Y`` is the union over its predecessors
  ``p`` of ``{p}`` (``p ∉ Y``) or ``P_Y(p)`` (``p ∈ Y``) — one ``np.where`` per
  edge over a block of subsets, with the sets as uint64 bitmasks over the local
  vertices. Path sums follow the semiring of ``search.fastcost``: a product with
  a valued edge is valued, a product of value-less partials stays value-less, and
  a vertex reached by two contributions is valued (a sum);
* **DP** — layer by layer in the number of eliminated vertices (``Y - v`` has one
  fewer), one gather and minimum per vertex and layer.

``E`` need not be all intermediates: :func:`local_problem` cuts the subproblem
"re-order the segment ``order[lo:hi]``" out of the graph after ``order[:lo]``.
Vertices outside ``E`` are never eliminated in it, and the steps after the
segment keep their costs because the set eliminated before them is unchanged, so
the segment's optimum is an exact improvement move for local search.

Cost: ``2^|E| · |E|`` costs in ``uint16`` and a ``uint32`` table, about 60 MB and
one to two seconds for ``|E| = 20``; :class:`SubsetDP` does it in resumable steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from search.fastcost import ScalarModel, bits

#: Largest set that :class:`SubsetDP` accepts (memory: ``2^k · k`` costs).
MAX_SET = 22
_BLOCK_BITS = 15  # subsets per cost block: 2^15


@dataclasses.dataclass(frozen=True)
class LocalProblem:
    """A scalar graph restricted to a set ``E`` to eliminate and its neighbours.

    Attributes:
      elim: the vertices to order (caller's ids), ``elim[j]`` is local vertex ``j``.
      topo: ``range(len(elim))`` in a topological order of the local graph.
      pred, succ: per local vertex ``j < len(elim)``, tuples of
        ``(local neighbour, value_less)``; neighbours ``>= len(elim)`` are fixed
        vertices that are never eliminated.
      size: number of local vertices (``<= 64``).
    """

    elim: tuple[int, ...]
    topo: tuple[int, ...]
    pred: tuple[tuple[tuple[int, bool], ...], ...]
    succ: tuple[tuple[tuple[int, bool], ...], ...]
    size: int


def local_problem(
    pred: Sequence[int],
    succ: Sequence[int],
    vl_in: Sequence[int],
    vl_out: Sequence[int],
    elim: Sequence[int],
    rank: Sequence[int],
) -> LocalProblem | None:
    """The subproblem "order ``elim``" of a bitset graph, or ``None`` if too wide.

    Args:
      pred, succ, vl_in, vl_out: the current graph as bitsets
        (``search.bitgraph.BitGraph`` or ``ScalarModel``).
      elim: the vertices to eliminate.
      rank: a topological rank of the original graph (the current graph's edges
        are paths of it, so it is a topological rank of that graph too).

    Returns:
      A :class:`LocalProblem`, or ``None`` when ``elim`` and its neighbours are
      more than 64 vertices.
    """
    elim = tuple(elim)
    index = {v: j for j, v in enumerate(elim)}
    mask = sum(1 << v for v in elim)
    around = 0
    for v in elim:
        around |= pred[v] | succ[v]
    around &= ~mask
    for v in bits(around):
        index[v] = len(index)
    if len(index) > 64:
        return None
    p_out = []
    s_out = []
    for v in elim:
        p_out.append(tuple((index[p], bool(vl_in[v] >> p & 1)) for p in bits(pred[v])))
        s_out.append(tuple((index[s], bool(vl_out[v] >> s & 1)) for s in bits(succ[v])))
    topo = tuple(sorted(range(len(elim)), key=lambda j: rank[elim[j]]))
    return LocalProblem(elim, topo, tuple(p_out), tuple(s_out), len(index))


def _popcount(a: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a)


def _side_counts(prob: LocalProblem, ys: np.ndarray, forward: bool) -> list[np.ndarray]:
    """Per local vertex ``j``: valued neighbours on one side through each ``Y``."""
    k = len(prob.elim)
    nbrs = prob.pred if forward else prob.succ
    order = prob.topo if forward else prob.topo[::-1]
    reached: list[np.ndarray | None] = [None] * k
    valued: list[np.ndarray | None] = [None] * k
    inside = [((ys >> np.uint64(j)) & np.uint64(1)).astype(bool) for j in range(k)]
    one = np.uint64(1)
    counts: list[np.ndarray] = [None] * k  # type: ignore[list-item]
    for j in order:
        r = np.zeros(ys.shape, np.uint64)
        val = np.zeros(ys.shape, np.uint64)
        for u, vl in nbrs[j]:
            bit = np.uint64(1) << np.uint64(u)
            if u < k:  # may have been eliminated: then its own set continues
                rr = np.where(inside[u], reached[u], bit)
                vv = np.where(inside[u], valued[u], np.uint64(0) if vl else bit)
                if not vl:
                    vv = np.where(inside[u], reached[u], bit)
            else:
                rr = bit
                vv = np.uint64(0) if vl else bit
            val |= vv | (r & rr)
            r |= rr
        reached[j], valued[j] = r, val
        counts[j] = _popcount(val).astype(np.uint16)
    del one
    return counts


class SubsetDP:
    """Resumable exact DP over all subsets of a :class:`LocalProblem`'s set.

    :meth:`step` does one unit of work (a block of subsets' costs, or one DP
    layer); :attr:`done` says when :attr:`order` and :attr:`cost` are final.

    Args:
      prob: the subproblem (at most :data:`MAX_SET` vertices to eliminate).
    """

    def __init__(self, prob: LocalProblem):
        k = len(prob.elim)
        if k > MAX_SET:
            raise ValueError(
                f"SubsetDP takes at most {MAX_SET} vertices to eliminate; got {k}; "
                "use search.exact.ExactSearch for larger sets"
            )
        self.prob = prob
        self.k = k
        self.full = (1 << k) - 1
        self.costs = np.zeros((k, 1 << k), np.uint16)
        self._block = 0
        self._blocks = max(1, (1 << k) >> _BLOCK_BITS)
        self._layer = 0
        self.done = k == 0
        self.cost = 0
        self.order: tuple[int, ...] = ()
        self.units = 0

    @property
    def total_units(self) -> int:
        """Steps from start to finish."""
        return self._blocks + self.k

    def step(self) -> bool:
        """One unit of work; returns :attr:`done`."""
        if self.done:
            return True
        self.units += 1
        if self._block < self._blocks:
            size = min(1 << self.k, 1 << _BLOCK_BITS)
            start = self._block * size
            ys = np.arange(start, start + size, dtype=np.uint64)
            ins = _side_counts(self.prob, ys, True)
            outs = _side_counts(self.prob, ys, False)
            for j in range(self.k):
                self.costs[j, start : start + size] = ins[j] * outs[j]
            self._block += 1
            if self._block == self._blocks:
                self._start_dp()
            return False
        self._dp_layer()
        return self.done

    def _start_dp(self) -> None:
        n = 1 << self.k
        ys = np.arange(n, dtype=np.uint64)
        pop = _popcount(ys)
        self._layers_index = np.argsort(pop, kind="stable").astype(np.int64)
        self._layer_start = np.searchsorted(
            pop[self._layers_index], np.arange(self.k + 2)
        )
        self.dp = np.zeros(n, np.uint32)
        self.arg = np.zeros(n, np.uint8)
        self._layer = 1

    def _dp_layer(self) -> None:
        layer = self._layer
        idx = self._layers_index[
            self._layer_start[layer] : self._layer_start[layer + 1]
        ]
        best = np.full(idx.shape, np.iinfo(np.uint32).max, np.uint32)
        arg = np.zeros(idx.shape, np.uint8)
        for j in range(self.k):
            has = (idx >> j) & 1 == 1
            prev = idx[has] ^ (1 << j)
            cand = self.dp[prev] + self.costs[j, prev]
            sub = best[has]
            better = cand < sub
            sub = np.where(better, cand, sub)
            best[has] = sub
            a = arg[has]
            arg[has] = np.where(better, j, a)
        self.dp[idx] = best
        self.arg[idx] = arg
        self._layer += 1
        if self._layer > self.k:
            self._finish()

    def _finish(self) -> None:
        y = self.full
        order = []
        while y:
            j = int(self.arg[y])
            order.append(self.prob.elim[j])
            y ^= 1 << j
        self.order = tuple(reversed(order))
        self.cost = int(self.dp[self.full])
        self.done = True
        self.costs = self.dp = self.arg = None  # type: ignore[assignment]

    def run(self) -> tuple[tuple[int, ...], int]:
        """Runs to the end; returns ``(order, cost)``."""
        while not self.step():
            pass
        return self.order, self.cost


def whole_graph_problem(model: ScalarModel) -> LocalProblem | None:
    """The problem "order all intermediates" of a scalar graph (``None``: too wide)."""
    return local_problem(
        model.pred,
        model.succ,
        model.vl_in,
        model.vl_out,
        model.intermediates,
        model.rank,
    )
