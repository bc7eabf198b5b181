"""Structured partial Jacobians and their algebra (compose, add, densify).

A partial Jacobian ``J[s, v]`` of vertex ``s`` (shape ``S``) with respect to vertex
``v`` (shape ``V``) is a tensor of shape ``S + V``. ccelim never stores it densely
unless it must. It is one of two kinds:

* :class:`Structure`, an einsum form. Every axis of ``S`` and of ``V`` carries an
  integer *label*. A label that appears on an output axis and on an input axis is a
  *pair*: the tensor is zero off the diagonal ``s_i == v_j`` (a Kronecker delta).
  ``core`` lists the labels of a dense array of values; along an axis whose label is
  not in ``core`` the tensor is constant. ``core=None`` means the partial has *no
  values*: it is a pure 0/1 index map (copy, transpose, broadcast, sum).
  ``sin`` on an n-vector is ``out=(0,), in=(0,), core=(0,)``: n values, not n².
* :class:`IndexMap`, a selection for index maps that are not axis pairings
  (general reshape, slice, concatenate): output element ``i`` copies input element
  ``index[i]`` (flat, row-major), or is zero where ``index[i] == -1``.

Composition ``J[s,p] = J[s,v] · J[v,p]`` is an einsum over ``v``'s axes. Its cost is
the product of the sizes of the distinct labels of the two value cores after
labels summed in one core alone are pre-summed, and zero when either factor has no
values. The interpreter executes exactly these functions with arrays (``*_value``
arguments), so the cost model and the kernel agree by construction. Every function
here works symbolically (values ``None``) or on arrays.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import math
from typing import Any, NamedTuple

Labels = tuple[int, ...]
Value = Any  # a jax.Array (or numpy array) holding a core, or None


@dataclasses.dataclass(frozen=True)
class Structure:
    """An einsum-form partial Jacobian (see the module docstring).

    Attributes:
      out_shape: shape of the dependent vertex ``s``.
      in_shape: shape of the operand vertex ``v``.
      out_labels: one label per axis of ``out_shape``; unique.
      in_labels: one label per axis of ``in_shape``; unique. Labels shared with
        ``out_labels`` are pairs (equal sizes).
      core: labels of the value array's axes, in its axis order; ``None`` if the
        partial has no values.
    """

    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    out_labels: Labels
    in_labels: Labels
    core: Labels | None

    @property
    def has_values(self) -> bool:
        return self.core is not None

    @functools.cached_property
    def sizes(self) -> dict[int, int]:
        sizes = dict(zip(self.out_labels, self.out_shape))
        sizes.update(zip(self.in_labels, self.in_shape))
        return sizes

    @property
    def core_shape(self) -> tuple[int, ...] | None:
        if self.core is None:
            return None
        return tuple(self.sizes[label] for label in self.core)

    @property
    def core_size(self) -> int:
        return math.prod(self.core_shape or ())

    @property
    def pairs(self) -> frozenset[tuple[int, int]]:
        """(out axis, in axis) positions that share a label."""
        where_in = {label: j for j, label in enumerate(self.in_labels)}
        return frozenset(
            (i, where_in[label])
            for i, label in enumerate(self.out_labels)
            if label in where_in
        )


@dataclasses.dataclass(frozen=True)
class IndexMap:
    """A 0/1 selection: output element ``i`` equals input element ``index[i]``.

    Attributes:
      out_shape: shape of the dependent vertex.
      in_shape: shape of the operand vertex.
      index: one entry per output element (row-major): the flat input index it
        copies, or ``-1`` for a structural zero.
    """

    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    index: tuple[int, ...]

    has_values = False
    core = None


Partial = Structure | IndexMap


class Product(NamedTuple):
    """Result of composing or adding two partials."""

    partial: Partial
    multiplications: int
    additions: int
    value: Value


# --------------------------------------------------------------------------- builders


def dense(out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> Structure:
    """A dense partial with values on every entry (the default for an edge)."""
    n_out = len(out_shape)
    out_labels = tuple(range(n_out))
    in_labels = tuple(range(n_out, n_out + len(in_shape)))
    return Structure(
        tuple(out_shape), tuple(in_shape), out_labels, in_labels, out_labels + in_labels
    )


def identity(shape: tuple[int, ...], *, values: bool = False) -> Structure:
    """The identity partial of a copy; with ``values`` a diagonal with values."""
    labels = tuple(range(len(shape)))
    return Structure(tuple(shape), tuple(shape), labels, labels, labels if values else None)


def elementwise(shape: tuple[int, ...], operand_shape: tuple[int, ...]) -> Structure:
    """Partial of an elementwise op w.r.t. an operand of ``operand_shape``.

    The core has the output's shape (the op's derivative at every output element).
    Axes of equal size are paired (a diagonal: n values, not n²); a scalar operand
    or an operand axis of size 1 broadcast along the output is a free axis.
    """
    shape, operand_shape = tuple(shape), tuple(operand_shape)
    out_labels = tuple(range(len(shape)))
    if operand_shape == ():
        return Structure(shape, (), out_labels, (), out_labels)
    if len(operand_shape) != len(shape) or any(
        d not in (1, n) for d, n in zip(operand_shape, shape)
    ):
        raise ValueError(
            f"elementwise operand of shape {operand_shape} does not broadcast to {shape}"
        )
    free = len(shape)
    in_labels = []
    for d, n, label in zip(operand_shape, shape, out_labels):
        if d == n:
            in_labels.append(label)
        else:
            in_labels.append(free)
            free += 1
    return Structure(shape, operand_shape, out_labels, tuple(in_labels), out_labels)


def canonical(s: Structure) -> Structure:
    """Relabels in order of first appearance (out axes, then in axes)."""
    mapping: dict[int, int] = {}
    for label in s.out_labels + s.in_labels:
        if label not in mapping:
            mapping[label] = len(mapping)
    return Structure(
        s.out_shape,
        s.in_shape,
        tuple(mapping[label] for label in s.out_labels),
        tuple(mapping[label] for label in s.in_labels),
        None if s.core is None else tuple(mapping[label] for label in s.core),
    )


def validate(s: Partial) -> None:
    """Raises ``ValueError`` if ``s`` is not a well-formed partial."""
    if isinstance(s, IndexMap):
        n_in = math.prod(s.in_shape)
        if len(s.index) != math.prod(s.out_shape):
            raise ValueError(
                f"index map has {len(s.index)} entries, expected one per output "
                f"element ({math.prod(s.out_shape)})"
            )
        if any(not (-1 <= i < n_in) for i in s.index):
            raise ValueError(f"index map entries must lie in [-1, {n_in})")
        return
    if len(s.out_labels) != len(s.out_shape) or len(s.in_labels) != len(s.in_shape):
        raise ValueError("need exactly one label per axis on each side")
    if len(set(s.out_labels)) != len(s.out_labels):
        raise ValueError("output-side labels must be unique")
    if len(set(s.in_labels)) != len(s.in_labels):
        raise ValueError("input-side labels must be unique")
    out_sizes = dict(zip(s.out_labels, s.out_shape))
    for label, size in zip(s.in_labels, s.in_shape):
        if label in out_sizes and out_sizes[label] != size:
            raise ValueError(
                f"paired axes must have equal sizes, got {out_sizes[label]} and {size}"
            )
    if s.core is not None:
        if len(set(s.core)) != len(s.core):
            raise ValueError("core labels must be unique")
        unknown = set(s.core) - set(s.out_labels) - set(s.in_labels)
        if unknown:
            raise ValueError(f"core labels {sorted(unknown)} are on no axis")


# ------------------------------------------------------------------------ selections


def is_selection(s: Partial) -> bool:
    """Whether a value-less partial copies at most one input element per output."""
    if isinstance(s, IndexMap):
        return True
    if s.core is not None:
        return False
    out = set(s.out_labels)
    return all(
        label in out or size == 1 for label, size in zip(s.in_labels, s.in_shape)
    )


def as_index_map(s: Partial) -> IndexMap:
    """The :class:`IndexMap` of a selection (see :func:`is_selection`)."""
    if isinstance(s, IndexMap):
        return s
    import numpy as np

    out_pos = {label: i for i, label in enumerate(s.out_labels)}
    # (explicit element count: -1 cannot be inferred for a 0-d output)
    out_idx = np.indices(s.out_shape).reshape(len(s.out_shape), math.prod(s.out_shape))
    in_coords = [
        out_idx[out_pos[label]] if label in out_pos else np.zeros(out_idx.shape[1], int)
        for label in s.in_labels
    ]
    if s.in_shape:
        flat = np.ravel_multi_index(tuple(in_coords), s.in_shape)
    else:
        flat = np.zeros(out_idx.shape[1], int)
    return IndexMap(s.out_shape, s.in_shape, tuple(int(i) for i in flat))


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
        labels, other = (out_labels, in_labels) if side == "out" else (in_labels, out_labels)
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
    new = Structure(s.out_shape, s.in_shape, tuple(out_labels), tuple(in_labels), tuple(core))
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
    result = canonical(Structure(a.out_shape, b.in_shape, fresh, db.in_labels, fresh + keep))
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
        return lax.slice_in_dim(flat, int(index[0]), int(index[0]) + len(index), axis=flat.ndim - 1)
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


def _compose_structures(
    a: Structure, b: Structure, a_value, b_value, dtype
) -> Product:
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
            alone = tuple(label for label in labels if label in contracted and label not in other)
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
            shape = tuple(v.shape[present.index(lab)] if lab in labels else 1 for lab in full)
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
    result = canonical(Structure(x.out_shape, x.in_shape, x.out_labels, x.in_labels, core_t))
    return Product(result, 0, math.prod(sizes[label] for label in core_t), value)
