"""Topological order and cycles of directed graphs given as successor lists or edges.

:func:`find_cycle` finds a cycle of a graph over vertex positions (validation
reports it in its error message); :func:`infer_order` orders the vertices of an
edge list deterministically (inputs first, then Kahn's algorithm with ties broken
by first appearance), which is how a structure-only document without
``"vertices"`` gets its vertex order.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

__all__ = ["find_cycle", "infer_order"]


def find_cycle(succ: Sequence[Sequence[int]]) -> list[int] | None:
    """A cycle (list of vertex positions) of a directed graph, or ``None``."""
    state = [0] * len(succ)  # 0 new, 1 on the stack, 2 done
    for root in range(len(succ)):
        if state[root]:
            continue
        stack = [(root, 0)]
        path = [root]
        state[root] = 1
        while stack:
            v, i = stack[-1]
            if i < len(succ[v]):
                stack[-1] = (v, i + 1)
                w = succ[v][i]
                if state[w] == 1:
                    return path[path.index(w) :]
                if state[w] == 0:
                    state[w] = 1
                    stack.append((w, 0))
                    path.append(w)
            else:
                state[v] = 2
                stack.pop()
                path.pop()
    return None


def infer_order(
    inputs: Sequence[str], edges: Sequence[tuple[str, str]]
) -> tuple[list[str], list[str] | None]:
    """Vertices of an edge list in a deterministic topological order.

    Inputs come first in their given order; then Kahn's algorithm, ties broken by
    first appearance in the edge list.

    Returns:
      ``(order, cycle)``: the vertices, and ``None`` or the ids of a cycle.
    """
    first: dict[str, int] = {}
    for vid in inputs:
        first.setdefault(vid, len(first))
    for src, dst in edges:
        first.setdefault(src, len(first))
        first.setdefault(dst, len(first))
    indeg = dict.fromkeys(first, 0)
    succ: dict[str, list[str]] = {vid: [] for vid in first}
    for src, dst in edges:
        succ[src].append(dst)
        indeg[dst] += 1
    ready = [(first[vid], vid) for vid, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, vid = heapq.heappop(ready)
        order.append(vid)
        for w in succ[vid]:
            indeg[w] -= 1
            if indeg[w] == 0:
                heapq.heappush(ready, (first[w], w))
    if len(order) == len(first):
        return order, None
    ids = list(first)
    pos = {vid: i for i, vid in enumerate(ids)}
    cycle = find_cycle([[pos[w] for w in succ[vid]] for vid in ids])
    return order, [ids[i] for i in cycle or ()]
