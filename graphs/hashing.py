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
4. The hash is ``"g1-"`` + SHA-256 of the canonical form. Should the first
   refinement or the search need more than its work budget (pathological
   symmetric graphs only), the hash falls back to the invariants of the partition
   refined so far, ``"g1w-"`` + SHA-256: still invariant, but two different graphs
   can then share it (a *weak* hash is no proof of identity).

Every step counts its vertex and edge visits, so hashing any graph does a bounded
amount of work: at most ``REFINE_BUDGET + SEARCH_BUDGET`` visits plus one round
(a few seconds of pure Python at most).

:func:`canonical_form` also returns the canonical labelling (the vertex ids in
canonical order): two graphs with the same strong hash map onto each other
position by position, which translates an order between them without a search.

A weak-hash collision must be handled by the caller: the service keys records
of weak-hashed graphs by the weak hash *and* the exact document, and serves one to
another document only after a bounded :func:`graphs.isomorphism` finds a mapping
(``graphs/isomorph.py``: a backtracking search, checked edge by edge at the end).
"""

from __future__ import annotations

import dataclasses
import hashlib

from graphs.ir import Graph
from graphs.refinement import (
    LabelledGraph,
    OutOfWork,
    dumps,
    individualize,
    initial_cells,
    refine,
    split_twins,
)

__all__ = [
    "HASH_PREFIX",
    "WEAK_HASH_PREFIX",
    "CanonicalForm",
    "canonical_form",
    "canonical_hash",
]

HASH_PREFIX = "g1-"
#: Prefix of the weaker, refinement-only hash used past the search budget.
WEAK_HASH_PREFIX = "g1w-"
#: Vertex and edge visits that the first refinement may spend (about three
#: seconds of pure Python); past it the hash is weak.
REFINE_BUDGET = 500_000
#: Vertex and edge visits that the canonical search may spend beyond the first
#: refinement (about three seconds of pure Python); past it the hash is weak.
SEARCH_BUDGET = 500_000


@dataclasses.dataclass(frozen=True)
class CanonicalForm:
    """A graph's canonical hash and, for a strong hash, its canonical labelling.

    Attributes:
      hash: ``"g1-…"`` (strong: equal hashes mean isomorphic graphs) or
        ``"g1w-…"`` (weak: only invariant; different graphs may share it).
      order: the vertex ids in canonical order (strong hashes only, else None):
        for two graphs with the same strong hash, ``a.order[i]`` maps to
        ``b.order[i]`` by an isomorphism.
    """

    hash: str
    order: tuple[str, ...] | None

    @property
    def is_weak(self) -> bool:
        return self.order is None


class _Canonizer:
    """The individualization-refinement search for the smallest certificate."""

    def __init__(self, p: LabelledGraph):
        self.p = p
        self.budget: int | None = None
        self.leaves: dict[bytes, tuple[list[int], list[int]]] = {}
        self.best: bytes | None = None
        self.best_order: list[int] = []
        self.autos: list[dict[int, int]] = _twin_swaps(p)
        self.initial: list[list[int]] = []

    def run(self) -> bytes:
        """The smallest certificate; raises OutOfWork past either budget."""
        p = self.p
        self.initial = refine(p, initial_cells(p), limit=REFINE_BUDGET, stop=True)
        if len(self.initial) < p.n and p.work + p.n + p.m > REFINE_BUDGET:
            raise OutOfWork
        self._node(self.initial, [])
        assert self.best is not None
        return self.best

    def _node(self, cells: list[list[int]], path: list[int]) -> int | None:
        if self.budget is not None and self.p.work > self.budget:
            raise OutOfWork
        cells = refine(self.p, cells, limit=self.budget)
        split = split_twins(cells, self.p.twin, 0)
        while split is not None:
            cells = refine(self.p, split, limit=self.budget)
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
        self.p.work += self.p.n + self.p.m
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
            self.best_order = order
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


def _weak_certificate(p: LabelledGraph, cells: list[list[int]]) -> bytes:
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


def canonical_form(graph: Graph) -> CanonicalForm:
    """The canonical hash and labelling of a graph, in bounded work.

    Args:
      graph: a program or structure-only graph.

    Returns:
      A :class:`CanonicalForm`: a strong ``"g1-"`` hash with the canonical order
      of the vertex ids, or (past the work budgets) a weak ``"g1w-"`` hash without.

    Example:
      >>> form = graphs.canonical_form(graphs.load({"format": "ccelim.graph/1",
      ...     "inputs": ["x"], "outputs": ["y"], "edges": [["x", "v"], ["v", "y"]]}))
      >>> form.order
      ('x', 'v', 'y')
    """
    p = LabelledGraph(graph)
    canonizer = _Canonizer(p)
    try:
        cert = canonizer.run()
    except OutOfWork:
        weak = hashlib.sha256(_weak_certificate(p, canonizer.initial)).hexdigest()
        return CanonicalForm(WEAK_HASH_PREFIX + weak, None)
    order = tuple(p.ids[v] for v in canonizer.best_order)
    return CanonicalForm(HASH_PREFIX + hashlib.sha256(cert).hexdigest(), order)


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
    return canonical_form(graph).hash
