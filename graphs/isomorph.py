"""Graph isomorphism: the exact check behind every cache hit.

:func:`isomorphism` searches for a vertex mapping from one graph to another that
preserves every label (op, params, shape, dtype, literals, roles: inputs and
outputs map by position) and every labelled edge. Both graphs are refined together
as one disjoint union (``graphs.refinement``): a cell that holds a different number
of vertices of each graph ends that branch. Where cells remain, one vertex of the
first graph is paired with each candidate of the second in turn (twins are paired
without a search). Every mapping found is checked edge by edge before it is
returned, so the answer never depends on a hash.

The search is bounded (``max_nodes`` search nodes, ``max_work`` vertex and edge
visits of refinement); past either bound it gives up and answers ``None``, so
``None`` means "not shown isomorphic", and a caller that must tell the graphs
apart treats them as different.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphs.ir import Graph
from graphs.refinement import (
    LabelledGraph,
    OutOfWork,
    initial_cells,
    refine,
    split_twins,
)

__all__ = ["isomorphic", "isomorphism"]


#: Default bound on refinement work (vertex and edge visits over both graphs):
#: a few seconds of pure Python.
MAX_WORK = 1_000_000


def isomorphism(
    a: Graph, b: Graph, *, max_nodes: int = 100_000, max_work: int = MAX_WORK
) -> dict[str, str] | None:
    """A vertex mapping from ``a`` to ``b`` that preserves everything hashed.

    Inputs map to inputs and outputs to outputs by position; labels (op, params,
    shape, dtype, literals) and labelled edges must agree exactly.

    Args:
      a, b: two graphs.
      max_nodes: search nodes to try before giving up (returns ``None``; only
        pathological symmetric graphs get near it).
      max_work: vertex and edge visits of refinement before giving up (returns
        ``None``).

    Returns:
      ``{a_id: b_id}`` for every vertex, or ``None`` if the graphs differ or the
      search gave up.
    """
    pa, pb = LabelledGraph(a), LabelledGraph(b)
    if (
        pa.flavour != pb.flavour
        or pa.n != pb.n
        or sorted(pa.colour0) != sorted(pb.colour0)
        or sum(map(len, pa.in_edges)) != sum(map(len, pb.in_edges))
    ):
        return None
    union = _union(pa, pb)
    budget = [max_nodes]
    try:
        found = _match(union, pa, pb, initial_cells(union), budget, max_work)
    except OutOfWork:
        return None
    if found is None:
        return None
    return {pa.ids[u]: pb.ids[w] for u, w in found.items()}


def isomorphic(a: Graph, b: Graph, *, max_work: int = MAX_WORK) -> bool:
    """Whether ``a`` and ``b`` are shown to be the same graph up to vertex names
    and order within the work bound."""
    return isomorphism(a, b, max_work=max_work) is not None


def _union(pa: LabelledGraph, pb: LabelledGraph) -> LabelledGraph:
    u = object.__new__(LabelledGraph)
    off = pa.n
    u.n = pa.n + pb.n
    u.colour0 = pa.colour0 + pb.colour0
    u.in_edges = pa.in_edges + [[(s + off, el) for s, el in e] for e in pb.in_edges]
    u.out_edges = pa.out_edges + [[(d + off, el) for d, el in e] for e in pb.out_edges]
    u.topo = pa.topo + [v + off for v in pb.topo]
    u.twin = pa.twin + [c + off for c in pb.twin]
    u.m, u.work = pa.m + pb.m, 0
    return u


def _match(union, pa, pb, cells, budget, max_work) -> dict[int, int] | None:
    budget[0] -= 1
    if budget[0] < 0:
        return None
    n = pa.n
    while True:
        cells = refine(union, cells, limit=max_work)
        for cell in cells:
            if 2 * sum(v < n for v in cell) != len(cell):
                return None
        split = split_twins(cells, union.twin, n)
        if split is None:
            break
        cells = split
    if len(cells) * 2 == union.n:
        mapping = {}
        for cell in cells:
            x, y = sorted(cell)
            mapping[x] = y - n
        return mapping if _verify(pa, pb, mapping) else None
    at = next(i for i, c in enumerate(cells) if len(c) > 2)
    cell = cells[at]
    u = min(v for v in cell if v < n)
    for w in sorted(v for v in cell if v >= n):
        rest = [v for v in cell if v not in (u, w)]
        child = cells[:at] + [[u, w], rest] + cells[at + 1 :]
        found = _match(union, pa, pb, child, budget, max_work)
        if found is not None:
            return found
        if budget[0] < 0:
            return None
    return None


def _verify(pa: LabelledGraph, pb: LabelledGraph, mapping: Mapping[int, int]) -> bool:
    for u, w in mapping.items():
        if pa.labels[u] != pb.labels[w]:
            return False
        if pa.flavour == "program":
            if [(mapping[s], el) for s, el in pa.in_edges[u]] != pb.in_edges[w]:
                return False
            continue
        mapped = sorted((mapping[s], pa.edge_text[el]) for s, el in pa.in_edges[u])
        if mapped != sorted((s, pb.edge_text[el]) for s, el in pb.in_edges[w]):
            return False
    return True
