"""Fast cost of elimination orders: bitset path sums for scalar graphs.

For a scalar elimination graph (every vertex rank 0) the graph after eliminating a
*set* ``X`` of intermediates does not depend on the order within ``X``: the edge
``(s, p)`` exists iff some path ``p → … → s`` has all its interior vertices in ``X``,
and its partial is the path sum. ``graphs.structure`` gives scalar partials one of
two kinds, dense (core ``()``) or value-less (core ``None``: copies, the split
outputs' sink edges), and the algebra on them is a semiring on ``{0, ONE, VALUED}``:

* product: value-less · value-less = value-less (0 multiplications); anything with
  a dense factor is dense, and costs 1 multiplication only when *both* are dense;
* sum: adding onto an existing edge always gives a dense partial.

So with ``ONE`` = "exactly one path, all of its edges value-less" and ``VALUED`` =
anything else, eliminating ``v`` after ``X`` costs ``|valued P_X(v)| · |valued
S_X(v)|`` where ``P_X(v)`` are the non-eliminated vertices that reach ``v`` through
``X``. :class:`ScalarModel` computes that with Python-int bitsets and a memo keyed by
``(v, X ∩ related(v))`` — ``v``'s cost only depends on which of its ancestors and
descendants are gone — so a local move re-evaluates only the vertices it touches.
The rules are checked against ``graphs.cost`` in ``tests/search/test_local.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphs import structure as st
from graphs.elimination import ElimGraph, eliminate
from search.bitgraph import CheckpointEvaluator, bits, simulate

__all__ = ["CheckpointEvaluator", "ScalarModel", "bits", "evaluator", "simulate"]

_ZERO, _ONE, _VALUED = 0, 1, 2
_MEMO_LIMIT = 500_000


def neighbours_through(u: int, x: int, nxt: list[int]) -> int:
    """Bitset of the vertices outside ``x`` one ``nxt``-step from ``u`` through ``x``.

    With ``nxt`` the predecessor bitsets this is ``u``'s predecessors once the set
    ``x`` is eliminated (edges are paths whose interior lies in ``x``).
    """
    frontier, region, ends = nxt[u], 0, 0
    while frontier:
        ends |= frontier & ~x
        new = frontier & x & ~region
        region |= new
        frontier = 0
        while new:
            low = new & -new
            frontier |= nxt[low.bit_length() - 1]
            new ^= low
    return ends


def _has_values(partial: st.Partial) -> bool:
    return isinstance(partial, st.Structure) and partial.core is not None


def eliminate_step(g: ElimGraph, v: int) -> tuple[ElimGraph, int]:
    """Eliminates ``v`` symbolically; returns the new graph and its multiplications."""
    out = eliminate(g, v)
    return out[0], out[1]


class ScalarModel:
    """Bitset view of a scalar :class:`ElimGraph` (positions are bit indices).

    Attributes:
      graph: the elimination graph.
      n: number of positions.
      intermediates: the graph's intermediates (positions), in program order.
      pred, succ: original predecessor / successor bitsets per position.
      related: per position, bitset of intermediates that are its ancestors or
        descendants (the only ones whose elimination changes its cost).
    """

    def __init__(self, g: ElimGraph):
        if not g.is_scalar:
            raise ValueError(
                "ScalarModel needs a scalar graph (one element per vertex); got shapes "
                f"{sorted(set(g.shapes))[:3]}; use TensorModel for tensor graphs"
            )
        self.graph = g
        self.n = n = len(g.ids)
        self.intermediates = tuple(g.intermediates)
        self.inter_mask = sum(1 << v for v in g.intermediates)
        pred = [0] * n
        succ = [0] * n
        vl_in = [0] * n
        vl_out = [0] * n
        for (s, p), partial in g.edges.items():
            pred[s] |= 1 << p
            succ[p] |= 1 << s
            if not _has_values(partial):
                vl_in[s] |= 1 << p
                vl_out[p] |= 1 << s
        self.pred, self.succ = pred, succ
        self.vl_in, self.vl_out = vl_in, vl_out
        self.vl_in_mask = sum(1 << v for v in range(n) if vl_in[v])
        self.vl_out_mask = sum(1 << v for v in range(n) if vl_out[v])
        self.rank = _topological_rank(n, pred, succ)
        topo = sorted(range(n), key=self.rank.__getitem__)
        anc = [0] * n
        for v in topo:  # predecessors come first
            for p in bits(pred[v]):
                anc[v] |= anc[p] | 1 << p
        desc = [0] * n
        for v in reversed(topo):
            for s in bits(succ[v]):
                desc[v] |= desc[s] | 1 << s
        self.ancestors, self.descendants = anc, desc
        self.related = [(anc[v] | desc[v]) & self.inter_mask for v in range(n)]
        self._memo: dict[tuple[int, int], int] = {}

    @staticmethod
    def _closure(start: int, nxt: list[int]) -> int:
        seen = frontier = start
        while frontier:
            new = 0
            rest = frontier
            while rest:
                low = rest & -rest
                new |= nxt[low.bit_length() - 1]
                rest ^= low
            frontier = new & ~seen
            seen |= frontier
        return seen

    # ----------------------------------------------------------------- costs

    def vertex_cost(self, v: int, eliminated: int) -> int:
        """Multiplications of eliminating ``v`` after the set (bitset) ``eliminated``."""
        key = (v, eliminated & self.related[v])
        memo = self._memo
        found = memo.get(key)
        if found is not None:
            return found
        x = key[1]
        vp = self._side(v, x, self.pred, self.succ, self.vl_in_mask, self.vl_out, True)
        cost = 0
        if vp:
            vs = self._side(
                v, x, self.succ, self.pred, self.vl_out_mask, self.vl_in, False
            )
            cost = vp * vs
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        memo[key] = cost
        return cost

    def _side(self, v, x, nxt, back, vl_mask, vl_back, backward: bool) -> int:
        """Number of neighbours of ``v`` on one side whose path sum is dense.

        ``nxt`` steps away from ``v``, ``back`` towards it; ``vl_mask`` marks the
        vertices with a value-less edge on the ``v`` side and ``vl_back[w]`` the
        neighbours towards ``v`` that ``w``'s edge to is value-less.
        """
        frontier = nxt[v]
        region = 0
        ends = 0
        while True:
            ends |= frontier & ~x
            new = frontier & x & ~region
            if not new:
                break
            region |= new
            frontier = 0
            rest = new
            while rest:
                low = rest & -rest
                frontier |= nxt[low.bit_length() - 1]
                rest ^= low
        inner = region | (1 << v)
        if not inner & vl_mask:
            return ends.bit_count()
        # Some edge on these paths has no values: run the path-sum semiring in
        # topological order, from v outwards.
        rank = self.rank
        value = {v: _ONE}
        for w in sorted(bits(region), key=rank.__getitem__, reverse=backward):
            value[w] = self._sum(back[w] & inner, vl_back[w], value)
        count = 0
        for p in bits(ends):
            count += self._sum(back[p] & inner, vl_back[p], value) == _VALUED
        return count

    @staticmethod
    def _sum(towards: int, vl: int, value: dict[int, int]) -> int:
        total = _ZERO
        for u in bits(towards):
            val = value.get(u, _ZERO)
            if val == _ZERO:
                continue
            prod = val if vl >> u & 1 else _VALUED
            total = prod if total == _ZERO else _VALUED
        return total

    def order_costs(self, order: Sequence[int]) -> list[int]:
        """Per-step multiplications of eliminating positions ``order`` in turn."""
        x = 0
        out = []
        for v in order:
            out.append(self.vertex_cost(v, x))
            x |= 1 << v
        return out

    def order_cost(self, order: Sequence[int]) -> int:
        """Total multiplications of an order (positions)."""
        return sum(self.order_costs(order))


def _topological_rank(n: int, pred: list[int], succ: list[int]) -> list[int]:
    indeg = [p.bit_count() for p in pred]
    ready = [v for v in range(n) if indeg[v] == 0]
    rank = [0] * n
    k = 0
    while ready:
        v = ready.pop()
        rank[v] = k
        k += 1
        for s in bits(succ[v]):
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    if k != n:
        raise ValueError("the elimination graph has a cycle; expected a DAG")
    return rank


# ------------------------------------------------------------------ evaluators


class OrderEvaluator:
    """A current order with per-step costs that local moves change in place.

    ``try_window(lo, segment)`` prices replacing ``order[lo:lo+len(segment)]`` by
    ``segment`` (a permutation of it); ``commit()`` applies the last one tried.
    The steps after the window are not re-evaluated: the set eliminated before
    them is unchanged, so their costs are too (exact for scalar graphs; for tensor
    graphs it relies on the structure after a set being order-free, which
    ``tests/search/test_local.py`` checks, and callers re-price final orders with
    ``graphs.cost``).
    """

    order: list[int]
    costs: list[int]
    total: int

    def reset(self, order: Sequence[int]) -> None:
        raise NotImplementedError

    def try_window(self, lo: int, segment: Sequence[int]) -> int:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError


class ScalarEvaluator(OrderEvaluator):
    """:class:`OrderEvaluator` over a :class:`ScalarModel` (prefix sets as bitsets)."""

    def __init__(self, model: ScalarModel):
        self.model = model
        self._pending: tuple[int, list[int], list[int]] | None = None

    def reset(self, order: Sequence[int]) -> None:
        self.order = list(order)
        self.prefix = [0] * (len(order) + 1)
        x = 0
        for k, v in enumerate(self.order):
            x |= 1 << v
            self.prefix[k + 1] = x
        self.costs = simulate(self.model, self.order)
        self.total = sum(self.costs)

    def try_window(self, lo: int, segment: Sequence[int]) -> int:
        cost = self.model.vertex_cost
        x = self.prefix[lo]
        new = []
        for v in segment:
            new.append(cost(v, x))
            x |= 1 << v
        self._pending = (lo, list(segment), new)
        return sum(new) - sum(self.costs[lo : lo + len(new)])

    def commit(self) -> None:
        lo, segment, new = self._pending
        old = sum(self.costs[lo : lo + len(new)])
        x = self.prefix[lo]
        for k, v in enumerate(segment):
            self.order[lo + k] = v
            self.costs[lo + k] = new[k]
            x |= 1 << v
            self.prefix[lo + k + 1] = x
        self.total += sum(new) - old


class TensorEvaluator(OrderEvaluator):
    """:class:`OrderEvaluator` for any graph: elimination graphs cached per prefix.

    A step's cost only depends on which of the vertex's ancestors and descendants
    are gone (its edges are path sums through them), so costs are memoised by
    ``(v, eliminated ∩ related(v))`` and a move whose steps all hit the memo
    eliminates nothing; prefix states it invalidates are rebuilt when needed.
    """

    def __init__(self, g: ElimGraph):
        self.graph = g
        self._pending = None
        n = len(g.ids)
        pred = [0] * n
        succ = [0] * n
        for s, p in g.edges:
            pred[s] |= 1 << p
            succ[p] |= 1 << s
        inter = sum(1 << v for v in g.intermediates)
        # Ancestors and descendants by one pass each in topological order (a
        # closure per vertex took 1.1 s on 1,500 intermediates).
        rank = _topological_rank(n, pred, succ)
        topo = sorted(range(n), key=rank.__getitem__)
        anc, desc = [0] * n, [0] * n
        for v in topo:
            for p in bits(pred[v]):
                anc[v] |= anc[p] | (1 << p)
        for v in reversed(topo):
            for s in bits(succ[v]):
                desc[v] |= desc[s] | (1 << s)
        self.related = [(anc[v] | desc[v]) & inter for v in range(n)]
        self._memo: dict[tuple[int, int], int] = {}

    def reset(self, order: Sequence[int]) -> None:
        self.order = list(order)
        self.states: list[ElimGraph | None] = [self.graph]
        self.prefix = [0]
        self.costs = []
        state, x = self.graph, 0
        for v in self.order:
            key = (v, x & self.related[v])
            state, m = eliminate_step(state, v)
            self._memo[key] = m
            x |= 1 << v
            self.states.append(state)
            self.prefix.append(x)
            self.costs.append(m)
        self.total = sum(self.costs)

    def _state(self, k: int) -> ElimGraph:
        """The elimination graph after ``order[:k]``, rebuilt from the last cached."""
        j = k
        while self.states[j] is None:
            j -= 1
        state = self.states[j]
        for m in range(j, k):
            state, _ = eliminate_step(state, self.order[m])
            self.states[m + 1] = state
        return state

    def try_window(self, lo: int, segment: Sequence[int]) -> int:
        memo, related = self._memo, self.related
        x = self.prefix[lo]
        new, states = [], []
        # The state after segment[:done], built only when a step misses the memo;
        # steps after the last miss keep no state (rebuilt when first needed).
        state, done = None, 0
        for k, v in enumerate(segment):
            key = (v, x & related[v])
            m = memo.get(key)
            if m is None:
                if state is None:
                    state = self._state(lo)
                for u in segment[done:k]:
                    state, _ = eliminate_step(state, u)
                    states[done] = state
                    done += 1
                state, m = eliminate_step(state, v)
                done = k + 1
                memo[key] = m
            new.append(m)
            states.append(state if done == k + 1 else None)
            x |= 1 << v
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        self._pending = (lo, list(segment), new, states)
        return sum(new) - sum(self.costs[lo : lo + len(new)])

    def commit(self) -> None:
        lo, segment, new, states = self._pending
        old = sum(self.costs[lo : lo + len(new)])
        x = self.prefix[lo]
        for k, v in enumerate(segment):
            self.order[lo + k] = v
            self.costs[lo + k] = new[k]
            self.states[lo + k + 1] = states[k]
            x |= 1 << v
            self.prefix[lo + k + 1] = x
        self.total += sum(new) - old


#: Scalar graphs with more intermediates use snapshots instead of path sums.
CHECKPOINT_FROM = 300


def evaluator(g: ElimGraph) -> OrderEvaluator:
    """The fastest exact :class:`OrderEvaluator` for ``g``."""
    if not g.is_scalar:
        return TensorEvaluator(g)
    if len(g.intermediates) > CHECKPOINT_FROM:
        return CheckpointEvaluator(ScalarModel(g))
    return ScalarEvaluator(ScalarModel(g))
