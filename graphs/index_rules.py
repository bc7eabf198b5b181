"""Index maps as structured partials: gather, scatter, dynamic slices.

``x[jnp.array([...])]``, ``jnp.take``, ``take_along_axis``, neighbour lists
(``gather``), ``x.at[i].set/add`` (``scatter``, ``scatter-add``),
``lax.dynamic_slice`` and ``x[i]`` with a traced ``i`` (``dynamic_slice``), and
``lax.dynamic_update_slice`` have 0/1 partials: every output element copies at most
one input element (a selection), or, for ``scatter-add`` with repeated indices,
every update element goes into one output element.

* **Static indices** (literals, or integer expressions of constants, folded while
  tracing by :func:`fold_constant`): the map is computed once when the graph is
  built and stored as a :class:`~graphs.structure.IndexMap` selection table, which
  the search sees and composes symbolically like ``slice`` or ``concatenate``.
* **Traced indices** (computed from the inputs at run time): a
  :class:`~graphs.structure.RuntimeMap` whose int32 index the kernel computes from
  the primitive itself (:func:`selection_index`); composing with it is a gather or
  a scatter-add, priced at zero multiplications, which is what the kernel does.

Both maps come from one trick: the op is linear in the operand ``x``, so its JVP
with the tangent ``1 + iota`` says which input element each output copies (and the
VJP with the cotangent ``1 + iota`` where each input element goes).

``scatter-mul``, ``scatter-min`` and ``scatter-max`` have valued partials and are
left to the generic rule.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphs import params as _params
from graphs.ir import Literal, Vertex
from graphs.primitives import PrimitiveRule, is_float
from graphs.structure import IndexMap, RuntimeMap, identity

#: op -> (positions of differentiable operands, positions of index operands).
OPERANDS: dict[str, tuple[tuple[int, ...], slice]] = {
    "gather": ((0,), slice(1, 2)),
    "dynamic_slice": ((0,), slice(1, None)),
    "dynamic_update_slice": ((0, 1), slice(2, None)),
    "scatter": ((0, 2), slice(1, 2)),
    "scatter-add": ((0, 2), slice(1, 2)),
}

#: Literals folded while tracing stay below this many elements.
MAX_FOLDED = 1 << 16


# ------------------------------------------------------------------------ tracing


def fold_constant(eqn: Any, operands: Sequence[Any]) -> list[Literal] | None:
    """Evaluates an integer/boolean equation on literals while tracing.

    Index arithmetic on constants (``jnp.arange``, negative-index normalisation of
    ``x[jnp.array([...])]``) would otherwise become vertices and hide that the
    indices are static. Returns ``None`` when the equation is not such a one.
    """
    if any(not isinstance(o, Literal) for o in operands):
        return None
    if any(hasattr(v, "jaxpr") or hasattr(v, "eqns") for v in eqn.params.values()):
        return None
    for var in eqn.outvars:
        dtype = np.dtype(var.aval.dtype)
        if dtype.kind not in "iub" or math.prod(var.aval.shape) > MAX_FOLDED:
            return None
    import jax

    with jax.ensure_compile_time_eval():
        args = [_literal_array(o) for o in operands]
        outs = eqn.primitive.bind(*args, **eqn.params)
    outs = outs if eqn.primitive.multiple_results else [outs]
    return [literal(np.asarray(out)) for out in outs]


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def literal(array: np.ndarray) -> Literal:
    """A hashable literal (nested tuples) holding ``array``."""
    array = np.asarray(array)
    return Literal(_tuples(array.tolist()), tuple(array.shape), str(array.dtype))


def _literal_array(lit: Literal) -> np.ndarray:
    return np.asarray(lit.value, dtype=lit.dtype).reshape(lit.shape)


def encode_params(name: str, params: dict) -> dict:
    """JSON-able params of an index op (dimension numbers as name/value pairs)."""
    out = {}
    for key, value in params.items():
        if key in ("update_jaxpr", "update_consts"):
            continue
        if key == "dimension_numbers":
            value = tuple((k, tuple(v)) for k, v in value._asdict().items())
        elif key == "mode":
            value = None if value is None else str(getattr(value, "name", value))
        out[key] = value
    return out


def expand_index_op(builder: Any, eqn: Any, operands: list) -> list[str]:
    """Adds an index op's vertex with :func:`encode_params` params."""
    from graphs.control_flow import source_line

    name = eqn.primitive.name
    params = encode_params(name, dict(eqn.params))
    aval = eqn.outvars[0].aval
    return [builder.add(name, operands, params, aval, source_line(eqn))]


# ---------------------------------------------------------------------- semantics


