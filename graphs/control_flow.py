"""Control flow while tracing: ``scan`` unrolled into the graph, or one vertex.

``scan`` (and so ``fori_loop`` with static bounds, ``jnp.polyval``, ...) is
**unrolled** while the graph stays under :func:`unroll_limit` vertices: each
iteration's body becomes ordinary vertices (the ``xs`` rows are slices and the
``ys`` one concatenation, index maps that cost nothing), so the search sees the
loop's structure and prices every step like straight-line code. A larger ``scan``,
and every ``while`` and ``cond``/``switch``, is **one generic vertex** (the generic
rule, ``graphs.trace_generic``): its dense partials come from JAX's own
linearisation of the whole loop (forward mode, so ``while_loop`` works; for
``cond`` the branch taken) and are priced at their true dense size.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from graphs import index_rules
from graphs.index_rules import literal
from graphs.ir import Literal

_UNROLL_LIMIT: contextvars.ContextVar[int] = contextvars.ContextVar(
    "unroll_limit", default=2000
)


@contextlib.contextmanager
def unroll_limit(num_vertices: int) -> Iterator[None]:
    """Within the block, ``graphs.trace`` unrolls a ``scan`` only while the graph
    stays under ``num_vertices`` vertices (default 2000); ``0`` never unrolls.

    Example:
      >>> with graphs.unroll_limit(0):
      ...     g = graphs.trace(lambda x: lax.fori_loop(0, 3, lambda i, c: c * x, x), 2.0)
    """
    token = _UNROLL_LIMIT.set(int(num_vertices))
    try:
        yield
    finally:
        _UNROLL_LIMIT.reset(token)


def source_line(eqn: Any) -> str:
    """The user's source line of a jaxpr equation, for messages (as the tracer's)."""
    from graphs.trace import _source_line

    return _source_line(eqn)


def _aval(shape: Sequence[int], dtype: Any) -> Any:
    from jax.core import ShapedArray

    return ShapedArray(tuple(int(d) for d in shape), np.dtype(dtype))


def _size(jaxpr: Any) -> int:
    """Vertices an unrolled trace of ``jaxpr`` would add (loops counted unrolled)."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        params = eqn.params
        if eqn.primitive.name == "scan":
            total += int(params["length"]) * (_size(params["jaxpr"]) + 4)
        elif eqn.primitive.name == "cond":
            total += len(eqn.outvars) * 3 + 1
        else:
            inner = [
                v for v in params.values() if hasattr(v, "eqns") or hasattr(v, "jaxpr")
            ]
            total += sum(_size(v) for v in inner) if inner else len(eqn.outvars)
    return total


# ------------------------------------------------------------------------ unrolling


def _row(builder: Any, x: Any, i: int, where: str) -> Any:
    """Row ``i`` of ``x`` along axis 0 (a slice and a squeeze)."""
    if isinstance(x, Literal):
        array = np.asarray(x.value, dtype=x.dtype).reshape(x.shape)[i]
        return literal(array)
    vertex = next(v for v in reversed(builder.vertices) if v.id == x)
    shape, dtype = vertex.shape, vertex.dtype
    starts = (i,) + (0,) * (len(shape) - 1)
    limits = (i + 1,) + tuple(shape[1:])
    params = {"start_indices": starts, "limit_indices": limits, "strides": None}
    piece = builder.add(
        "slice", [x], params, _aval((1,) + tuple(shape[1:]), dtype), where
    )
    return builder.add(
        "squeeze", [piece], {"dimensions": (0,)}, _aval(shape[1:], dtype), where
    )


def _stack(builder: Any, rows: list, aval: Any, where: str) -> Any:
    """Rows stacked along a new axis 0 (reshapes and one concatenate)."""
    if all(isinstance(r, Literal) for r in rows):
        array = np.stack(
            [np.asarray(r.value, dtype=r.dtype).reshape(r.shape) for r in rows]
        )
        return literal(array)
    row_shape = tuple(aval.shape[1:])
    pieces = []
    for r in rows:
        if isinstance(r, Literal):
            array = np.asarray(r.value, dtype=r.dtype).reshape((1,) + row_shape)
            pieces.append(literal(array))
        else:
            params = {
                "new_sizes": (1,) + row_shape,
                "dimensions": None,
                "sharding": None,
            }
            pieces.append(
                builder.add(
                    "reshape", [r], params, _aval((1,) + row_shape, aval.dtype), where
                )
            )
    return builder.add("concatenate", pieces, {"dimension": 0}, aval, where)


def _unroll_scan(builder: Any, eqn: Any, operands: list) -> list:
    p = eqn.params
    body, length = p["jaxpr"], int(p["length"])
    nc, nk = int(p["num_consts"]), int(p["num_carry"])
    consts, carry, xs = operands[:nc], list(operands[nc : nc + nk]), operands[nc + nk :]
    where = source_line(eqn)
    ys: list[list] = [[None] * length for _ in eqn.outvars[nk:]]
    steps = range(length - 1, -1, -1) if p["reverse"] else range(length)
    for i in steps:
        x_i = [_row(builder, x, i, where) for x in xs]
        outs = builder.run(body.jaxpr, body.consts, list(consts) + carry + x_i)
        carry = list(outs[:nk])
        for j, y in enumerate(outs[nk:]):
            ys[j][i] = y
    stacked = [
        _stack(builder, rows, var.aval, where)
        for rows, var in zip(ys, eqn.outvars[nk:])
    ]
    return carry + stacked


def _scan(builder: Any, eqn: Any, operands: list) -> list:
    p = eqn.params
    unrolled = int(p["length"]) * (_size(p["jaxpr"]) + 4)
    if builder.count + unrolled <= _UNROLL_LIMIT.get():
        return _unroll_scan(builder, eqn, operands)
    from graphs.trace_generic import add_generic

    return add_generic(builder, eqn, operands, source_line(eqn))


#: primitive name -> ``expand(builder, eqn, operands) -> result operands``:
#: equations that ``graphs.trace`` turns into vertices here, not by a rule row.
EXPANDERS = {"scan": _scan}
EXPANDERS.update({name: index_rules.expand_index_op for name in index_rules.OPERANDS})
