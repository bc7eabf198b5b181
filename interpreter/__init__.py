"""interpreter: elimination order -> exact JAX Jacobian kernel, and its export."""

from interpreter.eliminate import (
    Block,
    accumulate,
    accumulate_blocks,
    accumulate_structured,
    dense_block,
    local_partials,
    partial_cores,
)
from interpreter.kernel import jac, jacobian
from interpreter.plan import Plan, make_plan
from interpreter.rules import evaluate

__all__ = [
    "Block",
    "Plan",
    "accumulate",
    "accumulate_blocks",
    "accumulate_structured",
    "dense_block",
    "evaluate",
    "jac",
    "jacobian",
    "local_partials",
    "make_plan",
    "partial_cores",
]
