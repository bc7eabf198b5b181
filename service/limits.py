"""Request-size limit (ASGI middleware), the request budget check, a job's time
limit, and admission control of new searches."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError
from service.settings import Settings

__all__ = [
    "BodyLimitMiddleware",
    "admission_refusal",
    "check_budget",
    "job_limit_s",
]


class BodyLimitMiddleware:
    """Answers 413 to request bodies over ``max_body_bytes``.

    The body is read (at most the limit plus one chunk) before the app sees it, so
    the limit holds whether or not the client sent a ``Content-Length``.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_body_bytes:
                    await self._reject(declared, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._reject(size, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, size: int, send: Send) -> None:
        payload = {
            "error": {
                "code": "body_too_large",
                "message": (
                    f"expected a request body of at most {self.max_body_bytes} bytes, "
                    f"got {'at least ' if size else ''}{size}; send a smaller graph"
                ),
                "field": "body",
            }
        }
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})


def check_budget(time_budget_s: float | None, settings: Settings) -> float:
    """The request's search budget, defaulted and checked against the settings.

    Raises:
      ApiError: 422 ``invalid_budget`` on ``time_budget_s`` when it is not in
        ``(0, max_budget_s]``.
    """
    if time_budget_s is None:
        return settings.default_budget_s
    if not 0 < time_budget_s <= settings.max_budget_s:
        raise ApiError(
            422,
            "invalid_budget",
            f"expected 0 < time_budget_s <= {settings.max_budget_s:g} seconds, got "
            f"{time_budget_s!r}; ask for a budget in that range",
            field="time_budget_s",
        )
    return float(time_budget_s)


def job_limit_s(budget: float, grace_s: float) -> float:
    """How long a job's worker may run: the search's own rule (``optimize``
    returns within ``budget + max(0.2 s, 10 %)``) plus ``grace_s`` for worker
    start-up, model loading and kernel export."""
    return budget + max(0.2, 0.1 * budget) + grace_s


def admission_refusal(
    jobs: Sequence[tuple[float, str | None, float]],
    budget: float,
    client: str | None,
    settings: Settings,
) -> ApiError | None:
    """The 429 for a new search of ``budget`` seconds, or None to admit it.

    Args:
      jobs: the searches queued or running: ``(budget, client, submitted at
        time.monotonic())``.
      budget: the new search's budget.
      client: who asks (None without API keys: one shared, bounded queue).
      settings: ``max_queued_jobs``, ``max_queued_search_s`` and
        ``max_jobs_per_client`` bound the queue.

    Returns:
      An :class:`ApiError` 429 ``too_many_searches`` whose ``Retry-After`` is the
      seconds until the earliest queued search must end, or None.
    """
    queued_s = sum(job[0] for job in jobs)
    mine = sum(1 for job in jobs if client is not None and job[1] == client)
    if len(jobs) >= settings.max_queued_jobs:
        why = f"{len(jobs)} searches are queued or running (the limit)"
    elif queued_s + budget > settings.max_queued_search_s:
        why = (
            f"{queued_s:g} s of search are queued or running, and {budget:g} s more "
            f"would pass the limit of {settings.max_queued_search_s:g} s"
        )
    elif client is not None and mine >= settings.max_jobs_per_client:
        why = f"this API key has {mine} searches queued or running (the limit)"
    else:
        return None
    now = time.monotonic()
    ends = [at + job_limit_s(b, 0) - now for b, _client, at in jobs]
    retry = max(1, math.ceil(min(ends, default=1.0)))
    return ApiError(
        429,
        "too_many_searches",
        f"{why}; retry after {retry} s, or ask for a smaller time_budget_s",
        headers={"Retry-After": str(retry)},
    )
