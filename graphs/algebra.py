"""The algebra of structured partials: composition and addition, with their cost.

Composition ``J[s,p] = J[s,v] · J[v,p]`` (:func:`compose`) is an einsum over ``v``'s
axes. Its cost is the product of the sizes of the distinct labels of the two value
cores after labels summed in one core alone are pre-summed, and zero when either
factor has no values. Addition (:func:`add`) fits both terms to one structure and sums
their cores. Both return a :class:`Product`: the resulting partial (see
:mod:`graphs.structure`), its multiplications and additions, and its core.

With ``dtype=None`` they work symbolically (values ``None``) and are memoised: this
is the cost model. The interpreter executes exactly these functions with arrays
(``*_value`` arguments and a ``dtype``), so the cost model and the kernel agree by
construction. :data:`SMALL_CONTRACTION` and :data:`DOT_POLICY` choose how a
contraction is emitted (broadcast ``mul`` and sum, or ``dot_general``), which never
changes the multiplications.
"""

from __future__ import annotations

import contextvars
import functools
import math
from typing import Any, NamedTuple

from graphs.densify import (
    Value,
    _broadcast_to,
    _index_map_dense,
    _jnp,
    _transpose_to,
    _unpair,
    densify,
)
from graphs.runtime_select import compose_runtime, runtime_dense
from graphs.structure import (
    IndexMap,
    Labels,
    Partial,
    RuntimeMap,
    Structure,
    as_index_map,
    canonical,
    is_selection,
)


class Product(NamedTuple):
    """Result of composing or adding two partials."""

    partial: Partial
    multiplications: int
    additions: int
    value: Value


# -------------------------------------------------------------------------- compose


def compose(
    a: Partial,
    b: Partial,
    a_value: Value = None,
    b_value: Value = None,
    *,
    dtype: Any = None,
) -> Product:
    """``J[s,p] = J[s,v] · J[v,p]`` for ``a = J[s,v]`` and ``b = J[v,p]``.

    Args:
      a: partial of ``s`` w.r.t. ``v``.
      b: partial of ``v`` w.r.t. ``p``; ``b.out_shape == a.in_shape``.
      a_value, b_value: the cores (``None`` for value-less partials, or to work
        symbolically).
      dtype: dtype of materialised 0/1 cores; when ``None`` no arrays are built.

    Returns:
      The product's partial, its multiplications and additions, and its core.
    """
    if tuple(a.in_shape) != tuple(b.out_shape):
        raise ValueError(f"cannot compose: {a.in_shape} vs {b.out_shape}")
    if isinstance(a, RuntimeMap) or isinstance(b, RuntimeMap):
        return compose_runtime(a, b, a_value, b_value, dtype)
    symbolic = dtype is None
    if symbolic:
        return _compose_symbolic(a, b)
    if isinstance(a, IndexMap) or isinstance(b, IndexMap):
        return _compose_maps(a, b, a_value, b_value, dtype)
    return _compose_structures(a, b, a_value, b_value, dtype)


@functools.lru_cache(maxsize=200_000)
def _compose_symbolic(a: Partial, b: Partial) -> Product:
    if isinstance(a, IndexMap) or isinstance(b, IndexMap):
        return _compose_maps(a, b, None, None, None)
    return _compose_structures(a, b, None, None, None)


def _compose_maps(a, b, a_value, b_value, dtype) -> Product:
    if is_selection(a) and is_selection(b):
        ma, mb = as_index_map(a), as_index_map(b)
        index = tuple(mb.index[i] if i >= 0 else -1 for i in ma.index)
        return Product(IndexMap(ma.out_shape, mb.in_shape, index), 0, 0, None)
    if isinstance(b, IndexMap):
        # J[s,p] = A[s,v] · G[v,p]: scatter A's v-axes into p (sums, no products).
        da, av = densify(a, "in", a_value, dtype=dtype)
        keep = tuple(label for label in da.core if label not in da.in_labels)
        base = max(da.out_labels + da.in_labels + da.core, default=-1) + 1
        fresh = tuple(range(base, base + len(b.in_shape)))
        result = canonical(
            Structure(a.out_shape, b.in_shape, da.out_labels, fresh, keep + fresh)
        )
        value = None
        if av is not None:
            value = _scatter(av, da.core, keep, da.in_labels, b, dtype)
        adds = max(0, len(b.index) - len(set(i for i in b.index if i >= 0)))
        return Product(result, 0, adds * math.prod(da.sizes[k] for k in keep), value)
    # J[s,p] = G[s,v] · B[v,p]: gather B's v-axes by the map.
    db, bv = densify(b, "out", b_value, dtype=dtype)
    keep = tuple(label for label in db.core if label not in db.out_labels)
    base = max(db.out_labels + db.in_labels + db.core, default=-1) + 1
    fresh = tuple(range(base, base + len(a.out_shape)))
    result = canonical(
        Structure(a.out_shape, b.in_shape, fresh, db.in_labels, fresh + keep)
    )
    value = None
    if bv is not None:
        value = _gather(bv, db.core, keep, db.out_labels, a)
    return Product(result, 0, 0, value)


