"""The elimination game as fixed-shape JAX arrays.

A :class:`GameState` is an elimination graph (``graphs.elimination.ElimGraph``)
padded to a size bucket ``N`` (vertices) and a rank bucket ``R`` (axes per vertex),
so that one compiled :func:`step` serves every graph of that bucket. An action is a
vertex position; eliminating it costs exactly the multiplications that
``graphs.cost`` counts, and the reward is ``-cost / scale`` with ``scale`` the
graph's best baseline cost.

Each edge ``J[s, p]`` (stored at ``[s, p]``: destination, source) holds a
fixed-size descriptor of its structured partial; :mod:`search.descriptors`
defines it and the composition and sum rules that :func:`step` applies. Cost
heuristics read off a state (Markowitz, completion estimates) are in
:mod:`search.heuristics`. Scalar graphs use ``R = 0``.

Shape letters: ``N`` vertices (bucket), ``R`` axes per vertex (rank bucket).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from graphs.elimination import ElimGraph, build
from graphs.ir import Graph
from search.core import best_baseline_cost
from search.descriptors import Edges, add, compose, describe, float_dtype

#: Vertex-count buckets; a graph is padded to the smallest one that fits it.
BUCKETS: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
#: Largest vertex rank a tensor graph may have (the rank bucket of tensor graphs).
MAX_RANK = 4


class GameState(NamedTuple):
    """One elimination game, padded to ``N`` vertices and ``R`` axes per vertex.

    Edge arrays are indexed ``[dst, src]``: entry ``[s, p]`` describes ``J[s, p]``.
    Descriptor fields of absent edges are zero / ``-1``.
    """

    present: jax.Array  # [N, N] bool: the edge exists
    has_values: jax.Array  # [N, N] bool: the partial has a value core
    is_index_map: jax.Array  # [N, N] bool: the partial is an IndexMap selection
    pair: jax.Array  # [N, N, R] int8: in-axis paired with out-axis o, or -1
    out_core: jax.Array  # [N, N, R] bool: out-axis o carries a core label
    in_core: jax.Array  # [N, N, R] bool: in-axis j carries a core label
    sizes: jax.Array  # [N, R] int32: axis sizes of each vertex, 1 past its rank
    rank: jax.Array  # [N] int32: rank of each vertex
    valid: jax.Array  # [N] bool: a real vertex (not padding)
    is_input: jax.Array  # [N] bool
    is_output: jax.Array  # [N] bool: holds an output's Jacobian
    is_intermediate: jax.Array  # [N] bool: an order eliminates it
    eliminated: jax.Array  # [N] bool
    inputs_reaching: jax.Array  # [N] int32: elements of the inputs with a path to it
    outputs_reached: jax.Array  # [N] int32: elements of the outputs it reaches
    scale: jax.Array  # [] float: cost scale (best baseline cost, at least 1)
    cost: jax.Array  # [] float: multiplications spent so far
    num_vertices: jax.Array  # [] int32: real vertices


def _rank_bucket(g: ElimGraph, max_rank: int) -> int:
    worst = max((len(shape) for shape in g.shapes), default=0)
    if worst > max_rank:
        vid = next(g.ids[i] for i, s in enumerate(g.shapes) if len(s) == worst)
        raise ValueError(
            f"vertex {vid!r} has rank {worst}, but the game encodes at most rank "
            f"{max_rank}; reshape it to rank <= {max_rank} or pass a larger "
            "max_rank to search.game.encode"
        )
    return 0 if worst == 0 else max_rank


def bucket_for(num_vertices: int) -> int:
    """The smallest bucket in :data:`BUCKETS` that holds ``num_vertices``."""
    for size in BUCKETS:
        if size >= num_vertices:
            return size
    raise ValueError(
        f"graph has {num_vertices} vertices, the largest bucket is {BUCKETS[-1]}; "
        "pass bucket= explicitly to encode a larger graph"
    )


def default_scale(g: ElimGraph) -> float:
    """The best baseline's cost (at least 1): the reward scale of a graph.

    Every baseline of ``graphs.baselines``, priced on the graph's fast cost core
    (``search.core.best_baseline_cost``: in C for scalar graphs).
    """
    return float(best_baseline_cost(g))


def encode(
    graph: Graph | ElimGraph,
    *,
    bucket: int | None = None,
    max_rank: int = MAX_RANK,
    scale: float | None = None,
) -> GameState:
    """The initial game state of a graph.

    Args:
      graph: a program or structure-only graph, or its elimination graph. Vertex
        ``i`` of the game is position ``i`` of the elimination graph.
      bucket: pad to this many vertices; default the smallest of :data:`BUCKETS`.
      max_rank: rank bucket of tensor graphs (scalar graphs use 0); a vertex of
        higher rank raises ``ValueError``.
      scale: reward scale; default :func:`default_scale` (the best baseline's
        cost, at least 1).

    Returns:
      A :class:`GameState` with no vertex eliminated.

    Example:
      >>> state = encode(graphs.build(g))
      >>> state, cost = step(state, jnp.int32(g_elim.intermediates[0]))
    """
    g = graph if isinstance(graph, ElimGraph) else build(graph)
    n = len(g.ids)
    size = bucket_for(n) if bucket is None else bucket
    if size < n:
        raise ValueError(f"bucket {size} is smaller than the graph ({n} vertices)")
    rank = _rank_bucket(g, max_rank)
    if scale is None:
        scale = default_scale(g)
    present = np.zeros((size, size), bool)
    has_values = np.zeros((size, size), bool)
    is_index_map = np.zeros((size, size), bool)
    pair = np.full((size, size, rank), -1, np.int8)
    out_core = np.zeros((size, size, rank), bool)
    in_core = np.zeros((size, size, rank), bool)
    for (s, p), partial in g.edges.items():
        hv, im, pr, oc, ic = describe(partial, rank)
        present[s, p], has_values[s, p], is_index_map[s, p] = True, hv, im
        pair[s, p], out_core[s, p], in_core[s, p] = pr, oc, ic
    sizes = np.ones((size, rank), np.int32)
    ranks = np.zeros(size, np.int32)
    for i, shape in enumerate(g.shapes):
        sizes[i, : len(shape)] = shape
        ranks[i] = len(shape)

    inputs_reaching, outputs_reached = _reach_counts(g, size)

    def flags(positions) -> np.ndarray:
        out = np.zeros(size, bool)
        out[list(positions)] = True
        return out

    return GameState(
        present=jnp.asarray(present),
        has_values=jnp.asarray(has_values),
        is_index_map=jnp.asarray(is_index_map),
        pair=jnp.asarray(pair),
        out_core=jnp.asarray(out_core),
        in_core=jnp.asarray(in_core),
        sizes=jnp.asarray(sizes),
        rank=jnp.asarray(ranks),
        valid=jnp.asarray(flags(range(n))),
        is_input=jnp.asarray(flags(g.inputs)),
        is_output=jnp.asarray(flags(g.outputs.values())),
        is_intermediate=jnp.asarray(flags(g.intermediates)),
        eliminated=jnp.zeros(size, bool),
        inputs_reaching=jnp.asarray(inputs_reaching),
        outputs_reached=jnp.asarray(outputs_reached),
        scale=jnp.asarray(float(max(scale, 1)), float_dtype()),
        cost=jnp.zeros((), float_dtype()),
        num_vertices=jnp.asarray(n, jnp.int32),
    )


def _reach_counts(g: ElimGraph, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per vertex: elements (sizes summed) of the inputs that reach it and of the
    outputs it reaches, by paths of length >= 1; counts for scalar graphs.

    Elimination keeps reachability among the remaining vertices (a path through
    an eliminated vertex becomes an edge), so these stay valid for the whole game.
    """
    inputs_reaching = np.zeros(size, np.int32)
    outputs_reached = np.zeros(size, np.int32)
    order = range(len(g.ids))  # positions are topological (sinks last)
    inputs = set(g.inputs)
    reach_in: dict[int, set[int]] = {}
    for v in order:
        found: set[int] = set()
        for p in g.pred.get(v, ()):
            found |= reach_in.get(p, set())
            if p in inputs:
                found.add(p)
        reach_in[v] = found
        inputs_reaching[v] = sum(math.prod(g.shapes[i]) for i in found)
    outputs = set(g.outputs.values())
    reach_out: dict[int, set[int]] = {}
    for v in reversed(order):
        found = set()
        for s in g.succ.get(v, ()):
            found |= reach_out.get(s, set())
            if s in outputs:
                found.add(s)
        reach_out[v] = found
        outputs_reached[v] = sum(math.prod(g.shapes[o]) for o in found)
    return inputs_reaching, outputs_reached


