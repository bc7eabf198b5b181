"""Value cores made explicit: densifying partials and their full arrays.

A :class:`~graphs.structure.Structure` holds values in a dense *core* over some of its
labels; its pairs (Kronecker deltas) and constant axes stay implicit, and an
:class:`~graphs.structure.IndexMap` has no values at all. :func:`densify` turns every
axis of one side into a free core axis (a delta becomes explicit zeros, a constant
axis is broadcast, a value-less partial gets a 0/1 core) and :func:`to_dense` gives
the full ``out_shape + in_shape`` array. Nothing here multiplies: broadcasts, selects
and reshapes only. :mod:`graphs.algebra` builds on these helpers. Like it,
:func:`densify` works symbolically (values ``None`` and ``dtype=None``: only the
resulting structure) or on arrays; :func:`to_dense` needs a ``dtype`` and builds
arrays. jax is imported only when arrays are built.
"""

from __future__ import annotations

import math
from typing import Any

from graphs.structure import IndexMap, Labels, Partial, RuntimeMap, Structure, dense

Value = Any  # a jax.Array (or numpy array) holding a core, or None


# -------------------------------------------------------------------- array helpers


def _jnp():
    import jax.numpy as jnp

    return jnp


def _ones(value_dtype: Any = None) -> Value:
    jnp = _jnp()
    return jnp.ones((), dtype=value_dtype or jnp.result_type(float))


def _transpose_to(value: Value, labels: Labels, target: Labels) -> Value:
    if labels == target:
        return value
    return _jnp().transpose(value, [labels.index(label) for label in target])


def _broadcast_to(
    value: Value, labels: Labels, target: Labels, sizes: dict[int, int]
) -> Value:
    """Broadcasts a core over ``labels`` to one over ``target`` (a superset)."""
    jnp = _jnp()
    present = [label for label in target if label in labels]
    value = _transpose_to(value, labels, tuple(present))
    expanded = jnp.reshape(
        value, [sizes[label] if label in labels else 1 for label in target]
    )
    return jnp.broadcast_to(expanded, [sizes[label] for label in target])


# -------------------------------------------------------------------------- densify


def _unpair(
    s: Structure, axes: tuple[tuple[str, int], ...], value: Value, *, dtype: Any = None
) -> tuple[Structure, Value]:
    """Moves the listed axes into the core as free labels, materialising deltas.

    ``axes`` holds ``("out" | "in", position)``. A paired axis gets a fresh label
    and the delta between the two becomes explicit zeros in the core; an axis that
    was constant gets broadcast. A value-less partial becomes one with a 0/1 core.
    No multiplications: only broadcasts and selects.
    """
    out_labels, in_labels = list(s.out_labels), list(s.in_labels)
    core = list(s.core) if s.core is not None else []
    next_label = max(out_labels + in_labels, default=-1) + 1
    sizes = dict(s.sizes)
    deltas: list[tuple[int, int]] = []
    for side, pos in axes:
        labels, other = (
            (out_labels, in_labels) if side == "out" else (in_labels, out_labels)
        )
        label = labels[pos]
        if label in other:
            fresh = next_label
            next_label += 1
            sizes[fresh] = sizes[label]
            labels[pos] = fresh
            deltas.append((label, fresh))
            for lab in (label, fresh):
                if lab not in core:
                    core.append(lab)
        elif label not in core:
            core.append(label)
    new = Structure(
        s.out_shape, s.in_shape, tuple(out_labels), tuple(in_labels), tuple(core)
    )
    if value is None and (s.core is not None or dtype is None):
        return new, None
    jnp = _jnp()
    old_core = s.core if s.core is not None else ()
    base = value if s.core is not None else _ones(dtype)
    full = _broadcast_to(base, old_core, new.core, sizes)
    for a, b in deltas:
        ia = jnp.arange(sizes[a]).reshape(
            [sizes[a] if lab == a else 1 for lab in new.core]
        )
        ib = jnp.arange(sizes[b]).reshape(
            [sizes[b] if lab == b else 1 for lab in new.core]
        )
        full = jnp.where(ia == ib, full, jnp.zeros((), full.dtype))
    return new, full


def densify(
    s: Partial, side: str, value: Value = None, *, dtype: Any = None
) -> tuple[Structure, Value]:
    """Makes every axis on ``side`` ("out", "in" or "both") a free core axis."""
    if isinstance(s, IndexMap):
        return _index_map_dense(s, dtype)
    if isinstance(s, RuntimeMap):
        from graphs.runtime_select import runtime_dense

        return runtime_dense(s, value, dtype)
    axes: list[tuple[str, int]] = []
    if side in ("out", "both"):
        axes += [("out", i) for i in range(len(s.out_shape))]
    if side in ("in", "both"):
        axes += [("in", j) for j in range(len(s.in_shape))]
    return _unpair(s, tuple(axes), value, dtype=dtype)


def _index_map_dense(m: IndexMap, dtype: Any) -> tuple[Structure, Value]:
    """A dense 0/1 structure for an index map (used only when adding maps)."""
    s = dense(m.out_shape, m.in_shape)
    if dtype is None:
        return s, None
    import numpy as np

    n_out, n_in = math.prod(m.out_shape), math.prod(m.in_shape)
    table = np.zeros((n_out, n_in), dtype=bool)
    for i, j in enumerate(m.index):
        if j >= 0:
            table[i, j] = True
    jnp = _jnp()
    value = jnp.asarray(table.reshape(m.out_shape + m.in_shape), dtype=dtype)
    return s, value


def to_dense(s: Partial, value: Value, *, dtype: Any) -> Value:
    """The full ``out_shape + in_shape`` array of a partial (no multiplications)."""
    d, v = densify(s, "both", value, dtype=dtype)
    return _transpose_to(v, d.core, d.out_labels + d.in_labels)
