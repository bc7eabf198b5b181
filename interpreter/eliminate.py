"""Accumulating the Jacobian: local partials, then vertex elimination with values.

The kernel is two stages with a plain list of arrays between them:

1. :func:`partial_cores` evaluates the program and the value core of every edge's
   local partial (``None`` for value-less index maps);
2. :func:`accumulate_blocks` eliminates the order by running
   ``graphs.elimination.eliminate`` itself with those cores (the same function
   that the cost model runs symbolically, so the kernel performs exactly the
   multiplications ``graphs.cost`` counts), then assembles the dense blocks
   (selects and broadcasts only, no products).

Keeping stage 2 a function of the cores alone lets a test count the products in
its own jaxpr.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap

from graphs import structure as st
from graphs.densify import to_dense
from graphs.elimination import ElimGraph, eliminate
from graphs.ir import Graph
from interpreter.plan import Plan
from interpreter.rules import evaluate, vertex_partials

EdgeValues = dict[tuple[int, int], Any]


class Block(NamedTuple):
    """A structured Jacobian block: its partial (static) and its core (or None).

    A pytree whose only child is ``core``; ``partial`` travels as static data, so
    blocks pass through ``jax.jit`` and ``jax.vmap``.
    """

    partial: st.Partial
    core: jax.Array | None  # shape partial.core_shape (batch axes first under vmap)


jax.tree_util.register_pytree_node(
    Block,
    lambda b: ((b.core,), b.partial),
    lambda partial, children: Block(partial, children[0]),
)


def local_partials(
    graph: Graph, g: ElimGraph, leaves: dict[str, jax.Array]
) -> tuple[dict[str, jax.Array], EdgeValues]:
    """Primal values and the core of every edge of ``g`` (``None`` if value-less).

    Args:
      graph: the program graph.
      g: its elimination graph (``graphs.elimination.build(graph)``).
      leaves: values of the inputs and parameters, by vertex id.

    Returns:
      The primal value of every vertex by id, and ``{(dst, src): core}`` over
      ``g``'s edges.
    """
    position = {vid: i for i, vid in enumerate(g.ids)}
    live = {vid for vid in g.ids}
    # Only vertices that some live vertex depends on need primal values.
    needed = set(live)
    for vertex in reversed(graph.vertices):
        if vertex.id in needed:
            needed.update(o for o in vertex.operands if isinstance(o, str))
    values = evaluate(graph, leaves, only=needed)
    cores: EdgeValues = {}
    by_id = graph.by_id
    for vertex in graph.vertices:
        dst = position.get(vertex.id)
        if dst is None or not vertex.operands:
            continue
        for src_id, (partial, core) in vertex_partials(vertex, values, by_id).items():
            src = position.get(src_id)
            if src is not None and (dst, src) in g.edges:
                if partial != g.edges[(dst, src)]:
                    raise AssertionError(
                        f"edge {src_id}->{vertex.id}: value rule and structure rule "
                        f"disagree ({partial} vs {g.edges[(dst, src)]})"
                    )
                cores[(dst, src)] = core
    for key in g.edges:
        cores.setdefault(key, None)
    return values, cores


def accumulate(
    g: ElimGraph, cores: EdgeValues, order: Sequence[int], *, dtype: Any
) -> tuple[ElimGraph, EdgeValues]:
    """Eliminates ``order`` with values; what remains are input→output edges."""
    for v in order:
        g, _, _, cores = eliminate(g, v, cores, dtype=dtype)
    return g, cores


def dense_block(
    g: ElimGraph, cores: EdgeValues, out_pos: int, in_pos: int, *, dtype: Any
) -> jax.Array:
    """The dense Jacobian block d out / d in after accumulation (zeros if no edge)."""
    shape = g.shapes[out_pos] + g.shapes[in_pos]
    if out_pos == in_pos:
        n = int(np.prod(g.shapes[in_pos], dtype=np.int64))
        return jnp.reshape(jnp.eye(n, dtype=dtype), shape)
    partial = g.edges.get((out_pos, in_pos))
    if partial is None:
        return jnp.zeros(shape, dtype=dtype)
    return to_dense(partial, cores[(out_pos, in_pos)], dtype=dtype).astype(dtype)


# ------------------------------------------------------------------ plan-level stages


def partial_cores(plan: Plan, leaves: dict[str, jax.Array]) -> list[jax.Array | None]:
    """Stage 1: the local-partial cores, one per ``plan.edge_keys`` entry."""
    _, cores = local_partials(plan.graph, plan.elim, leaves)
    return [cores[key] for key in plan.edge_keys]


def _eliminated(
    plan: Plan, cores: Sequence[jax.Array | None]
) -> tuple[ElimGraph, EdgeValues]:
    values = dict(zip(plan.edge_keys, cores))
    return accumulate(plan.elim, values, plan.order, dtype=plan.dtype)


#: How a split block's element pieces are stacked by default: all at once
#: (``None``), or as a tree of stacks of at most this many pieces, each level along
#: a new axis. XLA CPU fuses the producers of a concatenation of up to about 8
#: operands into one loop and splits larger ones into a fusion per piece plus a
#: copy (one ``jnp.stack`` of 64 scalars: 26 fusions for lorenz96's Jacobian); it
#: merges nested concatenations along the same axis, so each level stacks along a
#: new one. In one fused loop, values that several pieces share are recomputed
#: per piece unless stored: under ``jax.vmap`` the kernel stores them
#: (``interpreter.batching``), so the grouped layout is the default.
STACK_GROUP: int | None = 8

#: ... but only blocks of at most this many elements per example are stacked in
#: groups; larger ones are stacked flat. One fused loop over a bigger block costs
#: more per element than a loop per element plus the copy: measured (float64,
#: batch 256 and 2048, elements of one or two operations each) the grouped stack
#: 3-4x faster than the flat one for 8x8 elements, 1.3-2x slower for 11x11 and
#: 2-2.5x slower for 16x16.
FUSED_BLOCK_MAX_ELEMENTS = 64


def check_stack_group(group: Any) -> int | None:
    """``group`` if it is a valid ``stack_group`` (``None`` or an int >= 2).

    Raises:
      ValueError: otherwise (a group of 1 would never shrink a level of the
        stacking tree).
    """
    if group is None or (
        isinstance(group, (int, np.integer))
        and not isinstance(group, bool)
        and group >= 2
    ):
        return None if group is None else int(group)
    raise ValueError(
        f"stack_group must be None (stack each split block at once) or an integer "
        f">= 2 (a tree of stacks of that many pieces), got {group!r}"
    )


def block_group(shape: tuple[int, ...], group: int | None) -> int | None:
    """The stack group for a split block of ``shape`` (one example's), or ``None``."""
    if group is None or math.prod(shape) > FUSED_BLOCK_MAX_ELEMENTS:
        return None
    return group


def fuses_blocks(plan: Plan, group: int | None) -> bool:
    """Whether some block of a split vertex is stacked in groups (one fused loop)."""
    split = plan.elim.split
    return any(
        block_group(spec.shape, group) is not None
        for spec in plan.blocks
        if spec.out_vertex in split or spec.in_vertex in split
    )


def _stack(pieces: Sequence[jax.Array]) -> jax.Array:
    """``jnp.stack(pieces)`` as a concatenation of the pieces with a new leading axis.

    ``jax.vmap`` batches ``jnp.stack`` with the batch axis second and transposes
    it back afterwards (a strided copy in the fused loop: a 3x3 block at batch
    2048 was one ``transpose``+``copy`` fusion); a concatenation keeps it first.
    """
    return jnp.concatenate([jnp.expand_dims(p, 0) for p in pieces])


def _stack_tree(pieces: list[jax.Array], group: int | None) -> jax.Array:
    """``jnp.stack(pieces)``, built as a tree of stacks of at most ``group`` pieces.

    A level of more than ``group`` arrays is cut into the fewest chunks of at most
    ``group``, of equal length (the last padded with zeros, removed at the end by
    a slice), and each chunk is stacked along a new axis.
    """
    if group is None or len(pieces) <= group:
        return _stack(pieces)
    shape, dtype = pieces[0].shape, pieces[0].dtype
    level = list(pieces)
    while len(level) > group:
        size = -(-len(level) // -(-len(level) // group))
        zero = jnp.zeros(level[0].shape, dtype)
        level = level + [zero] * (-len(level) % size)
        level = [_stack(level[i : i + size]) for i in range(0, len(level), size)]
    flat = jnp.reshape(_stack(level), (-1,) + shape)
    return flat[: len(pieces)]


#: A block split into scalar elements on both sides, of at most this many
#: elements per example, with a multiple of 4 rows and at least
#: ``PADDED_COLUMNS_MIN_BYTES`` over the batch, is assembled without a
#: concatenation (:func:`_padded_columns`): each column that has nonzero elements
#: is a chain of selects on the row index, padded to the block's width, and the
#: padded columns are added (what ``jax.jacrev``'s transpose builds). XLA CPU
#: emits a concatenation as one loop per operand with a scalar store per element
#: and example, re-reading the operands after each store, so a sine two elements
#: share is evaluated twice; selects, pads and adds become one elementwise loop
#: in which LLVM vectorises the 4 rows and unrolls the columns, folding the index
#: tests, computing each shared value once and storing whole rows. With 3 rows
#: (Robertson) LLVM keeps the row loop and the form was slower (float64, batch
#: 256: 16.5 -> 21.1 µs). XLA CPU runs a loop fusion on two threads when its
#: HloCostAnalysis flops exceed its bytes accessed and flops + 2 transcendentals
#: + 10 bytes reach 200,000 (``ParallelTaskAssignment``), and for these loops
#: the hand-off costs more than it saves; the elements that do not vary over the
#: batch are therefore added as one constant block, not padded and added column
#: by column (each full-size add counts one flop per element and example):
#: SCARA pose float32 at batch 2048 165,912 -> 116,812 flops against 147,456
#: bytes, two threads -> one, 45.5 / 46.1 / 47.7 -> 36.0 / 35.3 / 35.8 µs (jacrev
#: 35.1 / 34.0 / 34.4, load 1.3-1.6); at batch 256 (16 KiB) 20,760 -> 14,668
#: flops against 18,432 bytes, 14.2-16.1 µs stacked -> 11.4-14.7 µs (jacrev
#: 11.0-13.9), so the form starts at 8 KiB. Before (stacked -> padded,
#: interleaved medians of three runs at load 2-5): SCARA pose float64 at batch
#: 2048 47.6 / 61.6 / 64.9 -> 43.2 / 54.1 / 49.7 µs, the 3-link arm residual
#: float32 140 / 91 / 79 -> 52 / 49 / 46 µs. The kernel uses it only where the
#: shared-values barrier stays closed (``interpreter.batching``): behind an open
#: one the shared values are stored anyway, and the double pendulum's block was
#: no faster in float64 (164 / 149 / 146 -> 163 / 149 / 142 µs) and slower in
#: float32.
PADDED_COLUMNS_MAX_ELEMENTS = 16
PADDED_COLUMNS_MIN_BYTES = 8192

#: The ``jax.vmap`` batch size the blocks are being assembled for, set by
#: ``interpreter.batching``; ``None`` when unknown or symbolic, or when the
#: blocks are to be stacked whatever the batch.
ASSEMBLY_BATCH: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "assembly_batch", default=None
)


def pads_columns(rows: int, cols: int, dtype: Any, batch: int | None) -> bool:
    """Whether a ``rows x cols`` block of scalar elements is built by padded columns."""
    return (
        batch is not None
        and rows * cols <= PADDED_COLUMNS_MAX_ELEMENTS
        and rows % 4 == 0
        and rows * cols * np.dtype(dtype).itemsize * batch >= PADDED_COLUMNS_MIN_BYTES
    )


def _column_sum(
    values: dict[tuple[int, int], jax.Array], shape: tuple[int, int], dtype: Any
) -> jax.Array | None:
    """Each column with nonzero elements as a select chain, padded; their sum."""
    m, n = shape
    zero = jnp.zeros((), dtype)
    rows = jax.lax.iota(np.int32, m)
    block = None
    for c in range(n):
        column = None
        for (r, cc), value in values.items():
            if cc != c:
                continue
            base = jnp.zeros((m,), dtype) if column is None else column
            column = jnp.where(rows == r, value, base)
        if column is None:
            continue
        padded = jax.lax.pad(column[:, None], zero, ((0, 0, 0), (c, n - 1 - c, 0)))
        block = padded if block is None else block + padded
    return block


def _padded_columns(
    values: dict[tuple[int, int], jax.Array], shape: tuple[int, int], dtype: Any
) -> jax.Array:
    """The ``[m, n]`` block whose nonzero scalar elements are ``values[(row, col)]``.

    Pads, selects and adds only (no products, no concatenation); structural zeros
    are never evaluated. Under ``jax.vmap`` the elements that do not vary over the
    batch (constant partials: the ``1`` of a sum, the ``-1`` of a difference) are
    summed into one unbatched block first, added once to the sum of the varying
    columns: a column of constants padded and added at full size is one more
    elementwise operation per element of the block (see
    :data:`PADDED_COLUMNS_MAX_ELEMENTS` for why that count matters).
    """
    keys = list(values)

    def assemble(*elements: jax.Array) -> jax.Array:
        block = _column_sum(dict(zip(keys, elements)), shape, dtype)
        return jnp.zeros(shape, dtype) if block is None else block

    folded = custom_vmap(assemble)

    @folded.def_vmap
    def _rule(axis_size, in_batched, *elements):
        varying = [i for i, batched in enumerate(in_batched) if batched]
        fixed = [i for i, batched in enumerate(in_batched) if not batched]
        block = jax.vmap(
            lambda *xs: _column_sum(
                {keys[i]: x for i, x in zip(varying, xs)}, shape, dtype
            ),
            axis_size=axis_size,
        )(*(elements[i] for i in varying))
        constant = _column_sum({keys[i]: elements[i] for i in fixed}, shape, dtype)
        if constant is not None:
            block = block + constant
        return block, True

    return folded(*(values[key] for key in keys))


def _split_block(
    plan: Plan, g: ElimGraph, cores: EdgeValues, spec: Any, group: int | None
) -> jax.Array:
    """The dense block of an output or input split into elements (``g.split``).

    One stack of the element blocks (copies only, no products): on XLA a single
    concatenation into the block's buffer, the layout jacfwd produces; a small
    block at a large batch as padded columns instead (:func:`pads_columns`).
    """
    in_shape = plan.graph.vertex(spec.in_vertex).shape
    out_shape = spec.shape[: len(spec.shape) - len(in_shape)]
    outs, ins = g.split.get(spec.out_vertex), g.split.get(spec.in_vertex)
    piece_out = () if outs is not None else out_shape
    piece_in = () if ins is not None else in_shape
    outs = outs or (g.outputs.get(spec.out_vertex, -1),)
    ins = ins or (plan.position.get(spec.in_vertex, -1),)

    def element(o: int, i: int) -> jax.Array:
        if o >= 0 and i >= 0 and (o == i or (o, i) in g.edges):
            return dense_block(g, cores, o, i, dtype=spec.dtype)
        return jnp.zeros(piece_out + piece_in, dtype=spec.dtype)

    group = block_group(spec.shape, group)
    if (
        group is not None
        and not piece_out
        and not piece_in
        and pads_columns(len(outs), len(ins), spec.dtype, ASSEMBLY_BATCH.get())
    ):
        nonzero = {
            (r, c): dense_block(g, cores, o, i, dtype=spec.dtype)
            for r, o in enumerate(outs)
            for c, i in enumerate(ins)
            if o >= 0 and i >= 0 and (o == i or (o, i) in g.edges)
        }
        block = _padded_columns(nonzero, (len(outs), len(ins)), spec.dtype)
        return jnp.reshape(block, spec.shape)
    if group is not None and len(outs) <= group and len(ins) <= group:
        # Rows of the block, then the rows: no padding, no index arithmetic
        # beyond the block's own two axes in the fused loop.
        stacked = _stack([_stack([element(o, i) for i in ins]) for o in outs])
    else:
        stacked = _stack_tree([element(o, i) for o in outs for i in ins], group)
    stacked = jnp.reshape(stacked, (len(outs), len(ins)) + piece_out + piece_in)
    n_po = len(piece_out)
    po_axes = list(range(2, 2 + n_po))
    pi_axes = list(range(2 + n_po, 2 + n_po + len(piece_in)))
    perm = (po_axes if piece_out or len(outs) == 1 else [0]) + (
        pi_axes if piece_in or len(ins) == 1 else [1]
    )
    perm += [a for a in range(stacked.ndim) if a not in perm]
    return jnp.reshape(jnp.transpose(stacked, perm), spec.shape)


def accumulate_blocks(
    plan: Plan,
    cores: Sequence[jax.Array | None],
    *,
    stack_group: int | None = STACK_GROUP,
) -> list[jax.Array]:
    """Stage 2: eliminate the order, then assemble every dense block of ``plan.blocks``.

    ``stack_group`` chooses how blocks of split vertices are stacked (see
    :data:`STACK_GROUP`); it never changes values or multiplications.
    """
    g, values = _eliminated(plan, cores)
    position = plan.position
    done: dict[tuple[str, str], jax.Array] = {}
    blocks = []
    for spec in plan.blocks:
        key = (spec.out_vertex, spec.in_vertex)
        if key not in done and (
            spec.out_vertex in g.split or spec.in_vertex in g.split
        ):
            done[key] = _split_block(plan, g, values, spec, stack_group)
        if key not in done:
            out_pos = g.outputs.get(spec.out_vertex)
            in_pos = position.get(spec.in_vertex)
            if out_pos is None or in_pos is None:
                done[key] = jnp.zeros(spec.shape, dtype=spec.dtype)
            else:
                done[key] = dense_block(g, values, out_pos, in_pos, dtype=spec.dtype)
        blocks.append(done[key])
    return blocks


def accumulate_structured(
    plan: Plan, cores: Sequence[jax.Array | None]
) -> dict[tuple[str, str], Block]:
    """Stage 2 without densifying: ``{(output id, input id): Block}``, nonzero blocks."""
    g, values = _eliminated(plan, cores)
    position = plan.position
    result: dict[tuple[str, str], Block] = {}
    for spec in plan.blocks:
        key = (spec.out_vertex, spec.in_vertex)
        if key not in result and (
            spec.out_vertex in g.split or spec.in_vertex in g.split
        ):
            # Elements of a split vertex: one dense block (values at every entry).
            shape = plan.graph.vertex(spec.in_vertex).shape
            partial = st.dense(spec.shape[: len(spec.shape) - len(shape)], shape)
            result[key] = Block(
                partial, _split_block(plan, g, values, spec, STACK_GROUP)
            )
            continue
        out_pos = g.outputs.get(spec.out_vertex)
        in_pos = position.get(spec.in_vertex)
        if key in result or out_pos is None or in_pos is None:
            continue
        if out_pos == in_pos:
            result[key] = Block(st.identity(g.shapes[in_pos]), None)
        elif (out_pos, in_pos) in g.edges:
            result[key] = Block(g.edges[(out_pos, in_pos)], values[(out_pos, in_pos)])
    return result
