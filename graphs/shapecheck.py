"""Shape checks of program vertices: do the operands fit the op and its params?

The structure rules (``graphs.primitives``) build each edge's partial from the
operand shapes; :func:`check_program_shapes` runs them on every vertex and adds
the shape inference they leave out (elementwise broadcasting, ``dot_general``
contraction sizes, reductions, transposes, broadcasts, reshapes, concatenations,
squeezes, slices), so that a malformed vertex is a
:class:`~graphs.errors.GraphError` naming it, never another exception later.
"""

from __future__ import annotations

import math

from graphs import structure as st
from graphs.errors import GraphError
from graphs.ir import INPUT, PARAMETER, Graph, Vertex
from graphs.primitives import (
    ELEMENTWISE_BINARY,
    ELEMENTWISE_UNARY,
    GENERIC,
    operand_types,
    rule_for,
)

_SAME_SHAPE_OPS = frozenset(
    ELEMENTWISE_UNARY
    + ELEMENTWISE_BINARY
    + "clamp select_n sign floor ceil round is_finite eq ne lt le gt ge and or not "
    "xor stop_gradient nextafter".split()
)
_ARITY = {
    **{name: 1 for name in ELEMENTWISE_UNARY},
    **{name: 2 for name in ELEMENTWISE_BINARY},
    "clamp": 3,
    "dot_general": 2,
    "reduce_sum": 1,
    "reduce_max": 1,
    "reduce_min": 1,
    "transpose": 1,
    "squeeze": 1,
    "slice": 1,
    "rev": 1,
    "pad": 2,
}


def check_program_shapes(graph: Graph, index: dict[str, int]) -> None:
    """Raises :class:`GraphError` at the first vertex whose shapes do not fit.

    Args:
      graph: a program graph whose operand ids all name vertices.
      index: vertex id -> position in ``graph.vertices``.
    """
    for k, v in enumerate(graph.vertices):
        if v.op in (INPUT, PARAMETER):
            continue
        shapes, dtypes = operand_types(v, graph.by_id)
        literal_shapes = shapes
        want = _ARITY.get(v.op)
        if v.op == "select_n" and len(shapes) < 2:
            want = 2
        if want is not None and len(shapes) != want:
            raise GraphError(
                f"{v.op} takes {want} operands, got {len(shapes)}",
                path=f"vertices[{k}].operands",
            )
        if v.op in _SAME_SHAPE_OPS:
            for j, shape in enumerate(literal_shapes):
                if not _broadcasts(shape, tuple(v.shape)):
                    raise GraphError(
                        f"{v.op} is elementwise: operand {j} must have the output "
                        f"shape {list(v.shape)} (axes of size 1 broadcast) or be a "
                        f"scalar, got {list(shape)}; broadcast the operand first "
                        "(broadcast_in_dim)",
                        path=f"vertices[{k}].operands[{j}]",
                    )
        try:
            _check_op_shapes(v, literal_shapes)
            if rule_for(v.op) is GENERIC:
                from graphs.linearize import check_shapes

                check_shapes(v, graph.by_id)
            partials = rule_for(v.op).structure_fn(v, shapes, dtypes)
            if len(partials) != len(shapes):
                raise ValueError(f"expected {len(shapes)} partials")
            for shape, partial in zip(shapes, partials, strict=False):
                if partial is None:
                    continue
                if tuple(partial.out_shape) != tuple(v.shape) or tuple(
                    partial.in_shape
                ) != tuple(shape):
                    raise ValueError(
                        f"partial of shape {list(partial.out_shape)} x "
                        f"{list(partial.in_shape)} does not fit"
                    )
                st.validate(partial)
        except GraphError:
            raise
        except Exception as err:  # a malformed vertex must never crash the loader
            raise GraphError(
                f"{v.op} with operand shapes {[_fmt(s) for s in literal_shapes]} and "
                f"params {v.param_dict} cannot give shape {list(v.shape)} "
                f"({type(err).__name__}: {err}); fix the shapes or params",
                path=f"vertices[{k}]",
            ) from None


def _broadcasts(shape: tuple[int, ...], out: tuple[int, ...]) -> bool:
    """Whether an elementwise operand of ``shape`` fits an output of shape ``out``."""
    if shape == ():
        return True
    return len(shape) == len(out) and all(
        d in (1, n) for d, n in zip(shape, out, strict=True)
    )


def _fmt(shape) -> list[int] | None:
    return None if shape is None else list(shape)


def _check_op_shapes(v: Vertex, shapes: list) -> None:
    """Shape inference for the ops whose structure rules do not check shapes."""
    p = v.param_dict
    out = tuple(v.shape)
    if v.op == "dot_general":
        (lc, rc), (lb, rb) = p["dimension_numbers"]
        lhs, rhs = shapes
        if [lhs[i] for i in lc] != [rhs[i] for i in rc]:
            raise ValueError("contracting dimensions differ in size")
        if [lhs[i] for i in lb] != [rhs[i] for i in rb]:
            raise ValueError("batch dimensions differ in size")
        lf = [d for i, d in enumerate(lhs) if i not in lc and i not in lb]
        rf = [d for i, d in enumerate(rhs) if i not in rc and i not in rb]
        expect = tuple([lhs[i] for i in lb] + lf + rf)
    elif v.op in ("reduce_sum", "reduce_max", "reduce_min"):
        axes = set(p["axes"])
        expect = tuple(d for i, d in enumerate(shapes[0]) if i not in axes)
    elif v.op == "transpose":
        perm = tuple(p["permutation"])
        if sorted(perm) != list(range(len(shapes[0]))):
            raise ValueError(f"permutation {list(perm)} is not a permutation")
        expect = tuple(shapes[0][i] for i in perm)
    elif v.op == "broadcast_in_dim":
        dims = tuple(p["broadcast_dimensions"])
        if len(dims) != len(shapes[0]) or any(
            shapes[0][i] not in (1, out[d]) for i, d in enumerate(dims)
        ):
            raise ValueError("operand does not broadcast to the output")
        expect = out
    elif v.op == "reshape":
        if math.prod(shapes[0]) != math.prod(out):
            raise ValueError("reshape must keep the number of elements")
        expect = out
    elif v.op == "concatenate":
        dim = p["dimension"]
        first = shapes[0]
        for s in shapes:
            if len(s) != len(first) or any(
                a != b
                for i, (a, b) in enumerate(zip(s, first, strict=False))
                if i != dim
            ):
                raise ValueError("concatenate operands differ off the axis")
        expect = tuple(
            sum(s[dim] for s in shapes) if i == dim else d for i, d in enumerate(first)
        )
    elif v.op == "squeeze":
        dims = {d % len(shapes[0]) for d in p["dimensions"]}
        expect = tuple(d for i, d in enumerate(shapes[0]) if i not in dims)
    elif v.op == "slice":
        start, limit = p["start_indices"], p["limit_indices"]
        strides = p.get("strides") or [1] * len(start)
        if len(start) != len(shapes[0]) or any(
            not (0 <= a <= b <= n)
            for a, b, n in zip(start, limit, shapes[0], strict=False)
        ):
            raise ValueError("slice indices out of bounds")
        expect = tuple(
            -(-(b - a) // s) for a, b, s in zip(start, limit, strides, strict=False)
        )
    else:
        return
    if tuple(expect) != out:
        raise ValueError(f"expected output shape {list(expect)}")
