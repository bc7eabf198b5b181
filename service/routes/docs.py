"""``/docs`` (Swagger UI) and ``/redoc`` that work without internet access.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they stay blank on
a machine that cannot reach it. These pages load the same assets from the
installed ``fastapi-offline`` package (it ships Swagger UI 5, which renders
OpenAPI 3.1, and the ReDoc standalone bundle), served under ``/static/docs/``.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from service.errors import ApiError

__all__ = ["ASSET_PREFIX", "router"]

router = APIRouter(include_in_schema=False)

#: Where the documentation assets are served.
ASSET_PREFIX = "/static/docs"

_ASSET_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
#: The files served, by name (nothing else under the folder is reachable).
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


def _openapi_url(request: Request) -> str:
    return request.scope.get("root_path", "") + (
        request.app.openapi_url or "/openapi.json"
    )


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} API",
        swagger_js_url=f"{ASSET_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSET_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{ASSET_PREFIX}/favicon.png",
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} API",
        redoc_js_url=f"{ASSET_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSET_PREFIX}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSET_PREFIX + "/{name}")
async def asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise ApiError(404, "not_found", f"no documentation asset {name!r}")
    return FileResponse(
        _ASSET_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
