"""Each bad input gets the documented 4xx, with the offending field named."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.service.servicekit import MINIMAL, chain_graph, make_server

_X = {"id": "x", "op": "input", "shape": [], "dtype": "float32"}


def _program(vertex: dict) -> dict:
    return {
        "format": "ccelim.graph/1",
        "inputs": ["x"],
        "outputs": ["y"],
        "vertices": [_X, vertex],
    }


BAD_BODIES = {
    # name: (request body, status, code, field)
    "not an object": ([1, 2], 422, "invalid_request", "body"),
    "missing graph": ({"time_budget_s": 1}, 422, "invalid_request", "graph"),
    "graph not an object": ({"graph": 5}, 422, "invalid_request", "graph"),
    "unknown key": ({"graph": MINIMAL, "bogus": 1}, 422, "invalid_request", "bogus"),
    "unknown format version": (
        {"graph": MINIMAL | {"format": "ccelim.graph/9"}},
        422,
        "invalid_graph",
        "graph.format",
    ),
    "cycle": (
        {
            "graph": MINIMAL
            | {"edges": [["x0", "a"], ["a", "b"], ["b", "a"], ["b", "y"]]}
        },
        422,
        "invalid_graph",
        "graph.edges[1]",
    ),
    "dangling output": (
        {"graph": MINIMAL | {"outputs": ["nope"]}},
        422,
        "invalid_graph",
        "graph.outputs[0]",
    ),
    "dangling operand": (
        {
            "graph": _program(
                {
                    "id": "y",
                    "op": "sin",
                    "operands": ["zz"],
                    "shape": [],
                    "dtype": "float32",
                }
            )
        },
        422,
        "invalid_graph",
        "graph.vertices[1].operands[0]",
    ),
    "unknown op": (
        {
            "graph": _program(
                {"id": "y", "op": "frobnicate", "operands": ["x"], "shape": []}
            )
        },
        422,
        "invalid_graph",
        "graph.vertices[1].op",
    ),
    "edge into an input": (
        {"graph": MINIMAL | {"edges": [["x0", "v"], ["v", "y"], ["v", "x1"]]}},
        422,
        "invalid_graph",
        "graph.edges[2][1]",
    ),
    "negative budget": (
        {"graph": MINIMAL, "time_budget_s": -1},
        422,
        "invalid_budget",
        "time_budget_s",
    ),
    "zero budget": (
        {"graph": MINIMAL, "time_budget_s": 0},
        422,
        "invalid_budget",
        "time_budget_s",
    ),
    "huge budget": (
        {"graph": MINIMAL, "time_budget_s": 1e9},
        422,
        "invalid_budget",
        "time_budget_s",
    ),
    "budget not a number": (
        {"graph": MINIMAL, "time_budget_s": "soon"},
        422,
        "invalid_request",
        "time_budget_s",
    ),
    "negative seed": ({"graph": MINIMAL, "seed": -1}, 422, "invalid_request", "seed"),
    "graph too large": (
        {"graph": chain_graph(600)},
        413,
        "graph_too_large",
        "graph.vertices",
    ),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_body_gets_its_documented_error(http, name):
    body, status, code, field = BAD_BODIES[name]
    response = http.post("/v1/orders", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"]


@pytest.mark.parametrize(
    "raw", [b'{"graph": ', b"not json at all", b'{"graph": {}}}', b"\xff\xfe"]
)
def test_malformed_json_is_400(http, raw):
    response = http.post(
        "/v1/orders", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "malformed_json",
        "message": response.json()["error"]["message"],
        "field": "body",
    }


def test_nan_budget_is_rejected(http):
    raw = b'{"graph": ' + json.dumps(MINIMAL).encode() + b', "time_budget_s": NaN}'
    response = http.post(
        "/v1/orders", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["field"] in ("body", "time_budget_s")


def test_oversize_body_is_413_with_or_without_content_length(http, server):
    limit = int(server.env["CCELIM_MAX_BODY_BYTES"])
    body = json.dumps({"graph": MINIMAL, "pad": "x" * (limit + 10)}).encode()
    response = http.post(
        "/v1/orders", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert response.json()["error"]["field"] == "body"

    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    streamed = http.post(
        "/v1/orders", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_writes_need_a_valid_api_key_when_keys_are_set(tmp_path):
    server = make_server(tmp_path, CCELIM_API_KEYS="k1, k2").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            # A budget over the synchronous limit answers 202 without waiting.
            body = {"graph": MINIMAL, "time_budget_s": 10}
            missing = http.post("/v1/orders", json=body)
            assert missing.status_code == 401
            assert missing.json()["error"]["code"] == "unauthorized"
            assert missing.headers["www-authenticate"] == "Bearer"
            wrong = http.post(
                "/v1/orders", json=body, headers={"Authorization": "Bearer nope"}
            )
            assert wrong.status_code == 401
            right = http.post(
                "/v1/orders", json=body, headers={"Authorization": "Bearer k2"}
            )
            assert right.status_code == 202, right.text
            job = http.get(right.json()["location"])  # reads are open
            assert job.status_code == 200
    finally:
        server.stop()
