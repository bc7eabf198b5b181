"""The cost-core protocol: what every search method needs from an elimination graph.

The cost of eliminating a vertex is *defined* once, in ``graphs.elimination`` (with
``graphs.algebra`` for structured partials). A cost core makes that definition fast
for one kind of graph and keeps the current elimination state, so that a search
can eliminate, price and take back vertices:

* :class:`search.core.ScalarCore` — scalar graphs, in C (``_scalar.c``);
* :class:`search.core.StructuredCore` — any graph, on ``graphs.elimination``'s
  own ``ElimGraph`` states.

Positions are the elimination graph's vertex positions (``ElimGraph.ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class CostCore(Protocol):
    """An elimination state that a search drives (see the module docstring).

    Attributes:
      intermediates: the positions an order eliminates, in program order.
    """

    intermediates: tuple[int, ...]

    def reset(self) -> None:
        """Back to the graph with nothing eliminated."""

    def eliminate(self, v: int) -> int:
        """Eliminates ``v`` now; returns its multiplications."""

    def mark(self) -> int:
        """A point that :meth:`undo` returns to."""

    def undo(self, mark: int) -> None:
        """Takes back every elimination since ``mark``."""

    def cost(self, v: int) -> int:
        """Multiplications of eliminating ``v`` now (score a candidate)."""

    def fill(self, v: int) -> int:
        """Edges that eliminating ``v`` now would create."""

    def degree(self, v: int) -> int:
        """Edges into and out of ``v`` now (what eliminating it removes)."""

    def neighbours(self, v: int) -> tuple[Sequence[int], Sequence[int]]:
        """``v``'s current predecessors and successors."""

    def order_costs(self, order: Sequence[int]) -> list[int]:
        """Per-step multiplications of ``order`` from the start (resets first)."""
