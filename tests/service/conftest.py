"""Fixtures of the service tests: a real uvicorn server on loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.service.servicekit import make_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server for the tests that do not restart or kill it."""
    srv = make_server(tmp_path_factory.mktemp("service")).start()
    yield srv
    srv.stop()


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client
