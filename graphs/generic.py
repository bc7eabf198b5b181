"""The generic rule: a vertex whose partials JAX's own linearisation computes.

Every differentiable primitive without a structured rule in ``graphs.primitives``
becomes a *generic* vertex. Its partial with respect to each float operand is a
:class:`~graphs.structure.Structure` whose core is dense over the primitive's
*active* axes and paired (a Kronecker delta) over its *batch* axes:

* ``cumsum`` along axis ``a`` of an ``[m, n]`` array: the other axis is paired,
  the core is ``[m, n, n]`` (out row, out column, in column), not ``[m, n, m, n]``;
* ``cholesky`` of ``[..., n, n]``: the leading axes are paired, the core is
  ``[..., n, n, n, n]``;
* a primitive with no entry in :data:`BATCH_AXES` (``lu`` is listed,
  ``householder_product`` is not): one dense core ``out_shape + in_shape``.

The kernel computes each core at kernel time (``interpreter.generic``) by JVPs of the
primitive with basis tangents over the active input axes (ones along the paired
ones), so it holds exactly the values this structure declares, and the cost model
prices composing with it like any other core: the product of the distinct labels'
sizes. Composing a dense ``[m, n]`` core with an ``[n, k]`` one costs ``m·n·k``.

A vertex is generic when its op is not in ``graphs.primitives.RULES``. Two forms:

* ``op`` = a JAX primitive name (``"lu"``, ``"cumsum"``, ``"conv_general_dilated"``)
  whose parameters are JSON-able; the kernel binds the primitive. A primitive with
  several results gives one vertex per result, with param :data:`RESULT` = its index
  (dropped before ``bind``).
* ``op`` = :data:`EXPORTED` for a primitive whose parameters hold code (jaxprs of
  ``while``, a ``scan`` too large to unroll): ``params`` hold :data:`MODULE`, a
  base64 ``jax.export`` serialization of ``operands -> (results, cores)`` (the
  primal results and every core, computed by the same JVPs when it was traced,
  exported with a symbolic leading batch axis), :data:`PRIMITIVE` (the name, for
  people) and :data:`RESULT`. The kernel calls the module; nothing is
  differentiated at kernel time, so a ``while_loop`` (forward-mode only in JAX)
  works, and the document carries no pickles, only StableHLO.

To give a new primitive a cheaper generic structure, add its batch axes to
:data:`BATCH_AXES`; to give it a sparse structure of its own, add a row to
``graphs.primitives``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from graphs.ir import Vertex
from graphs.structure import RuntimeMap, Structure

Shape = tuple[int, ...]

#: Op of a generic vertex that calls a serialized ``jax.export`` module.
EXPORTED = "exported"
#: Param: which result of a multi-result primitive this vertex is (default 0).
RESULT = "ccelim_result"
#: Param of an :data:`EXPORTED` vertex: the base64 ``jax.export`` module.
MODULE = "module"
#: Param of an :data:`EXPORTED` vertex: the primitive it stands for.
PRIMITIVE = "primitive"
#: Params that describe the vertex rather than the primitive (not passed to ``bind``).
RESERVED = frozenset({RESULT})

#: ``fn(vertex, operand index, operand shape) -> out axis of each operand axis``
#: (``None``: active). Returning ``None`` instead of a list: zero partial.
PairFn = Callable[[Vertex, int, Shape], "list[int | None] | None"]


@functools.cache
def primitive_table() -> dict[str, Any]:
    """JAX primitive name -> ``Primitive``: ``jax.extend.core.primitives``, ``jax.lax``
    and ``jax.lax.linalg`` (imported on first use; graphs need no jax otherwise)."""
    import jax.extend.core.primitives as prims
    from jax import lax
    from jax.lax import linalg

    table = {}
    for module in (prims, lax, linalg):
        for attr in dir(module):
            obj = getattr(module, attr)
            if attr.endswith("_p") and hasattr(obj, "bind") and hasattr(obj, "name"):
                table.setdefault(obj.name, obj)
    return table


def result_index(vertex: Vertex) -> int:
    """Which result of its primitive a generic vertex is."""
    return int(vertex.param_dict.get(RESULT, 0))


def _is_float(dtype: str | None) -> bool:
    return dtype is not None and (
        dtype.startswith("float") or dtype.startswith("bfloat")
    )


def _along_axis(key: str) -> PairFn:
    """Every axis but ``params[key]`` is paired (cumulative ops, one-operand sorts)."""

    def pairs(vertex, i, shape):
        axis = int(vertex.param_dict[key]) % max(len(shape), 1)
        return [None if ax == axis else ax for ax in range(len(shape))]

    return pairs


def _sort(vertex, i, shape):
    # Result k is operand k permuted by the keys: piecewise constant in the keys,
    # so operand i != k has no derivative.
    if i != result_index(vertex):
        return None
    return _along_axis("dimension")(vertex, i, shape)


def _leading(core_rank_of_operand: Callable[[int], int]) -> PairFn:
    """The leading (batch) axes of every operand pair with the output's."""

    def pairs(vertex, i, shape):
        batch = len(shape) - core_rank_of_operand(i)
        if batch < 0 or batch > len(vertex.shape):
            return [None] * len(shape)
        return [ax if ax < batch else None for ax in range(len(shape))]

    return pairs


