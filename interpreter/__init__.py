"""interpreter: elimination order -> exact JAX Jacobian kernel, and its export."""

from interpreter.eliminate import accumulate, dense_block, local_partials
from interpreter.rules import evaluate

__all__ = ["accumulate", "dense_block", "evaluate", "local_partials"]
