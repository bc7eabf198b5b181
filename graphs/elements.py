"""Element vertices: a vector read or written one element at a time becomes its elements.

Users write ``f(u)`` with ``u[i]`` indexing and ``jnp.stack([...])`` of scalar
results. Traced, ``u`` is one vector vertex whose every consumer selects one
element (``slice`` + ``squeeze``), and the output is one vector vertex assembled
from scalars. Left as vectors, every partial that meets them is a vector: a
scalar derivative composed with the selection ``u -> u[i]`` becomes an
``n``-element core that is zero but for one entry, and each later product pays
``n`` multiplications instead of one (HumanHeartDipole: 704 multiplications for
its best baseline instead of the scalar program's 156).

:func:`split_elements` rewrites the elimination graph so that such a vertex is
its elements: an input whose every successor is a one-element selection becomes
one scalar input per element read, and an output (with no successors) assembled
only from one-element operands by selections becomes one scalar output per
element. The edges to and from element vertices are value-less selections, so
the graph costs what the scalar program costs, in the cost model and in the
kernel; the interpreter assembles the dense block of the original vertex from
the element blocks (``ElimGraph.split``). Intermediates, and hence orders, do not
change.
"""

from __future__ import annotations

import dataclasses
import math

from graphs.structure import IndexMap, as_index_map, is_selection

__all__ = ["element_id", "split_elements"]


def element_id(vertex_id: str, flat_index: int) -> str:
    """The id of element ``flat_index`` (row-major) of a split vertex."""
    return f"{vertex_id}[{flat_index}]"


def _selected(partial) -> tuple[int, ...] | None:
    """The index of a selection partial, or ``None`` if it is not one."""
    if not is_selection(partial):
        return None
    return as_index_map(partial).index


def split_elements(g):
    """``g`` with element-wise read inputs and element-wise written outputs split.

    Args:
      g: an :class:`~graphs.elimination.ElimGraph`.

    Returns:
      An equivalent ``ElimGraph`` whose ``split`` maps each split vertex's id to
      the positions of its elements (row-major, ``-1`` where an element is never
      read, or is structurally zero), or ``g`` itself when nothing splits.
    """
    sizes = {v: math.prod(s) for v, s in enumerate(g.shapes)}
    sink_positions = set(g.outputs.values())
    input_positions = set(g.inputs)
    # element (position, flat index) lists per split vertex, and the new edges
    new_edges: dict[tuple, object] = {}
    drop: set[tuple[int, int]] = set()
    split_in: dict[int, dict[int, list[int]]] = {}
    for u in g.inputs:
        succs = g.succs(u)
        if sizes[u] < 2 or not succs or u in sink_positions:
            continue
        picks = {w: _selected(g.edges[(w, u)]) for w in succs}
        if any(p is None or sizes[w] != 1 or p[0] < 0 for w, p in picks.items()):
            continue
        by_element: dict[int, list[int]] = {}
        for w, index in picks.items():
            by_element.setdefault(index[0], []).append(w)
            drop.add((w, u))
        split_in[u] = by_element
    split_out: dict[int, dict[int, int]] = {}
    for q in sink_positions:
        preds = g.preds(q)
        if sizes[q] < 2 or not preds or q in input_positions or g.succs(q):
            continue
        picks = {w: _selected(g.edges[(q, w)]) for w in preds}
        if any(p is None or sizes[w] != 1 for p, w in zip(picks.values(), picks)):
            continue
        writer: dict[int, int] = {}
        clash = False
        for w, index in picks.items():
            for i, j in enumerate(index):
                if j >= 0:
                    clash |= i in writer
                    writer[i] = w
        if clash:
            continue
        split_out[q] = writer
        drop.update((q, w) for w in preds)
    if not split_in and not split_out:
        return g
    # New ids: each split vertex replaced in place by its elements.
    ids: list[str] = []
    shapes: list[tuple[int, ...]] = []
    where: dict[tuple[int, int | None], int] = {}
    for v, vid in enumerate(g.ids):
        elements = split_in.get(v) or split_out.get(v)
        if elements is None:
            where[(v, None)] = len(ids)
            ids.append(vid)
            shapes.append(g.shapes[v])
            continue
        for k in sorted(elements):
            where[(v, k)] = len(ids)
            ids.append(element_id(vid, k))
            shapes.append(())
    old = lambda v: where[(v, None)]  # noqa: E731
    for (s, p), partial in g.edges.items():
        if (s, p) not in drop:
            new_edges[(old(s), old(p))] = partial
    for u, by_element in split_in.items():
        for k, consumers in by_element.items():
            for w in consumers:
                new_edges[(old(w), where[(u, k)])] = IndexMap(g.shapes[w], (), (0,))
    for q, writer in split_out.items():
        for i, w in writer.items():
            index = _selected(g.edges[(q, w)])
            new_edges[(where[(q, i)], old(w))] = IndexMap((), g.shapes[w], (0,))
            assert index is not None and index[i] == 0
    inputs: list[int] = []
    for u in g.inputs:
        if u in split_in:
            inputs.extend(where[(u, k)] for k in sorted(split_in[u]))
        else:
            inputs.append(old(u))
    outputs: dict[str, int] = {}
    split: dict[str, tuple[int, ...]] = {}
    for key, q in g.outputs.items():
        if q in split_out:
            for i in sorted(split_out[q]):
                outputs[ids[where[(q, i)]]] = where[(q, i)]
            split[key] = tuple(where.get((q, i), -1) for i in range(sizes[q]))
        else:
            outputs[key] = old(q)
    for u in split_in:
        split[g.ids[u]] = tuple(where.get((u, k), -1) for k in range(sizes[u]))
    return dataclasses.replace(
        g,
        ids=tuple(ids),
        shapes=tuple(shapes),
        inputs=tuple(inputs),
        outputs=outputs,
        intermediates=tuple(old(v) for v in g.intermediates),
        edges=new_edges,
        pred={},
        succ={},
        split=split,
    )
