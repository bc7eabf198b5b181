"""JAX's own linearisation of a generic vertex (see ``graphs.generic``).

:func:`vertex_fn` evaluates a generic vertex (binding its primitive, or calling its
exported module); :func:`jvp_core` computes the value core of one partial by JVPs
with basis tangents over the partial's active input axes (ones along its paired
axes, so a batched ``cholesky`` costs one JVP per matrix entry, not per array
entry); :func:`generic_core` picks between the two forms. :func:`export_module`
writes the :data:`~graphs.generic.EXPORTED` form of a primitive whose parameters
hold code. jax is imported here and nowhere else in the generic rule.
"""

from __future__ import annotations

import base64
import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from graphs import params as _params
from graphs.errors import GraphError
from graphs.generic import (
    EXPORTED,
    MODULE,
    RESERVED,
    active_in_axes,
    primitive_table,
    result_index,
)
from graphs.ir import Literal, Vertex
from graphs.structure import Structure


def primitive(name: str) -> Any:
    """The JAX primitive called ``name``."""
    try:
        return primitive_table()[name]
    except KeyError:
        raise GraphError(
            f"no JAX primitive named {name!r} to evaluate; a graph from another JAX "
            "version may name primitives this one lacks: re-trace the function"
        ) from None


def bind_fn(prim: Any, params: dict, result: int = 0) -> Callable[..., jax.Array]:
    """``operands -> result`` of one primitive application."""

    def fn(*operands):
        out = prim.bind(*operands, **params)
        return out[result] if prim.multiple_results else out

    return fn


def vertex_fn(vertex: Vertex) -> Callable[..., jax.Array]:
    """``operands -> value`` of a generic vertex (either form)."""
    if vertex.op == EXPORTED:
        module, k = vertex.param_dict[MODULE], result_index(vertex)
        return lambda *operands: call_module(module, operands)[0][k]
    params = {
        k: v for k, v in _params.decode_all(vertex.params).items() if k not in RESERVED
    }
    return bind_fn(primitive(vertex.op), params, result_index(vertex))


def check_shapes(vertex: Vertex, by_id: Any) -> None:
    """Raises ``ValueError`` unless JAX gives the vertex's declared shape and dtype.

    Abstract evaluation only (``jax.eval_shape``): a generic vertex read from a
    document is checked when it is loaded, not when its kernel first runs.
    """
    specs = []
    for operand in vertex.operands:
        if isinstance(operand, Literal):
            specs.append(jax.ShapeDtypeStruct(tuple(operand.shape), operand.dtype))
        else:
            source = by_id[operand]
            specs.append(jax.ShapeDtypeStruct(tuple(source.shape), source.dtype))
    out = jax.eval_shape(vertex_fn(vertex), *specs)
    if tuple(out.shape) != tuple(vertex.shape) or str(out.dtype) != vertex.dtype:
        raise ValueError(
            f"JAX gives {vertex.op} a result of shape {list(out.shape)} and dtype "
            f"{out.dtype} here, not {list(vertex.shape)} {vertex.dtype}"
        )


def _vjp_core(fn, operands, i: int, partial: Structure) -> jax.Array:
    """:func:`jvp_core` by VJPs, one per element of the active *output* axes."""
    x = jnp.asarray(operands[i])
    out_shape = tuple(partial.out_shape)
    in_labels = partial.in_labels
    active_out = [
        k for k, label in enumerate(partial.out_labels) if label not in in_labels
    ]
    active_in = active_in_axes(partial)
    shape = tuple(out_shape[a] for a in active_out)
    n = math.prod(shape)
    expand = tuple(
        out_shape[a] if a in active_out else 1 for a in range(len(out_shape))
    )

    def f(y):
        ops = list(operands)
        ops[i] = y
        return fn(*ops)

    _, pullback = jax.vjp(f, x)

    def one(e):
        return pullback(jnp.broadcast_to(jnp.reshape(e, expand), out_shape))[0]

    basis = jnp.reshape(jnp.eye(n, dtype=x.dtype), (n,) + shape)
    rows = jnp.reshape(jax.vmap(one)(basis), shape + tuple(x.shape))
    # rows: active out axes, then input axes; the core wants the output's axes in
    # order (a paired one read off its input axis), then the active input axes.
    where_in = {label: len(shape) + k for k, label in enumerate(in_labels)}
    perm = [
        active_out.index(a) if a in active_out else where_in[label]
        for a, label in enumerate(partial.out_labels)
    ] + [len(shape) + k for k in active_in]
    return jnp.transpose(rows, perm)


