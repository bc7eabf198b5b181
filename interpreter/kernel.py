"""Jacobian kernels: a program graph and an order become a jitted JAX function.

``jacobian(graph, order)`` returns a function with the traced function's call
signature that evaluates the local partials and accumulates them in the given
elimination order (``interpreter.eliminate``). ``jac(f)`` is a drop-in for
``jax.jacfwd``/``jax.jacrev`` that traces ``f`` on its first call per input
shapes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from graphs.errors import GraphError
from graphs.ir import Graph
from interpreter.batching import batch_aware
from interpreter.eliminate import (
    STACK_GROUP,
    accumulate_blocks,
    accumulate_structured,
    check_stack_group,
    fuses_blocks,
    partial_cores,
)
from interpreter.plan import LeafSpec, OrderSpec, Plan, make_plan

#: Counts how often a kernel body was traced (the no-retrace test reads it).
TRACE_COUNTS: dict[int, int] = {}


def _dtype(x: Any) -> np.dtype:
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else jnp.result_type(x)


def _check_leaf(leaf: Any, spec: LeafSpec, where: str) -> jax.Array:
    """The leaf as an array of the expected dtype, or a GraphError naming it."""
    if isinstance(leaf, bool | int | float) and not isinstance(leaf, bool):
        leaf = jnp.asarray(leaf, dtype=spec.dtype)
    shape = tuple(np.shape(leaf))
    if shape != spec.shape:
        raise GraphError(
            f"{where} (vertex {spec.vertex!r}) has the wrong shape: expected "
            f"{spec.shape}, got {shape}; pass an array shaped like the example the "
            "graph was traced with (batch with jax.vmap)"
        )
    dtype = np.dtype(getattr(leaf, "dtype", np.result_type(leaf)))
    if dtype != np.dtype(spec.dtype):
        weak = getattr(leaf, "weak_type", False) or getattr(
            getattr(leaf, "aval", None), "weak_type", False
        )
        if weak and dtype.kind == np.dtype(spec.dtype).kind:
            return jnp.asarray(leaf, dtype=spec.dtype)
        raise GraphError(
            f"{where} (vertex {spec.vertex!r}) has the wrong dtype: expected "
            f"{spec.dtype}, got {dtype}; cast it (jnp.asarray(x, {spec.dtype!r}))"
        )
    return jnp.asarray(leaf)


def flatten_args(plan: Plan, args: Sequence[Any]) -> tuple[dict[str, jax.Array], list]:
    """Checks the call's arguments against the plan; leaves by vertex id, treedefs."""
    if len(args) != plan.num_args:
        raise GraphError(
            f"the kernel takes {plan.num_args} positional argument(s) (one per "
            f"argument of the traced function), got {len(args)}"
        )
    leaves: dict[str, jax.Array] = {}
    treedefs = []
    by_arg: dict[int, list[LeafSpec]] = {}
    for spec in plan.leaves:
        by_arg.setdefault(spec.arg, []).append(spec)
    for i, arg in enumerate(args):
        flat, treedef = jax.tree_util.tree_flatten(arg)
        specs = by_arg.get(i, [])
        if len(flat) != len(specs):
            raise GraphError(
                f"argument {i} has the wrong structure: expected {len(specs)} array "
                f"leaves (vertices {[s.vertex for s in specs]}), got {len(flat)}"
            )
        for leaf, spec in zip(flat, specs):
            where = f"argument {i}" + (f" leaf {spec.index}" if len(specs) > 1 else "")
            leaves[spec.vertex] = _check_leaf(leaf, spec, where)
        treedefs.append(treedef)
    return leaves, treedefs


