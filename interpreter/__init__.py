"""interpreter: elimination order -> exact JAX Jacobian kernel, and its export."""

from interpreter.autotune import TuneResult, fastest, jax_jacobian
from interpreter.counting import count_multiplications, kernel_multiplications
from interpreter.eliminate import (
    Block,
    accumulate,
    accumulate_blocks,
    accumulate_structured,
    dense_block,
    local_partials,
    partial_cores,
)
from interpreter.export import InputSpec, KernelArtifact, OutputBlock, export
from interpreter.kernel import jac, jacobian
from interpreter.plan import Plan, make_plan
from interpreter.rules import evaluate

__all__ = [
    "Block",
    "InputSpec",
    "KernelArtifact",
    "OutputBlock",
    "Plan",
    "TuneResult",
    "accumulate",
    "accumulate_blocks",
    "accumulate_structured",
    "count_multiplications",
    "dense_block",
    "evaluate",
    "export",
    "fastest",
    "jac",
    "jacobian",
    "jax_jacobian",
    "kernel_multiplications",
    "local_partials",
    "make_plan",
    "partial_cores",
]
