"""The public surface of the service package (a rename is a conscious act)."""

from __future__ import annotations

from fastapi.testclient import TestClient

import service


def test_public_names_resolve():
    assert service.__all__ == [
        "Client",
        "ClientResult",
        "ServiceError",
        "Settings",
        "create_app",
    ]
    for name in service.__all__:
        assert getattr(service, name) is not None


def test_create_app_serves_the_v1_api_and_docs():
    app = service.create_app(service.Settings(database_url="sqlite:///:memory:"))
    paths = set(app.openapi()["paths"])
    assert paths == {
        "/v1/orders",
        "/v1/orders/{graph_hash}",
        "/v1/jobs/{job_id}",
        "/v1/graphs/{graph_hash}",
        "/healthz",
        "/metrics",
    }
    # /docs and /redoc come from service.routes.docs (assets served offline)
    assert app.docs_url is None and app.redoc_url is None
    client = TestClient(app)  # no lifespan: these pages need no database
    for page in ("/docs", "/redoc"):
        assert client.get(page).status_code == 200
