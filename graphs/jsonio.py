"""The ``ccelim.graph/1`` JSON format: :func:`to_dict`, :func:`to_json`, :func:`load`.

One schema (``graphs/schema/graph-1.schema.json``), two flavours; see
``docs/graph-format.md`` for the full description.

* structure-only (a document with ``"edges"``)::

    {"format": "ccelim.graph/1", "inputs": ["x0", "x1"], "outputs": ["y"],
     "edges": [["x0", "v"], ["x1", "v"], ["v", "y"]]}

  optionally with ``"vertices": [{"id": "v", "shape": [3], "dtype": "float32"}]``
  and a per-edge partial as a third element: ``{"out": [0], "in": [0], "core":
  [0]}`` (einsum labels; ``core`` ``null`` for a partial without values) or
  ``{"index": [0, 2, -1]}`` (a selection).
* program (no ``"edges"``): ``"vertices": [{"id", "op", "operands", "params",
  "shape", "dtype"}]`` in program order, plus ``"signature"`` and ``"name"``.

``load`` reads the document with ``graphs.document`` and checks the graph with
``graphs.validate``. ``load(to_json(g)) == g`` for every valid graph: vertex and
edge order, params (JSON arrays come back as tuples) and literal values survive
the round trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from graphs.document import FORMAT, read
from graphs.errors import GraphError, describe
from graphs.ir import INPUT, NODE, Edge, Graph, Literal, Vertex
from graphs.structure import IndexMap, RuntimeMap
from graphs.toposort import infer_order
from graphs.validate import MAX_EDGES, MAX_ELEMENTS, MAX_VERTICES, Limits, check

__all__ = ["FORMAT", "load", "to_dict", "to_json"]

# ------------------------------------------------------------------------ writing


def to_dict(graph: Graph) -> dict[str, Any]:
    """The ``ccelim.graph/1`` document of a graph, as plain JSON-able data.

    Args:
      graph: a program or structure-only graph.

    Returns:
      A dict that :func:`load` turns back into an equal graph.
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
    }
    if graph.name:
        doc["name"] = graph.name
    if graph.signature:
        doc["signature"] = [list(leaves) for leaves in graph.signature]
    if graph.is_program:
        doc["vertices"] = [_program_vertex(v) for v in graph.vertices]
        return doc
    doc["edges"] = [_edge(e) for e in graph.edges or ()]
    if not _vertices_implied(graph):
        doc["vertices"] = [_structure_vertex(v) for v in graph.vertices]
    return doc


def to_json(graph: Graph, **dumps_kwargs: Any) -> str:
    """The graph as ``ccelim.graph/1`` JSON text (deterministic: sorted keys).

    Args:
      graph: a program or structure-only graph.
      **dumps_kwargs: passed to :func:`json.dumps` (for example ``indent=2``).

    Example:
      >>> graphs.load(g.to_json()) == g
      True
    """
    dumps_kwargs.setdefault("sort_keys", True)
    if dumps_kwargs.get("indent") is None:
        dumps_kwargs.setdefault("separators", (",", ":"))
    return json.dumps(to_dict(graph), **dumps_kwargs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(x) for x in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(x) for k, x in value.items()}
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return value


def _program_vertex(v: Vertex) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": v.id,
        "op": v.op,
        "shape": list(v.shape),
        "dtype": v.dtype,
    }
    if v.operands:
        out["operands"] = [
            {
                "literal": _jsonable(o.value),
                "shape": list(o.shape),
                "dtype": o.dtype,
            }
            if isinstance(o, Literal)
            else o
            for o in v.operands
        ]
    if v.params:
        out["params"] = {name: _jsonable(value) for name, value in v.params}
    return out


def _structure_vertex(v: Vertex) -> dict[str, Any]:
    out: dict[str, Any] = {"id": v.id}
    if v.shape:
        out["shape"] = list(v.shape)
    if v.dtype != "float32":
        out["dtype"] = v.dtype
    return out


def _edge(e: Edge) -> list[Any]:
    if e.partial is None:
        return [e.src, e.dst]
    p = e.partial
    if isinstance(p, IndexMap):
        return [e.src, e.dst, {"index": list(p.index)}]
    if isinstance(p, RuntimeMap):
        return [e.src, e.dst, {"runtime": "scatter" if p.scatter else "gather"}]
    core = None if p.core is None else list(p.core)
    return [
        e.src,
        e.dst,
        {"out": list(p.out_labels), "in": list(p.in_labels), "core": core},
    ]


def _vertices_implied(graph: Graph) -> bool:
    """Whether a document without "vertices" gives back exactly these vertices."""
    inputs = set(graph.inputs)
    for v in graph.vertices:
        if (
            v.shape
            or v.dtype != "float32"
            or v.op != (INPUT if v.id in inputs else NODE)
        ):
            return False
        if v.operands or v.params:
            return False
    order, cycle = infer_order(
        graph.inputs, [(e.src, e.dst) for e in graph.edges or ()]
    )
    return cycle is None and order == [v.id for v in graph.vertices]


# ------------------------------------------------------------------------ reading


def load(
    doc: str | bytes | Mapping[str, Any],
    *,
    max_vertices: int = MAX_VERTICES,
    max_edges: int = MAX_EDGES,
    max_elements: int = MAX_ELEMENTS,
) -> Graph:
    """Reads and validates a ``ccelim.graph/1`` document.

    Args:
      doc: JSON text (``str`` or UTF-8 ``bytes``) or the parsed object.
      max_vertices: largest number of vertices accepted.
      max_edges: largest number of edges (explicit edges, or operand references).
      max_elements: largest number of elements of one vertex or literal.

    Returns:
      The :class:`~graphs.ir.Graph`.

    Raises:
      GraphError: naming the path of the first bad field (``"edges[3][1]"``).

    Example:
      >>> g = graphs.load('{"format": "ccelim.graph/1", "inputs": ["x"], '
      ...     '"outputs": ["y"], "edges": [["x", "y"]]}')
      >>> [v.id for v in g.vertices]
      ['x', 'y']
    """
    limits = Limits(max_vertices, max_edges, max_elements)
    if isinstance(doc, bytes | bytearray | str):
        try:
            doc = json.loads(doc)
        except RecursionError:
            raise GraphError(
                "the JSON text is nested too deeply; a graph document nests at most "
                "a few levels",
            ) from None
        except (ValueError, UnicodeDecodeError) as err:
            raise GraphError(
                f"expected JSON text, got invalid JSON ({err}); send a {FORMAT} object",
            ) from None
    if not isinstance(doc, Mapping):
        raise GraphError(
            f'expected a JSON object with "format": "{FORMAT}", got {describe(doc)}',
        )
    graph, listed = read(doc, limits)
    check(graph, limits=limits, listed=listed)
    return graph
