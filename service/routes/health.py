"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from service.cache import count_records
from service.db import describe_db_error
from service.deps import State, read_db
from service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness and readiness")
async def healthz(state: State):
    """Checks that the database can be read and written (a test write, at most
    every two seconds) and reports the version, backend and cache size.

    ``status`` is ``degraded`` (still HTTP 200: the server is alive and serves
    cached orders) when the database cannot be written; ``detail`` says why."""
    problem = await state.health.check()
    try:
        cached = await read_db(state, count_records, state.engine)
    except SQLAlchemyError as err:
        cached, problem = None, problem or describe_db_error(err)
    return {
        "status": "ok" if problem is None else "degraded",
        "version": state.versions.ccelim,
        "backend": state.backend.name,
        "database": state.engine.dialect.name,
        "database_writable": problem is None,
        "detail": problem,
        "cached_graphs": cached,
    }


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(state: State):
    """Requests and latency by route and status, cache hits and misses, jobs
    running, searches finished."""
    data = generate_latest(state.metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