def empty_state(bucket: int, rank: int = 0) -> GameState:
    """A state of ``bucket`` padding vertices and no edges (for shapes and init)."""
    n = bucket
    return GameState(
        present=jnp.zeros((n, n), bool),
        has_values=jnp.zeros((n, n), bool),
        is_index_map=jnp.zeros((n, n), bool),
        pair=jnp.full((n, n, rank), -1, jnp.int8),
        out_core=jnp.zeros((n, n, rank), bool),
        in_core=jnp.zeros((n, n, rank), bool),
        sizes=jnp.ones((n, rank), jnp.int32),
        rank=jnp.zeros(n, jnp.int32),
        valid=jnp.zeros(n, bool),
        is_input=jnp.zeros(n, bool),
        is_output=jnp.zeros(n, bool),
        is_intermediate=jnp.zeros(n, bool),
        eliminated=jnp.zeros(n, bool),
        inputs_reaching=jnp.zeros(n, jnp.int32),
        outputs_reached=jnp.zeros(n, jnp.int32),
        scale=jnp.ones((), float_dtype()),
        cost=jnp.zeros((), float_dtype()),
        num_vertices=jnp.zeros((), jnp.int32),
    )


def stack(states: list[GameState]) -> GameState:
    """Stacks states of one bucket into a batch (leading axis ``B``)."""
    shapes = {tuple(s.pair.shape) for s in states}
    if len(shapes) != 1:
        raise ValueError(
            f"states of different buckets cannot be stacked: {sorted(shapes)}; "
            "encode them with the same bucket= and max_rank="
        )
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


