"""Issue 15: a service that cannot be knocked over, probed on a real server.

Weak-hash collisions, a busy event loop, lone surrogates, admission control,
errors that leak SQL, a locked or read-only database, kernels rebuilt per GET.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx
import pytest

import graphs
from service.cache import Provenance, Versions
from service.cache import store as store_result
from service.db import open_engine
from service.intake import prepare
from tests.service.servicekit import (
    MINIMAL,
    chain_graph,
    cycle_pair,
    make_server,
    random_dag,
)


def _count(db_path, table: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.slow
def test_weak_hash_collision_pair_is_answered_and_stored_apart(tmp_path):
    server = make_server(tmp_path, CCELIM_MAX_VERTICES="1000").start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            answers = []
            for halves in (False, True):
                document = cycle_pair(400, halves)
                start = time.monotonic()
                response = http.post(
                    "/v1/orders", json={"graph": document, "time_budget_s": 1}
                )
                took = time.monotonic() - start
                assert response.status_code == 200, response.text
                assert took < 30, took
                answers.append((document, response.json()))
            (one, first), (two, second) = answers
            # Same weak hash, but separate records keyed by the exact document.
            weak = graphs.canonical_hash(graphs.load(one))
            assert weak.startswith("g1w-")
            assert weak == graphs.canonical_hash(graphs.load(two))
            assert first["graph_hash"] != second["graph_hash"]
            assert first["graph_hash"].startswith(weak + "-")
            assert second["graph_hash"].startswith(weak + "-")
            assert second["cached"] is False
            for document, body in answers:
                # Each answer is an order of its own graph, at the cost stated.
                report = graphs.cost(graphs.load(document), body["order"])
                assert report.multiplications == body["cost"]
                stored = http.get(f"/v1/graphs/{body['graph_hash']}").json()
                assert stored["graph"]["edges"] == document["edges"]
                assert http.get(f"/v1/orders/{body['graph_hash']}").status_code == 200
            assert _count(server.db_path, "graphs") == 2
            again = http.post("/v1/orders", json={"graph": one, "time_budget_s": 1})
            assert again.json()["cached"] is True
            assert again.json()["graph_hash"] == first["graph_hash"]
    finally:
        server.stop()


@pytest.mark.slow
def test_healthz_stays_fast_while_a_large_symmetric_graph_is_posted(tmp_path):
    # 6,002 vertices, 209 KB: hashing it runs to the work bound.
    server = make_server(
        tmp_path,
        CCELIM_MAX_VERTICES="7000",
        CCELIM_MAX_BODY_BYTES="400000",
        CCELIM_SYNC_BUDGET_S="1",
    ).start()
    document = cycle_pair(3000, False)
    other = cycle_pair(3000, False, prefix="r")
    assert len(json.dumps(document)) > 200_000
    worst = [0.0]
    done = threading.Event()

    def probe():
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not done.is_set():
                start = time.monotonic()
                assert http.get("/healthz").status_code == 200
                worst[0] = max(worst[0], time.monotonic() - start)
                time.sleep(0.05)

    def post(graph):
        with httpx.Client(base_url=server.url, timeout=120) as http:
            return http.post("/v1/orders", json={"graph": graph, "time_budget_s": 5})

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        posts = [threading.Thread(target=post, args=(g,)) for g in (document,) * 2]
        for thread in posts:  # posted, and joined by an identical request
            thread.start()
        for thread in posts:
            thread.join()
        post(other)  # hashed again under other names
        time.sleep(0.5)
    finally:
        done.set()
        prober.join()
        server.stop()
    assert worst[0] < 1.0, worst[0]


def test_lone_surrogates_get_422_and_nothing_is_stored(server, http):
    before = _count(server.db_path, "graphs")
    id_body = json.dumps({"graph": MINIMAL, "time_budget_s": 0.3}).replace(
        '"v"', '"\\ud800"'
    )
    name_body = json.dumps(
        {"graph": MINIMAL | {"name": "NAME"}, "time_budget_s": 0.3}
    ).replace("NAME", "bad \\udfff name")
    for body, field in [(id_body, "graph.edges"), (name_body, "graph.name")]:
        response = http.post(
            "/v1/orders", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_text"
        assert error["field"].startswith(field)
    assert _count(server.db_path, "graphs") == before


def test_a_stored_record_with_a_lone_surrogate_is_not_a_500(server, http):
    # A record written before intake refused surrogates must not fail forever.
    key = "g1-" + "d" * 64
    document = json.dumps(MINIMAL).replace('"v"', '"\\ud800"')
    with sqlite3.connect(server.db_path) as conn:
        conn.execute(
            "INSERT INTO graphs VALUES (?, ?, '', 4, 1, 0, '2026-01-01')",
            (key, document),
        )
        conn.execute(
            "INSERT INTO orders VALUES (?, ?, 2, 'test', '{}', NULL, 0.1, 1, 0, "
            "NULL, '0', '0', '1', '2026-01-01', '2026-01-01')",
            (key, '["\\ud800"]'),
        )
    for path in (f"/v1/orders/{key}", f"/v1/graphs/{key}", f"/graphs/{key}"):
        assert http.get(path).status_code == 404, path


def test_strict_intake_refuses_strings_for_numbers_and_bad_params(server, http):
    before = _count(server.db_path, "graphs")
    program = {
        "format": "ccelim.graph/1",
        "inputs": ["x"],
        "outputs": ["y"],
        "vertices": [
            {"id": "x", "op": "input", "shape": [], "dtype": "float32"},
            {
                "id": "y",
                "op": "convert_element_type",
                "operands": ["x"],
                "params": {
                    "new_dtype": "dtype:object",
                    "weak_type": False,
                    "sharding": None,
                },
                "shape": [],
                "dtype": "float32",
            },
        ],
    }
    cases = [
        ({"graph": MINIMAL, "time_budget_s": "5"}, "time_budget_s"),
        ({"graph": MINIMAL, "include_kernel": "yes"}, "include_kernel"),
        ({"graph": MINIMAL, "seed": 1.5}, "seed"),
        ({"graph": program}, "graph.vertices[1].params.new_dtype"),
    ]
    for body, field in cases:
        response = http.post("/v1/orders", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    index = {"index": [0] * 120_000}
    huge = MINIMAL | {"edges": [["x0", "v", index], ["x1", "v"], ["v", "y"]]}
    response = http.post("/v1/orders", json={"graph": huge})
    assert response.status_code in (413, 422), response.text
    assert _count(server.db_path, "graphs") == before


def _post(http, graph, budget, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return http.post(
        "/v1/orders",
        json={"graph": graph, "time_budget_s": budget},
        headers=headers,
    )


@pytest.mark.slow
def test_admission_control_answers_429_with_retry_after(tmp_path):
    server = make_server(
        tmp_path,
        CCELIM_API_KEYS="ka,kb,kc",
        CCELIM_SYNC_BUDGET_S="1",
        CCELIM_MAX_JOBS_PER_CLIENT="1",
        CCELIM_MAX_QUEUED_JOBS="2",
        CCELIM_MAX_QUEUED_SEARCH_S="50",
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            assert _post(http, MINIMAL, 0.3, "kc").status_code == 200
            assert _post(http, random_dag(60, seed=1), 20, "ka").status_code == 202
            refusals = [
                (_post(http, random_dag(60, seed=2), 5, "ka"), "this API key"),
                (_post(http, random_dag(60, seed=3), 40, "kb"), "s of search"),
            ]
            assert _post(http, random_dag(60, seed=4), 20, "kb").status_code == 202
            refusals.append((_post(http, random_dag(60, seed=5), 5, "kc"), "searches"))
            for response, why in refusals:
                assert response.status_code == 429, response.text
                assert int(response.headers["Retry-After"]) >= 1
                assert response.json()["error"]["code"] == "too_many_searches"
                assert why in response.json()["error"]["message"]
            # Cache hits are never refused.
            hit = _post(http, MINIMAL, 0.3, "kc")
            assert hit.status_code == 200 and hit.json()["cached"] is True
    finally:
        server.stop()


@pytest.mark.slow
def test_database_errors_never_leak_sql_and_a_locked_database_is_degraded(tmp_path):
    server = make_server(tmp_path).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            assert http.get("/healthz").json()["status"] == "ok"
            locker = sqlite3.connect(server.db_path, timeout=1)
            locker.execute("BEGIN EXCLUSIVE")
            try:
                time.sleep(2.1)  # past the probe's memory
                health = http.get("/healthz").json()
                assert health["status"] == "degraded"
                assert health["database_writable"] is False
            finally:
                locker.rollback()
                locker.close()
            with sqlite3.connect(server.db_path) as conn:
                conn.execute("DROP TABLE jobs")
            response = _post(http, chain_graph(5, prefix="sql"), 0.3)
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "database_unavailable"
            for text in (response.text, http.get("/v1/jobs/nope").text):
                assert "SQL" not in text and "INSERT" not in text
                assert "SELECT" not in text and "Traceback" not in text
    finally:
        server.stop()


@pytest.mark.slow
def test_a_read_only_database_starts_read_only_and_serves_the_cache(tmp_path):
    db_path = tmp_path / "ro.db"
    engine = open_engine(f"sqlite:///{db_path}")
    prepared = prepare(MINIMAL, max_vertices=100)
    versions = Versions("0.1.0", "0", "1")
    provenance = Provenance(
        time_budget_s=1.0, seed=0, model_checkpoint=None, versions=versions
    )
    from search import OptimizeResult

    result = OptimizeResult(
        order=("v",),
        cost=2,
        method="test",
        baselines={"forward": 2},
        lower_bound=2,
        elapsed_s=0.1,
        history=(),
    )
    assert store_result(engine, prepared, result, provenance)
    engine.dispose()
    url = f"sqlite:///file:{db_path}?mode=ro&uri=true"
    server = make_server(tmp_path, CCELIM_DATABASE_URL=url).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            health = http.get("/healthz").json()
            assert health["status"] == "degraded"
            assert "read-only" in health["detail"]
            hit = _post(http, MINIMAL, 0.3)
            assert hit.status_code == 200 and hit.json()["order"] == ["v"]
            miss = _post(http, chain_graph(5, prefix="ro"), 0.3)
            assert miss.status_code == 503
            assert miss.json()["error"]["code"] == "read_only"
    finally:
        server.stop()


def test_get_with_kernel_answers_structure_only_at_once_and_builds_once(http):
    posted = http.post(
        "/v1/orders", json={"graph": MINIMAL, "time_budget_s": 0.3}
    ).json()
    key = posted["graph_hash"]
    before = _exports(http)
    for _ in range(3):
        body = http.get(f"/v1/orders/{key}", params={"include_kernel": "true"}).json()
        assert body["kernel"] is None
        assert "structure-only" in body["kernel_unavailable"]
    assert _exports(http) == before


def _exports(http) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("ccelim_kernel_exports_total"):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.slow
def test_get_with_kernel_builds_a_program_graphs_kernel_once(http):
    import jax.numpy as jnp
    import numpy as np

    def f(x, y):
        return jnp.sin(x) * y + x

    graph = graphs.trace(f, np.ones(3), np.ones(3)).to_dict()
    posted = http.post(
        "/v1/orders",
        json={"graph": graph, "time_budget_s": 0.3, "include_kernel": False},
    )
    assert posted.status_code == 200, posted.text
    key = posted.json()["graph_hash"]
    before = _exports(http)
    for _ in range(3):
        body = http.get(f"/v1/orders/{key}", params={"include_kernel": "true"}).json()
        assert body["kernel"]["python_source"]
    assert _exports(http) == before + 1
