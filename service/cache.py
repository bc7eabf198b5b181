"""The persistent order cache: look up, store (better only), list.

Records are keyed by ``graphs.canonical_hash``. A hit is served only after
``graphs.isomorphism`` confirms that the stored graph is the caller's graph under
some renaming (so a hash collision can never serve a wrong order), and the order is
translated into the caller's own vertex ids. Storing is one transaction whose order
write is a conditional upsert: a strictly cheaper order replaces the stored one,
never the reverse, even with several writers at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Sequence

from sqlalchemy import Engine, func, select, text

import graphs
from graphs import Graph
from service.db import GraphRow, OrderRow, utcnow
from service.intake import PreparedGraph

__all__ = [
    "CachedOrder",
    "GraphSummary",
    "SearchOutcome",
    "StoredGraph",
    "cached_order",
    "Versions",
    "count_records",
    "fetch",
    "get_record",
    "list_records",
    "lookup",
    "needs_translation",
    "resolve",
    "store",
]


@dataclasses.dataclass(frozen=True)
class Versions:
    """The versions a record was made with; a cost-model change invalidates it."""

    ccelim: str
    jax: str
    cost_model: str


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """A finished search, in the submitting caller's vertex ids."""

    order: tuple[str, ...]
    cost: int
    method: str
    baselines: dict[str, int]
    lower_bound: int | None
    elapsed_s: float
    time_budget_s: float
    seed: int
    model_checkpoint: str | None = None


@dataclasses.dataclass(frozen=True)
class CachedOrder:
    """A cache record as one caller sees it (``order`` in the caller's ids)."""

    graph_hash: str
    order: tuple[str, ...]
    cost: int
    method: str
    baselines: dict[str, int]
    lower_bound: int | None
    elapsed_s: float
    time_budget_s: float
    seed: int
    model_checkpoint: str | None
    versions: Versions
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class GraphSummary:
    """One line of the cache listing."""

    graph_hash: str
    name: str
    num_vertices: int
    num_intermediates: int
    is_program: bool
    cost: int
    method: str
    baselines: dict[str, int]
    updated_at: dt.datetime


@functools.lru_cache(maxsize=512)
def _parse(document: str) -> Graph:
    return graphs.load(document)


def _translate(order: Sequence[str], source: Graph, target: Graph) -> tuple | None:
    """``order`` from ``source``'s ids into ``target``'s; None if not isomorphic."""
    mapping = graphs.isomorphism(source, target)
    if mapping is None:
        return None
    return tuple(mapping.get(v, v) for v in order)


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


def needs_translation(found: tuple[str, dict], prepared: PreparedGraph) -> bool:
    """Whether serving ``found`` to this caller needs an isomorphism search."""
    return found[0] != prepared.document


def resolve(
    found: tuple[str, dict] | None, prepared: PreparedGraph, *, cost_model: str
) -> CachedOrder | None:
    """The fetched record as the caller sees it, or None if it does not apply.

    A record of another cost-model version does not apply (its cost counts
    something else), nor does a stored graph that is not isomorphic to the
    caller's (a hash collision). Otherwise the order is translated into the
    caller's vertex ids.
    """
    if found is None:
        return None
    document, values = found
    if values["cost_model_version"] != cost_model:
        return None
    order = tuple(json.loads(values["order_json"]))
    if document != prepared.document:
        order = _translate(order, _parse(document), prepared.graph)
        if order is None:  # a hash collision: not the caller's graph
            return None
    return cached_order(prepared.hash, values, order=order)


def lookup(
    engine: Engine, prepared: PreparedGraph, *, cost_model: str
) -> CachedOrder | None:
    """The cached best order for the caller's graph, or None (fetch + resolve).

    Args:
      engine: the cache database.
      prepared: the caller's graph.
      cost_model: the running cost-model version; records of other versions are
        ignored (their costs count something else).
    """
    found = fetch(engine, prepared.hash)
    return resolve(found, prepared, cost_model=cost_model)


