"""The baselines of ``graphs.baselines``, fast: thin names over ``search.core``.

:func:`scalar_baselines` runs the greedy rules of ``graphs.baselines.GREEDY_RULES``
in C (``search.core.ScalarCore``), :func:`tensor_baselines` on
``search.core.StructuredCore``; both with a lazy priority queue that re-scores
only the vertices an elimination touched. Same orders and costs as
``graphs.baselines`` (``tests/search/test_local.py`` checks it).
"""

from __future__ import annotations

from graphs.elimination import ElimGraph
from search.core import ScalarCore, StructuredCore, price_baselines


def scalar_baselines(model) -> dict[str, tuple[list[int], int]]:
    """``graphs.baselines`` on a scalar graph (a ``ScalarModel`` or its core).

    Returns:
      ``{name: (order positions, multiplications)}`` for forward, reverse,
      markowitz, markowitz_latest, relative_markowitz and min_fill.
    """
    core = model if isinstance(model, ScalarCore) else ScalarCore(model.graph)
    return price_baselines(core)[0]


def tensor_baselines(g: ElimGraph) -> dict[str, tuple[list[int], int]]:
    """``graphs.baselines`` on any graph, re-scoring only touched vertices.

    Returns:
      ``{name: (order positions, multiplications)}``, the same orders and costs
      as ``graphs.baselines``.
    """
    return price_baselines(StructuredCore(g))[0]