def _conv(vertex, i, shape):
    p = vertex.param_dict
    numbers = p["dimension_numbers"]
    if numbers and isinstance(numbers[0], str):  # ("lax:ConvDimensionNumbers", ...)
        numbers = numbers[1:]
    lhs_spec, _rhs_spec, out_spec = numbers
    plain = int(p.get("feature_group_count", 1)) == 1 and (
        int(p.get("batch_group_count", 1)) == 1
    )
    pairs: list[int | None] = [None] * len(shape)
    if i == 0 and plain and vertex.shape[out_spec[0]] == shape[lhs_spec[0]]:
        pairs[lhs_spec[0]] = int(out_spec[0])  # examples are independent
    return pairs


def _reduce(vertex, i, shape):
    """A reduction's kept axes pair with the output's, in order."""
    axes = {int(a) % max(len(shape), 1) for a in vertex.param_dict["axes"]}
    kept = iter(range(len(shape) - len(axes)))
    return [None if ax in axes else next(kept) for ax in range(len(shape))]


_MATRIX = _leading(lambda i: 2)

#: Batch-axis rules of primitives whose generic partial is sparse in a known way.
BATCH_AXES: dict[str, PairFn] = {
    "cumsum": _along_axis("axis"),
    "cumprod": _along_axis("axis"),
    "cummax": _along_axis("axis"),
    "cummin": _along_axis("axis"),
    "cumlogsumexp": _along_axis("axis"),
    "sort": _sort,
    "top_k": _leading(lambda i: 1),
    "reduce_prod": _reduce,
    "cholesky": _MATRIX,
    "lu": _MATRIX,
    "qr": _MATRIX,
    "eigh": _MATRIX,
    "svd": _MATRIX,
    "triangular_solve": _MATRIX,
    "conv_general_dilated": _conv,
}


#: Primitives whose float result copies one operand element per output element,
#: chosen by values at kernel time: the partial is a :class:`RuntimeMap` (no values,
#: composing with it costs nothing), its index computed by the primitive's JVP.
#: (``cummax`` is not one: on ties JAX's JVP splits the derivative.)
SELECTIONS = frozenset({"sort", "top_k"})


def _structure(
    vertex: Vertex, in_shape: Shape, where: Sequence[int | None]
) -> Structure:
    out = tuple(vertex.shape)
    out_labels = tuple(range(len(out)))
    in_labels: list[int] = []
    active: list[int] = []
    free = len(out)
    for k, ax in enumerate(where):
        if ax is not None and 0 <= ax < len(out) and out[ax] == in_shape[k]:
            in_labels.append(ax)
        else:
            in_labels.append(free)
            active.append(free)
            free += 1
    if len(set(in_labels)) != len(in_labels):  # two axes on one output axis
        return _structure(vertex, in_shape, [None] * len(in_shape))
    return Structure(
        out, tuple(in_shape), out_labels, tuple(in_labels), out_labels + tuple(active)
    )


def generic_partials(
    vertex: Vertex, shapes: Sequence[Shape | None], dtypes: Sequence[str | None]
) -> list[Structure | RuntimeMap | None]:
    """The structure rule of a generic vertex (see the module docstring).

    Args:
      vertex: the vertex (its op, params, shape and dtype).
      shapes: its operands' shapes.
      dtypes: its operands' dtypes (``None`` for literals).

    Returns:
      One partial per operand: ``None`` for a literal, a non-float operand or a
      non-float result; a :class:`RuntimeMap` for a :data:`SELECTIONS` primitive;
      otherwise dense over the active axes, paired over the batch axes that
      :data:`BATCH_AXES` lists for the primitive.
    """
    if not _is_float(vertex.dtype):
        return [None] * len(shapes)
    pair_fn = BATCH_AXES.get(vertex.op)
    result: list[Structure | None] = []
    for i, (shape, dtype) in enumerate(zip(shapes, dtypes)):
        if shape is None or not _is_float(dtype):
            result.append(None)
            continue
        where = (
            [None] * len(shape) if pair_fn is None else pair_fn(vertex, i, tuple(shape))
        )
        if where is None:
            result.append(None)
        elif vertex.op in SELECTIONS:
            result.append(RuntimeMap(tuple(vertex.shape), tuple(shape)))
        else:
            result.append(_structure(vertex, tuple(shape), where))
    return result


def active_in_axes(partial: Structure) -> tuple[int, ...]:
    """Input axes of a generic partial that are not paired (its basis tangents' axes)."""
    out = set(partial.out_labels)
    return tuple(k for k, label in enumerate(partial.in_labels) if label not in out)
