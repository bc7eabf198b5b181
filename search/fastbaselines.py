"""Baseline orders of scalar graphs on bitsets (``graphs.baselines``, fast).

The same greedy rules, scores and tie-breaks as ``graphs.baselines`` — forward,
reverse, markowitz, markowitz_latest, relative_markowitz and min_fill — on a
:class:`BitGraph`, the current elimination graph as predecessor / successor bitsets
plus bitsets of the value-less edges. Eliminating ``v`` costs ``|valued P|·|valued
S|`` and updates only ``v``'s neighbours, so only their scores are recomputed.
``tests/search/test_local.py`` checks that orders and costs are identical.

:func:`tensor_baselines` does the same for any graph on ``ElimGraph`` states: the
greedy rules re-score only the vertices an elimination touched (a vertex's
multiplications depend on its own edges only, its fill on which of the edges
between its neighbours exist), instead of every remaining vertex every step.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphs.elimination import ElimGraph, cost_of, elimination_cost
from search.fastcost import ScalarModel, bits, eliminate_step


class BitGraph:
    """A scalar elimination graph as bitsets, eliminated in place.

    Attributes:
      pred, succ: current neighbours of each position.
      vl_in, vl_out: neighbours joined by a value-less edge (into / out of it).
    """

    def __init__(self, model: ScalarModel):
        self.pred = list(model.pred)
        self.succ = list(model.succ)
        self.vl_in = list(model.vl_in)
        self.vl_out = list(model.vl_out)

    def cost(self, v: int) -> int:
        """Multiplications of eliminating ``v`` now."""
        vp = (self.pred[v] & ~self.vl_in[v]).bit_count()
        return vp * (self.succ[v] & ~self.vl_out[v]).bit_count() if vp else 0

    def fill(self, v: int) -> int:
        """Edges that eliminating ``v`` now would create."""
        ps, pred = self.pred[v], self.pred
        return sum((ps & ~pred[s]).bit_count() for s in bits(self.succ[v]))

    def eliminate(self, v: int) -> None:
        """Eliminates ``v``: products of two value-less partials stay value-less,
        anything added onto an existing edge has values."""
        pred, succ, vl_in, vl_out = self.pred, self.succ, self.vl_in, self.vl_out
        ps, ss, vps, vss = pred[v], succ[v], vl_in[v], vl_out[v]
        keep = ~(1 << v)
        for p in bits(ps):
            existing = succ[p] & ss
            succ[p] = (succ[p] & keep) | ss
            new_vl = (vss if vps >> p & 1 else 0) & ~existing
            vl_out[p] = (vl_out[p] & keep & ~existing) | new_vl
        for s in bits(ss):
            existing = pred[s] & ps
            pred[s] = (pred[s] & keep) | ps
            new_vl = (vps if vss >> s & 1 else 0) & ~existing
            vl_in[s] = (vl_in[s] & keep & ~existing) | new_vl
        pred[v] = succ[v] = vl_in[v] = vl_out[v] = 0


def simulate(model: ScalarModel, order: Sequence[int]) -> list[int]:
    """Per-step multiplications of ``order`` (linear in the edges touched)."""
    g = BitGraph(model)
    costs = []
    for v in order:
        costs.append(g.cost(v))
        g.eliminate(v)
    return costs


def _greedy(model: ScalarModel, name: str) -> list[int]:
    g = BitGraph(model)

    def score(v: int) -> tuple:
        if name == "markowitz":
            return (g.cost(v), v)
        if name == "markowitz_latest":
            return (g.cost(v), -v)
        if name == "relative_markowitz":
            c = g.cost(v)
            return (c - g.pred[v].bit_count() - g.succ[v].bit_count(), c, v)
        return (g.fill(v), g.cost(v), v)

    remaining = set(model.intermediates)
    cached = {v: score(v) for v in remaining}
    order = []
    while remaining:
        v = min(remaining, key=cached.__getitem__)
        touched = g.pred[v] | g.succ[v]
        if name == "min_fill":  # their predecessor sets change too
            for s in bits(g.succ[v]):
                touched |= g.pred[s]
        g.eliminate(v)
        order.append(v)
        remaining.discard(v)
        for u in bits(touched & model.inter_mask):
            if u in remaining:
                cached[u] = score(u)
    return order


def scalar_baselines(model: ScalarModel) -> dict[str, tuple[list[int], int]]:
    """``graphs.baselines`` on a scalar graph, on bitsets (same orders and costs).

    Returns:
      ``{name: (order positions, multiplications)}`` for forward, reverse,
      markowitz, markowitz_latest, relative_markowitz and min_fill.
    """
    inter = list(model.intermediates)
    orders = {"forward": inter, "reverse": inter[::-1]}
    for name in ("markowitz", "markowitz_latest", "relative_markowitz", "min_fill"):
        orders[name] = _greedy(model, name)
    return {
        name: (order, sum(simulate(model, order))) for name, order in orders.items()
    }


def _tensor_greedy(g: ElimGraph, name: str) -> list[int]:
    state = g

    def score(v: int) -> tuple:
        mults, fill = elimination_cost(state, v)
        if name == "markowitz":
            return (mults, v)
        if name == "markowitz_latest":
            return (mults, -v)
        if name == "relative_markowitz":
            removed = len(state.pred.get(v, ())) + len(state.succ.get(v, ()))
            return (mults - removed, mults, v)
        return (fill, mults, v)

    remaining = set(g.intermediates)
    cached = {v: score(v) for v in remaining}
    order = []
    while remaining:
        v = min(remaining, key=cached.__getitem__)
        # Only v's neighbours get new edges; for min_fill, the fill of every
        # other predecessor of v's successors can change too.
        touched = set(state.preds(v)) | set(state.succs(v))
        if name == "min_fill":
            for s in state.succs(v):
                touched |= set(state.preds(s))
        state, _ = eliminate_step(state, v)
        order.append(v)
        remaining.discard(v)
        for u in touched & remaining:
            cached[u] = score(u)
    return order


def tensor_baselines(g: ElimGraph) -> dict[str, tuple[list[int], int]]:
    """``graphs.baselines`` on any graph, re-scoring only touched vertices.

    Returns:
      ``{name: (order positions, multiplications)}``, the same orders and costs
      as ``graphs.baselines``.
    """
    inter = list(g.intermediates)
    orders = {"forward": inter, "reverse": inter[::-1]}
    for name in ("markowitz", "markowitz_latest", "relative_markowitz", "min_fill"):
        orders[name] = _tensor_greedy(g, name)
    return {
        name: (order, cost_of(g, order).multiplications)
        for name, order in orders.items()
    }


class CheckpointEvaluator:
    """An order evaluator for big scalar graphs: :class:`BitGraph` snapshots.

    The elimination graph is stored every ``every`` steps; a move re-simulates
    from the snapshot before its window to the window's end (steps after it keep
    their costs: the set eliminated before them is unchanged). Its cost grows
    with ``every`` and the window, not with the graph, unlike the path-sum
    evaluator of ``search.fastcost``, whose walks grow with what was eliminated.
    Same interface as ``search.fastcost.OrderEvaluator``.
    """

    def __init__(self, model: ScalarModel, *, every: int = 32):
        self.model = model
        self.every = every
        self._pending = None

    @staticmethod
    def _copy(g: BitGraph) -> BitGraph:
        new = BitGraph.__new__(BitGraph)
        new.pred, new.succ = list(g.pred), list(g.succ)
        new.vl_in, new.vl_out = list(g.vl_in), list(g.vl_out)
        return new

    def reset(self, order: Sequence[int]) -> None:
        self.order = list(order)
        g = BitGraph(self.model)
        self.snapshots = {}
        self.costs = []
        for k, v in enumerate(self.order):
            if k % self.every == 0:
                self.snapshots[k] = self._copy(g)
            self.costs.append(g.cost(v))
            g.eliminate(v)
        self.total = sum(self.costs)

    def try_window(self, lo: int, segment: Sequence[int]) -> int:
        base = lo - lo % self.every
        g = self._copy(self.snapshots[base])
        for v in self.order[base:lo]:
            g.eliminate(v)
        new, snaps = [], {}
        for k, v in enumerate(segment):
            if (lo + k) % self.every == 0 and k:
                snaps[lo + k] = self._copy(g)
            new.append(g.cost(v))
            g.eliminate(v)
        self._pending = (lo, list(segment), new, snaps)
        return sum(new) - sum(self.costs[lo : lo + len(new)])

    def commit(self) -> None:
        lo, segment, new, snaps = self._pending
        old = sum(self.costs[lo : lo + len(new)])
        self.order[lo : lo + len(segment)] = segment
        self.costs[lo : lo + len(new)] = new
        self.snapshots.update(snaps)
        self.total += sum(new) - old
