"""One-line CLI errors: what went wrong and how to fix it, never a traceback.

``ccelim``'s entry point catches whatever a command did not turn into a message
itself and prints :func:`describe` of it on one line of stderr, exiting 1. Set
``CCELIM_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import os

__all__ = ["DEBUG_VARIABLE", "CLIError", "debugging", "describe", "usage_error"]

#: Set to 1 to let errors raise with their traceback.
DEBUG_VARIABLE = "CCELIM_DEBUG"

_SERVER_HINT = (
    "start one with `ccelim serve` (or `make serve`), or point --url / CCELIM_URL "
    "at a running server"
)


class CLIError(Exception):
    """An error whose message already says what was wrong and how to fix it."""


def usage_error(err) -> str:
    """One line for a command-line usage error (a ``click.UsageError``)."""
    command = err.ctx.command_path if err.ctx is not None else "ccelim"
    return f"{_one_line(err.format_message())} (see `{command} --help`)"


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _url_of(err: Exception) -> str:
    try:
        request = err.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when unset
        return "the server"
    return f"{request.url.scheme}://{request.url.netloc.decode()}"


def _describe_http(err: Exception) -> str | None:
    import httpx

    if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout):
        reason = _one_line(err) or type(err).__name__
        return f"cannot reach the ccelim server at {_url_of(err)} ({reason}); " + (
            _SERVER_HINT
        )
    if isinstance(err, httpx.TimeoutException):
        return (
            f"the ccelim server at {_url_of(err)} did not answer in time; try again, "
            "or use a smaller --budget"
        )
    if isinstance(err, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return (
            f"not a usable server URL ({_one_line(err)}); give one like "
            "--url http://127.0.0.1:8000"
        )
    if isinstance(err, httpx.HTTPError):
        return (
            f"HTTP request to {_url_of(err)} failed ({type(err).__name__}: "
            f"{_one_line(err)}); check that the server is up and reachable"
        )
    return None


def describe(err: BaseException) -> str:
    """The one-line message (without the ``error:`` prefix) for an exception.

    Args:
      err: an exception a command raised.

    Returns:
      What was wrong and, where known, how to fix it.

    Example:
      >>> describe(FileNotFoundError(2, "No such file or directory", "g.json"))
      'no such file: g.json; check the path (or pass - to read standard input)'
    """
    if isinstance(err, CLIError):
        return _one_line(err)
    if isinstance(err, IsADirectoryError):
        return f"{err.filename} is a folder; give a file"
    if isinstance(err, FileNotFoundError):
        return (
            f"no such file: {err.filename}; check the path "
            "(or pass - to read standard input)"
        )
    if isinstance(err, PermissionError):
        return f"permission denied: {err.filename}; check the file's permissions"
    if isinstance(err, UnicodeDecodeError):
        return "the file is not UTF-8 text; give a ccelim.graph/1 JSON file"
    if isinstance(err, Exception):
        found = _describe_http(err)
        if found is not None:
            return found
    from service.client import ServiceError

    if isinstance(err, ServiceError):
        where = f" (field {err.field})" if err.field else ""
        return f"the server answered {err.status} {err.code}{where}: " + _one_line(
            err.message
        )
    message = _one_line(err) or "no message"
    return (
        f"{type(err).__name__}: {message} (set {DEBUG_VARIABLE}=1 to see the traceback)"
    )


def debugging() -> bool:
    """Whether errors should keep their traceback (``CCELIM_DEBUG=1``)."""
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
