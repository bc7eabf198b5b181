"""Property-based requests from the OpenAPI schema never get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.service.servicekit import make_server


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


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(fuzz_server, mode):
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call(base_url=fuzz_server.url, timeout=60)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Unsatisfiable:
            # Operations without parameters have no invalid input to generate.
            assert mode == GenerationMode.NEGATIVE