def _layout(
    plan: Plan,
    blocks: Sequence[jax.Array],
    treedefs: Sequence[Any],
    out_tree: Any,
    argnums_tuple: bool,
) -> Any:
    """Arranges dense blocks like ``jax.jacfwd(f, argnums=plan.diff_args)``."""
    per_out: list[Any] = []
    it = iter(blocks)
    by_arg: dict[int, list[LeafSpec]] = {}
    for spec in plan.leaves:
        if spec.differentiated:
            by_arg.setdefault(spec.arg, []).append(spec)
    for _ in plan.graph.outputs:
        per_arg = []
        for arg in plan.diff_args:
            arg_blocks = [next(it) for _ in by_arg[arg]]
            per_arg.append(jax.tree_util.tree_unflatten(treedefs[arg], arg_blocks))
        per_out.append(tuple(per_arg) if argnums_tuple else per_arg[0])
    if out_tree is not None:
        return jax.tree_util.tree_unflatten(out_tree, per_out)
    return per_out[0] if len(per_out) == 1 else tuple(per_out)


def flat_blocks(
    plan: Plan, *, stack_group: int | None = STACK_GROUP
) -> Callable[..., tuple[jax.Array, ...]]:
    """Flat leaves (``plan.leaves`` order) -> every dense block, batch-aware."""
    stack_group = check_stack_group(stack_group)
    vertices = [spec.vertex for spec in plan.leaves]

    def body(*flat):
        cores = partial_cores(plan, dict(zip(vertices, flat)))
        return tuple(accumulate_blocks(plan, cores, stack_group=stack_group))

    return batch_aware(body, fused_outputs=fuses_blocks(plan, stack_group))


def _flat(plan: Plan, leaves: dict[str, jax.Array]) -> list[jax.Array]:
    return [leaves[spec.vertex] for spec in plan.leaves]


def _dense_kernel(
    plan: Plan, out_tree: Any, argnums_tuple: bool, stack_group: int | None
) -> Callable[..., Any]:
    run = flat_blocks(plan, stack_group=stack_group)

    def kernel(*args):
        TRACE_COUNTS[id(plan)] = TRACE_COUNTS.get(id(plan), 0) + 1
        leaves, treedefs = flatten_args(plan, args)
        blocks = run(*_flat(plan, leaves))
        return _layout(plan, blocks, treedefs, out_tree, argnums_tuple)

    return kernel


def _structured_kernel(plan: Plan) -> Callable[..., Any]:
    vertices = [spec.vertex for spec in plan.leaves]
    run = batch_aware(
        lambda *flat: accumulate_structured(
            plan, partial_cores(plan, dict(zip(vertices, flat)))
        ),
        fused_outputs=fuses_blocks(plan, STACK_GROUP),
    )

    def kernel(*args):
        TRACE_COUNTS[id(plan)] = TRACE_COUNTS.get(id(plan), 0) + 1
        leaves, _ = flatten_args(plan, args)
        return run(*_flat(plan, leaves))

    return kernel


@functools.lru_cache(maxsize=256)
def _jitted(
    plan: Plan,
    structured: bool,
    out_tree: Any,
    argnums_tuple: bool | None,
    stack_group: int | None = STACK_GROUP,
) -> Callable[..., Any]:
    if structured:
        body = _structured_kernel(plan)
    else:
        if argnums_tuple is None:
            argnums_tuple = len(plan.diff_args) != 1
        body = _dense_kernel(plan, out_tree, argnums_tuple, stack_group)
    fn = jax.jit(body)
    fn.plan = plan  # type: ignore[attr-defined]
    return fn


