"""Turning a request's graph document into a checked, hashed graph.

Client graphs are data only: they are parsed by ``graphs.load`` (JSON values, no
code), checked for size and validity, and hashed. Every problem becomes an
:class:`~service.errors.ApiError` with the offending field, never a 500.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import threading
from typing import Any

import graphs
from graphs import Graph, GraphError
from service.errors import ApiError

__all__ = [
    "PreparedCache",
    "PreparedGraph",
    "document_key",
    "prepare",
    "structure_only_reason",
]

log = logging.getLogger("ccelim.service")

#: What a response says instead of a kernel for a structure-only graph.
structure_only_reason = (
    "structure-only graph: a kernel needs a program graph (per-vertex op, operands, "
    "shape and dtype); make one with graphs.trace(f, *example_args) or "
    "service.Client.optimize(f, *example_args)"
)


@dataclasses.dataclass(frozen=True)
class PreparedGraph:
    """A validated request graph.

    Attributes:
      graph: the parsed graph, in the caller's vertex ids.
      hash: ``graphs.canonical_hash(graph)``, the cache key.
      document: ``graph.to_json()``, the caller's graph as stored text.
      num_vertices: number of vertices.
      num_intermediates: number of vertices an order eliminates.
    """

    graph: Graph
    hash: str
    document: str
    num_vertices: int
    num_intermediates: int

    @property
    def is_program(self) -> bool:
        return self.graph.is_program


def _too_large(count: int, limit: int, what: str) -> ApiError:
    return ApiError(
        413,
        "graph_too_large",
        f"expected at most {limit} vertices, got {count} {what}; split the program "
        "or ask the operator to raise CCELIM_MAX_VERTICES",
        field="graph.vertices",
    )


def prepare(document: Any, *, max_vertices: int) -> PreparedGraph:
    """Parses, validates, sizes and hashes a graph document.

    Args:
      document: the ``graph`` member of a request (a ``ccelim.graph/1`` object).
      max_vertices: the largest number of vertices accepted.

    Returns:
      The :class:`PreparedGraph`.

    Raises:
      ApiError: 413 ``graph_too_large`` or 422 ``invalid_graph`` naming the field.
    """
    if isinstance(document, dict):
        listed = document.get("vertices")
        if isinstance(listed, list) and len(listed) > max_vertices:
            raise _too_large(len(listed), max_vertices, "listed")
        edges = document.get("edges")
        if isinstance(edges, list):
            ends = {
                end
                for edge in edges
                if isinstance(edge, list)
                for end in edge[:2]
                if isinstance(end, str)
            }
            if len(ends) > max_vertices:
                raise _too_large(len(ends), max_vertices, "named in edges")
    try:
        graph = graphs.load(document, max_vertices=max_vertices)
        elim = graphs.build(graph)
        key = graphs.canonical_hash(graph)
        text = graph.to_json()
    except GraphError as err:
        field = f"graph.{err.path}" if err.path else "graph"
        raise ApiError(422, "invalid_graph", err.message, field=field) from None
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
    ) as err:
        # A malformed document that slipped past the validator must still be a 4xx.
        log.warning("graph rejected by an unexpected %s: %s", type(err).__name__, err)
        raise ApiError(
            422,
            "invalid_graph",
            f"the graph document cannot be read ({type(err).__name__}: {err}); "
            "see the ccelim.graph/1 format in the README",
            field="graph",
        ) from None
    return PreparedGraph(
        graph=graph,
        hash=key,
        document=text,
        num_vertices=len(graph.vertices),
        num_intermediates=len(elim.intermediates),
    )


def document_key(document: Any) -> str:
    """A digest of a request's graph document (key order ignored, lists kept)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class PreparedCache:
    """The last ``max_entries`` prepared graphs by document digest.

    Parsing, validating and canonically hashing a graph costs milliseconds (tens
    for a hundred vertices); a client that posts the same document again skips all
    of it. Only successfully prepared graphs are kept. Thread-safe.
    """

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[str, PreparedGraph] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, key: str) -> PreparedGraph | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, prepared: PreparedGraph) -> None:
        with self._lock:
            self._entries[key] = prepared
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
