"""Service robustness: /healthz latency while each probe of issue 15 runs, and a
long cache-hit load.

Starts a real server (uvicorn, SQLite in a temporary folder, process-pool
backend, 1 search worker) on loopback. For each probe, a thread polls ``/healthz``
every 50 ms while the probe runs and records the worst latency; the probe's own
outcome is reported beside it. Then ``--clients`` clients each send
``--hits-per-client`` cache hits back to back (closed loop): p50/p95/p99, errors.

    .venv/bin/python benchmarks/service.py --robustness   # rewrites its section
    .venv/bin/python benchmarks/service_probes.py         # prints only
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.service.servicekit import (  # noqa: E402
    MINIMAL,
    cycle_pair,
    random_dag,
    renamed,
)

SECTION = "## Robustness: /healthz while each probe runs, and a long cache-hit load"


def launch(env: dict[str, str], *uvicorn_args: str) -> tuple[subprocess.Popen, str]:
    """Starts the service on a free loopback port with ``env``; (process, URL)
    once ``/healthz`` answers 200."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        *uvicorn_args,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=os.environ | {"JAX_PLATFORMS": "cpu"} | env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not start")


def stop(proc: subprocess.Popen) -> None:
    """Stops a server from :func:`launch` (SIGTERM, then SIGKILL after 30 s)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_server(data_dir: Path, **env: str) -> tuple[subprocess.Popen, str]:
    return launch(
        {
            "CCELIM_DATABASE_URL": f"sqlite:///{data_dir / 'probes.db'}",
            "CCELIM_SEARCH_WORKERS": "1",
            "CCELIM_SYNC_BUDGET_S": "5",
            "CCELIM_MAX_VERTICES": "7000",
            "CCELIM_MAX_BODY_BYTES": "1000000",
        }
        | env
    )


def while_probing(url: str, probe: Callable[[], str]) -> tuple[float, int, str]:
    """Runs ``probe`` while polling /healthz; (worst latency s, polls, outcome)."""
    worst, polls, done = [0.0], [0], threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while not done.is_set():
                start = time.perf_counter()
                http.get("/healthz")
                worst[0] = max(worst[0], time.perf_counter() - start)
                polls[0] += 1
                time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        outcome = probe()
    finally:
        done.set()
        poller.join()
    return worst[0], polls[0], outcome


def _post(url: str, graph: dict, budget: float, **extra) -> tuple[int, float, dict]:
    start = time.perf_counter()
    response = httpx.post(
        url + "/v1/orders",
        json={"graph": graph, "time_budget_s": budget, **extra},
        timeout=300,
    )
    return response.status_code, time.perf_counter() - start, response.json()


def probes(url: str, db_path: Path) -> list[tuple[str, Callable[[], str]]]:
    def collision() -> str:
        parts = []
        for halves in (False, True):
            status, wall, body = _post(url, cycle_pair(400, halves), 1)
            parts.append(f"{status} in {wall:.1f} s, key …{body['graph_hash'][-8:]}")
        return "; ".join(parts)

    def symmetric() -> str:
        document = cycle_pair(3000, False)
        size = len(json.dumps(document)) // 1024
        results: list = []
        threads = [
            threading.Thread(
                target=lambda: results.append(_post(url, document, 10)[:2])
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        other = _post(url, cycle_pair(3000, False, prefix="r"), 10)[:2]
        shown = ", ".join(f"{s} in {w:.1f} s" for s, w in [*results, other])
        return f"{size} KB, 6,002 vertices; posted twice at once, then renamed: {shown}"

    def renamed_hit() -> str:
        document = random_dag(800, seed=7)
        size = len(json.dumps(document)) // 1024
        _post(url, document, 1)
        other = renamed(document, lambda v: "n_" + v[::-1])
        status, wall, body = _post(url, other, 1)
        return f"{size} KB: {status}, cached {body.get('cached')}, {wall:.2f} s"

    def kernel_gets() -> str:
        from graphs import tasks

        graph = tasks.get("RoeFlux_1d").graph().to_dict()
        _, _, body = _post(url, graph, 1, include_kernel=False)
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            answer = httpx.get(
                f"{url}/v1/orders/{body['graph_hash']}",
                params={"include_kernel": "true"},
                timeout=300,
            ).json()
            got = "kernel" if answer.get("kernel") else answer.get("kernel_unavailable")
            walls.append(f"{time.perf_counter() - start:.2f} s ({got})")
        return "3 GETs: " + ", ".join(walls)

    def surrogate() -> str:
        text = json.dumps({"graph": MINIMAL}).replace('"v"', '"\\ud800"')
        response = httpx.post(
            url + "/v1/orders",
            content=text,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        return f"{response.status_code} {response.json()['error']['code']}"

    def quota() -> str:
        codes = [_post(url, random_dag(60, seed=100 + k), 600)[0] for k in range(8)]
        return f"8 POSTs of 600 s: {codes.count(202)} x 202, {codes.count(429)} x 429"

    def locked() -> str:
        conn = sqlite3.connect(db_path, timeout=1)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            time.sleep(2.5)
            health = httpx.get(url + "/healthz", timeout=60).json()
        finally:
            conn.rollback()
            conn.close()
        return f"status {health['status']}"

    return [
        ("lone surrogate in a vertex id", surrogate),
        ("weak-hash collision pair (400-cycle vs two 200-cycles), 1 s each", collision),
        ("renamed copy of a cached 800-vertex DAG (a cache hit)", renamed_hit),
        ("GET /v1/orders/{hash}?include_kernel=true x3 (RoeFlux_1d)", kernel_gets),
        ("database held locked by another writer for 2.5 s", locked),
        ("200 KB symmetric graph posted, joined and renamed", symmetric),
        ("8 POSTs with a 600 s budget (admission control)", quota),
    ]


def hit_load(url: str, clients: int, per_client: int) -> dict:
    """``clients`` clients x ``per_client`` back-to-back cache hits."""
    documents = [MINIMAL] + [
        renamed(random_dag(30, seed=s), lambda v, s=s: f"h{s}_{v}") for s in range(3)
    ]
    for document in documents:
        _post(url, document, 0.5, include_kernel=False)
    latencies: list[float] = []
    errors = 0

    async def client(k: int) -> None:
        nonlocal errors
        rng = random.Random(k)
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            for _ in range(per_client):
                body = {"graph": rng.choice(documents), "include_kernel": False}
                start = time.perf_counter()
                try:
                    response = await http.post("/v1/orders", json=body)
                    errors += response.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

    async def run() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        return time.perf_counter() - start

    wall = asyncio.run(run())
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    return {
        "n": len(latencies),
        "errors": errors,
        "p50": pct(50) * 1e3,
        "p95": pct(95) * 1e3,
        "p99": pct(99) * 1e3,
        "max": ordered[-1] * 1e3,
        "rps": len(latencies) / wall,
    }


def run(*, clients: int = 50, hits_per_client: int = 1000) -> list[str]:
    """Runs every probe and the load; returns the markdown section's lines."""
    data_dir = Path(tempfile.mkdtemp(prefix="ccelim-probes-"))
    proc, url = start_server(data_dir)
    rows = []
    try:
        _post(url, MINIMAL, 0.5)  # the worker is up
        load_start = os.getloadavg()[0]
        for name, probe in probes(url, data_dir / "probes.db"):
            worst, polls, outcome = while_probing(url, probe)
            rows.append((name, worst, polls, outcome))
            print(f"{name}: worst /healthz {worst * 1e3:.0f} ms ({polls}); {outcome}")
        # A fresh server on the same cache: the probes' searches (up to 600 s)
        # die with the old one and do not load the machine during the hits.
        stop(proc)
        proc, url = start_server(data_dir)
        load = hit_load(url, clients, hits_per_client)
        print(load)
        load_end = os.getloadavg()[0]
    finally:
        stop(proc)
    lines = [
        SECTION,
        "",
        f"`benchmarks/service.py --robustness` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); one uvicorn "
        "process, 1 search worker, SQLite. The machine was shared with other "
        f"work: load average {load_start:.1f} at the start, {load_end:.1f} at the "
        "end, on 2 cores, so latencies include waiting for a core.",
        "",
        "| probe | worst /healthz ms | /healthz polls | outcome |",
        "|---|---:|---:|---|",
    ]
    for name, worst, polls, outcome in rows:
        lines.append(f"| {name} | {worst * 1e3:.0f} | {polls} | {outcome} |")
    lines += [
        "",
        f"Cache hits, {clients} clients x {hits_per_client:,} requests each, back "
        "to back (closed loop: latency is mostly queueing, clients / throughput); "
        "four cached structure-only graphs, no kernel:",
        "",
        "| requests | errors | p50 ms | p95 ms | p99 ms | max ms | req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {load['n']:,} | {load['errors']} | {load['p50']:.1f} | "
        f"{load['p95']:.1f} | {load['p99']:.1f} | {load['max']:.1f} | "
        f"{load['rps']:.0f} |",
    ]
    return lines


def write_section(path: Path, lines: list[str]) -> None:
    """Replaces (or appends) the robustness section of the results file."""
    text = path.read_text() if path.exists() else "# Service latency\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        after = rest.split("\n## ", 1)
        tail = "\n## " + after[1] if len(after) > 1 else ""
        text = head.rstrip() + "\n\n" + "\n".join(lines) + "\n" + tail
    else:
        text = text.rstrip() + "\n\n" + "\n".join(lines) + "\n"
    path.write_text(text)


if __name__ == "__main__":
    print("\n".join(run()))
