"""The cache survives a restart; a search cut off by a restart is reported failed."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.service.servicekit import MINIMAL, make_server, random_dag


@pytest.mark.slow
def test_cache_survives_restart_and_unfinished_jobs_are_failed(tmp_path):
    server = make_server(tmp_path, CCELIM_INSTANCE="replica-a").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            first = http.post(
                "/v1/orders", json={"graph": MINIMAL, "time_budget_s": 0.3}
            )
            assert first.status_code == 200, first.text
            key = first.json()["graph_hash"]
            long = http.post(
                "/v1/orders",
                json={"graph": random_dag(120, prefix="cut"), "time_budget_s": 50},
            )
            assert long.status_code == 202
            job = long.json()
    finally:
        server.stop()

    server = make_server(tmp_path, CCELIM_INSTANCE="replica-a").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            again = http.post(
                "/v1/orders", json={"graph": MINIMAL, "time_budget_s": 0.3}
            )
            assert again.json()["cached"] is True
            assert again.json()["cost"] == first.json()["cost"] == 2
            assert http.get(f"/v1/orders/{key}").json()["order"] == ["v"]
            status = http.get(job["location"]).json()
            assert status["state"] == "failed"
            assert "stopped" in status["error"]
            assert http.get(f"/v1/orders/{job['graph_hash']}").status_code == 404
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the new server is fully usable
                if http.get("/healthz").json()["cached_graphs"] == 1:
                    break
            assert http.get("/healthz").json()["cached_graphs"] == 1
    finally:
        server.stop()
