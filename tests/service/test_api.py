"""Every endpoint of a real server on loopback."""

from __future__ import annotations

import time

import graphs
import search
from tests.service.servicekit import MINIMAL, chain_graph, renamed


def _post(http, graph, **extra):
    return http.post("/v1/orders", json={"graph": graph, **extra})


def test_healthz_reports_database_and_backend(http):
    body = http.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["backend"] == "process"


def test_minimal_graph_gets_its_only_order_and_no_kernel(http):
    response = _post(http, MINIMAL, time_budget_s=0.3)
    assert response.status_code == 200, response.text
    body = response.json()
    # One intermediate v with preds {x0, x1} and succs {y}: cost 2·1 = 2.
    assert body["order"] == ["v"]
    assert body["cost"] == 2
    assert body["baselines"]["forward"] == 2
    assert body["baselines"]["reverse"] == 2
    assert body["graph_hash"] == graphs.canonical_hash(graphs.load(MINIMAL))
    assert body["kernel"] is None
    assert "structure-only" in body["kernel_unavailable"]


def test_second_post_is_a_cache_hit_with_record_metadata(http):
    first = _post(http, MINIMAL, time_budget_s=0.3).json()
    second = _post(http, MINIMAL, time_budget_s=0.3).json()
    assert second["cached"] is True
    assert second["cost"] == first["cost"] == 2
    record = second["record"]
    assert record["cost_model_version"]
    assert record["jax_version"]
    assert record["ccelim_version"]
    shipped = search.load_params()
    if shipped is not None:  # the shipped network guided the search
        assert record["model_checkpoint"].startswith("default.msgpack")


def test_renamed_graph_hits_the_cache_in_the_callers_names(http):
    document = chain_graph(7, prefix="r")
    first = _post(http, document, time_budget_s=0.5).json()
    other = renamed(document, lambda v: "node_" + v[::-1])
    second = _post(http, other, time_budget_s=0.5).json()
    assert second["cached"] is True
    assert second["graph_hash"] == first["graph_hash"]
    assert second["cost"] == first["cost"]
    assert second["order"] == ["node_" + v[::-1] for v in first["order"]]
    # The translated order costs the same on the caller's own graph.
    assert (
        graphs.cost(graphs.load(other), second["order"]).multiplications
        == (second["cost"])
    )


def test_get_order_and_graph_by_hash(http):
    posted = _post(http, MINIMAL, time_budget_s=0.3).json()
    key = posted["graph_hash"]
    order = http.get(f"/v1/orders/{key}").json()
    assert order["order"] == ["v"] and order["cost"] == 2 and order["cached"]
    graph = http.get(f"/v1/graphs/{key}").json()
    assert graph["graph"]["inputs"] == ["x0", "x1"]
    assert graph["num_intermediates"] == 1
    assert graph["is_program"] is False
    assert graph["cost"] == 2


def test_unknown_hash_and_job_are_404_with_the_field_named(http):
    for path, field in [
        ("/v1/orders/g1-nope", "graph_hash"),
        ("/v1/graphs/g1-nope", "graph_hash"),
        ("/v1/jobs/nope", "job_id"),
    ]:
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["field"] == field


def test_long_budget_answers_202_and_the_job_finishes(http, server):
    document = chain_graph(9, prefix="job")
    budget = float(server.env["CCELIM_SYNC_BUDGET_S"]) + 0.5
    response = _post(http, document, time_budget_s=budget)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert response.headers["location"] == f"/v1/jobs/{accepted['job_id']}"
    deadline = time.monotonic() + budget + 60
    while time.monotonic() < deadline:
        status = http.get(accepted["location"]).json()
        if status["state"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert status["state"] == "done", status
    assert status["result"]["cost"] == status["best_cost"]
    assert status["result"]["cost"] <= min(status["result"]["baselines"].values())
    assert status["elapsed_s"] is not None
    cached = http.get(f"/v1/orders/{accepted['graph_hash']}").json()
    assert cached["cost"] == status["result"]["cost"]


def test_refresh_never_replaces_with_a_worse_order(http):
    document = chain_graph(8, prefix="ref")
    first = _post(http, document, time_budget_s=0.5).json()
    again = _post(http, document, time_budget_s=0.2, refresh=True, seed=3).json()
    assert again["cost"] <= first["cost"]
    cached = http.get(f"/v1/orders/{first['graph_hash']}").json()
    assert cached["cost"] == min(first["cost"], again["cost"])


def test_metrics_count_requests_cache_and_searches(http):
    _post(http, MINIMAL, time_budget_s=0.3)
    _post(http, MINIMAL, time_budget_s=0.3)
    text = http.get("/metrics").text
    assert (
        'ccelim_http_requests_total{method="POST",route="/v1/orders",status="200"}'
        in (text)
    )
    assert "ccelim_http_request_duration_seconds_bucket" in text
    assert "ccelim_cache_hits_total" in text
    assert "ccelim_cache_misses_total" in text
    assert "ccelim_jobs_running" in text
    assert 'ccelim_searches_finished_total{outcome="done"}' in text


def test_pages_list_graphs_and_draw_the_order(http):
    key = _post(http, MINIMAL, time_budget_s=0.3).json()["graph_hash"]
    index = http.get("/")
    assert index.status_code == 200
    assert key[:16] in index.text
    page = http.get(f"/graphs/{key}")
    assert page.status_code == 200
    assert "<svg" in page.text and "eliminated at step 1" in page.text
    assert http.get("/graphs/g1-nope").status_code == 404


def test_openapi_documents_the_v1_api(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/orders", "/v1/orders/{graph_hash}", "/v1/jobs/{job_id}"} <= set(paths)
    assert http.get("/docs").status_code == 200
