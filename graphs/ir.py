"""The graph IR: a program (or a bare structure) over vertices with shapes.

A :class:`Graph` is plain, immutable data. *Program graphs* (made by
:func:`graphs.trace`) say for each vertex which primitive computes it from which
operands, so a kernel can be built from them. *Structure-only graphs* (edge lists,
as the literature publishes them) give only the edges, optionally with vertex shapes
and per-edge partial structure: enough to search, not to build a kernel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from graphs.errors import GraphError
from graphs.structure import Partial

#: Op of an independent (differentiated) vertex.
INPUT = "input"
#: Op of a non-differentiated argument leaf: a value the kernel takes, with zero
#: derivative.
PARAMETER = "parameter"
#: Op of every non-input vertex of a structure-only graph.
NODE = "node"


@dataclasses.dataclass(frozen=True)
class Literal:
    """A constant operand written into the program (``2.0`` in ``x * 2.0``)."""

    value: Any  # a Python number or nested tuples of numbers
    shape: tuple[int, ...] = ()
    dtype: str = "float32"

    def __post_init__(self):
        # Nested lists become nested tuples, so that a Literal (and a Graph) is
        # hashable whatever built it.
        if isinstance(self.value, list):
            object.__setattr__(self, "value", _nested_tuples(self.value))


def _nested_tuples(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_nested_tuples(v) for v in value)
    return value


Operand = str | Literal


@dataclasses.dataclass(frozen=True)
class Vertex:
    """One value of the program.

    Attributes:
      id: the vertex id, unique in its graph; orders are lists of these.
      op: ``"input"``, ``"parameter"``, a JAX primitive name, or ``"node"`` in a
        structure-only graph.
      operands: vertex ids or literals, in the primitive's argument order
        (program graphs only).
      params: the primitive's parameters as JSON-able values, sorted by name.
      shape: the array shape; ``()`` for a scalar.
      dtype: the array dtype name.
    """

    id: str
    op: str
    operands: tuple[Operand, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()
    shape: tuple[int, ...] = ()
    dtype: str = "float32"

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclasses.dataclass(frozen=True)
class Edge:
    """An edge of a structure-only graph: ``dst`` depends on ``src``.

    ``partial`` is the structure of the edge's partial Jacobian; ``None`` means a
    dense partial with values (for scalars: one number).
    """

    src: str
    dst: str
    partial: Partial | None = None


@dataclasses.dataclass(frozen=True)
class Graph:
    """A computational graph.

    Attributes:
      vertices: every vertex, in a topological (program) order.
      inputs: ids of the independent vertices, in argument order.
      outputs: ids of the dependent vertices, in result order; may repeat and may
        name inputs.
      edges: the explicit edges of a structure-only graph; ``None`` for a program
        graph, whose edges follow from the operands.
      name: a label for people; not part of the graph's identity.
      signature: for program graphs, how kernel arguments map to vertices: one
        entry per positional argument, each a tuple of leaf vertex ids (inputs or
        parameters) in flattening order.
    """

    vertices: tuple[Vertex, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    edges: tuple[Edge, ...] | None = None
    name: str = ""
    signature: tuple[tuple[str, ...], ...] = ()

    @property
    def is_program(self) -> bool:
        return self.edges is None

    @property
    def by_id(self) -> Mapping[str, Vertex]:
        return _index(self)

    def vertex(self, vid: str) -> Vertex:
        try:
            return self.by_id[vid]
        except KeyError:
            raise GraphError(f"no vertex with id {vid!r}") from None

    def to_json(self, **dumps_kwargs: Any) -> str:
        """Serializes to the ``ccelim.graph/1`` JSON format (see ``graphs.jsonio``)."""
        from graphs.jsonio import to_json

        return to_json(self, **dumps_kwargs)

    def to_dict(self) -> dict[str, Any]:
        from graphs.jsonio import to_dict

        return to_dict(self)

    def to_structure(self) -> Graph:
        """The structure-only view: same ids and shapes, explicit edges with partials."""
        from graphs.elimination import structure_only

        return structure_only(self)


_INDEX_CACHE: dict[int, tuple[Graph, dict[str, Vertex]]] = {}


def _index(graph: Graph) -> dict[str, Vertex]:
    hit = _INDEX_CACHE.get(id(graph))
    if hit is not None and hit[0] is graph:
        return hit[1]
    index = {v.id: v for v in graph.vertices}
    if len(_INDEX_CACHE) > 256:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(graph)] = (graph, index)
    return index
