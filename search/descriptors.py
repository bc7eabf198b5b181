"""Edge descriptors: a structured partial as fixed-size arrays, and their algebra.

Each edge ``J[s, p]`` of a :class:`~search.game.GameState` (stored at ``[s, p]``:
destination, source) holds a fixed-size descriptor of its structured partial
(``graphs.structure``): whether it exists, whether it has values, whether it is an
:class:`~graphs.structure.IndexMap`, for each output axis ``o`` of ``s`` the input
axis of ``p`` that shares its label (a Kronecker-delta pair) or ``-1``, and which
axes carry core (value) labels. :func:`describe` encodes one partial. The cost of a
composition depends only on this structure and the vertex shapes, never on index
contents, so :func:`compose` and :func:`add` reproduce ``graphs.algebra.compose``
and ``add`` exactly (the rules are derived in their docstrings and comments), on
whole rows and columns of edges at once. Scalar graphs use ``R = 0``: every
per-axis array is empty and the cost is the textbook
``|valued preds| * |valued succs|``.

Shape letters: ``S`` destinations, ``P`` sources, ``R`` axes per vertex (rank
bucket); ``...`` any leading shape.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from graphs.structure import IndexMap, Partial, RuntimeMap, Structure


def float_dtype():
    """The float dtype of game costs and sizes (float64 under ``jax_enable_x64``)."""
    return jnp.result_type(float)


def describe(
    partial: Partial, rank: int
) -> tuple[bool, bool, np.ndarray, np.ndarray, np.ndarray]:
    """(has_values, is_index_map, pair[R], out_core[R], in_core[R]) of a partial."""
    pair = np.full(rank, -1, np.int8)
    out_core = np.zeros(rank, bool)
    in_core = np.zeros(rank, bool)
    if isinstance(partial, IndexMap | RuntimeMap):
        # A run-time map composes like a static one (the game's approximation
        # differs only for a gather-form map times a scatter-form one).
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


def _prod(values: jax.Array, keep: jax.Array, axis: int = -1) -> jax.Array:
    """Product of ``values`` where ``keep`` (1 elsewhere), in the float dtype."""
    return jnp.prod(jnp.where(keep, values.astype(float_dtype()), 1), axis=axis)


class Edges(NamedTuple):
    """Descriptor arrays of a set of edges (any leading shape ``...``)."""

    present: jax.Array  # [...] bool
    has_values: jax.Array  # [...] bool
    is_index_map: jax.Array  # [...] bool
    pair: jax.Array  # [..., R] int
    out_core: jax.Array  # [..., R] bool
    in_core: jax.Array  # [..., R] bool


def compose(
    a: Edges,
    b: Edges,
    size_v: jax.Array,
    size_s: jax.Array,
    size_p: jax.Array,
    axes_s: jax.Array,
    axes_p: jax.Array,
) -> tuple[Edges, jax.Array]:
    """All products ``J[s,v] . J[v,p]``: descriptors ``[N_s, N_p]`` and mults.

    ``a`` are the edges ``J[s, v]`` indexed by ``s`` and ``b`` the edges
    ``J[v, p]`` indexed by ``p``. Each axis ``k`` of ``v`` has one label ``L_k``;
    it is *contracted* when neither ``a`` pairs it with an axis of ``s`` nor ``b``
    with an axis of ``p``. Following ``graphs.algebra._compose_structures``:
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
    return Edges(present, hv, both_sel, pair, out_core, in_core), mults


def add(x: Edges, y: Edges, axes_s: jax.Array, axes_p: jax.Array) -> Edges:
    """``x + y`` (``graphs.algebra._add``): common pairs kept, cores united.

    An IndexMap is first made dense (no pairs, every axis in the core). A pair
    that only one summand has is unpaired, which puts both of its axes in the
    core. The sum always has values.
    """

    def dense(e: Edges):
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
    return Edges(true, true, ~true, pair, out_core, in_core)
