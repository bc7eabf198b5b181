"""The persistent order cache: look up, store (better only), list.

A record is one search result (``search.OptimizeResult``) wrapped with its
provenance (:class:`OrderRecord`), keyed by the graph's record key
(``service.intake.record_key``): the strong canonical hash, or for a graph whose
canonical search ran out of work, the weak hash plus a digest of the exact
document, so that two different graphs never share a record.

Serving a record to a caller whose document differs from the stored one needs a
vertex mapping: for a strong hash it comes from the two canonical labellings
(position by position, no search); for a weak hash only a bounded
:func:`graphs.isomorphism` that succeeds lets a record of another document answer.
That graph work is never done inside a database transaction: :func:`store` maps
the order first, then writes in one short transaction whose order write is a
conditional upsert (a strictly cheaper order replaces the stored one, never the
reverse, even with several writers at once), and retries when another writer
stored the graph under other names in between.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select, text

import graphs
from graphs import CanonicalForm, Graph
from search.optimize import OptimizeResult
from service.db import GraphRow, OrderRow, utcnow
from service.intake import PreparedGraph
from service.records import (  # listing and raw records, re-exported
    GraphSummary,
    StoredGraph,
    count_records,
    get_record,
    list_records,
)

__all__ = [
    "ISOMORPHISM_WORK",
    "GraphSummary",
    "OrderRecord",
    "Provenance",
    "StoredGraph",
    "Versions",
    "count_records",
    "fetch",
    "fetch_similar",
    "get_record",
    "list_records",
    "lookup",
    "map_order",
    "needs_translation",
    "order_response",
    "record_from_row",
    "resolve",
    "store",
]

log = logging.getLogger("ccelim.service")

#: Refinement work that one isomorphism check of a weak-hashed graph may spend
#: (about a second of pure Python); past it the graphs count as different.
ISOMORPHISM_WORK = 300_000
#: Records of other documents with the same weak hash that a lookup tries.
SIMILAR_CANDIDATES = 3


@dataclasses.dataclass(frozen=True)
class Versions:
    """The versions a record was made with; a cost-model change invalidates it."""

    ccelim: str
    jax: str
    cost_model: str


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Who found a result, with which budget, seed, weights and versions, when."""

    time_budget_s: float
    seed: int
    model_checkpoint: str | None
    versions: Versions
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class OrderRecord:
    """A search result (``order`` in one caller's vertex ids) and its provenance."""

    graph_hash: str
    result: OptimizeResult
    provenance: Provenance


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def order_response(record: OrderRecord, *, cached: bool) -> dict[str, Any]:
    """The OrderResponse fields of a record (no kernel yet)."""
    result, source = record.result, record.provenance
    info = None
    if source.created_at is not None and source.updated_at is not None:
        info = {
            "model_checkpoint": source.model_checkpoint,
            "time_budget_s": source.time_budget_s,
            "seed": source.seed,
            "ccelim_version": source.versions.ccelim,
            "jax_version": source.versions.jax,
            "cost_model_version": source.versions.cost_model,
            "created_at": _utc(source.created_at).isoformat(),
            "updated_at": _utc(source.updated_at).isoformat(),
        }
    return {
        "graph_hash": record.graph_hash,
        "order": list(result.order),
        "cost": result.cost,
        "method": result.method,
        "baselines": dict(result.baselines),
        "lower_bound": result.lower_bound,
        "elapsed_s": result.elapsed_s,
        "cached": cached,
        "record": info,
        "kernel": None,
        "kernel_unavailable": None,
    }


def record_from_row(
    graph_hash: str, values: dict, *, order: Sequence[str] | None = None
) -> OrderRecord:
    """An :class:`OrderRecord` from an ``orders`` row (``order`` overrides the
    stored ids)."""
    if order is None:
        order = json.loads(values["order_json"])
    result = OptimizeResult(
        order=tuple(order),
        cost=values["cost"],
        method=values["method"],
        baselines=json.loads(values["baselines_json"]),
        lower_bound=values["lower_bound"],
        elapsed_s=values["elapsed_s"],
        history=(),
    )
    provenance = Provenance(
        time_budget_s=values["time_budget_s"],
        seed=values["seed"],
        model_checkpoint=values["model_checkpoint"],
        versions=Versions(
            values["ccelim_version"],
            values["jax_version"],
            values["cost_model_version"],
        ),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )
    return OrderRecord(graph_hash, result, provenance)


# ------------------------------------------------------------------ graph mapping


