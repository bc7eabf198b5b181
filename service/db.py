"""The database schema of the order cache and the jobs, and how to open it.

Four tables: ``graphs`` (one graph document per record key), ``orders`` (the
best order known for that graph, in the stored graph's vertex names, with who found
it and with which versions), ``jobs`` (searches in flight or finished) and
``heartbeats`` (one row per replica, rewritten by the write probe of ``/healthz``).
SQLite is the embedded default; any SQLAlchemy URL (PostgreSQL for several
replicas) works. A database that cannot be written is opened read-only
(:func:`open_database`): the server then answers from the cache and refuses
searches, rather than not starting at all.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "GraphRow",
    "HeartbeatRow",
    "JobRow",
    "OrderRow",
    "open_database",
    "open_engine",
    "probe_write",
    "utcnow",
]

log = logging.getLogger("ccelim.service")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class GraphRow(Base):
    """A graph as first submitted, under its canonical hash."""

    __tablename__ = "graphs"

    hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # ccelim.graph/1 JSON
    name: Mapped[str] = mapped_column(String(200), default="")
    num_vertices: Mapped[int] = mapped_column(Integer)
    num_intermediates: Mapped[int] = mapped_column(Integer)
    is_program: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class OrderRow(Base):
    """The best order known for a graph, in the stored graph's vertex ids."""

    __tablename__ = "orders"

    graph_hash: Mapped[str] = mapped_column(
        String(128), ForeignKey("graphs.hash"), primary_key=True
    )
    order_json: Mapped[str] = mapped_column(Text)  # JSON list of vertex ids
    cost: Mapped[int] = mapped_column(BigInteger, index=True)
    method: Mapped[str] = mapped_column(String(100))
    baselines_json: Mapped[str] = mapped_column(Text)  # JSON {name: cost}
    lower_bound: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    elapsed_s: Mapped[float] = mapped_column(Float)
    time_budget_s: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    model_checkpoint: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ccelim_version: Mapped[str] = mapped_column(String(50))
    jax_version: Mapped[str] = mapped_column(String(50))
    cost_model_version: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class JobRow(Base):
    """A search job. ``result_json`` holds the answer in the submitter's names."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    graph_hash: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    time_budget_s: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    best_cost: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    elapsed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str] = mapped_column(String(200))
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class HeartbeatRow(Base):
    """The last successful write probe of a replica."""

    __tablename__ = "heartbeats"

    instance: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def open_engine(url: str, *, create: bool = True, read_only: bool = False) -> Engine:
    """Opens the database at ``url`` and creates missing tables.

    SQLite files get their folder created, WAL journaling (readers never wait for
    the writer) and a busy timeout, so that the server and its worker processes can
    share one file. ``read_only`` opens a SQLite file with ``mode=ro`` and creates
    nothing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        is_file = database and database != ":memory:"
        if read_only and is_file:
            if database.startswith("file:"):  # already a URI: open it as given
                return create_engine(
                    url,
                    connect_args={"timeout": 30, "check_same_thread": False},
                    pool_size=8,
                    max_overflow=16,
                )
            path = Path(database).resolve()
            return create_engine(
                "sqlite://",
                creator=lambda: _sqlite_read_only(path),
                pool_size=8,
                max_overflow=16,
            )
        if is_file and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)
    if create:
        try:
            Base.metadata.create_all(engine)
        except DBAPIError:
            # Another replica created the tables between our check and CREATE.
            Base.metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_read_only(path: Path):
    import sqlite3

    conn = sqlite3.connect(
        f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False
    )
    conn.execute("PRAGMA query_only=ON")
    return conn


def probe_write(engine: Engine, instance: str) -> str | None:
    """Writes this replica's heartbeat row; None if that worked, else why not (a
    short reason without SQL). SQLite waits at most half a second for a lock."""
    from sqlalchemy import update

    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout=500")
            try:
                now = utcnow()
                done = conn.execute(
                    update(HeartbeatRow)
                    .where(HeartbeatRow.instance == instance)
                    .values(at=now)
                ).rowcount
                if not done:
                    conn.execute(
                        HeartbeatRow.__table__.insert().values(
                            instance=instance, at=now
                        )
                    )
            finally:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA busy_timeout=30000")
    except SQLAlchemyError as err:
        return describe_db_error(err)
    return None


def describe_db_error(err: BaseException) -> str:
    """A database error as one line that names its kind, never its SQL."""
    original = getattr(err, "orig", None) or err
    message = str(original).splitlines()[0] if str(original) else ""
    if "[SQL" in message:
        message = message[: message.index("[SQL")].strip()
    return f"{type(original).__name__}: {message[:120]}".rstrip(": ")


def open_database(url: str, *, instance: str) -> tuple[Engine, str | None]:
    """Opens the database for the server: ``(engine, None)`` when it can be
    written, else ``(read-only engine, why)``.

    Raises:
      SQLAlchemyError: the database cannot even be read.
    """
    try:
        engine = open_engine(url)
    except SQLAlchemyError as err:
        reason = describe_db_error(err)
    else:
        reason = probe_write(engine, instance)
        if reason is None:
            return engine, None
        engine.dispose()
    log.warning("the database cannot be written (%s); serving read-only", reason)
    engine = open_engine(url, create=False, read_only=True)
    with engine.connect() as conn:  # it must at least be readable
        conn.exec_driver_sql("SELECT count(*) FROM orders").scalar()
    return engine, reason
