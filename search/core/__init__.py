"""search.core: the cost of elimination made fast, behind one protocol.

The definition is ``graphs.elimination`` (+ ``graphs.algebra``); here it is made
fast: :class:`ScalarCore` (scalar graphs, in C, ``_scalar.c``) and
:class:`StructuredCore` (any graph) implement :class:`CostCore`; the greedy
baselines (:func:`greedy_order`, :func:`price_baselines`), annealing
(:class:`ScalarAnnealer`), windows, bounds, the corpus and the game's reward scale
use them.
"""

from search.core.base import CostCore
from search.core.greedy import (
    BASELINE_NAMES,
    baseline_order,
    best_baseline_cost,
    core_for,
    greedy_order,
    price_baselines,
)
from search.core.scalar import ScalarAnnealer, ScalarCore
from search.core.structured import StructuredCore

__all__ = [
    "BASELINE_NAMES",
    "CostCore",
    "ScalarAnnealer",
    "ScalarCore",
    "StructuredCore",
    "baseline_order",
    "best_baseline_cost",
    "core_for",
    "greedy_order",
    "price_baselines",
]
