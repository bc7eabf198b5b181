"""Property-based requests from the OpenAPI schema never get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from servicekit import make_server


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    # A budget cap of 1 s keeps every generated search short and synchronous.
    server = make_server(
        tmp_path_factory.mktemp("fuzz"),
        CCELIM_MAX_BUDGET_S="1",
        CCELIM_SYNC_BUDGET_S="1",
        CCELIM_DEFAULT_BUDGET_S="0.2",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case, fuzz_server):
    response = case.call(base_url=fuzz_server.url, timeout=60)
    case.validate_response(response, checks=[not_a_server_error])