def _take_last(flat, index):
    """``flat[..., index]`` for a constant in-bounds index (a slice when contiguous)."""
    import numpy as np
    from jax import lax

    index = np.asarray(index, dtype=np.int64)
    n = flat.shape[-1]
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        if index[0] == 0 and len(index) == n:
            return flat
        return lax.slice_in_dim(
            flat, int(index[0]), int(index[0]) + len(index), axis=flat.ndim - 1
        )
    return _jnp().take(flat, index, axis=-1, mode="clip")


def _scatter(value, core, keep, v_labels, m: IndexMap, dtype):
    """Sums ``value``'s v-axes into ``m``'s input positions, by gathers (no scatter).

    Target ``j`` receives every source ``i`` with ``index[i] == j``; the k-th
    sources of all targets form one gather, and the layers are added.
    """
    import numpy as np

    jnp = _jnp()
    value = _transpose_to(value, core, keep + tuple(v_labels))
    lead = value.shape[: len(keep)]
    flat = jnp.reshape(value, lead + (-1,))
    n_in = math.prod(m.in_shape)
    sources: list[list[int]] = [[] for _ in range(n_in)]
    for i, j in enumerate(m.index):
        if j >= 0:
            sources[j].append(i)
    depth = max((len(s) for s in sources), default=0)
    out = None
    for k in range(depth):
        src = np.asarray([s[k] if len(s) > k else -1 for s in sources], dtype=np.int64)
        picked = _take_last(flat, np.maximum(src, 0))
        if (src < 0).any():
            picked = jnp.where(src >= 0, picked, jnp.zeros((), picked.dtype))
        out = picked if out is None else out + picked
    if out is None:
        out = jnp.zeros(lead + (n_in,), dtype=value.dtype)
    return jnp.reshape(out, lead + tuple(m.in_shape))


def _gather(value, core, keep, v_labels, m: IndexMap):
    import numpy as np

    jnp = _jnp()
    value = _transpose_to(value, core, tuple(v_labels) + keep)
    tail = value.shape[len(v_labels) :]
    flat = jnp.reshape(value, (-1,) + tail)
    index = np.asarray(m.index, dtype=np.int64)
    picked = jnp.moveaxis(
        _take_last(jnp.moveaxis(flat, 0, -1), np.maximum(index, 0)), -1, 0
    )
    if (index < 0).any():
        mask = (index >= 0).reshape((-1,) + (1,) * len(tail))
        picked = jnp.where(mask, picked, jnp.zeros((), picked.dtype))
    return jnp.reshape(picked, tuple(m.out_shape) + tail)


def _compose_structures(a: Structure, b: Structure, a_value, b_value, dtype) -> Product:
    shift = max(a.out_labels + a.in_labels, default=-1) + 1
    rename = {label: label + shift for label in b.out_labels + b.in_labels}
    for la, lb in zip(a.in_labels, b.out_labels):
        rename[lb] = la
    p_labels = tuple(rename[label] for label in b.in_labels)
    s_labels = a.out_labels
    sizes = dict(a.sizes)
    sizes.update({rename[label]: size for label, size in b.sizes.items()})
    contracted = set(a.in_labels) - set(s_labels) - set(p_labels)
    a_core = a.core
    b_core = None if b.core is None else tuple(rename[label] for label in b.core)

    def result_core(labels: set[int]) -> Labels:
        seen: list[int] = []
        for label in s_labels + p_labels:
            if label in labels and label not in seen:
                seen.append(label)
        return tuple(seen)

    in_a = set(a_core or ())
    in_b = set(b_core or ())
    factor = math.prod(sizes[label] for label in contracted - in_a - in_b)
    mults = adds = 0
    value = None
    if a_core is None and b_core is None:
        if factor == 1:
            core = None
        else:
            core = ()
            if dtype is not None:
                value = _jnp().asarray(factor, dtype=dtype)
    else:
        cores = []
        for labels, val, other in ((a_core, a_value, in_b), (b_core, b_value, in_a)):
            if labels is None:
                continue
            alone = tuple(
                label for label in labels if label in contracted and label not in other
            )
            kept = tuple(label for label in labels if label not in alone)
            if alone:
                adds += math.prod(sizes[label] for label in labels) - math.prod(
                    sizes[label] for label in kept
                )
                if val is not None:
                    val = _jnp().sum(val, axis=tuple(labels.index(x) for x in alone))
            cores.append((kept, val))
        union: set[int] = set()
        for kept, _ in cores:
            union |= set(kept)
        core = result_core(union - contracted)
        if len(cores) == 2:
            mults = math.prod(sizes[label] for label in union)
            (xl, xv), (yl, yv) = cores
            if xv is not None and yv is not None:
                value = _dot(xv, xl, yv, yl, core)
        else:
            kept, val = cores[0]
            if val is not None:
                value = _transpose_to(val, kept, core)
        if factor != 1:
            mults += math.prod(sizes[label] for label in core)
            if value is not None:
                value = value * factor
    result = Structure(a.out_shape, b.in_shape, s_labels, p_labels, core)
    return Product(canonical(result), mults, adds, value)


