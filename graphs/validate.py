"""Checks on graphs and ``ccelim.graph/1`` documents, with the path of each problem.

Every problem is a :class:`graphs.GraphError` whose ``path`` names the offending
field of the document (``"edges[3][1]"``, ``"vertices[5].operands[0]"``,
``"format"``) and whose message says what was expected, what was found and how to
fix it. :func:`check` works on :class:`~graphs.ir.Graph` objects (paths refer to
positions in ``graph.vertices`` / ``graph.edges``, which are the document's
positions because loading keeps the order); ``graphs.jsonio.load`` runs it after
reading a document.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from graphs import structure as st
from graphs.errors import GraphError
from graphs.ir import INPUT, NODE, PARAMETER, Graph, Literal
from graphs.primitives import SUPPORTED, is_known_op
from graphs.shapecheck import check_program_shapes
from graphs.structure import IndexMap, Structure
from graphs.toposort import find_cycle

#: Default largest number of vertices a graph may have.
MAX_VERTICES = 20_000
#: Default largest number of edges (operand references, or explicit edges).
MAX_EDGES = 200_000
#: Default largest number of elements of one vertex (or literal).
MAX_ELEMENTS = 1 << 22
#: Largest rank of a vertex or literal.
MAX_RANK = 32


class Limits(NamedTuple):
    """Size limits that a graph must stay within (see the module constants)."""

    max_vertices: int = MAX_VERTICES
    max_edges: int = MAX_EDGES
    max_elements: int = MAX_ELEMENTS


DEFAULT_LIMITS = Limits()


def check(
    graph: Graph, *, limits: Limits = DEFAULT_LIMITS, listed: bool = True
) -> None:
    """Raises :class:`GraphError` unless ``graph`` is a valid graph.

    Args:
      graph: a program or structure-only graph.
      limits: the size limits.
      listed: whether the document listed its vertices (structure-only documents
        may leave them out; then vertex problems are reported at the edges).

    Raises:
      GraphError: with the path of the first problem found.
    """
    _check_sizes(graph, limits)
    index = _check_ids(graph)
    _check_roles(graph, index)
    if graph.is_program:
        _check_operands(graph, index)
        check_program_shapes(graph, index)
    else:
        _check_edges(graph, index, listed)
        _check_edge_partials(graph, index)


# --------------------------------------------------------------------------- sizes


def _check_sizes(graph: Graph, limits: Limits) -> None:
    n = len(graph.vertices)
    if n > limits.max_vertices:
        raise GraphError(
            f"expected at most {limits.max_vertices} vertices, got {n}; split the "
            "program into smaller graphs or raise max_vertices",
            path="vertices",
        )
    if graph.is_program:
        m = sum(len(v.operands) for v in graph.vertices)
    else:
        m = len(graph.edges or ())
    if m > limits.max_edges:
        raise GraphError(
            f"expected at most {limits.max_edges} edges, got {m}; split the program "
            "into smaller graphs or raise max_edges",
            path="edges" if not graph.is_program else "vertices",
        )
    for k, v in enumerate(graph.vertices):
        if len(v.shape) > MAX_RANK:
            raise GraphError(
                f"expected a shape of rank at most {MAX_RANK}, got rank {len(v.shape)}",
                path=f"vertices[{k}].shape",
            )
        if math.prod(v.shape) > limits.max_elements:
            raise GraphError(
                f"expected at most {limits.max_elements} elements per vertex, got "
                f"shape {list(v.shape)} ({math.prod(v.shape)} elements); use smaller "
                "arrays or raise max_elements",
                path=f"vertices[{k}].shape",
            )


# ----------------------------------------------------------------------------- ids


def _check_ids(graph: Graph) -> dict[str, int]:
    index: dict[str, int] = {}
    for k, v in enumerate(graph.vertices):
        if v.id in index:
            raise GraphError(
                f"duplicate vertex id {v.id!r} (also vertices[{index[v.id]}]); "
                "give every vertex its own id",
                path=f"vertices[{k}].id",
            )
        index[v.id] = k
    return index


def _dangling(vid: str, path: str, what: str) -> GraphError:
    return GraphError(
        f'{what} {vid!r} names no vertex; list it in "vertices" (or fix the id)',
        path=path,
    )


def _check_roles(graph: Graph, index: dict[str, int]) -> None:
    seen: dict[str, int] = {}
    for k, vid in enumerate(graph.inputs):
        if vid not in index:
            raise _dangling(vid, f"inputs[{k}]", "input")
        if vid in seen:
            raise GraphError(
                f"input {vid!r} is listed twice (also inputs[{seen[vid]}]); "
                "list each input once",
                path=f"inputs[{k}]",
            )
        seen[vid] = k
        op = graph.vertices[index[vid]].op
        if op != INPUT:
            raise GraphError(
                f"inputs must be vertices with op 'input', but {vid!r} has op "
                f'{op!r}; remove it from "inputs" or make it an input',
                path=f"inputs[{k}]",
            )
    for k, v in enumerate(graph.vertices):
        if v.op == INPUT and v.id not in seen:
            raise GraphError(
                f"vertex {v.id!r} has op 'input' but is not in \"inputs\"; add it "
                "there (or use op 'parameter' for a non-differentiated argument)",
                path=f"vertices[{k}].op",
            )
        if not graph.is_program and v.op not in (INPUT, NODE):
            raise GraphError(
                f"a structure-only vertex has op 'input' or 'node', got {v.op!r}; "
                'drop "edges" to write a program graph',
                path=f"vertices[{k}].op",
            )
    for k, vid in enumerate(graph.outputs):
        if vid not in index:
            raise GraphError(
                f"output {vid!r} is not a vertex of the graph; outputs must name "
                'vertices (inputs, or vertices in "vertices"/"edges")',
                path=f"outputs[{k}]",
            )
    for k, leaves in enumerate(graph.signature):
        for j, vid in enumerate(leaves):
            if vid not in index:
                raise _dangling(vid, f"signature[{k}][{j}]", "signature leaf")
            op = graph.vertices[index[vid]].op
            if op not in (INPUT, PARAMETER):
                raise GraphError(
                    f"signature leaves are 'input' or 'parameter' vertices, but "
                    f"{vid!r} has op {op!r}",
                    path=f"signature[{k}][{j}]",
                )


# ---------------------------------------------------------------------- program


def _check_operands(graph: Graph, index: dict[str, int]) -> None:
    for k, v in enumerate(graph.vertices):
        if v.op in (INPUT, PARAMETER):
            if v.operands:
                raise GraphError(
                    f"an {v.op!r} vertex takes no operands, got {len(v.operands)}; "
                    "inputs get no edges",
                    path=f"vertices[{k}].operands",
                )
            continue
        if not is_known_op(v.op):
            raise GraphError(
                f"unknown op {v.op!r}; supported ops: input, parameter, any JAX "
                "primitive (a generic vertex), or these structured ones: "
                + ", ".join(SUPPORTED),
                path=f"vertices[{k}].op",
            )
        for j, operand in enumerate(v.operands):
            if isinstance(operand, Literal):
                continue
            if operand not in index:
                raise _dangling(operand, f"vertices[{k}].operands[{j}]", "operand")
            if index[operand] >= k:
                _raise_order_or_cycle(graph, index, k, j)


def _program_succ(graph: Graph, index: dict[str, int]) -> list[list[int]]:
    succ: list[list[int]] = [[] for _ in graph.vertices]
    for k, v in enumerate(graph.vertices):
        for operand in v.operands:
            if not isinstance(operand, Literal) and operand in index:
                succ[index[operand]].append(k)
    return succ


def cycle_error(names: list[str], path: str) -> GraphError:
    """The error for a cycle through the vertices ``names``, in cycle order.

    Shared by the checks here and by document reading (``graphs.document``), so
    a cycle reads the same wherever it is found.
    """
    return GraphError(
        f"the graph has a cycle through vertex {names[0]!r} "
        f"({' -> '.join(names + names[:1])}); a computational graph must be "
        "acyclic",
        path=path,
    )


def _cycle_error(graph: Graph, cycle: list[int], path: str) -> GraphError:
    """The error for a cycle through the vertices at these positions."""
    return cycle_error([graph.vertices[i].id for i in cycle], path)


def _raise_order_or_cycle(graph: Graph, index: dict[str, int], k: int, j: int) -> None:
    cycle = find_cycle(_program_succ(graph, index))
    if cycle is not None:
        raise _cycle_error(graph, cycle, f"vertices[{cycle[0]}].operands")
    operand = graph.vertices[k].operands[j]
    raise GraphError(
        f"vertex {graph.vertices[k].id!r} is listed before its operand {operand!r}; "
        "list vertices in program (topological) order",
        path=f"vertices[{k}].operands[{j}]",
    )


# ------------------------------------------------------------------- structure-only


def _check_edges(graph: Graph, index: dict[str, int], listed: bool) -> None:
    inputs = set(graph.inputs)
    succ: list[list[int]] = [[] for _ in graph.vertices]
    where: dict[tuple[int, int], int] = {}
    for k, e in enumerate(graph.edges or ()):
        for side, vid in ((0, e.src), (1, e.dst)):
            if vid not in index:
                raise _dangling(vid, f"edges[{k}][{side}]", "edge endpoint")
        if e.dst in inputs:
            raise GraphError(
                f"edge {e.src!r} -> {e.dst!r} goes into input {e.dst!r}; inputs "
                "are independent variables and take no edges",
                path=f"edges[{k}][1]",
            )
        s, d = index[e.src], index[e.dst]
        succ[s].append(d)
        where.setdefault((s, d), k)
    cycle = find_cycle(succ)
    if cycle is not None:
        first = where[(cycle[0], cycle[1 % len(cycle)])]
        raise _cycle_error(graph, cycle, f"edges[{first}]")
    if listed:
        for (s, d), k in where.items():
            if s > d:
                raise GraphError(
                    f"vertex {graph.vertices[d].id!r} is listed before its "
                    f"predecessor {graph.vertices[s].id!r} (edge {k}); list "
                    'vertices in topological order, or leave "vertices" out',
                    path=f"vertices[{d}]",
                )


def _check_edge_partials(graph: Graph, index: dict[str, int]) -> None:
    for k, e in enumerate(graph.edges or ()):
        if e.partial is None:
            continue
        out_shape = tuple(graph.vertices[index[e.dst]].shape)
        in_shape = tuple(graph.vertices[index[e.src]].shape)
        p = e.partial
        path = f"edges[{k}][2]"
        if tuple(p.out_shape) != out_shape or tuple(p.in_shape) != in_shape:
            raise GraphError(
                f"partial is {list(p.out_shape)} x {list(p.in_shape)} but the edge "
                f"joins shapes {list(out_shape)} <- {list(in_shape)}",
                path=path,
            )
        if isinstance(p, Structure):
            for key, labels, shape, what in (
                ("out", p.out_labels, out_shape, e.dst),
                ("in", p.in_labels, in_shape, e.src),
            ):
                if len(labels) != len(shape):
                    raise GraphError(
                        f"expected one label per axis of {what!r} (shape "
                        f"{list(shape)}, {len(shape)} labels), got {len(labels)}",
                        path=f"{path}.{key}",
                    )
        elif isinstance(p, IndexMap):
            if len(p.index) != math.prod(out_shape):
                raise GraphError(
                    f"expected one index per element of {e.dst!r} "
                    f"({math.prod(out_shape)}), got {len(p.index)}",
                    path=f"{path}.index",
                )
        try:
            st.validate(p)
        except ValueError as err:
            raise GraphError(f"bad partial: {err}", path=path) from None
