"""Value rules: primal evaluation of a program graph and the cores of its partials.

For each primitive ``kind`` (see ``graphs.primitives``) a rule computes the value
core of every operand's partial, in the label order that the structure rule
declares. Elementwise ops take their derivative from JAX's own JVP with a tangent
of ones (exact, O(n), no hand-written derivative to get wrong); reductions that
choose (max, min) from the VJP of ones; ``dot_general`` takes the other operand.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from graphs import algebra
from graphs import linearize as _linearize
from graphs import params as _params
from graphs import structure as st
from graphs.ir import INPUT, PARAMETER, Graph, Literal, Vertex
from graphs.primitives import GENERIC, operand_types, rule_for
from interpreter.index_rules import EVALUATORS, runtime_index

#: ``core_fn(primitive, params, operand_values, index) -> core`` for one operand.
CoreFn = Callable[[Any, dict, Sequence[jax.Array], int], jax.Array]


def primitive(name: str) -> Any:
    """The JAX primitive called ``name`` (``graphs.generic.primitive_table``)."""
    return _linearize.primitive(name)


def _bind(prim: Any, params: dict, operands: Sequence[jax.Array]) -> jax.Array:
    return prim.bind(*operands, **params)


def _elementwise_core(prim, params, operands, i):
    def f(t):
        ops = list(operands)
        ops[i] = t
        return _bind(prim, params, ops)

    x = operands[i]
    _, tangent = jax.jvp(f, (x,), (jnp.ones_like(x),))
    return tangent


def _chooser_core(prim, params, operands, i):
    x = operands[0]
    out, vjp = jax.vjp(lambda t: _bind(prim, params, [t]), x)
    return vjp(jnp.ones_like(out))[0]


def _dot_general_core(prim, params, operands, i):
    return operands[1 - i]


def _generic_core(vertex, partials, prim, params, operands, i):
    return _linearize.generic_core(vertex, operands, i, partials[i])


CORE_FNS: dict[str, CoreFn | None] = {
    "elementwise": _elementwise_core,
    "reduce_chooser": _chooser_core,
    "dot_general": _dot_general_core,
    # Value-less partials: no core to compute.
    "reduce_sum": None,
    "index": None,
    "copy": None,
    "zero": None,
    # Index maps: no values; a RuntimeMap's index comes from runtime_index.
    "selection": None,
    # Generic vertices: computed from the vertex itself (see vertex_partials).
    "generic": None,
}


def operand_value(operand: Any, values: dict[str, jax.Array]) -> jax.Array:
    if isinstance(operand, Literal):
        return jnp.asarray(operand.value, dtype=operand.dtype)
    return values[operand]


def evaluate(
    graph: Graph,
    leaves: dict[str, jax.Array],
    *,
    only: Collection[str] | None = None,
) -> dict[str, jax.Array]:
    """Primal values of every vertex, given values of inputs and parameters by id.

    Args:
      graph: a program graph.
      leaves: values of its inputs and parameters, by vertex id.
      only: if given, evaluate just these vertices (they must be closed under
        operands).

    Returns:
      ``{vertex id: value}``.
    """
    values: dict[str, jax.Array] = {}
    for vertex in graph.vertices:
        if only is not None and vertex.id not in only:
            continue
        if vertex.op in (INPUT, PARAMETER):
            values[vertex.id] = leaves[vertex.id]
            continue
        operands = [operand_value(o, values) for o in vertex.operands]
        if vertex.op in EVALUATORS:
            params = _params.decode_all(vertex.params)
            values[vertex.id] = EVALUATORS[vertex.op](params, operands)
            continue
        if rule_for(vertex.op) is GENERIC:
            values[vertex.id] = _linearize.vertex_fn(vertex)(*operands)
            continue
        values[vertex.id] = _bind(
            primitive(vertex.op), _params.decode_all(vertex.params), operands
        )
    return values


def vertex_partials(
    vertex: Vertex, values: dict[str, jax.Array], shapes_of: dict[str, Vertex]
) -> dict[str, tuple[st.Partial, Any]]:
    """``{operand id: (partial, core)}`` of one vertex; repeated operands added."""
    rule = rule_for(vertex.op)
    shapes, dtypes = operand_types(vertex, shapes_of)
    partials = rule.structure_fn(vertex, shapes, dtypes)
    core_fn = CORE_FNS[rule.kind]
    operands = [operand_value(o, values) for o in vertex.operands]
    if rule is GENERIC:
        core_fn = functools.partial(_generic_core, vertex, partials)
        prim = params = None
    else:
        params = _params.decode_all(vertex.params)
        prim = primitive(vertex.op) if core_fn is not None else None
    dtype = jnp.result_type(vertex.dtype)
    merged: dict[str, tuple[st.Partial, Any]] = {}
    for i, (operand, partial) in enumerate(zip(vertex.operands, partials)):
        if partial is None or isinstance(operand, Literal):
            continue
        core = None
        if isinstance(partial, st.RuntimeMap) and rule is GENERIC:
            core = _linearize.selection_index(vertex, operands, i)
        elif isinstance(partial, st.RuntimeMap):
            core = runtime_index(vertex.op, params, operands, i)
        elif partial.has_values:
            core = core_fn(prim, params, operands, i)
            core = jnp.reshape(core, partial.core_shape)
        if operand in merged:
            old_partial, old_core = merged[operand]
            total = algebra.add(old_partial, partial, old_core, core, dtype=dtype)
            merged[operand] = (total.partial, total.value)
        else:
            merged[operand] = (partial, core)
    return merged