#: Contractions up to this size run as a broadcast ``mul`` and a sum, which XLA
#: fuses with its neighbours; larger ones as ``dot_general``. Both perform exactly
#: the product of the distinct labels' sizes in multiplications.
SMALL_CONTRACTION = 4

#: Optional override of that choice while tracing: ``policy(contracted size,
#: multiplications) -> bool`` (True: ``dot_general``). The interpreter sets it per
#: batch size; the multiplications are the same either way.
DOT_POLICY: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "dot_policy", default=None
)


def _dot(x, xl: Labels, y, yl: Labels, out: Labels):
    """Two-operand einsum; the multiplications are the product of its label sizes."""
    from jax import lax

    shared = [label for label in xl if label in yl]
    batch = [label for label in shared if label in out]
    contract = [label for label in shared if label not in out]
    contract_size = math.prod(x.shape[xl.index(c)] for c in contract)
    policy = DOT_POLICY.get()
    if policy is None:
        small = contract_size <= SMALL_CONTRACTION
    else:
        sizes = dict(zip(xl, x.shape))
        sizes.update(zip(yl, y.shape))
        small = not policy(contract_size, math.prod(sizes.values()))
    if small:
        # One broadcast multiply over every label (elementwise/outer products and
        # tiny contractions), then a sum over the contracted ones.
        jnp = _jnp()
        full = tuple(out) + tuple(contract)

        def expand(v, labels):
            present = tuple(label for label in full if label in labels)
            v = _transpose_to(v, labels, present)
            shape = tuple(
                v.shape[present.index(lab)] if lab in labels else 1 for lab in full
            )
            return v if shape == v.shape else jnp.reshape(v, shape)

        product = lax.mul(*jnp.broadcast_arrays(expand(x, xl), expand(y, yl)))
        if contract:
            product = jnp.sum(product, axis=tuple(range(len(out), len(full))))
        return product
    x_free = [label for label in xl if label not in yl]
    y_free = [label for label in yl if label not in xl]
    dims = (
        ([xl.index(c) for c in contract], [yl.index(c) for c in contract]),
        ([xl.index(c) for c in batch], [yl.index(c) for c in batch]),
    )
    result = lax.dot_general(x, y, dims)
    return _transpose_to(result, tuple(batch + x_free + y_free), out)


# ------------------------------------------------------------------------------ add


def add(
    x: Partial,
    y: Partial,
    x_value: Value = None,
    y_value: Value = None,
    *,
    dtype: Any = None,
) -> Product:
    """``J[s,p] + J'[s,p]``: the structure both fit, with their cores summed.

    Pairs that only one of them has are materialised; the additions counted are
    the elements of the summed core.
    """
    if dtype is None:
        return _add_symbolic(x, y)
    return _add(x, y, x_value, y_value, dtype)


@functools.lru_cache(maxsize=200_000)
def _add_symbolic(x: Partial, y: Partial) -> Product:
    return _add(x, y, None, None, None)


def _add(x, y, x_value, y_value, dtype) -> Product:
    if isinstance(x, RuntimeMap):
        x, x_value = runtime_dense(x, x_value, dtype)
    if isinstance(y, RuntimeMap):
        y, y_value = runtime_dense(y, y_value, dtype)
    if isinstance(x, IndexMap):
        x, x_value = _index_map_dense(x, dtype)
    if isinstance(y, IndexMap):
        y, y_value = _index_map_dense(y, dtype)
    common = x.pairs & y.pairs

    def drop(s: Structure, value):
        extra = s.pairs - common
        axes = tuple(("in", j) for _, j in sorted(extra))
        if not axes and s.core is not None:
            return s, value
        return _unpair(s, axes, value, dtype=dtype)

    x, x_value = drop(x, x_value)
    y, y_value = drop(y, y_value)
    rename = dict(zip(y.out_labels + y.in_labels, x.out_labels + x.in_labels))
    y_core = tuple(rename[label] for label in y.core)
    sizes = x.sizes
    union = set(x.core) | set(y_core)
    core: list[int] = []
    for label in x.out_labels + x.in_labels:
        if label in union and label not in core:
            core.append(label)
    core_t = tuple(core)
    value = None
    if x_value is not None and y_value is not None:
        value = _broadcast_to(x_value, x.core, core_t, sizes) + _broadcast_to(
            y_value, y_core, core_t, sizes
        )
    result = canonical(
        Structure(x.out_shape, x.in_shape, x.out_labels, x.in_labels, core_t)
    )
    return Product(result, 0, math.prod(sizes[label] for label in core_t), value)
