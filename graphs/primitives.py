"""Structure rules: for each supported JAX primitive, the structure of its partials.

A table ``primitive name -> PrimitiveRule``. A rule's ``structure_fn`` takes the
vertex and its operands' shapes and dtypes and returns one partial per operand
(``None`` where the derivative is zero: literals, integer or boolean operands, a
``select_n`` predicate, ``stop_gradient``). ``kind`` tells the interpreter how to
compute the cores' values (``interpreter.rules``). Adding a primitive means adding a
row here and, for a new kind, a value rule there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from graphs.generic import EXPORTED, generic_partials, primitive_table
from graphs.ir import Literal, Vertex
from graphs.structure import IndexMap, Partial, Structure, elementwise, identity

Shape = tuple[int, ...]
StructureFn = Callable[[Vertex, Sequence[Shape | None], Sequence[str | None]], list]


class PrimitiveRule(NamedTuple):
    """How one primitive's partials look (``structure_fn``) and are valued (``kind``)."""

    kind: str
    structure_fn: StructureFn


def operand_types(
    vertex: Vertex, by_id: Mapping[str, Vertex]
) -> tuple[list[Shape], list[str | None]]:
    """Shapes and dtypes of a vertex's operands, as structure rules take them.

    Literals keep their shape (``dot_general`` with a constant matrix needs it) but
    get dtype ``None``: a constant has no derivative, so no rule gives it a partial.
    """
    shapes: list[Shape] = []
    dtypes: list[str | None] = []
    for operand in vertex.operands:
        if isinstance(operand, Literal):
            shapes.append(tuple(operand.shape))
            dtypes.append(None)
        else:
            shapes.append(tuple(by_id[operand].shape))
            dtypes.append(by_id[operand].dtype)
    return shapes, dtypes


def is_float(dtype: str | None) -> bool:
    return dtype is not None and (
        dtype.startswith("float") or dtype.startswith("bfloat")
    )


def _differentiable(
    dtypes: Sequence[str | None], shapes: Sequence[Shape | None], i: int
):
    return shapes[i] is not None and is_float(dtypes[i])


def _elementwise(vertex, shapes, dtypes, skip: tuple[int, ...] = ()):
    if not is_float(vertex.dtype):
        return [None] * len(shapes)
    return [
        elementwise(vertex.shape, shapes[i])
        if i not in skip and _differentiable(dtypes, shapes, i)
        else None
        for i in range(len(shapes))
    ]


def _select(vertex, shapes, dtypes):
    return _elementwise(vertex, shapes, dtypes, skip=(0,))


def _zero(vertex, shapes, dtypes):
    return [None] * len(shapes)


def _copy(vertex, shapes, dtypes):
    if not (is_float(vertex.dtype) and _differentiable(dtypes, shapes, 0)):
        return [None] * len(shapes)
    return [identity(vertex.shape)] + [None] * (len(shapes) - 1)


def _dot_general(vertex, shapes, dtypes):
    (lc, rc), (lb, rb) = vertex.param_dict["dimension_numbers"]
    lhs, rhs = shapes
    lf = [i for i in range(len(lhs)) if i not in lc and i not in lb] if lhs else []
    rf = [i for i in range(len(rhs)) if i not in rc and i not in rb] if rhs else []
    # Output axes: batch, lhs free, rhs free.
    out_batch = list(range(len(lb)))
    out_lf = list(range(len(lb), len(lb) + len(lf)))
    out_rf = list(range(len(lb) + len(lf), len(lb) + len(lf) + len(rf)))
    n_out = len(vertex.shape)
    out_free = (out_lf, out_rf)
    sides = ((lhs, lc, lb, lf), (rhs, rc, rb, rf))
    result: list[Partial | None] = [None, None]
    for i in (0, 1):
        if not (_differentiable(dtypes, shapes, i) and is_float(vertex.dtype)):
            continue
        # d y / d operand i: its batch and free axes pair with the output's; its
        # contracting axes are free; the core is the other operand, in that
        # operand's own axis order.
        shape, contract, batch, free = sides[i]
        other, other_contract, other_batch, other_free = sides[1 - i]
        in_labels = [0] * len(shape)
        for k, ax in enumerate(batch):
            in_labels[ax] = out_batch[k]
        for k, ax in enumerate(free):
            in_labels[ax] = out_free[i][k]
        for k, ax in enumerate(contract):
            in_labels[ax] = n_out + k
        core = [0] * len(other)
        for k, ax in enumerate(other_batch):
            core[ax] = out_batch[k]
        for k, ax in enumerate(other_contract):
            core[ax] = n_out + k
        for k, ax in enumerate(other_free):
            core[ax] = out_free[1 - i][k]
        result[i] = Structure(
            vertex.shape,
            tuple(shape),
            tuple(range(n_out)),
            tuple(in_labels),
            tuple(core),
        )
    return result


def _reduction_labels(vertex, shape):
    axes = tuple(vertex.param_dict["axes"])
    kept = [i for i in range(len(shape)) if i not in axes]
    out_labels = tuple(range(len(kept)))
    in_labels = [0] * len(shape)
    for k, ax in enumerate(kept):
        in_labels[ax] = out_labels[k]
    free = len(kept)
    for ax in axes:
        in_labels[ax] = free
        free += 1
    return out_labels, tuple(in_labels)


