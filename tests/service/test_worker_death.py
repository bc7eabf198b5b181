"""Workers die with their server, and a dead worker fails only its own job."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.service.servicekit import MINIMAL, make_server, random_dag


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has stopped running


def _running_pid(engine, http, location: str, timeout_s: float = 120.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = http.get(location).json()
        if status["state"] == "running":
            with engine.connect() as conn:
                pid = conn.execute(
                    text("SELECT worker_pid FROM jobs WHERE id = :id"),
                    {"id": status["job_id"]},
                ).scalar_one()
            if pid:
                return pid
        time.sleep(0.1)
    raise AssertionError(f"the job never ran: {status}")


def _final(http, location: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = http.get(location).json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"the job never finished: {status}")


@pytest.mark.slow
def test_killing_the_server_kills_its_search_workers(tmp_path):
    server = make_server(tmp_path, CCELIM_SYNC_BUDGET_S="1").start()
    engine = create_engine(server.database_url)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            job = http.post(
                "/v1/orders", json={"graph": random_dag(120), "time_budget_s": 30}
            ).json()
            pid = _running_pid(engine, http, job["location"])
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "the search worker outlived its server"
        with engine.connect() as conn:
            before = conn.execute(text("SELECT best_cost, state FROM jobs")).all()
        time.sleep(1.5)  # nothing writes the orphaned job's row any more
        with engine.connect() as conn:
            assert conn.execute(text("SELECT best_cost, state FROM jobs")).all() == (
                before
            )
    finally:
        engine.dispose()
        server.stop()


@pytest.mark.slow
def test_one_dead_worker_fails_only_its_own_job(tmp_path):
    server = make_server(
        tmp_path, CCELIM_SEARCH_WORKERS="2", CCELIM_SYNC_BUDGET_S="1"
    ).start()
    engine = create_engine(server.database_url)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            jobs = [
                http.post(
                    "/v1/orders",
                    json={"graph": random_dag(80, seed=s), "time_budget_s": 6},
                ).json()
                for s in (11, 12)
            ]
            pids = [_running_pid(engine, http, job["location"]) for job in jobs]
            assert pids[0] != pids[1]
            os.kill(pids[0], signal.SIGKILL)
            killed = _final(http, jobs[0]["location"])
            survivor = _final(http, jobs[1]["location"])
            assert killed["state"] == "failed" and "died" in killed["error"]
            assert survivor["state"] == "done", survivor
            assert survivor["result"]["cost"] > 0
            # The pool recovers: a new search runs.
            after = http.post(
                "/v1/orders", json={"graph": MINIMAL, "time_budget_s": 0.3}
            )
            assert after.status_code == 200, after.text
    finally:
        engine.dispose()
        server.stop()
