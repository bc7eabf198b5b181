"""search: exact, local and tree search for cheap elimination orders; the portfolio."""

from search.exact import ExactResult, ExactSearch, exact_optimum
from search.fastcost import ScalarModel, evaluator
from search.local import LocalResult, LocalSearch, anneal, greedy_randomized
from search.optimize import OptimizeResult, optimize

__all__ = [
    "ExactResult",
    "ExactSearch",
    "LocalResult",
    "LocalSearch",
    "OptimizeResult",
    "ScalarModel",
    "anneal",
    "evaluator",
    "exact_optimum",
    "greedy_randomized",
    "optimize",
]