def jvp_core(
    fn: Callable[..., jax.Array],
    operands: Sequence[jax.Array],
    i: int,
    partial: Structure,
) -> jax.Array:
    """The core of ``d fn / d operands[i]`` laid out as ``partial`` declares it.

    One JVP per element of the active input axes (vmapped), with a tangent that is
    a basis vector there and ones along the paired axes: since the partial is zero
    off the pairs' diagonals, the JVP gives exactly the diagonal values.

    Where the active output axes have fewer elements than the active input axes,
    VJPs with basis cotangents give the same core with fewer evaluations (a
    ``reduce_prod``: one VJP, not one JVP per input); a primitive JAX cannot
    transpose falls back to JVPs.

    Returns:
      An array of shape ``partial.out_shape + active input shape``.
    """
    x = jnp.asarray(operands[i])
    active = active_in_axes(partial)
    in_shape = tuple(x.shape)
    active_shape = tuple(in_shape[a] for a in active)
    n = math.prod(active_shape)
    paired = set(partial.in_labels)
    n_out = math.prod(
        d
        for d, label in zip(partial.out_shape, partial.out_labels)
        if label not in paired
    )
    if n_out < n:
        try:
            return _vjp_core(fn, operands, i, partial)
        except Exception:  # noqa: BLE001 - no transpose rule: forward mode below
            pass
    expand = tuple(in_shape[a] if a in active else 1 for a in range(len(in_shape)))

    def f(y):
        ops = list(operands)
        ops[i] = y
        return fn(*ops)

    def one(e):
        t = jnp.broadcast_to(jnp.reshape(e, expand), in_shape)
        return jax.jvp(f, (x,), (t,))[1]

    basis = jnp.reshape(jnp.eye(n, dtype=x.dtype), (n,) + active_shape)
    outs = jax.vmap(one)(basis)  # [n, *out_shape]
    core = jnp.moveaxis(outs, 0, -1)
    return jnp.reshape(core, tuple(partial.out_shape) + active_shape)


def selection_index(vertex: Vertex, operands: Sequence[jax.Array], i: int) -> jax.Array:
    """The int32 index of a selection's ``RuntimeMap`` (``graphs.generic.SELECTIONS``).

    The JVP with tangent ``1 + iota`` (flat) gives each output element the position
    of the input element it copies, plus one; ``-1`` where it copies none.
    """
    fn = vertex_fn(vertex)
    x = jnp.asarray(operands[i])

    def f(y):
        ops = list(operands)
        ops[i] = y
        return fn(*ops)

    tangent = jnp.reshape(jnp.arange(1, x.size + 1, dtype=x.dtype), x.shape)
    where = jax.jvp(f, (x,), (tangent,))[1]
    return jnp.round(jnp.ravel(where)).astype("int32") - 1


def generic_core(
    vertex: Vertex, operands: Sequence[jax.Array], i: int, partial: Structure
) -> jax.Array:
    """The core of a generic vertex's partial w.r.t. operand ``i``."""
    if vertex.op == EXPORTED:
        return call_module(vertex.param_dict[MODULE], operands)[1][
            result_index(vertex)
        ][i]
    return jvp_core(vertex_fn(vertex), operands, i, partial)


# --------------------------------------------------------------- the exported form


def export_module(
    prim: Any,
    params: dict,
    operand_avals: Sequence[Any],
    partials: Sequence[Sequence[Structure | None]],
) -> str:
    """A base64 ``jax.export`` module: ``operands -> (results, cores)``.

    Args:
      prim: the primitive; ``params``: its parameters (jaxprs allowed).
      operand_avals: shapes and dtypes of its operands.
      partials: per result, per operand, the partial whose core to compute
        (``None``: none).

    Returns:
      The serialized module, exported under ``jax.vmap`` with a symbolic leading
      batch axis ``b`` (so one module serves every batch size), or unbatched where
      the primitive does not export with a symbolic shape.
    """

    def module_fn(*operands):
        outs = prim.bind(*operands, **params)
        outs = tuple(outs) if prim.multiple_results else (outs,)
        cores = tuple(
            tuple(
                None
                if p is None
                else jvp_core(bind_fn(prim, params, k), operands, i, p)
                for i, p in enumerate(per_operand)
            )
            for k, per_operand in enumerate(partials)
        )
        return outs, cores

    (b,) = jax.export.symbolic_shape("b")
    batched_specs = [
        jax.ShapeDtypeStruct((b,) + tuple(a.shape), a.dtype) for a in operand_avals
    ]
    specs = [jax.ShapeDtypeStruct(tuple(a.shape), a.dtype) for a in operand_avals]
    attempts = [  # a symbolic batch axis where it exports, CPU and CUDA where both lower
        (jax.vmap(module_fn), batched_specs, PLATFORMS),
        (jax.vmap(module_fn), batched_specs, None),
        (module_fn, specs, PLATFORMS),
        (module_fn, specs, None),
    ]
    for k, (fn, in_specs, platforms) in enumerate(attempts):
        try:
            exported = jax.export.export(jax.jit(fn), platforms=platforms)(*in_specs)
            break
        except Exception:  # noqa: BLE001 - try the next, more modest, form
            if k == len(attempts) - 1:
                raise
    batched = in_specs is batched_specs
    tag = b"B" if batched else b"U"
    return (tag + base64.b64encode(bytes(exported.serialize()))).decode("ascii")


