"""Reading a ``ccelim.graph/1`` document into a :class:`~graphs.ir.Graph`.

:func:`read` checks the document's fields (types, required and unknown keys,
shapes, dtypes, literal values, parameter nesting) and builds the graph; every
problem is a :class:`~graphs.errors.GraphError` with the JSON path of the field.
What needs the whole graph (ids, cycles, op shapes, sizes) is checked afterwards
by ``graphs.validate.check``; ``graphs.jsonio.load`` runs both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from graphs.errors import GraphError, describe
from graphs.ir import INPUT, NODE, Edge, Graph, Literal, Vertex
from graphs.structure import IndexMap, RuntimeMap, Structure
from graphs.toposort import infer_order
from graphs.validate import MAX_RANK, Limits, cycle_error

FORMAT = "ccelim.graph/1"
#: Largest nesting depth of a parameter value.
MAX_PARAM_DEPTH = 16

_TOP_KEYS = {"format", "name", "inputs", "outputs", "vertices", "edges", "signature"}
_PROGRAM_VERTEX_KEYS = {"id", "op", "operands", "params", "shape", "dtype"}
_STRUCTURE_VERTEX_KEYS = {"id", "shape", "dtype"}
_DTYPES = frozenset(
    "bool int4 int8 int16 int32 int64 uint4 uint8 uint16 uint32 uint64 float16 "
    "bfloat16 float32 float64 complex64 complex128 float0".split()
)


def _fail(path: str, expected: str, got: Any, fix: str = "") -> GraphError:
    message = f"expected {expected}, got {describe(got)}"
    return GraphError(message + (f"; {fix}" if fix else ""), path=path)


def _list(doc: Mapping[str, Any], key: str, path: str) -> list:
    value = doc[key]
    if not isinstance(value, list):
        raise _fail(path, "an array", value)
    return value


def _id(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(path, "a vertex id (a non-empty string)", value)
    return value


def _ids(doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    if key not in doc:
        raise GraphError(f'missing "{key}": a list of vertex ids', path=key)
    return tuple(_id(x, f"{key}[{k}]") for k, x in enumerate(_list(doc, key, key)))


def _int(value: Any, path: str, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(path, f"an integer >= {low}", value)
    return value


def _shape(value: Any, path: str, limits: Limits) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise _fail(path, "a shape (an array of sizes, [] for a scalar)", value)
    if len(value) > MAX_RANK:
        raise _fail(path, f"a shape of rank at most {MAX_RANK}", value)
    shape = tuple(_int(d, f"{path}[{i}]") for i, d in enumerate(value))
    if math.prod(shape) > limits.max_elements:
        raise GraphError(
            f"expected at most {limits.max_elements} elements, got shape "
            f"{list(shape)}; use smaller arrays or raise max_elements",
            path=path,
        )
    return shape


def _dtype(value: Any, path: str) -> str:
    if not isinstance(value, str) or not (
        value in _DTYPES or value.startswith("float8")
    ):
        raise _fail(path, f"a dtype name (one of {', '.join(sorted(_DTYPES))})", value)
    return value


def _keys(obj: Any, allowed: set[str], path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise _fail(path, what, obj)
    unknown = sorted(str(key) for key in set(obj) - allowed)
    if unknown:
        raise GraphError(
            f"unknown field {unknown[0]!r} in {what}; allowed: {', '.join(sorted(allowed))}",
            path=f"{path}.{unknown[0]}" if path else unknown[0],
        )
    return obj


def read(doc: Mapping[str, Any], limits: Limits) -> tuple[Graph, bool]:
    """The graph of a parsed document, and whether it listed its vertices.

    Args:
      doc: the parsed JSON object.
      limits: size limits for vertices, edges and elements.

    Raises:
      GraphError: naming the path of the first bad field.
    """
    fmt = doc.get("format")
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith("ccelim.graph/"):
            raise GraphError(
                f"unknown format version {fmt!r}; this ccelim reads {FORMAT!r}",
                path="format",
            )
        raise _fail("format", f'"{FORMAT}"', fmt, 'add "format": "ccelim.graph/1"')
    _keys(doc, _TOP_KEYS, "", "a graph document")
    name = doc.get("name", "")
    if not isinstance(name, str):
        raise _fail("name", "a string", name)
    inputs, outputs = _ids(doc, "inputs"), _ids(doc, "outputs")
    signature = ()
    if "signature" in doc:
        signature = tuple(
            tuple(
                _id(x, f"signature[{k}][{j}]")
                for j, x in enumerate(_list({"s": leaves}, "s", f"signature[{k}]"))
            )
            for k, leaves in enumerate(_list(doc, "signature", "signature"))
        )
    if (
        "vertices" in doc
        and len(_list(doc, "vertices", "vertices")) > limits.max_vertices
    ):
        raise GraphError(
            f"expected at most {limits.max_vertices} vertices, got "
            f"{len(doc['vertices'])}; split the program or raise max_vertices",
            path="vertices",
        )
    if "edges" in doc:
        edges = _read_edges(doc, limits)
        roles = set(inputs)
        for k, e in enumerate(edges):
            if e.dst in roles:
                raise GraphError(
                    f"edge {e.src!r} -> {e.dst!r} goes into input {e.dst!r}; inputs "
                    "are independent variables and take no edges",
                    path=f"edges[{k}][1]",
                )
        listed = "vertices" in doc
        if listed:
            vertices = _read_structure_vertices(doc, inputs, limits)
        else:
            vertices = _implied_vertices(inputs, edges, limits)
        edges = _attach(edges, vertices)
        return Graph(vertices, inputs, outputs, edges, name, signature), listed
    if "vertices" not in doc:
        raise GraphError(
            'missing "vertices" (a program graph) or "edges" (a structure-only '
            "graph); add one of them",
            path="vertices",
        )
    vertices = tuple(
        _read_program_vertex(v, f"vertices[{k}]", limits)
        for k, v in enumerate(_list(doc, "vertices", "vertices"))
    )
    return Graph(vertices, inputs, outputs, None, name, signature), True


def _implied_vertices(inputs, edges, limits: Limits) -> tuple[Vertex, ...]:
    order, cycle = infer_order(inputs, [(e.src, e.dst) for e in edges])
    if cycle:
        where = next(
            k for k, e in enumerate(edges) if e.src == cycle[0] and e.dst in cycle
        )
        raise cycle_error(cycle, f"edges[{where}]")
    if len(order) > limits.max_vertices:
        raise GraphError(
            f"expected at most {limits.max_vertices} vertices, got {len(order)}; "
            "split the graph or raise max_vertices",
            path="edges",
        )
    roles = set(inputs)
    return tuple(Vertex(vid, INPUT if vid in roles else NODE) for vid in order)


def _read_structure_vertices(doc, inputs, limits: Limits) -> tuple[Vertex, ...]:
    roles = set(inputs)
    vertices = []
    for k, obj in enumerate(doc["vertices"]):
        path = f"vertices[{k}]"
        if isinstance(obj, Mapping) and {"op", "operands", "params"} & set(obj):
            raise GraphError(
                'a structure-only vertex (the document has "edges") has only id, '
                'shape and dtype; drop "edges" to write a program graph',
                path=path,
            )
        obj = _keys(
            obj, _STRUCTURE_VERTEX_KEYS, path, "a vertex object {id, shape, dtype}"
        )
        if "id" not in obj:
            raise GraphError('missing "id"', path=f"{path}.id")
        vid = _id(obj["id"], f"{path}.id")
        shape = _shape(obj.get("shape", []), f"{path}.shape", limits)
        dtype = _dtype(obj.get("dtype", "float32"), f"{path}.dtype")
        vertices.append(
            Vertex(vid, INPUT if vid in roles else NODE, shape=shape, dtype=dtype)
        )
    return tuple(vertices)


def _read_edges(doc, limits: Limits) -> tuple[Edge, ...]:
    raw = _list(doc, "edges", "edges")
    if len(raw) > limits.max_edges:
        raise GraphError(
            f"expected at most {limits.max_edges} edges, got {len(raw)}; split the "
            "graph or raise max_edges",
            path="edges",
        )
    edges = []
    for k, item in enumerate(raw):
        path = f"edges[{k}]"
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise _fail(path, "[src, dst] or [src, dst, partial]", item)
        src, dst = _id(item[0], f"{path}[0]"), _id(item[1], f"{path}[1]")
        partial = None
        if len(item) == 3:
            partial = _read_partial(item[2], f"{path}[2]")
        edges.append(Edge(src, dst, partial))
    return tuple(edges)


def _labels(value: Any, path: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > 2 * MAX_RANK:
        raise _fail(path, "an array of integer labels, one per axis", value)
    return tuple(_int(x, f"{path}[{i}]") for i, x in enumerate(value))


def _read_partial(obj: Any, path: str) -> Any:
    """A partial without its shapes (``Edge`` shapes are filled in by ``_attach``)."""
    what = 'a partial {"out", "in", "core"}, {"index"} or {"runtime"}'
    if isinstance(obj, Mapping) and "runtime" in obj:
        _keys(obj, {"runtime"}, path, what)
        if obj["runtime"] not in ("gather", "scatter"):
            raise _fail(f"{path}.runtime", '"gather" or "scatter"', obj["runtime"])
        return _Pending(None, None, None, None, obj["runtime"] == "scatter")
    if isinstance(obj, Mapping) and "index" in obj:
        _keys(obj, {"index"}, path, what)
        index = obj["index"]
        if not isinstance(index, list):
            raise _fail(
                f"{path}.index", "an array of flat indices (-1 for zero)", index
            )
        return _Pending(
            None,
            None,
            None,
            tuple(_int(x, f"{path}.index[{i}]", low=-1) for i, x in enumerate(index)),
        )
    obj = _keys(obj, {"out", "in", "core"}, path, what)
    for key in ("out", "in", "core"):
        if key not in obj:
            raise GraphError(
                f'missing "{key}" in the partial (core null means no values)',
                path=f"{path}.{key}",
            )
    core = None if obj["core"] is None else _labels(obj["core"], f"{path}.core")
    return _Pending(
        _labels(obj["out"], f"{path}.out"), _labels(obj["in"], f"{path}.in"), core, None
    )


class _Pending(NamedTuple):
    """Labels (or index) of an edge partial whose shapes are known only later."""

    out: tuple[int, ...] | None
    in_: tuple[int, ...] | None
    core: tuple[int, ...] | None
    index: tuple[int, ...] | None
    scatter: bool | None = None  # a run-time index map (RuntimeMap) when not None


def _attach(edges: tuple[Edge, ...], vertices: tuple[Vertex, ...]) -> tuple[Edge, ...]:
    """Gives each edge partial the shapes of the vertices it joins."""
    by_id: dict[str, Vertex] = {}
    for k, v in enumerate(vertices):
        if v.id in by_id:
            raise GraphError(
                f"duplicate vertex id {v.id!r}; give every vertex its own id",
                path=f"vertices[{k}].id",
            )
        by_id[v.id] = v
    result = []
    for k, e in enumerate(edges):
        for side, vid in ((0, e.src), (1, e.dst)):
            if vid not in by_id:
                raise GraphError(
                    f'edge endpoint {vid!r} names no vertex; list it in "vertices" '
                    "(or fix the id)",
                    path=f"edges[{k}][{side}]",
                )
        p = e.partial
        if isinstance(p, _Pending):
            out_shape, in_shape = by_id[e.dst].shape, by_id[e.src].shape
            if p.scatter is not None:
                p = RuntimeMap(out_shape, in_shape, p.scatter)
            elif p.index is not None:
                p = IndexMap(out_shape, in_shape, p.index)
            else:
                p = Structure(out_shape, in_shape, p.out, p.in_, p.core)
            e = Edge(e.src, e.dst, p)
        result.append(e)
    return tuple(result)


def _read_program_vertex(obj: Any, path: str, limits: Limits) -> Vertex:
    obj = _keys(obj, _PROGRAM_VERTEX_KEYS, path, "a vertex object {id, op, ...}")
    for key in ("id", "op"):
        if key not in obj:
            raise GraphError(
                f'missing "{key}" in a program vertex', path=f"{path}.{key}"
            )
    vid = _id(obj["id"], f"{path}.id")
    op = obj["op"]
    if not isinstance(op, str):
        raise _fail(f"{path}.op", "an op name (a string)", op)
    shape = _shape(obj.get("shape", []), f"{path}.shape", limits)
    dtype = _dtype(obj.get("dtype", "float32"), f"{path}.dtype")
    operands_raw = obj.get("operands", [])
    if not isinstance(operands_raw, list):
        raise _fail(
            f"{path}.operands", "an array of vertex ids or literals", operands_raw
        )
    operands = tuple(
        _read_operand(o, f"{path}.operands[{j}]", limits)
        for j, o in enumerate(operands_raw)
    )
    params_raw = obj.get("params", {})
    if not isinstance(params_raw, Mapping):
        raise _fail(f"{path}.params", "an object of parameter values", params_raw)
    for name in params_raw:
        if not isinstance(name, str):
            raise _fail(f"{path}.params", "parameter names that are strings", name)
    params = tuple(
        (name, _param(params_raw[name], f"{path}.params.{name}", 0))
        for name in sorted(params_raw)
    )
    return Vertex(vid, op, operands, params, shape, dtype)


def _param(value: Any, path: str, depth: int) -> Any:
    if depth > MAX_PARAM_DEPTH:
        raise GraphError(
            f"parameter nested deeper than {MAX_PARAM_DEPTH} levels", path=path
        )
    if isinstance(value, list | tuple):
        return tuple(_param(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(value))
    if isinstance(value, Mapping):
        return {str(k): _param(x, f"{path}.{k}", depth + 1) for k, x in value.items()}
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise _fail(
        path, "a JSON value (number, string, boolean, null, array, object)", value
    )


def _read_operand(obj: Any, path: str, limits: Limits):
    if isinstance(obj, str):
        return _id(obj, path)
    what = 'a vertex id or a literal {"literal", "shape", "dtype"}'
    obj = _keys(obj, {"literal", "shape", "dtype"}, path, what)
    if "literal" not in obj:
        raise GraphError(f'missing "literal" in {what}', path=f"{path}.literal")
    shape = _shape(obj.get("shape", []), f"{path}.shape", limits)
    dtype = _dtype(obj.get("dtype", "float32"), f"{path}.dtype")
    value = obj["literal"]
    _check_literal(value, shape, f"{path}.literal")
    return Literal(_tuples(value), shape, dtype)


def _tuples(value: Any) -> Any:
    """Nested tuples for nested lists (a Literal, and so a Graph, stays hashable)."""
    if not isinstance(value, list):
        return value
    return tuple(_tuples(v) for v in value)


def _check_literal(value: Any, shape: tuple[int, ...], path: str) -> None:
    """Checks that nested lists ``value`` have ``shape`` (iteratively: no recursion)."""
    level = [value]
    for axis, size in enumerate(shape):
        nxt = []
        for item in level:
            if not isinstance(item, list) or len(item) != size:
                raise _fail(
                    path,
                    f"nested arrays of shape {list(shape)} (axis {axis} has {size})",
                    item,
                )
            nxt.extend(item)
        level = nxt
    for item in level:
        if isinstance(item, bool) or isinstance(item, int | float):
            continue
        raise _fail(path, f"numbers in a literal of shape {list(shape)}", item)
