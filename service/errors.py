"""HTTP errors with stable codes, and the handlers that render them.

Every error body is ``{"error": {"code", "message", "field"}}``: ``code`` is stable
(tests and clients match on it), ``field`` names the offending part of the request
(``"time_budget_s"``, ``"graph.edges[2][1]"``, ``"body"``) or is ``null``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "ErrorBody", "ErrorDetail", "error_response", "install"]

log = logging.getLogger("ccelim.service")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An error the client can fix (4xx) or a documented server state (503)."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "path", "query", "header")]
    if not parts:
        return "body"
    text = parts[0]
    for part in parts[1:]:
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


async def _on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(
        exc.status, exc.code, exc.message, field=exc.field, headers=headers
    )


async def _on_validation(
    _request: Request, exc: RequestValidationError
) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        return error_response(
            400,
            "malformed_json",
            f"the request body is not valid JSON ({ctx.get('error', 'parse error')}); "
            "send a JSON object",
            field="body",
        )
    field = _field(tuple(first.get("loc", ())))
    message = f"{first.get('msg', 'invalid value')}"
    if "input" in first and first.get("type") != "missing":
        got = json.dumps(first["input"], default=str)
        message += f"; got {got[:80]}"
    return error_response(422, "invalid_request", f"{field}: {message}", field=field)


async def _on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
    code = codes.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(
        exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; the log has details")


def install(app: FastAPI) -> None:
    """Registers the handlers that turn every error into an :class:`ErrorBody`."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