#: Platforms an exported module is lowered for (where every op lowers for both).
PLATFORMS = ("cpu", "cuda")


def _allowed_custom_calls() -> frozenset[str]:
    try:
        from jax._src.export._export import _CUSTOM_CALL_TARGETS_GUARANTEED_STABLE
    except ImportError:  # a JAX without the list: no custom calls at all
        return frozenset()
    return frozenset(_CUSTOM_CALL_TARGETS_GUARANTEED_STABLE)


def _custom_calls(text: str) -> set[str]:
    return set(re.findall(r"custom_call\s*@([\w.$-]+)", text)) | set(
        re.findall(r'call_target_name\s*=\s*"([^"]+)"', text)
    )


@functools.lru_cache(maxsize=256)
def _deserialize(module: str) -> tuple[Any, bool]:
    try:
        data = base64.b64decode(module[1:], validate=True)
        exported = jax.export.deserialize(bytearray(data))
        text = exported.mlir_module()
    except Exception as err:  # noqa: BLE001 - a bad document, not a crash
        raise GraphError(
            f"the {MODULE!r} param is not a base64 jax.export module ({err}); "
            "write it with graphs.trace"
        ) from None
    # A document may come from anyone: only JAX's stable custom calls (LAPACK,
    # cuSOLVER, ...) may run, never host callbacks or other targets.
    refused = sorted(_custom_calls(text) - _allowed_custom_calls())
    if refused:
        raise GraphError(
            f"the {MODULE!r} param calls custom targets {refused}, which an exported "
            "generic vertex may not; re-trace the function with graphs.trace"
        )
    return exported, module[:1] == "B"


@functools.lru_cache(maxsize=256)
def _batched_call(module: str) -> Callable[..., Any]:
    exported, _ = _deserialize(module)

    @jax.custom_batching.custom_vmap
    def call(*xs):  # every x has the leading batch axis the module was exported with
        return exported.call(*xs)

    @call.def_vmap
    def _rule(axis_size, in_batched, *xs):
        # An outer vmap: merge its axis into the module's batch axis and split after.
        inner = xs[0].shape[1] if in_batched[0] else None
        merged = []
        for x, batched in zip(xs, in_batched):
            if not batched:
                x = jnp.broadcast_to(x, (axis_size,) + x.shape)
            inner = x.shape[1]
            merged.append(jnp.reshape(x, (axis_size * inner,) + x.shape[2:]))
        out = call(*merged)
        split = jax.tree_util.tree_map(
            lambda o: jnp.reshape(o, (axis_size, inner) + o.shape[1:]), out
        )
        return split, jax.tree_util.tree_map(lambda _: True, out)

    return call


def _call(module: str, operands: Sequence[jax.Array]) -> Any:
    exported, batched = _deserialize(module)
    if not batched:
        return exported.call(*operands)
    out = _batched_call(module)(*(o[None] for o in operands))
    return jax.tree_util.tree_map(lambda o: o[0], out)


@functools.lru_cache(maxsize=256)
def _undifferentiable(module: str) -> Callable[..., Any]:
    @jax.custom_jvp
    def call(*operands):
        return _call(module, operands)

    @call.defjvp
    def _jvp(primals, tangents):
        raise GraphError(
            "a kernel with an exported generic vertex (a while_loop or a large scan "
            "as one vertex) cannot be differentiated again: its module holds values "
            "and first derivatives only; differentiate the traced function with JAX"
        )

    return call


def call_module(module: str, operands: Sequence[jax.Array]) -> Any:
    """``(results, cores)`` of an exported module at one example (vmap-able)."""
    return _undifferentiable(module)(*(jnp.asarray(o) for o in operands))