def cached_order(
    graph_hash: str, values: dict, *, order: Sequence[str] | None = None
) -> CachedOrder:
    """A :class:`CachedOrder` from an ``orders`` row (``order`` overrides the
    stored ids)."""
    if order is None:
        order = json.loads(values["order_json"])
    return CachedOrder(
        graph_hash=graph_hash,
        order=tuple(order),
        cost=values["cost"],
        method=values["method"],
        baselines=json.loads(values["baselines_json"]),
        lower_bound=values["lower_bound"],
        elapsed_s=values["elapsed_s"],
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


def store(
    engine: Engine,
    prepared: PreparedGraph,
    outcome: SearchOutcome,
    *,
    versions: Versions,
) -> bool:
    """Stores ``outcome`` if it beats the cached order (one transaction).

    Returns:
      True if the record was created or replaced, False if the cached order is at
      least as good, or the hash belongs to a different (non-isomorphic) graph.
    """
    dialect_insert = _dialect_insert(engine)
    now = utcnow()
    graph_values = {
        "hash": prepared.hash,
        "document": prepared.document,
        "name": (prepared.graph.name or "")[:200],
        "num_vertices": prepared.num_vertices,
        "num_intermediates": prepared.num_intermediates,
        "is_program": prepared.is_program,
        "created_at": now,
    }
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(GraphRow)
            .values(**graph_values)
            .on_conflict_do_nothing(index_elements=[GraphRow.hash])
        )
        stored = conn.execute(
            select(GraphRow.document).where(GraphRow.hash == prepared.hash)
        ).scalar_one()
        order = outcome.order
        if stored != prepared.document:
            order = _translate(order, prepared.graph, _parse(stored))
            if order is None:
                return False
        values = {
            "graph_hash": prepared.hash,
            "order_json": json.dumps(list(order)),
            "cost": int(outcome.cost),
            "method": outcome.method[:100],
            "baselines_json": json.dumps(outcome.baselines, sort_keys=True),
            "lower_bound": outcome.lower_bound,
            "elapsed_s": float(outcome.elapsed_s),
            "time_budget_s": float(outcome.time_budget_s),
            "seed": int(outcome.seed),
            "model_checkpoint": outcome.model_checkpoint,
            "ccelim_version": versions.ccelim,
            "jax_version": versions.jax,
            "cost_model_version": versions.cost_model,
            "created_at": now,
            "updated_at": now,
        }
        statement = dialect_insert(OrderRow).values(**values)
        replace = {k: statement.excluded[k] for k in values if k != "created_at"}
        statement = statement.on_conflict_do_update(
            index_elements=[OrderRow.graph_hash],
            set_=replace,
            where=(OrderRow.cost > statement.excluded.cost)
            | (OrderRow.cost_model_version != statement.excluded.cost_model_version),
        )
        return conn.execute(statement).rowcount > 0


def _summary(row) -> GraphSummary:
    return GraphSummary(
        graph_hash=row.hash,
        name=row.name,
        num_vertices=row.num_vertices,
        num_intermediates=row.num_intermediates,
        is_program=row.is_program,
        cost=row.cost,
        method=row.method,
        baselines=json.loads(row.baselines_json),
        updated_at=row.updated_at,
    )


_SUMMARY_COLUMNS = (
    GraphRow.hash,
    GraphRow.name,
    GraphRow.num_vertices,
    GraphRow.num_intermediates,
    GraphRow.is_program,
    OrderRow.cost,
    OrderRow.method,
    OrderRow.baselines_json,
    OrderRow.updated_at,
)


def list_records(
    engine: Engine, *, limit: int = 200, offset: int = 0
) -> list[GraphSummary]:
    """Cached graphs, most recently improved first."""
    query = (
        select(*_SUMMARY_COLUMNS)
        .join(OrderRow, OrderRow.graph_hash == GraphRow.hash)
        .order_by(OrderRow.updated_at.desc(), GraphRow.hash)
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as conn:
        return [_summary(row) for row in conn.execute(query)]


def count_records(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(OrderRow)).scalar_one()


@dataclasses.dataclass(frozen=True)
class StoredGraph:
    """A graph as stored, with its order record (stored ids) if it has one."""

    document: str
    name: str
    num_vertices: int
    num_intermediates: int
    is_program: bool
    record: dict | None


def get_record(engine: Engine, graph_hash: str) -> StoredGraph | None:
    """The graph stored under ``graph_hash`` and its order record, or None."""
    graph_columns = (
        GraphRow.document,
        GraphRow.name,
        GraphRow.num_vertices,
        GraphRow.num_intermediates,
        GraphRow.is_program,
    )
    query = (
        select(*graph_columns, *OrderRow.__table__.columns)
        .outerjoin(OrderRow, OrderRow.graph_hash == GraphRow.hash)
        .where(GraphRow.hash == graph_hash)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    n = len(graph_columns)
    record = None
    if row[n] is not None:  # the outer-joined order's graph_hash
        record = dict(zip(OrderRow.__table__.columns.keys(), row[n:], strict=True))
    return StoredGraph(*row[:n], record=record)
