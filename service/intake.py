"""Turning a request's graph document into a checked, hashed graph.

Client graphs are data only: they are parsed by ``graphs.load`` (JSON values, no
code), checked for size and validity, and hashed. Every problem becomes an
:class:`~service.errors.ApiError` with the offending field, never a 500: text that
is not valid Unicode (lone surrogates), parameters a kernel could never be built
with (``"dtype:object"``, unknown enums) and oversized selection indices are
refused here, before anything is searched or stored.

The record key (:attr:`PreparedGraph.hash`) is the canonical hash when it is
strong. A weak hash (``g1w-``, the canonical search ran out of work) is no proof of
identity, so the key of such a graph is the weak hash *and* a digest of its exact
document: two different graphs can never share a record.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import threading
from typing import Any

import numpy as np

import graphs
from graphs import CanonicalForm, Graph, GraphError
from graphs import params as graph_params
from service.errors import ApiError

__all__ = [
    "MAX_INDEX_ENTRIES",
    "PreparedCache",
    "PreparedGraph",
    "check_text",
    "document_key",
    "prepare",
    "record_key",
    "structure_only_reason",
]

log = logging.getLogger("ccelim.service")

#: What a response says instead of a kernel for a structure-only graph.
structure_only_reason = (
    "structure-only graph: a kernel needs a program graph (per-vertex op, operands, "
    "shape and dtype); make one with graphs.trace(f, *example_args) or "
    "service.Client.optimize(f, *example_args)"
)


#: Largest number of selection-index entries (``{"index": [...]}`` partials) in
#: one graph.
MAX_INDEX_ENTRIES = 200_000

#: Element types of JAX arrays that are not NumPy dtype names.
_EXTRA_DTYPES = frozenset(
    (
        "bfloat16 float8_e4m3fn float8_e5m2 float8_e4m3b11fnuz float8_e4m3fnuz "
        "float8_e5m2fnuz int4 uint4"
    ).split()
)


@dataclasses.dataclass(frozen=True)
class PreparedGraph:
    """A validated request graph.

    Attributes:
      graph: the parsed graph, in the caller's vertex ids.
      hash: the record key: the canonical hash when strong, else the weak hash,
        ``-`` and a digest of ``document`` (see the module docstring).
      form: the graph's canonical form (hash and canonical labelling).
      document: ``graph.to_json()``, the caller's graph as stored text.
      num_vertices: number of vertices.
      num_intermediates: number of vertices an order eliminates.
    """

    graph: Graph
    hash: str
    form: CanonicalForm
    document: str
    num_vertices: int
    num_intermediates: int

    @property
    def is_program(self) -> bool:
        return self.graph.is_program


def record_key(form: CanonicalForm, document: str) -> str:
    """The cache key of a graph with this canonical form and stored text."""
    if not form.is_weak:
        return form.hash
    return f"{form.hash}-{hashlib.sha256(document.encode()).hexdigest()[:32]}"


def check_text(value: Any, path: str) -> None:
    """Raises 422 ``invalid_text`` naming the first string (or key) under
    ``value`` that is not valid Unicode (a lone surrogate such as ``\\ud800``)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            texts = [item]
        elif isinstance(item, dict):
            texts = list(item)
            stack.extend((v, f"{where}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            texts = []
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        else:
            continue
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(
                    422,
                    "invalid_text",
                    f"expected valid Unicode text, got a lone surrogate in "
                    f"{text.encode('utf-8', 'backslashreplace').decode()[:60]!r}; "
                    "send UTF-8 text (surrogates only in pairs)",
                    field=where,
                ) from None


def _check_dtype(name: str, field: str) -> None:
    try:
        usable = np.dtype(name).kind in "biufc"
    except TypeError:
        usable = False
    if not usable and name not in _EXTRA_DTYPES:
        raise ApiError(
            422,
            "invalid_graph",
            f"expected a numeric JAX dtype, got {name!r}; a kernel can only be "
            "built for bool, integer, floating and complex arrays",
            field=field,
        )


def _check_param(value: Any, field: str) -> None:
    if isinstance(value, tuple | list):
        for i, item in enumerate(value):
            _check_param(item, f"{field}[{i}]")
    elif isinstance(value, str) and value.startswith("dtype:"):
        _check_dtype(value[len("dtype:") :], field)
    elif isinstance(value, str) and value.startswith("enum:"):
        try:
            graph_params.decode(value)
        except (GraphError, KeyError, ValueError) as err:
            raise ApiError(
                422,
                "invalid_graph",
                f"expected a known lax enum value, got {value!r} ({err}); see the "
                "params that graphs.trace writes",
                field=field,
            ) from None


def _check_program(graph: Graph) -> None:
    """Parameters and dtypes that a kernel can be built with (program graphs)."""
    for k, v in enumerate(graph.vertices):
        if v.dtype is not None:
            _check_dtype(str(v.dtype), f"graph.vertices[{k}].dtype")
        for name, value in v.params:
            _check_param(value, f"graph.vertices[{k}].params.{name}")


def _count_index_entries(edges: list) -> int:
    total = 0
    for edge in edges:
        if isinstance(edge, list) and len(edge) > 2 and isinstance(edge[2], dict):
            index = edge[2].get("index")
            if isinstance(index, list):
                total += len(index)
    return total


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
            entries = _count_index_entries(edges)
            if entries > MAX_INDEX_ENTRIES:
                raise ApiError(
                    413,
                    "graph_too_large",
                    f"expected at most {MAX_INDEX_ENTRIES} selection-index entries in "
                    f"all, got {entries}; split the graph",
                    field="graph.edges",
                )
    check_text(document, "graph")
    try:
        graph = graphs.load(document, max_vertices=max_vertices)
        if graph.is_program:
            _check_program(graph)
        elim = graphs.build(graph)
        form = graphs.canonical_form(graph)
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
        hash=record_key(form, text),
        form=form,
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
