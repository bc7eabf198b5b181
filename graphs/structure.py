"""Structured partial Jacobians: what a partial is, and how to build one.

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

This module is the symbolic description only: the two kinds, their builders
(:func:`dense`, :func:`identity`, :func:`elementwise`), :func:`canonical` labels,
:func:`validate`, and selections (:func:`is_selection`, :func:`as_index_map`). The
algebra on partials, :func:`~graphs.algebra.compose` and :func:`~graphs.algebra.add`,
is :mod:`graphs.algebra`; making pairs and index maps explicit in a value core
(:func:`~graphs.densify.densify`, :func:`~graphs.densify.to_dense`) is
:mod:`graphs.densify`.
"""

from __future__ import annotations

import dataclasses
import functools
import math

Labels = tuple[int, ...]


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


@dataclasses.dataclass(frozen=True)
class RuntimeMap:
    """A 0/1 index map whose pattern is known only at kernel time (traced indices).

    Its value in the kernel is an int32 array (``index_shape``) instead of a core;
    it has no values, so composing with it costs no multiplications (a gather or a
    scatter-add: :mod:`graphs.runtime_select`).

    Attributes:
      out_shape: shape of the dependent vertex.
      in_shape: shape of the operand vertex.
      scatter: ``False``: output element ``i`` copies input ``index[i]`` (one
        entry per output element); ``True``: input element ``k`` is added into
        output ``index[k]`` (one entry per input element). ``-1`` is no entry.
    """

    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    scatter: bool = False

    has_values = False
    core = None

    @property
    def index_shape(self) -> tuple[int]:
        return (math.prod(self.in_shape if self.scatter else self.out_shape),)


Partial = Structure | IndexMap | RuntimeMap


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
    return Structure(
        tuple(shape), tuple(shape), labels, labels, labels if values else None
    )


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
    if isinstance(s, RuntimeMap):
        return
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
    if isinstance(s, RuntimeMap) or s.core is not None:
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
