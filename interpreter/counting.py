"""Counting the scalar multiplications a jaxpr performs (cost model == kernel check).

Every ``mul`` counts its output's size; every ``dot_general`` counts the product of
its batch, free and contracting sizes (output size times contracting size).
Nested jaxprs (``pjit``, ``closed_call``, …) are counted where they are called.
"""

from __future__ import annotations

import math
from typing import Any

import jax

from graphs.structure import RuntimeMap
from interpreter.eliminate import accumulate_blocks
from interpreter.plan import Plan


def _sub_jaxprs(value: Any):
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        yield value.jaxpr
    elif isinstance(value, tuple | list):
        for v in value:
            yield from _sub_jaxprs(v)


def count_multiplications(jaxpr: Any) -> int:
    """Scalar multiplications of ``jaxpr`` (a Jaxpr or ClosedJaxpr), nested ones included."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "mul":
            total += math.prod(eqn.outvars[0].aval.shape)
        elif name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            lhs_shape = eqn.invars[0].aval.shape
            contract = math.prod(lhs_shape[d] for d in lhs_contract)
            total += math.prod(eqn.outvars[0].aval.shape) * contract
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                total += count_multiplications(sub)
    return total


def accumulation_jaxpr(plan: Plan) -> Any:
    """The jaxpr of the kernel's accumulation stage (elimination + dense assembly)."""
    cores = []
    for key in plan.edge_keys:
        partial = plan.elim.edges[key]
        if isinstance(partial, RuntimeMap):
            cores.append(jax.ShapeDtypeStruct(partial.index_shape, "int32"))
            continue
        shape = partial.core_shape if partial.has_values else None
        cores.append(None if shape is None else jax.ShapeDtypeStruct(shape, plan.dtype))
    return jax.make_jaxpr(lambda c: accumulate_blocks(plan, c))(cores)


def kernel_multiplications(plan: Plan) -> int:
    """The scalar multiplications the kernel's accumulation stage performs."""
    return count_multiplications(accumulation_jaxpr(plan))
