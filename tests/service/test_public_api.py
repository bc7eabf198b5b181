"""The public surface of the service package (a rename is a conscious act)."""

from __future__ import annotations

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
    assert app.docs_url == "/docs"
