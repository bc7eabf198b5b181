"""Cached graphs as stored: the listing of the pages, raw records by key.

Reads only. A record whose stored text decodes to invalid Unicode (lone
surrogates, written before intake refused them) is treated as absent, so that it
answers 404 rather than failing every request with a 500.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging

from sqlalchemy import Engine, func, select

from service.db import GraphRow, OrderRow

__all__ = [
    "GraphSummary",
    "StoredGraph",
    "count_records",
    "get_record",
    "list_records",
]

log = logging.getLogger("ccelim.service")


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


def _unreadable(stored_json: str) -> bool:
    """Whether stored JSON text decodes to text that is not valid Unicode (lone
    surrogates, stored before intake refused them): such a record is not served."""
    if "\\ud" not in stored_json.lower():
        return False
    try:
        json.dumps(json.loads(stored_json), ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return True
    return False


def get_record(engine: Engine, graph_hash: str) -> StoredGraph | None:
    """The graph stored under ``graph_hash`` and its order record, or None (also
    for a record whose text is not valid Unicode)."""
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
    if _unreadable(row[0]) or (row.order_json and _unreadable(row.order_json)):
        log.warning("record %s holds text that is not valid Unicode", graph_hash)
        return None
    n = len(graph_columns)
    record = None
    if row[n] is not None:  # the outer-joined order's graph_hash
        record = dict(zip(OrderRow.__table__.columns.keys(), row[n:], strict=True))
    return StoredGraph(*row[:n], record=record)
