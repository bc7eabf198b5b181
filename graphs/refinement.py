"""Labelled graphs and colour refinement: the machinery of hashing and isomorphism.

A :class:`LabelledGraph` is a :class:`~graphs.ir.Graph` as integer vertices, each
with a *label* (op, params, shape, dtype, literal operands and its roles: input
position, output positions, signature positions) and labelled in/out edges (the
operand position in a program graph, the canonical form of the partial in a
structure-only graph). Nothing in it depends on vertex ids or listing order.

:func:`refine` splits an *ordered partition* of the vertices (a list of cells)
until the neighbourhood hashes no longer tell vertices of a cell apart: each round
hashes every vertex's cell position with the multiset of (edge label, hash) of its
predecessors, computed in topological order (so a chain resolves in one round),
then the same over its successors in reverse order; a cell splits by that value,
its pieces ordered by it. Cells never move, so a vertex put in a cell of its own
(individualized) keeps its position: what the canonical search relies on. All
hashes are fixed 64-bit mixes of SHA/BLAKE2 digests, the same on every platform
and Python version, because canonical hashes are stored as cache keys.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from typing import Any

from graphs import structure as st
from graphs.errors import GraphError
from graphs.ir import Graph, Literal
from graphs.structure import IndexMap, RuntimeMap

#: An ordered partition of the vertices: cells of vertex positions, in order.
Cells = list[list[int]]

_M = (1 << 64) - 1


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


def dumps(value: Any) -> str:
    """Canonical JSON text (sorted keys, no spaces; tuples as arrays)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


# ----------------------------------------------------------------- the hashed form


class LabelledGraph:
    """A graph as integer vertices with labels and labelled in/out edges.

    Attributes:
      ids: vertex ids by position (the graph's listing order).
      n, m: number of vertices and of edges.
      flavour: ``"program"`` or ``"structure"``.
      labels: each vertex's label as canonical JSON text.
      colour0: a 64-bit hash of each label.
      in_edges, out_edges: per vertex, ``(neighbour, edge label)`` pairs; a program
        vertex's in-edges are in operand order, the label is the operand position.
      edge_text: structure-only edge labels back to their canonical JSON text.
      topo: the vertices in a topological order.
      twin: each vertex's twin class (see :func:`twin_classes`).
      work: vertex and edge visits spent refining so far (a search's budget).

    Raises:
      GraphError: for duplicate or dangling ids, or a cycle.
    """

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
            self.labels.append(dumps(head + [roles[v.id]]))
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
        self.twin = twin_classes(self)

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
            lines.append(self.labels[v] + "|" + dumps(ins))
        return "\n".join(lines).encode()


def _partial_text(partial, out_shape, in_shape) -> str:
    if partial is None:
        partial = st.dense(tuple(out_shape), tuple(in_shape))
    if isinstance(partial, RuntimeMap):
        return dumps(["R", partial.out_shape, partial.in_shape, partial.scatter])
    if isinstance(partial, IndexMap):
        digest = hashlib.sha256(dumps(partial.index).encode()).hexdigest()
        return dumps(["I", partial.out_shape, partial.in_shape, digest])
    c = st.canonical(partial)
    core = None if c.core is None else sorted(c.core)
    return dumps(["S", c.out_shape, c.in_shape, c.out_labels, c.in_labels, core])


def _topological(p: LabelledGraph) -> list[int]:
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


def initial_cells(p: LabelledGraph) -> Cells:
    groups: dict[int, list[int]] = {}
    for v, c in enumerate(p.colour0):
        groups.setdefault(c, []).append(v)
    return [groups[c] for c in sorted(groups)]


class OutOfWork(Exception):
    """Refinement would pass its work limit (see :func:`refine`)."""


def refine(
    p: LabelledGraph, cells: Cells, *, limit: int | None = None, stop: bool = False
) -> Cells:
    """Splits cells until the neighbourhood hashes no longer tell vertices apart.

    Args:
      p: the graph; ``p.work`` grows by ``n + m`` per round.
      cells: an ordered partition of its vertices.
      limit: a bound on ``p.work``: a round that would pass it is not run.
      stop: at the limit, return the partition reached so far (still invariant
        under renaming: it is the partition after a number of rounds that depends
        only on the graph's size) instead of raising :class:`OutOfWork`.
    """
    n = p.n
    while True:
        if len(cells) == n:
            return cells
        if limit is not None and p.work + n + p.m > limit:
            if stop:
                return cells
            raise OutOfWork
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


def individualize(cells: list[list[int]], at: int, v: int) -> list[list[int]]:
    cell = cells[at]
    return cells[:at] + [[v], [w for w in cell if w != v]] + cells[at + 1 :]


def twin_classes(p: LabelledGraph) -> list[int]:
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


def split_twins(
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
