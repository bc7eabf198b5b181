"""Searches as Ray tasks (CCELIM_RAY_ADDRESS). Starting Ray costs about a minute
on two cores, so this runs when CCELIM_TEST_RAY=1."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.service.servicekit import MINIMAL, make_server, random_dag

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("CCELIM_TEST_RAY") != "1",
        reason="set CCELIM_TEST_RAY=1 to start a local Ray for this test",
    ),
]


def test_searches_run_as_ray_tasks(tmp_path):
    server = make_server(tmp_path, CCELIM_RAY_ADDRESS="local").start(timeout_s=300)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            assert http.get("/healthz").json()["backend"] == "ray"
            body = {"graph": MINIMAL, "time_budget_s": 0.3}
            answer = http.post("/v1/orders", json=body).json()
            assert answer["order"] == ["v"] and answer["cost"] == 2
            job = http.post(
                "/v1/orders", json={"graph": random_dag(60), "time_budget_s": 4}
            ).json()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status = http.get(job["location"]).json()
                if status["state"] in ("done", "failed"):
                    break
                time.sleep(0.5)
            assert status["state"] == "done", status
            assert status["result"]["cost"] <= min(
                status["result"]["baselines"].values()
            )
    finally:
        server.stop()
