"""A scalar elimination graph as Python-int bitsets, eliminated in place.

The bitset form that the exact methods work on (``search.subsetdp``'s local
problems, ``search.window``, ``search.exact``): each vertex's current
predecessors and successors, and which of those edges are value-less. Good for
graphs of a few hundred vertices, where a bitset is a few machine words; big
graphs use the C core (``search.core.ScalarCore``), which implements the same
rule (``graphs.elimination`` on scalars) on adjacency arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.fastcost import ScalarModel


def bits(mask: int) -> list[int]:
    """Positions of the set bits of ``mask``, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class BitGraph:
    """A scalar elimination graph as bitsets, eliminated in place.

    Attributes:
      pred, succ: current neighbours of each position.
      vl_in, vl_out: neighbours joined by a value-less edge (into / out of it).
    """

    def __init__(self, model: ScalarModel):
        # ``model`` is a ``search.fastcost.ScalarModel``; only its bitsets are read.
        self.pred = list(model.pred)
        self.succ = list(model.succ)
        self.vl_in = list(model.vl_in)
        self.vl_out = list(model.vl_out)

    def copy(self) -> BitGraph:
        """An independent copy (the lists are copied, the ints are immutable)."""
        new = BitGraph.__new__(BitGraph)
        new.pred, new.succ = list(self.pred), list(self.succ)
        new.vl_in, new.vl_out = list(self.vl_in), list(self.vl_out)
        return new

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

    def reset(self, order: Sequence[int]) -> None:
        self.order = list(order)
        g = BitGraph(self.model)
        self.snapshots = {}
        self.costs = []
        for k, v in enumerate(self.order):
            if k % self.every == 0:
                self.snapshots[k] = g.copy()
            self.costs.append(g.cost(v))
            g.eliminate(v)
        self.total = sum(self.costs)

    def try_window(self, lo: int, segment: Sequence[int]) -> int:
        base = lo - lo % self.every
        g = self.snapshots[base].copy()
        for v in self.order[base:lo]:
            g.eliminate(v)
        new, snaps = [], {}
        for k, v in enumerate(segment):
            if (lo + k) % self.every == 0 and k:
                snaps[lo + k] = g.copy()
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