@functools.lru_cache(maxsize=256)
def _parsed(document: str) -> tuple[Graph, CanonicalForm]:
    graph = graphs.load(document)
    return graph, graphs.canonical_form(graph)


def _mapping(
    source: tuple[Graph, CanonicalForm], target: tuple[Graph, CanonicalForm]
) -> dict[str, str] | None:
    """A vertex mapping from ``source`` to ``target``, or None if none was shown.

    Equal strong hashes map by canonical position (no search); otherwise only a
    bounded isomorphism search may find one.
    """
    (a, form_a), (b, form_b) = source, target
    if not form_a.is_weak and not form_b.is_weak:
        if form_a.hash != form_b.hash:
            return None
        return dict(zip(form_a.order, form_b.order, strict=True))
    return graphs.isomorphism(a, b, max_work=ISOMORPHISM_WORK)


def _ours(prepared: PreparedGraph) -> tuple[Graph, CanonicalForm]:
    return prepared.graph, prepared.form


def map_order(
    order: Sequence[str], source: PreparedGraph, target: PreparedGraph
) -> tuple[str, ...] | None:
    """``order`` from ``source``'s vertex ids into ``target``'s, or None when the
    graphs are not shown to be the same (bounded work; call it off the loop)."""
    if source.document == target.document:
        return tuple(order)
    mapping = _mapping(_ours(source), _ours(target))
    if mapping is None:
        return None
    return tuple(mapping.get(v, v) for v in order)


def needs_translation(found: tuple[str, dict], prepared: PreparedGraph) -> bool:
    """Whether serving ``found`` to this caller needs graph work (a mapping)."""
    return found[0] != prepared.document


# ------------------------------------------------------------------------ reading

_ORDER_KEYS = tuple(OrderRow.__table__.columns.keys())
# The hot read of every cache hit, as typed textual SQL: building and caching a
# Core select per request costs more than the SQLite read itself.
_FETCH = text(
    "SELECT graphs.document, "
    + ", ".join(f"orders.{key}" for key in _ORDER_KEYS)
    + " FROM graphs JOIN orders ON orders.graph_hash = graphs.hash"
    " WHERE graphs.hash = :graph_hash"
).columns(GraphRow.document, *OrderRow.__table__.columns)


def fetch(engine: Engine, graph_hash: str) -> tuple[str, dict] | None:
    """The stored graph document and order row under ``graph_hash``, or None.

    One indexed read; no graph work (see :func:`resolve`)."""
    with engine.connect() as conn:
        row = conn.execute(_FETCH, {"graph_hash": graph_hash}).first()
    if row is None:
        return None
    return row[0], dict(zip(_ORDER_KEYS, row[1:], strict=True))


