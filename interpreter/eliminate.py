"""Accumulating the Jacobian: local partials, then vertex elimination with values.

The accumulation runs ``graphs.elimination.eliminate`` itself, with value cores:
the same function the cost model runs symbolically, so the kernel performs exactly
the multiplications that ``graphs.cost`` counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from graphs import structure as st
from graphs.elimination import ElimGraph, eliminate
from graphs.ir import Graph
from interpreter.rules import evaluate, vertex_partials

EdgeValues = dict[tuple[int, int], Any]


def local_partials(
    graph: Graph, g: ElimGraph, leaves: dict[str, jax.Array]
) -> tuple[dict[str, jax.Array], EdgeValues]:
    """Primal values and the core of every edge of ``g`` (``None`` if value-less)."""
    values = evaluate(graph, leaves)
    position = {vid: i for i, vid in enumerate(g.ids)}
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
                    raise AssertionError(f"edge {src_id}->{vertex.id}: structure mismatch")
                cores[(dst, src)] = core
    for (dst, src), partial in g.edges.items():
        cores.setdefault((dst, src), None)
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
        n = 1
        for d in g.shapes[in_pos]:
            n *= d
        return jnp.reshape(jnp.eye(n, dtype=dtype), shape)
    partial = g.edges.get((out_pos, in_pos))
    if partial is None:
        return jnp.zeros(shape, dtype=dtype)
    return st.to_dense(partial, cores[(out_pos, in_pos)], dtype=dtype)
