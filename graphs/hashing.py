"""Canonical hashing of graphs (the service's cache key).

``canonical_hash(graph)`` is the same for a graph whose vertices are renamed or
listed in another order, and differs whenever anything that matters for the
elimination problem or the kernel differs: the flavour (program or structure-only),
the edges, vertex shapes and dtypes, ops, params, literal operands, operand order,
the order and multiplicity of inputs, outputs and signature leaves, and edge
partial structure. The graph's ``name`` is not part of it.

How it works (individualization-refinement, as in nauty, small and pure-Python):

1. Every vertex gets a *label*: its op, params, shape, dtype, literal operands and
   its roles (input position, output positions, signature positions). Every edge
   gets a label: the operand position (program graphs) or the canonical form of its
   partial (structure-only graphs).
2. Vertices are split into an ordered partition by label, then refined
   (``graphs/refinement.py``): each round
   hashes, for every vertex, its cell together with the multiset of
   (edge label, hash) of its predecessors, computed in topological order, and
   the same over its successors in reverse order; cells split by that value, the
   pieces ordered by it. Inputs have fixed positions, so program graphs usually
   end with every vertex in a cell of its own.
3. Where cells remain, one vertex of the first such cell is *individualized* (put
   in a cell of its own) and refinement resumes, for every choice; each leaf (a
   total order of the vertices) is serialized with all labels and edges, and the
   smallest serialization is the canonical form. Automorphisms found when two
   leaves serialize equally, and twin vertices (same label, same neighbours)
   prune the choices, so symmetric graphs stay cheap.
4. The hash is ``"g1-"`` + SHA-256 of the canonical form. Should the search need
   more than its budget (pathological symmetric graphs only), the hash falls back
   to the refined partition's invariants, ``"g1w-"`` + SHA-256: still invariant,
   but two different graphs could then share it.

A collision (two different graphs with one hash) is harmless by design: the cache
never serves an order on the hash alone. It loads the stored graph and calls
:func:`graphs.isomorphism` (``graphs/isomorph.py``; exact: a backtracking search
for a vertex mapping that preserves every label and edge, guided by the same
refinement, and checked edge by edge at the end); only a mapping lets it answer,
and the mapping translates the stored order into the caller's own vertex ids.
"""

from __future__ import annotations

import hashlib

from graphs.ir import Graph
from graphs.refinement import (
    LabelledGraph,
    dumps,
    individualize,
    initial_cells,
    refine,
    split_twins,
)

__all__ = ["HASH_PREFIX", "WEAK_HASH_PREFIX", "canonical_hash"]

HASH_PREFIX = "g1-"
#: Prefix of the weaker, refinement-only hash used past the search budget.
WEAK_HASH_PREFIX = "g1w-"
#: Vertex and edge visits that the canonical search may spend beyond the first
#: refinement (about a second of pure Python).
SEARCH_BUDGET = 500_000


class _OutOfBudget(Exception):
    pass


class _Canonizer:
    """The individualization-refinement search for the smallest certificate."""

    def __init__(self, p: LabelledGraph):
        self.p = p
        self.budget: int | None = None
        self.leaves: dict[bytes, tuple[list[int], list[int]]] = {}
        self.best: bytes | None = None
        self.autos: list[dict[int, int]] = _twin_swaps(p)

    def run(self) -> bytes:
        self._node(initial_cells(self.p), [])
        assert self.best is not None
        return self.best

    def _node(self, cells: list[list[int]], path: list[int]) -> int | None:
        if self.budget is not None and self.p.work > self.budget:
            raise _OutOfBudget
        cells = refine(self.p, cells)
        split = split_twins(cells, self.p.twin, 0)
        while split is not None:
            cells = refine(self.p, split)
            split = split_twins(cells, self.p.twin, 0)
        if len(cells) == self.p.n:
            return self._leaf([c[0] for c in cells], path)
        if self.budget is None:
            self.budget = self.p.work + SEARCH_BUDGET
        at = next(i for i, c in enumerate(cells) if len(c) > 1)
        explored: list[int] = []
        for w in sorted(cells[at]):
            if explored:
                find = _orbits(self.autos, path)
                if find(w) in {find(u) for u in explored}:
                    continue
            back = self._node(individualize(cells, at, w), path + [w])
            explored.append(w)
            if back is not None and back < len(path):
                return back
        return None

    def _leaf(self, order: list[int], path: list[int]) -> int | None:
        cert = self.p.certificate(order)
        key = hashlib.sha256(cert).digest()
        if key in self.leaves:
            prev_order, prev_path = self.leaves[key]
            moved = {a: b for a, b in zip(prev_order, order, strict=True) if a != b}
            self.autos.append(moved)
            common = 0
            while (
                common < min(len(path), len(prev_path))
                and path[common] == prev_path[common]
            ):
                common += 1
            return common
        self.leaves[key] = (order, path)
        if self.best is None or cert < self.best:
            self.best = cert
        return None


def _twin_swaps(p: LabelledGraph) -> list[dict[int, int]]:
    """Transpositions that generate the symmetric groups of the twin classes."""
    first: dict[int, int] = {}
    swaps = []
    for v, c in enumerate(p.twin):
        if c in first:
            swaps.append({first[c]: v, v: first[c]})
        else:
            first[c] = v
    return swaps


def _orbits(autos: list[dict[int, int]], path: list[int]):
    """``find`` of the orbits of the automorphisms that fix ``path`` pointwise."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for gamma in autos:
        if any(v in gamma for v in path):
            continue
        for a, b in gamma.items():
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return find


def _weak_certificate(p: LabelledGraph) -> bytes:
    cells = refine(p, initial_cells(p))
    cell_of = {}
    for i, cell in enumerate(cells):
        for v in cell:
            cell_of[v] = i
    lines = [p.flavour, str(p.n)]
    for cell in cells:
        ins = sorted(
            dumps(sorted([cell_of[s], el] for s, el in p.in_edges[v])) for v in cell
        )
        lines.append(f"{len(cell)}|{p.labels[cell[0]]}|{'/'.join(ins)}")
    return "\n".join(lines).encode()


def canonical_hash(graph: Graph) -> str:
    """A hash of the graph that ignores vertex names and listing order.

    Args:
      graph: a program or structure-only graph.

    Returns:
      ``"g1-"`` followed by 64 hex digits (``"g1w-"`` for the rare graphs whose
      canonical search exceeds its budget; see the module docstring).

    Example:
      >>> a = graphs.load({"format": "ccelim.graph/1", "inputs": ["x"],
      ...     "outputs": ["y"], "edges": [["x", "v"], ["v", "y"]]})
      >>> b = graphs.load({"format": "ccelim.graph/1", "inputs": ["a"],
      ...     "outputs": ["c"], "edges": [["a", "b"], ["b", "c"]]})
      >>> graphs.canonical_hash(a) == graphs.canonical_hash(b)
      True
    """
    p = LabelledGraph(graph)
    try:
        cert = _Canonizer(p).run()
    except _OutOfBudget:
        return WEAK_HASH_PREFIX + hashlib.sha256(_weak_certificate(p)).hexdigest()
    return HASH_PREFIX + hashlib.sha256(cert).hexdigest()