def fetch_similar(
    engine: Engine, prepared: PreparedGraph, *, limit: int = SIMILAR_CANDIDATES
) -> list[tuple[str, str, dict]]:
    """Records of other documents with the caller's weak hash: ``(key, document,
    order row)``, at most ``limit``; none for a strong hash."""
    if not prepared.form.is_weak:
        return []
    pattern = prepared.form.hash + "-%"
    query = (
        select(GraphRow.hash, GraphRow.document, *OrderRow.__table__.columns)
        .join(OrderRow, OrderRow.graph_hash == GraphRow.hash)
        .where(GraphRow.hash.like(pattern), GraphRow.hash != prepared.hash)
        .order_by(OrderRow.cost, GraphRow.hash)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [(r[0], r[1], dict(zip(_ORDER_KEYS, r[2:], strict=True))) for r in rows]


def resolve(
    found: tuple[str, dict] | None,
    prepared: PreparedGraph,
    *,
    cost_model: str,
    graph_hash: str | None = None,
) -> OrderRecord | None:
    """The fetched record as the caller sees it, or None if it does not apply.

    A record of another cost-model version does not apply (its cost counts
    something else), nor does a stored graph that is not shown to be the caller's
    graph. Otherwise the order is translated into the caller's vertex ids. May do
    bounded graph work (see :func:`needs_translation`): call it off the event loop.
    """
    if found is None:
        return None
    document, values = found
    if values["cost_model_version"] != cost_model:
        return None
    order = tuple(json.loads(values["order_json"]))
    if document != prepared.document:
        mapping = _mapping(_parsed(document), _ours(prepared))
        if mapping is None:
            return None
        order = tuple(mapping.get(v, v) for v in order)
    return record_from_row(graph_hash or prepared.hash, values, order=order)


def lookup(
    engine: Engine, prepared: PreparedGraph, *, cost_model: str
) -> OrderRecord | None:
    """The cached best order for the caller's graph, or None (blocking).

    Tries the caller's own record, then (weak hashes only) up to
    :data:`SIMILAR_CANDIDATES` records of other documents with the same weak hash,
    each served only if a bounded isomorphism check maps it onto the caller's
    graph.
    """
    hit = resolve(fetch(engine, prepared.hash), prepared, cost_model=cost_model)
    if hit is not None:
        return hit
    for key, document, values in fetch_similar(engine, prepared):
        hit = resolve(
            (document, values), prepared, cost_model=cost_model, graph_hash=key
        )
        if hit is not None:
            return hit
    return None


# ------------------------------------------------------------------------ writing


def _dialect_insert(engine: Engine):
    name = engine.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        raise RuntimeError(
            f"the order cache needs SQLite or PostgreSQL, got {name!r}; "
            "set CCELIM_DATABASE_URL to a sqlite:/// or postgresql+psycopg:// URL"
        )
    return dialect_insert


def _stored_document(engine: Engine, graph_hash: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(GraphRow.document).where(GraphRow.hash == graph_hash)
        ).scalar_one_or_none()


def store(
    engine: Engine,
    prepared: PreparedGraph,
    result: OptimizeResult,
    provenance: Provenance,
) -> bool:
    """Stores ``result`` (in the caller's ids) if it beats the cached order.

    Graph work (mapping the order into the stored graph's ids) happens before the
    write transaction, which is short. Blocking: call it off the event loop.

    Returns:
      True if the record was created or replaced, False if the cached order is at
      least as good, or the stored graph is not shown to be the caller's.
    """
    dialect_insert = _dialect_insert(engine)
    for _attempt in range(3):
        stored = _stored_document(engine, prepared.hash)
        order = tuple(result.order)
        if stored is not None and stored != prepared.document:
            mapping = _mapping(_ours(prepared), _parsed(stored))
            if mapping is None:
                return False
            order = tuple(mapping.get(v, v) for v in order)
        expected = prepared.document if stored is None else stored
        written = _write(
            engine, dialect_insert, prepared, result, provenance, order, expected
        )
        if written is not None:
            return written
    return False


def _write(
    engine: Engine,
    dialect_insert,
    prepared: PreparedGraph,
    result: OptimizeResult,
    provenance: Provenance,
    order: tuple[str, ...],
    expected: str,
) -> bool | None:
    """One short transaction: insert the graph if new, then the conditional
    upsert; None (rolled back) when the stored document is no longer ``expected``
    (another writer stored the graph under other names: ``order`` is in the wrong
    ids)."""
    now = utcnow()
    versions = provenance.versions
    graph_values = {
        "hash": prepared.hash,
        "document": prepared.document,
        "name": (prepared.graph.name or "")[:200],
        "num_vertices": prepared.num_vertices,
        "num_intermediates": prepared.num_intermediates,
        "is_program": prepared.is_program,
        "created_at": now,
    }
    values = {
        "graph_hash": prepared.hash,
        "order_json": json.dumps(list(order)),
        "cost": int(result.cost),
        "method": result.method[:100],
        "baselines_json": json.dumps(result.baselines, sort_keys=True),
        "lower_bound": result.lower_bound,
        "elapsed_s": float(result.elapsed_s),
        "time_budget_s": float(provenance.time_budget_s),
        "seed": int(provenance.seed),
        "model_checkpoint": provenance.model_checkpoint,
        "ccelim_version": versions.ccelim,
        "jax_version": versions.jax,
        "cost_model_version": versions.cost_model,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with engine.begin() as conn:
            return _upsert(
                conn, dialect_insert, prepared, graph_values, values, expected
            )
    except _Moved:
        return None


class _Moved(Exception):
    pass


def _upsert(conn, dialect_insert, prepared, graph_values, values, expected) -> bool:
    """The statements of :func:`_write`'s transaction."""
    conn.execute(
        dialect_insert(GraphRow)
        .values(**graph_values)
        .on_conflict_do_nothing(index_elements=[GraphRow.hash])
    )
    stored = conn.execute(
        select(GraphRow.document).where(GraphRow.hash == prepared.hash)
    ).scalar_one()
    if stored != expected:
        raise _Moved
    statement = dialect_insert(OrderRow).values(**values)
    replace = {k: statement.excluded[k] for k in values if k != "created_at"}
    statement = statement.on_conflict_do_update(
        index_elements=[OrderRow.graph_hash],
        set_=replace,
        where=(OrderRow.cost > statement.excluded.cost)
        | (OrderRow.cost_model_version != statement.excluded.cost_model_version),
    )
    return conn.execute(statement).rowcount > 0
