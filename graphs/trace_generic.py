"""Tracing a primitive without a structured rule into generic vertices.

``graphs.trace`` calls :func:`add_generic` for every primitive that is not in
``graphs.primitives.RULES``. It adds one vertex per result (see ``graphs.generic``):
``op`` = the primitive's name where its parameters are JSON-able, otherwise an
:data:`~graphs.generic.EXPORTED` vertex holding a ``jax.export`` module of the
primitive and its partials. A primitive that JAX cannot differentiate, applied to
float values with a float result, is an error naming the user's source line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from graphs import params as _params
from graphs.errors import GraphError
from graphs.generic import (
    EXPORTED,
    MODULE,
    PRIMITIVE,
    RESULT,
    generic_partials,
    primitive_table,
)
from graphs.ir import Literal, Operand, Vertex


class Builder(Protocol):
    """What :func:`add_generic` needs of ``graphs.trace``'s builder."""

    vertices: list[Vertex]

    def add(
        self, op: str, operands: Sequence[Operand], params: dict, aval: Any, where: str
    ) -> str: ...


def _is_float(dtype: Any) -> bool:
    return np.issubdtype(np.dtype(dtype), np.floating)


def _differentiable(prim: Any) -> bool:
    from jax._src.interpreters import ad

    return prim in ad.primitive_jvps or prim in getattr(ad, "fancy_jvps", {})


def add_generic(
    builder: Builder, eqn: Any, operands: list[Operand], where: str
) -> list[str]:
    """Adds the generic vertices of one equation; returns their ids, one per result.

    Args:
      builder: the tracer's builder.
      eqn: the jaxpr equation.
      operands: its operands as vertex ids or literals.
      where: the user's source line, for messages.

    Raises:
      GraphError: if JAX has no derivative for the primitive and it maps float
        values to a float result.
    """
    prim = eqn.primitive
    name = prim.name
    if not eqn.outvars:  # jax.debug.print and other effects: nothing to differentiate
        return []
    float_in = any(
        _is_float(v.aval.dtype) and not isinstance(o, Literal)
        for v, o in zip(eqn.invars, operands)
    )
    float_out = any(_is_float(v.aval.dtype) for v in eqn.outvars)
    if float_in and float_out and not _differentiable(prim):
        raise GraphError(
            f"JAX cannot differentiate primitive {name!r} (at {where}), so neither can "
            "ccelim; wrap the call in jax.lax.stop_gradient if its derivative is zero "
            "for you, or give it a jax.custom_jvp rule"
        )
    multiple = len(eqn.outvars) != 1 or prim.multiple_results
    try:
        _params.encode_all(dict(eqn.params), where=f"{name} at {where}")
        bindable = primitive_table().get(name) is prim
    except GraphError:  # parameters hold code (jaxprs): the exported form
        bindable = False
    if bindable:
        if float_in and float_out:
            _check_jvp(eqn, operands, where)
        ids = []
        for k, var in enumerate(eqn.outvars):
            params = dict(eqn.params)
            if multiple:
                params[RESULT] = k
            ids.append(builder.add(name, operands, params, var.aval, where))
        return ids
    return _add_exported(builder, eqn, operands, where)


def _check_jvp(eqn: Any, operands: list[Operand], where: str) -> None:
    """Traces (abstractly, no compile) the JVP the kernel will take; JAX's refusal
    becomes an error naming the user's line now rather than at kernel build time."""
    import jax

    prim, params = eqn.primitive, dict(eqn.params)
    live = [
        i
        for i, (v, o) in enumerate(zip(eqn.invars, operands))
        if _is_float(v.aval.dtype) and not isinstance(o, Literal)
    ]

    def jvp(*xs):
        def f(*floats):
            ops = list(xs)
            for i, x in zip(live, floats):
                ops[i] = x
            return prim.bind(*ops, **params)

        floats = [xs[i] for i in live]
        return jax.jvp(f, floats, floats)[1]

    specs = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in eqn.invars]
    try:
        jax.eval_shape(jvp, *specs)
    except Exception as err:  # noqa: BLE001 - JAX's own refusal, with the user's line
        raise GraphError(
            f"JAX cannot differentiate primitive {prim.name!r} (at {where}): "
            f"{type(err).__name__}: {err}; wrap the call in jax.lax.stop_gradient if "
            "its derivative is zero for you, or give it a jax.custom_jvp rule"
        ) from None


def _add_exported(builder: Builder, eqn: Any, operands: list[Operand], where: str):
    from graphs.linearize import export_module

    prim = eqn.primitive
    by_id = {v.id: v for v in builder.vertices}
    shapes, dtypes = [], []
    for var, operand in zip(eqn.invars, operands):
        shapes.append(tuple(int(d) for d in var.aval.shape))
        dtypes.append(None if isinstance(operand, Literal) else by_id[operand].dtype)
    partials = []
    for k, var in enumerate(eqn.outvars):
        probe = Vertex(
            "probe",
            EXPORTED,
            shape=tuple(int(d) for d in var.aval.shape),
            dtype=str(np.dtype(var.aval.dtype)),
            params=((RESULT, k),),
        )
        partials.append(generic_partials(probe, shapes, dtypes))
    try:
        module = export_module(
            prim, dict(eqn.params), [v.aval for v in eqn.invars], partials
        )
    except Exception as err:  # noqa: BLE001 - name the user's line
        raise GraphError(
            f"primitive {prim.name!r} (at {where}) could not be exported as a "
            f"generic vertex ({type(err).__name__}: {err}); JAX must be able to "
            "differentiate it in forward mode"
        ) from err
    ids = []
    for k, var in enumerate(eqn.outvars):
        params = {PRIMITIVE: prim.name, MODULE: module, RESULT: k}
        ids.append(builder.add(EXPORTED, operands, params, var.aval, where))
    return ids
