"""Cost heuristics read off a game state: Markowitz costs and completion estimates.

Cheap ``O(N^2)`` summaries of a :class:`~search.game.GameState` that the search
uses without playing moves: the network's features (:mod:`search.net`), the
heuristic prior and value of the tree search (:mod:`search.episodes`), and, for
tests and small graphs, the exact cost of every legal move
(:func:`elimination_costs`). All are pure functions of one unbatched state; use
``jax.vmap`` for a batch.

Shape letters: ``N`` vertices (bucket), ``R`` axes per vertex (rank bucket).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from search.descriptors import float_dtype
from search.game import GameState, _step, legal_mask


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
    sizes = state.sizes.astype(float_dtype())
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
    vertex_size = jnp.prod(state.sizes.astype(float_dtype()), axis=-1)
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
    return forward.astype(float_dtype()), reverse.astype(float_dtype())


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


__all__ = [
    "completion_costs",
    "core_sizes",
    "elimination_costs",
    "markowitz",
    "valued_degrees",
]