def _reduce_sum(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None]
    out_labels, in_labels = _reduction_labels(vertex, shapes[0])
    return [Structure(vertex.shape, tuple(shapes[0]), out_labels, in_labels, None)]


def _reduce_chooser(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None]
    out_labels, in_labels = _reduction_labels(vertex, shapes[0])
    return [Structure(vertex.shape, tuple(shapes[0]), out_labels, in_labels, in_labels)]


def _pairing(vertex, in_shape, out_axis_of_in: Sequence[int | None]) -> Structure:
    """A value-less partial pairing input axis k with output axis ``out_axis_of_in[k]``."""
    out_labels = list(range(len(vertex.shape)))
    free = len(vertex.shape)
    in_labels = []
    for k, ax in enumerate(out_axis_of_in):
        if ax is not None and vertex.shape[ax] == in_shape[k]:
            in_labels.append(out_labels[ax])
        else:
            in_labels.append(free)
            free += 1
    return Structure(
        vertex.shape, tuple(in_shape), tuple(out_labels), tuple(in_labels), None
    )


def _broadcast_in_dim(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None] * len(shapes)
    dims = vertex.param_dict["broadcast_dimensions"]
    return [_pairing(vertex, shapes[0], list(dims))] + [None] * (len(shapes) - 1)


def _transpose(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None]
    perm = vertex.param_dict["permutation"]
    where = [perm.index(k) for k in range(len(perm))]
    return [_pairing(vertex, shapes[0], where)]


def _squeeze(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None]
    dims = set(d % len(shapes[0]) for d in vertex.param_dict["dimensions"])
    where, k = [], 0
    for ax in range(len(shapes[0])):
        if ax in dims:
            where.append(None)
        else:
            where.append(k)
            k += 1
    return [_pairing(vertex, shapes[0], where)]


def _reshape(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None] * len(shapes)
    in_shape = tuple(shapes[0])
    nonunit_in = [ax for ax, d in enumerate(in_shape) if d != 1]
    nonunit_out = [ax for ax, d in enumerate(vertex.shape) if d != 1]
    if [in_shape[a] for a in nonunit_in] == [vertex.shape[a] for a in nonunit_out]:
        where: list[int | None] = [None] * len(in_shape)
        for a, b in zip(nonunit_in, nonunit_out):
            where[a] = b
        return [_pairing(vertex, in_shape, where)] + [None] * (len(shapes) - 1)
    n = math.prod(in_shape)
    return [IndexMap(vertex.shape, in_shape, tuple(range(n)))] + [None] * (
        len(shapes) - 1
    )


def _slice(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None]
    p = vertex.param_dict
    in_shape = tuple(shapes[0])
    strides = p.get("strides") or [1] * len(in_shape)
    grids = [
        np.arange(s, s + st * n, st)
        for s, st, n in zip(p["start_indices"], strides, vertex.shape)
    ]
    index = (
        np.ravel_multi_index(np.meshgrid(*grids, indexing="ij"), in_shape)
        if in_shape
        else np.zeros(1, int)
    )
    return [IndexMap(vertex.shape, in_shape, tuple(int(i) for i in np.ravel(index)))]


def _concatenate(vertex, shapes, dtypes):
    dim = vertex.param_dict["dimension"]
    result: list[Partial | None] = []
    offset = 0
    out_idx = np.indices(vertex.shape).reshape(len(vertex.shape), -1)
    for i, shape in enumerate(shapes):
        if shape is None:
            raise ValueError("concatenate operands must be arrays")
        width = shape[dim]
        empty = math.prod(shape) == 0  # an empty piece (associative_scan) adds nothing
        if _differentiable(dtypes, shapes, i) and is_float(vertex.dtype) and not empty:
            coords = out_idx.copy()
            coords[dim] -= offset
            inside = (coords[dim] >= 0) & (coords[dim] < width)
            coords[dim] = np.clip(coords[dim], 0, max(width - 1, 0))
            flat = np.ravel_multi_index(tuple(coords), shape)
            index = np.where(inside, flat, -1)
            result.append(
                IndexMap(vertex.shape, tuple(shape), tuple(int(j) for j in index))
            )
        else:
            result.append(None)
        offset += width
    return result


def _stack(vertex, shapes, dtypes):
    """``stack`` (jnp.stack): operand i fills index i of a new axis (a selection)."""
    axis = vertex.param_dict["axis"]
    out_idx = np.indices(vertex.shape).reshape(
        len(vertex.shape), math.prod(vertex.shape)
    )
    result: list[Partial | None] = []
    for i, shape in enumerate(shapes):
        if _differentiable(dtypes, shapes, i) and is_float(vertex.dtype):
            inside = out_idx[axis] == i
            coords = np.delete(out_idx, axis, axis=0)
            if shape:
                flat = np.ravel_multi_index(tuple(coords), tuple(shape))
            else:
                flat = np.zeros(out_idx.shape[1], int)
            index = np.where(inside, flat, -1)
            result.append(
                IndexMap(vertex.shape, tuple(shape), tuple(int(j) for j in index))
            )
        else:
            result.append(None)
    return result


