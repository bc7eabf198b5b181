"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.cache import count_records
from service.deps import State, read_db
from service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness and readiness")
async def healthz(state: State):
    """Checks the database and reports the version, backend and cache size."""
    cached = await read_db(state, count_records, state.engine)
    return {
        "status": "ok",
        "version": state.versions.ccelim,
        "backend": state.backend.name,
        "database": state.engine.dialect.name,
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
