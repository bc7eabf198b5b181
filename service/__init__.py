"""service: the FastAPI app, the order cache, the client and the CLI."""

import importlib
from typing import Any

__all__ = ["Client", "ClientResult", "ServiceError", "Settings", "create_app"]

# Imported on first use, so that `ccelim` commands that never serve do not pay for
# FastAPI, SQLAlchemy and httpx.
_LAZY = {
    "Client": "service.client",
    "ClientResult": "service.client",
    "ServiceError": "service.client",
    "Settings": "service.settings",
    "create_app": "service.app",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'service' has no attribute {name!r}")
