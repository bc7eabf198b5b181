"""Value rules of index maps: evaluating gather/scatter and their run-time indices.

The structure rows are ``graphs.index_rules``; this module evaluates the ops from
their graph params (``gather``, ``scatter`` and ``scatter-add`` store their
dimension numbers as plain name/value pairs, so ``bind`` cannot take them as they
are) and computes the int32 index of every
:class:`~graphs.structure.RuntimeMap` partial in the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax

from graphs import index_rules


def _evaluator(op: str):
    def evaluate(params: dict, operands: Sequence[jax.Array]) -> jax.Array:
        return index_rules.apply(op, params, operands)

    return evaluate


#: op -> ``evaluate(decoded params, operand values) -> value``, for ops whose
#: graph params are not ``bind``'s.
EVALUATORS = {op: _evaluator(op) for op in ("gather", "scatter", "scatter-add")}


def runtime_index(op: str, params: dict, operands: Sequence[Any], i: int) -> jax.Array:
    """The int32 index of operand ``i``'s RuntimeMap (``graphs.index_rules``)."""
    return index_rules.selection_index(op, params, operands, i)
