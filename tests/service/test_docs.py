"""/docs and /redoc work offline: every asset they load is served by the server."""

from __future__ import annotations

import re

import pytest


def _asset_urls(html: str) -> list[str]:
    """Every URL the page loads: src/href/spec-url attributes and Swagger's url."""
    attributes = r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']"""
    swagger = r"""url:\s*['"]([^'"]+)['"]"""
    return re.findall(attributes, html) + re.findall(swagger, html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets_and_each_is_served(http, page):
    response = http.get(page)
    assert response.status_code == 200
    html = response.text
    assert "://" not in html  # no CDN, no fonts service: nothing off this server
    urls = _asset_urls(html)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, html
    for url in urls:
        assert url.startswith("/"), url
        got = http.get(url)
        assert got.status_code == 200, url
        assert len(got.content) > 100, url
    assert "/openapi.json" in urls


def test_swagger_bundle_is_the_javascript_of_swagger_ui_5(http):
    # Swagger UI 4 cannot render FastAPI's OpenAPI 3.1 documents.
    got = http.get("/static/docs/swagger-ui-bundle.js")
    assert got.headers["content-type"].startswith("text/javascript")
    assert got.text.count('"5.') >= 1
    assert http.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_only_the_listed_assets_are_served(http):
    assert http.get("/static/docs/__init__.py").status_code == 404
    assert http.get("/static/docs/..%2F__init__.py").status_code == 404
