"""The structured cost core: any graph, on ``graphs.elimination``'s own states.

Tensor partials need the structure algebra (``graphs.algebra``) for every product,
so this core calls the reference :func:`graphs.elimination.eliminate` and keeps
the immutable ``ElimGraph`` states on a stack (undo pops them). What makes it
fast is what its callers do not do: the greedy rules re-score only the vertices
an elimination touched (:func:`search.core.greedy_order`) and local search
memoises step costs (``search.fastcost.TensorEvaluator``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from graphs.elimination import ElimGraph, eliminate, elimination_cost


class StructuredCore:
    """:class:`search.core.CostCore` for any graph (see the module docstring).

    Example:
      >>> core = StructuredCore(graphs.build(graph))
      >>> core.order_costs(core.intermediates)
    """

    def __init__(self, g: ElimGraph):
        self.graph = g
        self.intermediates = tuple(g.intermediates)
        self._states: list[ElimGraph] = [g]
        self.pricing_s = 0.0  # the longest whole-order pricing so far, seconds

    @property
    def state(self) -> ElimGraph:
        """The current elimination graph."""
        return self._states[-1]

    def reset(self) -> None:
        del self._states[1:]

    def eliminate(self, v: int) -> int:
        new, mults, _, _ = eliminate(self.state, v)
        self._states.append(new)
        return mults

    def mark(self) -> int:
        return len(self._states)

    def undo(self, mark: int) -> None:
        del self._states[mark:]

    def cost(self, v: int) -> int:
        return elimination_cost(self.state, v)[0]

    def fill(self, v: int) -> int:
        return elimination_cost(self.state, v)[1]

    def degree(self, v: int) -> int:
        state = self.state
        return len(state.pred.get(v, ())) + len(state.succ.get(v, ()))

    def neighbours(self, v: int) -> tuple[list[int], list[int]]:
        return self.state.preds(v), self.state.succs(v)

    def order_costs(self, order: Sequence[int]) -> list[int]:
        self.reset()
        start = time.perf_counter()
        state, out = self.graph, []
        for v in order:  # no states kept: a whole order is not undone
            state, mults, _, _ = eliminate(state, v)
            out.append(mults)
        self.pricing_s = max(self.pricing_s, time.perf_counter() - start)
        return out