def jacobian(
    graph: Graph,
    order: OrderSpec = "markowitz",
    *,
    structured: bool = False,
    out_tree: Any = None,
    stack_group: int | None = STACK_GROUP,
) -> Callable[..., Any]:
    """A jitted function computing the Jacobian of a program graph by ``order``.

    The returned function takes the traced function's positional arguments (each
    a pytree whose leaves are the arrays of ``graph.signature``; for a graph
    loaded from JSON, an array per single-leaf argument or a tuple of arrays).

    Layout (``structured=False``): like ``jax.jacfwd(f, argnums=A)`` where ``A``
    is the arguments holding differentiated leaves: an int when there is one
    (no tuple level), a tuple otherwise. Per output leaf (a single output gives
    no tuple; several give a tuple in ``graph.outputs`` order, or ``out_tree``'s
    structure when given), per argument in ``A``, the argument's pytree with
    each leaf replaced by the dense block of shape ``out.shape + leaf.shape``.

    Layout (``structured=True``): ``{(output id, input id): Block(partial, core)}``
    for every nonzero block, without densifying (``Block`` is a pytree whose
    ``partial`` is static, so it passes through ``jax.vmap``).

    Args:
      graph: a program graph (``graphs.trace`` or ``graphs.load`` of its JSON).
      order: intermediate ids, ``"forward"``, ``"reverse"`` or a baseline name.
      structured: return structured blocks instead of dense ones.
      out_tree: optional treedef of the traced function's result.
      stack_group: how a block of an input or output split into elements
        (``graphs.elements``) is stacked: all at once (``None``) or, for blocks
        of at most ``interpreter.eliminate.FUSED_BLOCK_MAX_ELEMENTS`` elements,
        as a tree of stacks of this many, at least 2 (the default,
        ``STACK_GROUP``: one fused loop per block, with the values its elements
        share stored under ``jax.vmap``); same values and multiplications,
        different XLA fusion.

    Returns:
      A ``jax.jit``-ed function; it composes with ``jax.vmap`` and ``jax.jit``
      and re-traces only for new shapes. ``fn.plan`` is its :class:`Plan`.

    Raises:
      GraphError: for a structure-only graph, an invalid order, or (on call)
        arguments of the wrong count, structure, shape or dtype.
      ValueError: for a ``stack_group`` that is neither ``None`` nor an int >= 2.

    Example:
      >>> g = graphs.trace(lambda x: jnp.sin(x) * x, jnp.ones(3))
      >>> interpreter.jacobian(g, "reverse")(jnp.arange(3.0)).shape
      (3, 3)
    """
    plan = make_plan(graph, order, what="interpreter.jacobian")
    return _jitted(
        plan, structured, None if structured else out_tree, None, stack_group
    )


def jac(
    f: Callable[..., Any],
    *,
    order: OrderSpec = "markowitz",
    argnums: int | Sequence[int] = 0,
) -> Callable[..., Any]:
    """A drop-in for ``jax.jacfwd(f, argnums)`` that accumulates by ``order``.

    Traces ``f`` with ``graphs.trace`` on the first call for each argument
    structure, shapes and dtypes, and caches the jitted kernel.

    Args:
      f: a JAX-traceable function of positional arguments.
      order: a baseline name, ``"forward"`` or ``"reverse"`` (a list of ids only
        makes sense for one fixed input shape).
      argnums: the argument(s) to differentiate, as in ``jax.jacfwd``.

    Returns:
      A function with ``f``'s signature returning the Jacobian in ``jax.jacfwd``'s
      layout.

    Example:
      >>> interpreter.jac(jnp.sin)(jnp.ones(3)).shape
      (3, 3)
    """
    argnums_tuple = not isinstance(argnums, int)
    nums = tuple(argnums) if argnums_tuple else (argnums,)
    kernels: dict[Any, Callable[..., Any]] = {}

    def key_of(args):
        flat, treedef = jax.tree_util.tree_flatten(args)
        return treedef, tuple((tuple(np.shape(x)), str(_dtype(x))) for x in flat)

    @functools.wraps(f)
    def wrapped(*args):
        key = key_of(args)
        kernel = kernels.get(key)
        if kernel is None:
            import graphs

            examples = jax.tree_util.tree_map(
                lambda x: jax.ShapeDtypeStruct(np.shape(x), _dtype(x)), args
            )
            graph = graphs.trace(f, *examples, argnums=nums)
            out_tree = jax.tree_util.tree_structure(jax.eval_shape(f, *examples))
            plan = make_plan(graph, order, what="interpreter.jac")
            kernel = _jitted(plan, False, out_tree, argnums_tuple)
            kernels[key] = kernel
        return kernel(*args)

    return wrapped
