"""The elimination game as fixed-shape JAX arrays.

A :class:`GameState` is an elimination graph (``graphs.elimination.ElimGraph``)
padded to a size bucket ``N`` (vertices) and a rank bucket ``R`` (axes per vertex),
so that one compiled :func:`step` serves every graph of that bucket. An action is a
vertex position; eliminating it costs exactly the multiplications that
``graphs.cost`` counts, and the reward is ``-cost / scale`` with ``scale`` the
graph's best baseline cost.

Each edge ``J[s, p]`` (stored at ``[s, p]``: destination, source) holds a
fixed-size descriptor of its structured partial (``graphs.structure``): whether it
exists, whether it has values, whether it is an :class:`~graphs.structure.IndexMap`,
for each output axis ``o`` of ``s`` the input axis of ``p`` that shares its label
(a Kronecker-delta pair) or ``-1``, and which axes carry core (value) labels. The
cost of a composition depends only on this structure and the vertex shapes, never
on index contents, so the descriptor reproduces ``graphs.structure.compose`` and
``add`` exactly (the rules are derived in the comments of :func:`_compose` and
:func:`_add`). Scalar graphs use ``R = 0``: every per-axis array is empty and the
cost is the textbook ``|valued preds| * |valued succs|``.

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
from graphs.structure import IndexMap, Partial, Structure

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


#: Up to this many intermediates the default scale runs every graphs baseline.
GREEDY_SCALE_LIMIT = 256


def default_scale(g: ElimGraph) -> float:
    """The best baseline's cost (at least 1): the reward scale of a graph.

    Beyond :data:`GREEDY_SCALE_LIMIT` intermediates the greedy baselines take
    minutes in pure Python, so the cheaper of forward and reverse is used.
    """
    if not g.intermediates:
        return 1.0
    if len(g.intermediates) <= GREEDY_SCALE_LIMIT:
        from graphs.baselines import best_baseline

        return float(max(best_baseline(g)[1].cost, 1))
    from graphs.elimination import cost_of

    forward = list(g.intermediates)
    costs = [cost_of(g, order).multiplications for order in (forward, forward[::-1])]
    return float(max(min(costs), 1))


def _descriptor(partial: Partial, rank: int):
    """(has_values, is_index_map, pair[R], out_core[R], in_core[R]) of a partial."""
    pair = np.full(rank, -1, np.int8)
    out_core = np.zeros(rank, bool)
    in_core = np.zeros(rank, bool)
    if isinstance(partial, IndexMap):
        return False, True, pair, out_core, in_core
    assert isinstance(partial, Structure)
    where_in = {label: j for j, label in enumerate(partial.in_labels)}
    for o, label in enumerate(partial.out_labels):
        pair[o] = where_in.get(label, -1)
    if partial.core is not None:
        core = set(partial.core)
        for o, label in enumerate(partial.out_labels):
            out_core[o] = label in core
        for j, label in enumerate(partial.in_labels):
            in_core[j] = label in core
    return partial.core is not None, False, pair, out_core, in_core


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
        hv, im, pr, oc, ic = _descriptor(partial, rank)
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
        scale=jnp.asarray(float(max(scale, 1)), _float()),
        cost=jnp.zeros((), _float()),
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
        scale=jnp.ones((), _float()),
        cost=jnp.zeros((), _float()),
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


def _float():
    return jnp.result_type(float)


def _prod(values: jax.Array, keep: jax.Array, axis: int = -1) -> jax.Array:
    """Product of ``values`` where ``keep`` (1 elsewhere), in the float dtype."""
    return jnp.prod(jnp.where(keep, values.astype(_float()), 1), axis=axis)


class _Edges(NamedTuple):
    """Descriptor arrays of a set of edges (any leading shape ``...``)."""

    present: jax.Array  # [...] bool
    has_values: jax.Array  # [...] bool
    is_index_map: jax.Array  # [...] bool
    pair: jax.Array  # [..., R] int
    out_core: jax.Array  # [..., R] bool
    in_core: jax.Array  # [..., R] bool


def _compose(a: _Edges, b: _Edges, size_v, size_s, size_p, axes_s, axes_p):
    """All products ``J[s,v] . J[v,p]``: descriptors ``[N_s, N_p]`` and mults.

    ``a`` are the edges ``J[s, v]`` indexed by ``s`` and ``b`` the edges
    ``J[v, p]`` indexed by ``p``. Each axis ``k`` of ``v`` has one label ``L_k``;
    it is *contracted* when neither ``a`` pairs it with an axis of ``s`` nor ``b``
    with an axis of ``p``. Following ``graphs.structure._compose_structures``:
    labels contracted in only one core are pre-summed (no products), the product
    costs the sizes of the remaining labels of both cores (zero unless both have
    values), and a contracted label in neither core multiplies the result core
    by its size (``factor``). With an IndexMap factor (``_compose_maps``): two
    selections give an IndexMap; otherwise the other factor's shared side is
    densified, for no multiplications.
    """
    # --- per s: a = J[s, v]; out axes o of s, in axes k of v.
    a_hv, a_im = a.has_values, a.is_index_map  # [S]
    a_onehot = a.pair[:, :, None] == jnp.arange(size_v.shape[0])  # [S, o, k]
    a_paired = a_onehot.any(axis=1)  # [S, k]: v-axis k paired with an s-axis
    a_in = a.in_core & a_hv[:, None]  # [S, k]: L_k in a's core
    s_only = _prod(size_s, (a.pair < 0) & a.out_core & a_hv[:, None])  # [S]
    # --- per p: b = J[v, p]; out axes k of v, in axes j of p.
    b_hv, b_im = b.has_values, b.is_index_map  # [P]
    b_onehot = b.pair[:, :, None] == jnp.arange(size_p.shape[1])  # [P, k, j]
    b_paired = b.pair >= 0  # [P, k]
    b_inv = b_onehot.any(axis=1)  # [P, j]: p-axis j paired with a v-axis
    b_in = b.out_core & b_hv[:, None]  # [P, k]: L_k in b's core
    p_only = _prod(size_p, ~b_inv & b.in_core & b_hv[:, None])  # [P]
    # --- pairwise over (s, p, k).
    contracted = ~a_paired[:, None, :] & ~b_paired[None, :, :]
    in_a, in_b = a_in[:, None, :], b_in[None, :, :]
    union = (~contracted & (in_a | in_b)) | (contracted & in_a & in_b)
    result = ~contracted & (in_a | in_b)
    factor = _prod(size_v, contracted & ~in_a & ~in_b)  # [S, P]
    outer = s_only[:, None] * p_only[None, :]
    both = a_hv[:, None] & b_hv[None, :]
    either = a_hv[:, None] | b_hv[None, :]
    mults = jnp.where(both, outer * _prod(size_v, union), 0) + jnp.where(
        either & (factor != 1), outer * _prod(size_v, result), 0
    )
    # Gathers, not one-hot contractions: pair[s,p,o] = b.pair[p, a.pair[s,o]].
    a_idx = jnp.maximum(a.pair, 0).astype(jnp.int32)  # [S, o]
    a_has = (a.pair >= 0)[:, None, :]  # [S, 1, o]
    pair = jnp.where(a_has, jnp.swapaxes(b.pair[:, a_idx], 0, 1), -1)
    out_core = (a.out_core & a_hv[:, None])[:, None, :] | (
        a_has & jnp.swapaxes(b_in[:, a_idx], 0, 1)
    )
    in_core = (b.in_core & b_hv[:, None])[None, :, :]
    if b_onehot.shape[1]:  # rank bucket > 0
        b_src = jnp.argmax(b_onehot, axis=1).astype(jnp.int32)  # [P, j]: its v-axis
        in_core = in_core | (b_inv[None, :, :] & a_in[:, b_src])
    hv = either | (factor != 1)
    # --- IndexMap factors.
    sel_a = a_im | (~a_hv & jnp.all(a_paired | (size_v == 1), axis=-1))  # [S]
    sel_b = b_im | (~b_hv & jnp.all(b_inv | (size_p == 1), axis=-1))  # [P]
    any_im = a_im[:, None] | b_im[None, :]
    both_sel = any_im & sel_a[:, None] & sel_b[None, :]
    scatter = any_im & ~both_sel & b_im[None, :]  # densify a's in side
    gather = any_im & ~both_sel & ~b_im[None, :]  # densify b's out side
    scatter_out = (a.out_core & a_hv[:, None]) | (a.pair >= 0)  # [S, o]
    gather_in = (b.in_core & b_hv[:, None]) | b_inv  # [P, j]
    sc, ga = scatter[..., None], gather[..., None]
    out_core = jnp.where(sc, scatter_out[:, None, :], out_core)
    out_core = jnp.where(ga, axes_s[:, None, :], out_core)
    in_core = jnp.where(sc, axes_p[None, :, :], in_core)
    in_core = jnp.where(ga, gather_in[None, :, :], in_core)
    out_core &= ~both_sel[..., None]
    in_core &= ~both_sel[..., None]
    pair = jnp.where(any_im[..., None], -1, pair)
    hv = jnp.where(any_im, ~both_sel, hv)
    mults = jnp.where(any_im, 0, mults)
    present = jnp.ones_like(hv)
    return _Edges(present, hv, both_sel, pair, out_core, in_core), mults


def _add(x: _Edges, y: _Edges, axes_s, axes_p) -> _Edges:
    """``x + y`` (``graphs.structure._add``): common pairs kept, cores united.

    An IndexMap is first made dense (no pairs, every axis in the core). A pair
    that only one summand has is unpaired, which puts both of its axes in the
    core. The sum always has values.
    """

    def dense(e: _Edges):
        im = e.is_index_map[..., None]
        pair = jnp.where(im, -1, e.pair)
        out_core = jnp.where(im, axes_s[:, None, :], e.out_core)
        in_core = jnp.where(im, axes_p[None, :, :], e.in_core)
        return pair, out_core, in_core

    (px, ox, ix), (py, oy, iy) = dense(x), dense(y)
    rank = px.shape[-1]
    common = (px == py) & (px >= 0)

    def dropped_in(pr):
        onehot = (pr[..., :, None] == jnp.arange(rank)) & ~common[..., :, None]
        return onehot.any(axis=-2)

    out_core = ox | oy | ((px >= 0) & ~common) | ((py >= 0) & ~common)
    in_core = ix | iy | dropped_in(px) | dropped_in(py)
    pair = jnp.where(common, px, -1)
    true = jnp.ones_like(x.present)
    return _Edges(true, true, ~true, pair, out_core, in_core)


def _step(state: GameState, action: jax.Array) -> tuple[GameState, jax.Array]:
    v = jnp.asarray(action, jnp.int32)
    legal = legal_mask(state)[v]
    axes = jnp.arange(state.sizes.shape[1]) < state.rank[:, None]  # [N, R]
    edges = _Edges(
        state.present,
        state.has_values,
        state.is_index_map,
        state.pair,
        state.out_core,
        state.in_core,
    )
    a = jax.tree.map(lambda e: e[:, v], edges)  # J[s, v], indexed by s
    b = jax.tree.map(lambda e: e[v, :], edges)  # J[v, p], indexed by p
    product, mults = _compose(
        a, b, state.sizes[v], state.sizes, state.sizes, axes, axes
    )
    fill = a.present[:, None] & b.present[None, :] & legal  # [N, N]
    summed = _add(edges, product, axes, axes)
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


def valued_degrees(state: GameState) -> tuple[jax.Array, jax.Array]:
    """``([N], [N])`` counts of valued incoming and outgoing edges."""
    valued = state.present & state.has_values
    return valued.sum(axis=1), valued.sum(axis=0)


def core_sizes(state: GameState) -> jax.Array:
    """``[N, N] float``: elements in each edge's value core (0 without values).

    The core's labels are the core axes of the destination plus the unpaired
    core axes of the source (a paired axis is one label).
    """
    rank = state.pair.shape[-1]
    paired_in = jnp.any(state.pair[..., :, None] == jnp.arange(rank), axis=-2)
    sizes = state.sizes.astype(_float())
    out_part = jnp.prod(jnp.where(state.out_core, sizes[:, None, :], 1.0), axis=-1)
    in_only = state.in_core & ~paired_in
    in_part = jnp.prod(jnp.where(in_only, sizes[None, :, :], 1.0), axis=-1)
    return jnp.where(state.present & state.has_values, out_part * in_part, 0.0)


def markowitz(state: GameState) -> jax.Array:
    """``[N] float``: the Markowitz cost of eliminating each vertex now.

    ``sum_s core(s,v) * sum_p core(v,p) / size(v)`` over valued edges: for scalar
    graphs exactly the multiplications (valued ``|preds| * |succs|``, as
    ``graphs.elimination.elimination_cost``); for tensor graphs exact when every
    product contracts ``v``'s axes as dense or diagonal blocks, else an estimate
    (:func:`elimination_costs` is exact but ``O(N^3)``).
    """
    cores = core_sizes(state)
    vertex_size = jnp.prod(state.sizes.astype(_float()), axis=-1)
    return cores.sum(axis=0) * cores.sum(axis=1) / vertex_size


def completion_costs(state: GameState) -> tuple[jax.Array, jax.Array]:
    """``([], [])`` costs of finishing the game in forward and in reverse order.

    In forward order a vertex is eliminated once all of its intermediate
    predecessors are gone, so it then has the inputs reaching it as predecessors
    and its current successors; in reverse order, its current predecessors and
    the outputs it reaches. Each product with such an input or output is taken
    as dense: ``forward = sum_v inputs_reaching(v) * sum_s core(s, v)`` and
    ``reverse = sum_v sum_p core(v, p) * outputs_reached(v)`` (core sizes from
    :func:`core_sizes`). For scalar graphs whose edges all have values and whose
    outputs feed no other vertex these are exactly the multiplications of the
    two completions; otherwise an estimate.
    """
    legal = legal_mask(state)
    cores = core_sizes(state)
    into, out_of = cores.sum(axis=1), cores.sum(axis=0)  # [N]: preds / succs side
    forward = jnp.where(legal, state.inputs_reaching * out_of, 0).sum()
    reverse = jnp.where(legal, into * state.outputs_reached, 0).sum()
    return forward.astype(_float()), reverse.astype(_float())


def elimination_costs(state: GameState) -> jax.Array:
    """``[N] float``: the exact multiplications of eliminating each vertex now.

    ``O(N^3 R^2)`` work: meant for tests and small graphs, not for every node of
    a search tree. Entries of vertices that are not legal actions are 0.
    """
    legal = legal_mask(state)
    return jax.lax.map(
        lambda v: jnp.where(legal[v], _step(state, v)[1], 0),
        jnp.arange(state.present.shape[0]),
    )


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
    "completion_costs",
    "core_sizes",
    "elimination_costs",
    "empty_state",
    "encode",
    "game_cost",
    "is_terminal",
    "legal_mask",
    "markowitz",
    "replay",
    "reward",
    "stack",
    "step",
    "valued_degrees",
]
