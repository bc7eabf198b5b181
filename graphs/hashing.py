"""Canonical hashing and isomorphism of graphs (the service's cache key).

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
2. Vertices are split into an ordered partition by label, then refined: each round
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
:func:`isomorphism` (exact: a backtracking search for a vertex mapping that
preserves every label and edge, guided by the same refinement, and checked edge
by edge at the end); only a mapping lets it answer, and the mapping translates the
stored order into the caller's own vertex ids.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Mapping
from typing import Any

from graphs import structure as st
from graphs.errors import GraphError
from graphs.ir import Graph, Literal
from graphs.structure import IndexMap

__all__ = ["HASH_PREFIX", "canonical_hash", "isomorphic", "isomorphism"]

HASH_PREFIX = "g1-"
#: Prefix of the weaker, refinement-only hash used past the search budget.
WEAK_HASH_PREFIX = "g1w-"
#: Vertex and edge visits that the canonical search may spend beyond the first
#: refinement (about a second of pure Python).
SEARCH_BUDGET = 500_000

_M = (1 << 64) - 1


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M
    return k ^ (k >> 33)


def _pair(a: int, b: int) -> int:
    """Mixes two integers (any size) into 64 bits."""
    k = (a * 0x9E3779B97F4A7C15 + b + 0x632BE59BD9B4E019) & _M
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M
    return k ^ (k >> 33)


def _h64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


# ----------------------------------------------------------------- the hashed form


class _Prepared:
    """A graph as integer vertices with labels and labelled in/out edges."""

    def __init__(self, graph: Graph):
        self.ids = [v.id for v in graph.vertices]
        self.n = len(self.ids)
        index = {vid: i for i, vid in enumerate(self.ids)}
        if len(index) != self.n:
            raise GraphError("duplicate vertex ids; cannot hash", path="vertices")
        self.flavour = "program" if graph.is_program else "structure"
        roles: dict[str, dict[str, list]] = {vid: {} for vid in self.ids}

        def role(vid: str, key: str, value: Any, path: str) -> None:
            if vid not in roles:
                raise GraphError(f"{vid!r} names no vertex; cannot hash", path=path)
            roles[vid].setdefault(key, []).append(value)

        for k, vid in enumerate(graph.inputs):
            role(vid, "in", k, f"inputs[{k}]")
        for k, vid in enumerate(graph.outputs):
            role(vid, "out", k, f"outputs[{k}]")
        for k, leaves in enumerate(graph.signature):
            for j, vid in enumerate(leaves):
                role(vid, "sig", [k, j], f"signature[{k}][{j}]")
        self.in_edges: list[list[tuple[int, int]]] = [[] for _ in self.ids]
        self.out_edges: list[list[tuple[int, int]]] = [[] for _ in self.ids]
        self.edge_text: dict[int, str] = {}
        self.labels = []
        for k, v in enumerate(graph.vertices):
            if graph.is_program:
                literals = [
                    [j, o.value, o.shape, o.dtype]
                    for j, o in enumerate(v.operands)
                    if isinstance(o, Literal)
                ]
                head = ["p", v.op, dict(v.params), v.shape, v.dtype, literals]
                head.append(len(v.operands))
                for j, o in enumerate(v.operands):
                    if not isinstance(o, Literal):
                        self._edge(index, o, k, j, f"vertices[{k}].operands[{j}]")
            else:
                head = ["s", v.op, v.shape, v.dtype]
            self.labels.append(_dumps(head + [roles[v.id]]))
        if not graph.is_program:
            shapes = [v.shape for v in graph.vertices]
            memo: dict[tuple, str] = {}
            for k, e in enumerate(graph.edges or ()):
                for side, vid in ((0, e.src), (1, e.dst)):
                    if vid not in index:
                        raise GraphError(
                            f"{vid!r} names no vertex; cannot hash",
                            path=f"edges[{k}][{side}]",
                        )
                key = (e.partial, shapes[index[e.dst]], shapes[index[e.src]])
                text = memo.get(key)
                if text is None:
                    text = memo[key] = _partial_text(*key)
                label = _h64(text)
                self.edge_text[label] = text
                self._edge(index, e.src, k, label, f"edges[{k}]", dst=index[e.dst])
        self.colour0 = [_h64(label) for label in self.labels]
        self.m = sum(len(e) for e in self.in_edges)
        self.work = 0
        self.topo = _topological(self)
        self.twin = _twin_classes(self)

    def _edge(self, index, src, k, label, path, dst=None):
        if src not in index:
            raise GraphError(f"{src!r} names no vertex; cannot hash", path=path)
        dst = k if dst is None else dst
        self.in_edges[dst].append((index[src], label))
        self.out_edges[index[src]].append((dst, label))

    def certificate(self, order: list[int]) -> bytes:
        """The graph serialized with vertices numbered by ``order``."""
        pos = [0] * self.n
        for i, v in enumerate(order):
            pos[v] = i
        lines = [self.flavour, str(self.n)]
        for v in order:
            if self.flavour == "program":
                ins = [[pos[s], el] for s, el in self.in_edges[v]]
            else:
                ins = sorted([pos[s], self.edge_text[el]] for s, el in self.in_edges[v])
            lines.append(self.labels[v] + "|" + _dumps(ins))
        return "\n".join(lines).encode()


def _partial_text(partial, out_shape, in_shape) -> str:
    if partial is None:
        partial = st.dense(tuple(out_shape), tuple(in_shape))
    if isinstance(partial, IndexMap):
        digest = hashlib.sha256(_dumps(partial.index).encode()).hexdigest()
        return _dumps(["I", partial.out_shape, partial.in_shape, digest])
    c = st.canonical(partial)
    core = None if c.core is None else sorted(c.core)
    return _dumps(["S", c.out_shape, c.in_shape, c.out_labels, c.in_labels, core])


def _topological(p: _Prepared) -> list[int]:
    indeg = [len(e) for e in p.in_edges]
    ready = [v for v in range(p.n) if indeg[v] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        v = heapq.heappop(ready)
        order.append(v)
        for w, _ in p.out_edges[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                heapq.heappush(ready, w)
    if len(order) != p.n:
        stuck = next(v for v in range(p.n) if indeg[v] > 0)
        raise GraphError(
            f"the graph has a cycle (through or after vertex {p.ids[stuck]!r}); "
            "cannot hash",
            path=f"vertices[{stuck}]",
        )
    return order


# ---------------------------------------------------------------------- refinement


def _initial(p: _Prepared) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for v, c in enumerate(p.colour0):
        groups.setdefault(c, []).append(v)
    return [groups[c] for c in sorted(groups)]


def _refine(p: _Prepared, cells: list[list[int]]) -> list[list[int]]:
    """Splits cells until the neighbourhood hashes no longer tell vertices apart."""
    n = p.n
    while True:
        if len(cells) == n:
            return cells
        p.work += n + p.m
        cell_of = [0] * n
        start = 0
        for cell in cells:
            for v in cell:
                cell_of[v] = start
            start += len(cell)
        f = [0] * n
        in_edges, out_edges, pair = p.in_edges, p.out_edges, _pair
        for v in p.topo:
            f[v] = pair(cell_of[v] + 1, sum([pair(el, f[s]) for s, el in in_edges[v]]))
        b = [0] * n
        for v in reversed(p.topo):
            b[v] = pair(f[v], sum([pair(el, b[d]) for d, el in out_edges[v]]))
        new: list[list[int]] = []
        for cell in cells:
            if len(cell) == 1:
                new.append(cell)
                continue
            groups: dict[int, list[int]] = {}
            for v in cell:
                groups.setdefault(b[v], []).append(v)
            if len(groups) == 1:
                new.append(cell)
            else:
                new.extend(groups[key] for key in sorted(groups))
        if len(new) == len(cells):
            return cells
        cells = new


def _individualize(cells: list[list[int]], at: int, v: int) -> list[list[int]]:
    cell = cells[at]
    return cells[:at] + [[v], [w for w in cell if w != v]] + cells[at + 1 :]


# ----------------------------------------------------------------- canonical form


class _OutOfBudget(Exception):
    pass


class _Canonizer:
    """The individualization-refinement search for the smallest certificate."""

    def __init__(self, p: _Prepared):
        self.p = p
        self.budget: int | None = None
        self.leaves: dict[bytes, tuple[list[int], list[int]]] = {}
        self.best: bytes | None = None
        self.autos: list[dict[int, int]] = _twin_swaps(p)

    def run(self) -> bytes:
        self._node(_initial(self.p), [])
        assert self.best is not None
        return self.best

    def _node(self, cells: list[list[int]], path: list[int]) -> int | None:
        if self.budget is not None and self.p.work > self.budget:
            raise _OutOfBudget
        cells = _refine(self.p, cells)
        split = _split_twins(cells, self.p.twin, 0)
        while split is not None:
            cells = _refine(self.p, split)
            split = _split_twins(cells, self.p.twin, 0)
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
            back = self._node(_individualize(cells, at, w), path + [w])
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


def _twin_classes(p: _Prepared) -> list[int]:
    """Class of each vertex; twins (same label, same labelled neighbours) share one.

    Any permutation of a twin class that fixes every other vertex is an
    automorphism, so twins may be told apart in any order without a search.
    """
    classes: dict[tuple, int] = {}
    result = []
    for v in range(p.n):
        key = (
            p.colour0[v],
            tuple(sorted(p.in_edges[v])),
            tuple(sorted(p.out_edges[v])),
        )
        result.append(classes.setdefault(key, len(classes)))
    return result


def _twin_swaps(p: _Prepared) -> list[dict[int, int]]:
    """Transpositions that generate the symmetric groups of the twin classes."""
    first: dict[int, int] = {}
    swaps = []
    for v, c in enumerate(p.twin):
        if c in first:
            swaps.append({first[c]: v, v: first[c]})
        else:
            first[c] = v
    return swaps


def _split_twins(
    cells: list[list[int]], twin: list[int], n_a: int
) -> list[list[int]] | None:
    """Splits every cell made of twins into singletons (or A/B pairs); None if none.

    ``n_a`` is the size of graph A in a union of two graphs (0 for one graph):
    a union cell splits into pairs when its A part and its B part are each one
    twin class.
    """
    new: list[list[int]] = []
    changed = False
    for cell in cells:
        if len(cell) <= (2 if n_a else 1):
            new.append(cell)
            continue
        a = sorted(v for v in cell if v < n_a) if n_a else sorted(cell)
        b = sorted(v for v in cell if v >= n_a) if n_a else []
        if len({twin[v] for v in a}) != 1 or len({twin[v] for v in b}) > 1:
            new.append(cell)
            continue
        changed = True
        if n_a:
            new.extend([x, y] for x, y in zip(a, b, strict=True))
        else:
            new.extend([v] for v in a)
    return new if changed else None


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


def _weak_certificate(p: _Prepared) -> bytes:
    cells = _refine(p, _initial(p))
    cell_of = {}
    for i, cell in enumerate(cells):
        for v in cell:
            cell_of[v] = i
    lines = [p.flavour, str(p.n)]
    for cell in cells:
        ins = sorted(
            _dumps(sorted([cell_of[s], el] for s, el in p.in_edges[v])) for v in cell
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
    p = _Prepared(graph)
    try:
        cert = _Canonizer(p).run()
    except _OutOfBudget:
        return WEAK_HASH_PREFIX + hashlib.sha256(_weak_certificate(p)).hexdigest()
    return HASH_PREFIX + hashlib.sha256(cert).hexdigest()


# -------------------------------------------------------------------- isomorphism


def isomorphism(
    a: Graph, b: Graph, *, max_nodes: int = 100_000
) -> dict[str, str] | None:
    """A vertex mapping from ``a`` to ``b`` that preserves everything hashed.

    Inputs map to inputs and outputs to outputs by position; labels (op, params,
    shape, dtype, literals) and labelled edges must agree exactly.

    Args:
      a, b: two graphs.
      max_nodes: search nodes to try before giving up (returns ``None``; only
        pathological symmetric graphs get near it).

    Returns:
      ``{a_id: b_id}`` for every vertex, or ``None`` if the graphs differ.
    """
    pa, pb = _Prepared(a), _Prepared(b)
    if (
        pa.flavour != pb.flavour
        or pa.n != pb.n
        or sorted(pa.colour0) != sorted(pb.colour0)
        or sum(map(len, pa.in_edges)) != sum(map(len, pb.in_edges))
    ):
        return None
    union = _union(pa, pb)
    budget = [max_nodes]
    found = _match(union, pa, pb, _initial(union), budget)
    if found is None:
        return None
    return {pa.ids[u]: pb.ids[w] for u, w in found.items()}


def isomorphic(a: Graph, b: Graph) -> bool:
    """Whether ``a`` and ``b`` are the same graph up to vertex names and order."""
    return isomorphism(a, b) is not None


def _union(pa: _Prepared, pb: _Prepared) -> _Prepared:
    u = object.__new__(_Prepared)
    off = pa.n
    u.n = pa.n + pb.n
    u.colour0 = pa.colour0 + pb.colour0
    u.in_edges = pa.in_edges + [[(s + off, el) for s, el in e] for e in pb.in_edges]
    u.out_edges = pa.out_edges + [[(d + off, el) for d, el in e] for e in pb.out_edges]
    u.topo = pa.topo + [v + off for v in pb.topo]
    u.twin = pa.twin + [c + off for c in pb.twin]
    u.m, u.work = pa.m + pb.m, 0
    return u


def _match(union, pa, pb, cells, budget) -> dict[int, int] | None:
    budget[0] -= 1
    if budget[0] < 0:
        return None
    n = pa.n
    while True:
        cells = _refine(union, cells)
        for cell in cells:
            if 2 * sum(v < n for v in cell) != len(cell):
                return None
        split = _split_twins(cells, union.twin, n)
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
        found = _match(union, pa, pb, child, budget)
        if found is not None:
            return found
        if budget[0] < 0:
            return None
    return None


def _verify(pa: _Prepared, pb: _Prepared, mapping: Mapping[int, int]) -> bool:
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
