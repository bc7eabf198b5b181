"""A job whose worker process is killed is reported failed and caches nothing."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.service.servicekit import MINIMAL, random_dag


def _poll(http, location, until, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = http.get(location).json()
        if until(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job never reached the state: {status}")


def _failed_searches(http) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith('ccelim_searches_finished_total{outcome="failed"}'):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.slow
def test_killed_worker_fails_the_job_and_leaves_no_record(server):
    engine = create_engine(server.database_url)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            failed_before = _failed_searches(http)
            response = http.post(
                "/v1/orders", json={"graph": random_dag(120), "time_budget_s": 30}
            )
            assert response.status_code == 202
            job = response.json()
            running = _poll(
                http,
                job["location"],
                lambda s: s["state"] == "running" and s["best_cost"] is not None,
            )
            # Progress: the best baseline is reported while the search runs.
            assert running["elapsed_s"] >= 0 and running["result"] is None
            with engine.connect() as conn:
                pid = conn.execute(
                    text("SELECT worker_pid FROM jobs WHERE id = :id"),
                    {"id": job["job_id"]},
                ).scalar_one()
            assert pid and pid != server.proc.pid
            os.kill(pid, signal.SIGKILL)
            status = _poll(http, job["location"], lambda s: s["state"] == "failed")
            assert "died" in status["error"]
            assert status["result"] is None
            assert http.get(f"/v1/orders/{job['graph_hash']}").status_code == 404
            with engine.connect() as conn:
                count = conn.execute(
                    text("SELECT count(*) FROM orders WHERE graph_hash = :h"),
                    {"h": job["graph_hash"]},
                ).scalar_one()
            assert count == 0
            # A new worker takes the next search.
            after = http.post(
                "/v1/orders", json={"graph": MINIMAL, "time_budget_s": 0.3}
            )
            assert after.status_code == 200, after.text
            assert _failed_searches(http) == failed_before + 1
    finally:
        engine.dispose()