def _rev(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None]
    dims = vertex.param_dict["dimensions"]
    coords = np.indices(vertex.shape).reshape(len(vertex.shape), -1)
    for d in dims:
        coords[d] = vertex.shape[d] - 1 - coords[d]
    flat = np.ravel_multi_index(tuple(coords), vertex.shape)
    return [IndexMap(vertex.shape, tuple(shapes[0]), tuple(int(j) for j in flat))]


def _pad(vertex, shapes, dtypes):
    if not _differentiable(dtypes, shapes, 0):
        return [None] * len(shapes)
    if shapes[1] is not None and is_float(dtypes[1]):
        raise ValueError("pad with a traced padding value is not supported")
    config = vertex.param_dict["padding_config"]
    in_shape = tuple(shapes[0])
    coords = np.indices(vertex.shape).reshape(len(vertex.shape), -1)
    valid = np.ones(coords.shape[1], bool)
    src = np.zeros_like(coords)
    for ax, (lo, _hi, interior) in enumerate(config):
        rel = coords[ax] - lo
        step = interior + 1
        ok = (rel >= 0) & (rel % step == 0) & (rel // step < in_shape[ax])
        valid &= ok
        src[ax] = np.clip(rel // step, 0, in_shape[ax] - 1)
    flat = np.ravel_multi_index(tuple(src), in_shape)
    return [
        IndexMap(
            vertex.shape,
            in_shape,
            tuple(int(j) if v else -1 for j, v in zip(flat, valid)),
        ),
        None,
    ]


ELEMENTWISE_UNARY = (
    "neg sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp exp2 log "
    "log1p expm1 sqrt rsqrt cbrt logistic abs integer_pow square erf erfc erf_inv "
    "lgamma digamma tan real imag"
).split()
ELEMENTWISE_BINARY = (
    "add sub mul div pow max min atan2 rem add_any igamma igammac "
    "random_gamma_grad polygamma bessel_i0e bessel_i1e"
).split()
ZERO_DERIVATIVE = (
    "sign floor ceil round is_finite eq ne lt le gt ge and or not xor stop_gradient "
    "iota argmax argmin shift_left shift_right_logical shift_right_arithmetic "
    "population_count clz nextafter random_bits random_seed random_wrap random_unwrap "
    "reduce_and reduce_or reduce_xor rng_bit_generator threefry2x32 "
    "lu_pivots_to_permutation"
).split()


def _table() -> dict[str, PrimitiveRule]:
    table: dict[str, PrimitiveRule] = {}
    for name in ELEMENTWISE_UNARY + ELEMENTWISE_BINARY + ["clamp"]:
        table[name] = PrimitiveRule("elementwise", _elementwise)
    table["select_n"] = PrimitiveRule("elementwise", _select)
    for name in ZERO_DERIVATIVE:
        table[name] = PrimitiveRule("zero", _zero)
    for name in (
        "copy",
        "copy_p",
        "convert_element_type",
        "reduce_precision",
        "optimization_barrier",
    ):
        table[name] = PrimitiveRule("copy", _copy)
    table["dot_general"] = PrimitiveRule("dot_general", _dot_general)
    table["reduce_sum"] = PrimitiveRule("reduce_sum", _reduce_sum)
    table["reduce_max"] = PrimitiveRule("reduce_chooser", _reduce_chooser)
    table["reduce_min"] = PrimitiveRule("reduce_chooser", _reduce_chooser)
    table["broadcast_in_dim"] = PrimitiveRule("index", _broadcast_in_dim)
    table["transpose"] = PrimitiveRule("index", _transpose)
    table["squeeze"] = PrimitiveRule("index", _squeeze)
    table["reshape"] = PrimitiveRule("index", _reshape)
    table["slice"] = PrimitiveRule("index", _slice)
    table["concatenate"] = PrimitiveRule("index", _concatenate)
    table["rev"] = PrimitiveRule("index", _rev)
    table["stack"] = PrimitiveRule("index", _stack)
    table["pad"] = PrimitiveRule("index", _pad)
    return table


RULES: dict[str, PrimitiveRule] = _table()

# Index maps' rows live beside their tracing code (graphs.index_rules imports the
# names above, so it comes last).
from graphs import index_rules as _index_rules  # noqa: E402

RULES.update(_index_rules.RULES)
SUPPORTED: tuple[str, ...] = tuple(sorted(RULES))

#: The rule of every op not in :data:`RULES`: JAX's own linearisation at kernel
#: time, dense over the active axes (``graphs.generic``).
GENERIC = PrimitiveRule("generic", generic_partials)


def rule_for(op: str) -> PrimitiveRule:
    """The structure rule of an op: its own row in :data:`RULES`, else :data:`GENERIC`."""
    return RULES.get(op, GENERIC)


def is_known_op(op: str) -> bool:
    """Whether a program vertex may have this op: a rule, a JAX primitive, or a module."""
    if op in RULES or op == EXPORTED:
        return True
    return op in primitive_table()
