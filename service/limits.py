"""Request-size limit (ASGI middleware) and the request budget check."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError
from service.settings import Settings

__all__ = ["BodyLimitMiddleware", "check_budget"]


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
