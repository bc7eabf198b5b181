"""HTTP errors with stable codes, and the handlers that render them.

Every error body is ``{"error": {"code", "message", "field"}}``: ``code`` is stable
(tests and clients match on it), ``field`` names the offending part of the request
(``"time_budget_s"``, ``"graph.edges[2][1]"``, ``"body"``) or is ``null``.

No body ever carries SQL, parameters or a stack trace: database errors become a
503 ``database_unavailable`` that names only the kind of error, unexpected ones a
500 ``internal``, and every message passes :func:`scrub` on its way out.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "error_response",
    "install",
    "scrub",
]

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
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def scrub(message: str) -> str:
    """``message`` cut before any SQL text, bound parameters or traceback that a
    wrapped database or Python error would carry."""
    for marker in ("[SQL:", "[parameters:", "(Background on this error", "Traceback"):
        if marker in message:
            message = message[: message.index(marker)].rstrip()
    return message


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": scrub(message), "field": field}}
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
    headers = dict(exc.headers or {})
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
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


async def _on_database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    from service.db import describe_db_error

    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "database_unavailable",
        f"the database could not serve the request ({describe_db_error(exc)}); "
        "retry later",
        headers={"Retry-After": "5"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; the log has details")


def install(app: FastAPI) -> None:
    """Registers the handlers that turn every error into an :class:`ErrorBody`."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(SQLAlchemyError, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)