def legal_mask(state: GameState) -> jax.Array:
    """``[N] bool``: the intermediates not yet eliminated."""
    return state.is_intermediate & ~state.eliminated


def is_terminal(state: GameState) -> jax.Array:
    """``[] bool``: every intermediate has been eliminated."""
    return ~jnp.any(legal_mask(state))


def _step(state: GameState, action: jax.Array) -> tuple[GameState, jax.Array]:
    v = jnp.asarray(action, jnp.int32)
    legal = legal_mask(state)[v]
    axes = jnp.arange(state.sizes.shape[1]) < state.rank[:, None]  # [N, R]
    edges = Edges(
        state.present,
        state.has_values,
        state.is_index_map,
        state.pair,
        state.out_core,
        state.in_core,
    )
    a = jax.tree.map(lambda e: e[:, v], edges)  # J[s, v], indexed by s
    b = jax.tree.map(lambda e: e[v, :], edges)  # J[v, p], indexed by p
    product, mults = compose(a, b, state.sizes[v], state.sizes, state.sizes, axes, axes)
    fill = a.present[:, None] & b.present[None, :] & legal  # [N, N]
    summed = add(edges, product, axes, axes)
    existing = fill & state.present

    def merge(old, prod, total):
        expand = (...,) + (None,) * (old.ndim - 2)
        new = jnp.where(fill[expand], prod, old)
        return jnp.where(existing[expand], total, new)

    new = jax.tree.map(merge, edges, product, summed)
    gone = (jnp.arange(state.present.shape[0]) == v) & legal
    keep = new.present & ~gone[:, None] & ~gone[None, :]

    def clear(field, empty):
        expand = (...,) + (None,) * (field.ndim - 2)
        return jnp.where(keep[expand], field, jnp.asarray(empty, field.dtype))

    cost = jnp.sum(jnp.where(fill, mults, 0))
    new_state = state._replace(
        present=keep,
        has_values=clear(new.has_values, False),
        is_index_map=clear(new.is_index_map, False),
        pair=clear(new.pair.astype(state.pair.dtype), -1),
        out_core=clear(new.out_core, False),
        in_core=clear(new.in_core, False),
        eliminated=state.eliminated | gone,
        cost=state.cost + cost,
    )
    return new_state, cost


#: ``step(state, action) -> (state, cost)``: eliminates vertex ``action``.
#: An illegal action (padding, input, output, already eliminated) leaves the
#: state unchanged and costs 0. Jitted; use ``jax.vmap(step)`` for a batch.
step = jax.jit(_step)


def reward(state: GameState, cost: jax.Array) -> jax.Array:
    """``[] float``: the scaled reward ``-cost / scale`` of a step."""
    return -cost / state.scale


def replay(state: GameState, actions: jax.Array) -> tuple[GameState, jax.Array]:
    """Plays ``actions`` ``[T]`` from ``state``; returns the final state and ``[T]`` costs."""

    def body(s, action):
        return _step(s, action)

    return jax.lax.scan(body, state, jnp.asarray(actions, jnp.int32))


def game_cost(graph: Graph | ElimGraph, order: list[int], **encode_kwargs) -> float:
    """Total game cost of eliminating positions ``order`` (for checks)."""
    state = encode(graph, scale=1.0, **encode_kwargs)
    _, costs = jax.jit(replay)(state, jnp.asarray(order, jnp.int32))
    return float(jnp.sum(costs))


__all__ = [
    "BUCKETS",
    "MAX_RANK",
    "GameState",
    "bucket_for",
    "default_scale",
    "empty_state",
    "encode",
    "game_cost",
    "is_terminal",
    "legal_mask",
    "replay",
    "reward",
    "stack",
    "step",
]
