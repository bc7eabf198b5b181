"""The per-app state and the FastAPI dependencies that hand it to handlers."""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from service.backends import Backend
from service.cache import Versions
from service.errors import ApiError
from service.health import HealthProbe
from service.intake import PreparedCache
from service.jobs import JobManager
from service.kernels import KernelService
from service.metrics import Metrics
from service.settings import Settings

T = TypeVar("T")

__all__ = [
    "Client",
    "ServiceState",
    "State",
    "Writer",
    "get_state",
    "read_db",
    "require_writer",
]


@dataclasses.dataclass(frozen=True)
class ServiceState:
    """Everything a handler needs; made by the app's lifespan, one per app."""

    settings: Settings
    engine: Engine
    metrics: Metrics
    versions: Versions
    backend: Backend
    kernels: KernelService
    jobs: JobManager
    prepared: PreparedCache
    health: HealthProbe


async def read_db(state: ServiceState, fn: Callable[..., T], *args: Any) -> T:
    """Runs a short database read: inline for SQLite (a WAL read never waits for
    the writer, and a thread hop costs more than the read), in a worker thread for
    a networked database."""
    if state.engine.dialect.name == "sqlite":
        return fn(*args)
    return await to_thread.run_sync(fn, *args)


async def get_state(request: Request) -> ServiceState:
    return request.app.state.service


_bearer = HTTPBearer(
    auto_error=False, description="An API key, when the server has any."
)


async def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """Lets a write through when the server has no API keys or the key is one of
    them (constant-time comparison, every key compared).

    Returns:
      The client, for per-client admission control: ``"key<i>"`` for the i-th
      key, None when the server has no keys (one shared, bounded queue).
    """
    keys = request.app.state.service.settings.api_keys
    if not keys:
        return None
    given = (credentials.credentials if credentials is not None else "").encode()
    matches = [hmac.compare_digest(given, key.encode()) for key in keys]
    if not any(matches):
        raise ApiError(
            401,
            "unauthorized",
            "expected an 'Authorization: Bearer <key>' header with a valid API key; "
            "ask the operator for a key",
            field="Authorization",
        )
    return f"key{matches.index(True)}"


State = Annotated[ServiceState, Depends(get_state)]
Writer = Depends(require_writer)
#: The writing client (see :func:`require_writer`), as a handler parameter.
Client = Annotated[str | None, Depends(require_writer)]
