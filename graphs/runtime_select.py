"""Composing and adding run-time index maps (:class:`~graphs.structure.RuntimeMap`).

A gather or scatter with traced indices has a 0/1 partial whose pattern is an int32
array computed in the kernel. The cost model prices what the kernel does with it:

* two gather-form maps (or a gather-form map and a static selection) compose into
  a gather-form map (``index_b[index_a]``); two scatter-form maps likewise;
  no multiplications, no additions;
* a map composed with any other partial gathers (``take``) or scatter-adds
  (``.at[].add``) the other factor's shared axes: **no multiplications**, the same
  result structure as a static :class:`~graphs.structure.IndexMap` gives, with an
  upper bound on the additions of a scatter-add;
* adding a map onto an edge makes it a dense 0/1 core (comparisons, no products).

With ``dtype=None`` everything is symbolic (values ``None``), as in
:mod:`graphs.algebra`, which dispatches here when a factor is a RuntimeMap.
"""

from __future__ import annotations

import math
from typing import Any

from graphs.densify import Value, _jnp, _transpose_to, densify
from graphs.structure import (
    Partial,
    RuntimeMap,
    Structure,
    as_index_map,
    canonical,
    dense,
    is_selection,
)


def _gather_form(p: Partial) -> bool:
    return (isinstance(p, RuntimeMap) and not p.scatter) or is_selection(p)


def _index_value(p: Partial, value: Value) -> Value:
    """The int32 gather-form index of ``p`` (runtime value or static table)."""
    if isinstance(p, RuntimeMap):
        return value
    return _jnp().asarray(as_index_map(p).index, dtype="int32")


def _pick(index: Value, by: Value) -> Value:
    """``index[by]`` where ``by >= 0``, else ``-1``."""
    jnp = _jnp()
    picked = jnp.take(index, jnp.maximum(by, 0), mode="clip")
    return jnp.where(by >= 0, picked, -1).astype("int32")


def compose_runtime(a: Partial, b: Partial, a_value: Value, b_value: Value, dtype: Any):
    """``J[s,p] = J[s,v] · J[v,p]`` when ``a`` or ``b`` is a RuntimeMap."""
    from graphs.algebra import Product

    symbolic = dtype is None
    a_rt, b_rt = isinstance(a, RuntimeMap), isinstance(b, RuntimeMap)
    if _gather_form(a) and _gather_form(b):
        result = RuntimeMap(tuple(a.out_shape), tuple(b.in_shape), False)
        value = None
        if not symbolic:
            value = _pick(_index_value(b, b_value), _index_value(a, a_value))
        return Product(result, 0, 0, value)
    if a_rt and b_rt and a.scatter and b.scatter:
        result = RuntimeMap(tuple(a.out_shape), tuple(b.in_shape), True)
        return Product(result, 0, 0, None if symbolic else _pick(a_value, b_value))
    if a_rt:
        return _map_then_values(a, b, a_value, b_value, dtype)
    return _values_then_map(a, b, a_value, b_value, dtype)


def _safe(index: Value, n: int) -> Value:
    """``-1`` entries moved out of bounds, so that ``mode="drop"`` drops them."""
    jnp = _jnp()
    return jnp.where(index >= 0, index, n)


def _map_then_values(a: RuntimeMap, b: Partial, a_value, b_value, dtype):
    """``a`` (s <- v) is a map: gather or scatter-add ``b``'s v-axes."""
    from graphs.algebra import Product

    db, bv = densify(b, "out", b_value, dtype=dtype)
    keep = tuple(label for label in db.core if label not in db.out_labels)
    base = max(db.out_labels + db.in_labels + db.core, default=-1) + 1
    fresh = tuple(range(base, base + len(a.out_shape)))
    result = canonical(
        Structure(
            tuple(a.out_shape), tuple(b.in_shape), fresh, db.in_labels, fresh + keep
        )
    )
    keep_size = math.prod(db.sizes[k] for k in keep)
    n_v, n_s = math.prod(a.in_shape), math.prod(a.out_shape)
    adds = n_v * keep_size if a.scatter else 0
    value = None
    if bv is not None:
        jnp = _jnp()
        bv = _transpose_to(bv, db.core, tuple(db.out_labels) + keep)
        tail = bv.shape[len(db.out_labels) :]
        flat = jnp.reshape(bv, (n_v,) + tail)
        if a.scatter:
            zeros = jnp.zeros((n_s,) + tail, dtype=flat.dtype)
            picked = zeros.at[_safe(a_value, n_s)].add(flat, mode="drop")
        else:
            picked = jnp.take(flat, jnp.maximum(a_value, 0), axis=0, mode="clip")
            mask = (a_value >= 0).reshape((-1,) + (1,) * len(tail))
            picked = jnp.where(mask, picked, jnp.zeros((), flat.dtype))
        value = jnp.reshape(picked, tuple(a.out_shape) + tail)
    return Product(result, 0, adds, value)


def _values_then_map(a: Partial, b: RuntimeMap, a_value, b_value, dtype):
    """``b`` (v <- p) is a map: scatter-add or gather ``a``'s v-axes."""
    from graphs.algebra import Product

    da, av = densify(a, "in", a_value, dtype=dtype)
    keep = tuple(label for label in da.core if label not in da.in_labels)
    base = max(da.out_labels + da.in_labels + da.core, default=-1) + 1
    fresh = tuple(range(base, base + len(b.in_shape)))
    result = canonical(
        Structure(
            tuple(a.out_shape), tuple(b.in_shape), da.out_labels, fresh, keep + fresh
        )
    )
    keep_size = math.prod(da.sizes[k] for k in keep)
    n_v, n_p = math.prod(b.out_shape), math.prod(b.in_shape)
    adds = 0 if b.scatter else n_v * keep_size
    value = None
    if av is not None:
        jnp = _jnp()
        av = _transpose_to(av, da.core, keep + tuple(da.in_labels))
        lead = av.shape[: len(keep)]
        flat = jnp.reshape(av, lead + (n_v,))
        if b.scatter:
            picked = jnp.take(flat, jnp.maximum(b_value, 0), axis=-1, mode="clip")
            picked = jnp.where(b_value >= 0, picked, jnp.zeros((), flat.dtype))
        else:
            zeros = jnp.zeros(lead + (n_p,), dtype=flat.dtype)
            picked = zeros.at[..., _safe(b_value, n_p)].add(flat, mode="drop")
        value = jnp.reshape(picked, lead + tuple(b.in_shape))
    return Product(result, 0, adds, value)


def runtime_dense(m: RuntimeMap, value: Value, dtype: Any) -> tuple[Structure, Value]:
    """A dense 0/1 structure for a run-time map (comparisons, no products)."""
    s = dense(tuple(m.out_shape), tuple(m.in_shape))
    if dtype is None or value is None:
        return s, None
    jnp = _jnp()
    n_out, n_in = math.prod(m.out_shape), math.prod(m.in_shape)
    if m.scatter:
        table = jnp.arange(n_out)[:, None] == value[None, :]
    else:
        table = value[:, None] == jnp.arange(n_in)[None, :]
    return s, jnp.reshape(table.astype(dtype), tuple(m.out_shape) + tuple(m.in_shape))
