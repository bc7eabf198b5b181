"""The FastAPI app factory.

``create_app(settings)`` wires the routers, error handlers and middleware; its
lifespan opens the database, starts the search backend and the kernel worker, and
fails the jobs a previous run of this replica left unfinished.

Run it with ``ccelim serve`` or ``uvicorn --factory service.app:create_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import importlib.metadata
import logging
from collections.abc import AsyncIterator

from anyio import to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import graphs
from service import errors
from service.backends import Backend, ProcessBackend, RayBackend
from service.cache import Versions
from service.db import open_database
from service.deps import ServiceState
from service.health import HealthProbe
from service.intake import PreparedCache
from service.jobs import JobManager
from service.kernels import KernelService
from service.limits import BodyLimitMiddleware
from service.metrics import Metrics, MetricsMiddleware
from service.raytoken import enable_token_auth
from service.routes import docs, health, jobs, orders, pages
from service.routes import graphs as graph_routes
from service.settings import Settings

__all__ = ["COST_MODEL_VERSION", "create_app", "current_versions"]

log = logging.getLogger("ccelim.service")

#: Version of the cost model the cached costs were counted with, used when the
#: graphs package does not declare one; records of another version are not served.
COST_MODEL_VERSION = "1"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def current_versions() -> Versions:
    """The ccelim, JAX and cost-model versions that new records are stamped with."""
    return Versions(
        ccelim=_version("ccelim"),
        jax=_version("jax"),
        cost_model=str(getattr(graphs, "COST_MODEL_VERSION", COST_MODEL_VERSION)),
    )


def _backend(settings: Settings) -> Backend:
    if settings.ray_address:
        enable_token_auth(settings.ray_address)  # a `ray start` head's token
        return RayBackend(settings.ray_address)
    return ProcessBackend(settings.search_workers)


def _report_warm_up(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("worker warm-up failed: %s", future.exception())


def _openapi_with_limits(app: FastAPI, settings: Settings) -> dict:
    """The OpenAPI schema, with this server's budget range on ``time_budget_s``."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        request = schema["components"]["schemas"]["OrderRequest"]["properties"]
        for branch in request["time_budget_s"].get("anyOf", [request["time_budget_s"]]):
            if branch.get("type") == "number":
                branch["exclusiveMinimum"] = 0
                branch["maximum"] = settings.max_budget_s
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds the ccelim service.

    Args:
      settings: the configuration; read from ``CCELIM_*`` variables when None.

    Returns:
      The FastAPI app (OpenAPI at ``/docs``, API under ``/v1``).
    """
    settings = settings or Settings.from_env()
    metrics = Metrics.create()
    versions = current_versions()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine, read_only = await to_thread.run_sync(
            functools.partial(
                open_database, settings.database_url, instance=settings.instance
            )
        )
        backend = _backend(settings)
        kernel_backend = ProcessBackend(1)
        kernels = KernelService(kernel_backend, on_export=metrics.kernel_exports.inc)
        manager = JobManager(
            engine=engine,
            settings=settings,
            versions=versions,
            backend=backend,
            kernels=kernels,
            metrics=metrics,
            read_only=read_only,
        )
        orphans = 0 if read_only else await to_thread.run_sync(manager.fail_orphans)
        if orphans:
            log.warning("marked %d unfinished jobs of a previous run failed", orphans)
        app.state.service = ServiceState(
            settings=settings,
            engine=engine,
            metrics=metrics,
            versions=versions,
            backend=backend,
            kernels=kernels,
            jobs=manager,
            prepared=PreparedCache(),
            health=HealthProbe(engine, settings.instance, read_only=read_only),
        )
        # Everything imported so far (JAX and friends: ~200k objects) lives as long
        # as the server; freezing it keeps full garbage collections (otherwise
        # ~100 ms pauses of the event loop, the latency tail) to request garbage.
        gc.collect()
        gc.freeze()
        # Start the workers' Python and JAX now rather than on the first request.
        warm = asyncio.gather(
            backend.warm_up(with_model=True, model_path=settings.model_path),
            kernel_backend.warm_up(),
        )
        warm.add_done_callback(_report_warm_up)
        try:
            yield
        finally:
            warm.cancel()
            await manager.close()
            backend.close()
            kernel_backend.close()
            engine.dispose()

    app = FastAPI(
        title="ccelim",
        version=versions.ccelim,
        summary="Cheaper exact Jacobians: best cross-country elimination orders.",
        lifespan=lifespan,
        docs_url=None,  # service.routes.docs serves /docs and /redoc offline
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(orders.router)
    app.include_router(jobs.router)
    app.include_router(graph_routes.router)
    app.include_router(health.router)
    app.include_router(pages.router)
    app.include_router(docs.router)
    app.openapi = functools.partial(_openapi_with_limits, app, settings)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