def apply(op: str, params: dict, operands: Sequence[Any]) -> Any:
    """Evaluates an index op from its (decoded) graph params."""
    from jax import lax

    p = dict(params)
    if op == "dynamic_slice":
        return lax.dynamic_slice(operands[0], operands[1:], p["slice_sizes"])
    if op == "dynamic_update_slice":
        return lax.dynamic_update_slice(operands[0], operands[1], operands[2:])
    mode = lax.GatherScatterMode[p["mode"]] if p.get("mode") else None
    fields = {k: tuple(v) for k, v in p["dimension_numbers"]}
    if op == "gather":
        return lax.gather(
            operands[0],
            operands[1],
            lax.GatherDimensionNumbers(**fields),
            tuple(p["slice_sizes"]),
            indices_are_sorted=bool(p["indices_are_sorted"]),
            unique_indices=bool(p["unique_indices"]),
            mode=mode,
            fill_value=p.get("fill_value"),
        )
    scatter_fn = {"scatter": lax.scatter, "scatter-add": lax.scatter_add}[op]
    return scatter_fn(
        operands[0],
        operands[1],
        operands[2],
        lax.ScatterDimensionNumbers(**fields),
        indices_are_sorted=bool(p["indices_are_sorted"]),
        unique_indices=bool(p["unique_indices"]),
        mode=mode,
    )


def is_scatter_form(op: str, params: dict, i: int) -> bool:
    """Whether operand ``i``'s map goes input -> output (scatter-add updates)."""
    return op == "scatter-add" and i == 2 and not dict(params)["unique_indices"]


def selection_index(op: str, params: dict, operands: Sequence[Any], i: int) -> Any:
    """The int32 index of operand ``i``'s map (see the module docstring).

    Gather form: one entry per output element, the flat operand element it copies.
    Scatter form (:func:`is_scatter_form`): one entry per operand element, the flat
    output element it is added into. ``-1``: none.
    """
    import jax
    import jax.numpy as jnp

    x = operands[i]
    dtype = jnp.result_type(x)

    def f(t):
        ops = list(operands)
        ops[i] = t
        return apply(op, params, ops)

    if is_scatter_form(op, params, i):
        y, vjp = jax.vjp(f, x)
        cotangent = jnp.arange(1, y.size + 1, dtype=dtype).reshape(y.shape)
        where = vjp(cotangent)[0]
    else:
        tangent = jnp.arange(1, x.size + 1, dtype=dtype).reshape(x.shape)
        where = jax.jvp(f, (x,), (tangent,))[1]
    return jnp.round(jnp.ravel(where)).astype("int32") - 1


# ------------------------------------------------------------------ structure rule


def _index_structure(vertex: Vertex, shapes, dtypes) -> list:
    diff, index_slice = OPERANDS[vertex.op]
    result: list = [None] * len(shapes)
    if not is_float(vertex.dtype):
        return result
    indices = vertex.operands[index_slice]
    static = all(isinstance(o, Literal) for o in indices)
    params = vertex.param_dict
    for i in diff:
        if not (shapes[i] is not None and is_float(dtypes[i])):
            continue
        in_shape = tuple(shapes[i])
        if vertex.op == "scatter-add" and i == 0:
            result[i] = identity(vertex.shape)
        elif static:
            shapes_t = tuple(tuple(s) for s in shapes)
            try:
                result[i] = _static_map_cached(vertex, shapes_t, i)
            except TypeError:  # a literal holding lists is not hashable
                result[i] = _static_map(vertex, shapes_t, i)
        else:
            scatter = is_scatter_form(vertex.op, params, i)
            result[i] = RuntimeMap(tuple(vertex.shape), in_shape, scatter)
    return result


def _static_map(vertex: Vertex, shapes: tuple, i: int):
    """The static selection table of operand ``i`` (literal indices)."""
    import jax
    import jax.numpy as jnp

    params = _params.decode_all(vertex.params)
    with jax.ensure_compile_time_eval():
        operands = [
            _literal_array(o)
            if isinstance(o, Literal)
            else jnp.zeros(shape, jnp.result_type(float))
            for o, shape in zip(vertex.operands, shapes)
        ]
        if is_scatter_form(vertex.op, params, i):
            x = operands[i]

            def f(t):
                ops = list(operands)
                ops[i] = t
                return apply(vertex.op, params, ops)

            counts = jax.jvp(f, (x,), (jnp.ones_like(x),))[1]
            if float(jnp.max(counts, initial=0)) > 1:
                # Several updates add into one element: not a selection.
                return RuntimeMap(tuple(vertex.shape), tuple(shapes[i]), True)
            params = dict(params, unique_indices=True)
        index = np.asarray(selection_index(vertex.op, params, operands, i))
    return IndexMap(tuple(vertex.shape), tuple(shapes[i]), tuple(int(j) for j in index))


_static_map_cached = functools.lru_cache(maxsize=4096)(_static_map)

RULES: dict[str, PrimitiveRule] = {
    name: PrimitiveRule("selection", _index_structure) for name in OPERANDS
}
