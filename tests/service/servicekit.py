"""Helpers of the service tests: a real uvicorn server, graph documents."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]

#: The smallest valid document (DESIGN.md): eliminating v costs |{x0,x1}|·|{y}| = 2.
MINIMAL = {
    "format": "ccelim.graph/1",
    "inputs": ["x0", "x1"],
    "outputs": ["y"],
    "edges": [["x0", "v"], ["x1", "v"], ["v", "y"]],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Server:
    """A ``uvicorn --factory service.app:create_app`` subprocess."""

    db_path: Path
    env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    def start(self, timeout_s: float = 120.0) -> Server:
        self.port = free_port()
        env = (
            os.environ
            | {
                "CCELIM_DATABASE_URL": self.database_url,
                "JAX_PLATFORMS": "cpu",
                "CCELIM_SEARCH_WORKERS": "1",
            }
            | self.env
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "service.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--timeout-keep-alive",
                "30",
            ],
            cwd=REPO,
            env=env,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become healthy")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def make_server(tmp_path: Path, **env: str) -> Server:
    settings = {
        "CCELIM_SYNC_BUDGET_S": "3",
        "CCELIM_DEFAULT_BUDGET_S": "0.3",
        "CCELIM_MAX_BUDGET_S": "60",
        "CCELIM_MAX_VERTICES": "500",
        "CCELIM_MAX_BODY_BYTES": "300000",
        "CCELIM_INSTANCE": f"test-{uuid.uuid4().hex[:8]}",
    } | env
    return Server(db_path=tmp_path / "ccelim.db", env=settings)


def chain_graph(n: int, prefix: str = "v", fan: int = 2) -> dict:
    """A structure-only graph: ``fan`` inputs feeding a chain of n vertices, with
    a skip edge every third vertex (so orders differ in cost)."""
    inputs = [f"{prefix}in{i}" for i in range(fan)]
    edges = [[x, f"{prefix}0"] for x in inputs]
    for i in range(1, n):
        edges.append([f"{prefix}{i - 1}", f"{prefix}{i}"])
        if i % 3 == 0:
            edges.append([inputs[i % fan], f"{prefix}{i}"])
    return {
        "format": "ccelim.graph/1",
        "inputs": inputs,
        "outputs": [f"{prefix}{n - 1}"],
        "edges": edges,
    }


def renamed(document: dict, mapping_fn) -> dict:
    """A copy of a structure-only document with every id renamed by mapping_fn,
    and its edges listed in reverse order."""
    return {
        "format": document["format"],
        "inputs": [mapping_fn(v) for v in document["inputs"]],
        "outputs": [mapping_fn(v) for v in document["outputs"]],
        "edges": [
            [mapping_fn(a), mapping_fn(b)] for a, b in reversed(document["edges"])
        ],
    }


def random_dag(n: int, *, seed: int = 0, prefix: str = "d") -> dict:
    """A seeded random structure-only DAG with n vertices after 4 inputs, each
    vertex fed by 2-3 earlier ones: too large for the exact solver, so a search
    on it runs for its whole budget."""
    import random

    rng = random.Random(seed)
    inputs = [f"{prefix}in{i}" for i in range(4)]
    names = list(inputs)
    edges = []
    for i in range(n):
        vertex = f"{prefix}{i}"
        for src in rng.sample(names[-12:], k=min(len(names[-12:]), rng.choice((2, 3)))):
            edges.append([src, vertex])
        names.append(vertex)
    return {
        "format": "ccelim.graph/1",
        "inputs": inputs,
        "outputs": names[-3:],
        "edges": edges,
    }


def cycle_pair(n: int, halves: bool, prefix: str = "") -> dict:
    """The weak-hash collision pair of issue 15: inputs x, outputs y, edges
    x->a_i, b_i->y, a_i->b_i and a_next(i)->b_i for i < n, where next is one
    n-cycle (``halves`` False) or two n/2-cycles. Colour refinement cannot tell
    the two apart, and the canonical search runs out of work on both."""
    h = n // 2 if halves else n
    a = [f"{prefix}a{i}" for i in range(n)]
    b = [f"{prefix}b{i}" for i in range(n)]
    edges = [["x", v] for v in a] + [[v, "y"] for v in b]
    for i in range(n):
        edges += [[a[i], b[i]], [a[(i + 1) % h + h * (i // h)], b[i]]]
    return {
        "format": "ccelim.graph/1",
        "inputs": ["x"],
        "outputs": ["y"],
        "edges": edges,
    }
