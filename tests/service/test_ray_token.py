"""Joining a `ray start` cluster that uses token authentication, by host:port.

Ray turns token authentication on for `ray start --head` when the machine has a
token (~/.ray/auth_token); a driver that names the head's address only sends the
token with RAY_AUTH_MODE=token. ``service.raytoken`` sets that mode itself.

The cluster tests start Ray (about a minute on two cores), so they run when
CCELIM_TEST_RAY=1, like tests/service/test_ray_backend.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from service.raytoken import enable_token_auth, token_available
from tests.service.servicekit import MINIMAL, free_port, make_server

_RAY = pytest.mark.skipif(
    os.environ.get("CCELIM_TEST_RAY") != "1",
    reason="set CCELIM_TEST_RAY=1 to start a Ray head for this test",
)
TINY_FLAGS = [
    "--batch-size", "8", "--simulations", "2", "--games-per-batch", "2",
    "--max-size", "8", "--hidden-size", "8", "--num-layers", "1",
    "--checkpoint-every", "2", "--publish-every", "1", "--quiet",
]  # fmt: skip


def _without_ray_auth(env: dict) -> dict:
    return {
        k: v
        for k, v in env.items()
        if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    }


def test_token_is_found_in_the_environment_or_the_token_files(tmp_path):
    assert not token_available({"HOME": str(tmp_path)})
    assert token_available({"HOME": str(tmp_path), "RAY_AUTH_TOKEN": "abc"})
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("")
    assert not token_available({"HOME": str(tmp_path)})  # empty: no token
    (tmp_path / ".ray" / "auth_token").write_text("abc\n")
    assert token_available({"HOME": str(tmp_path)})
    elsewhere = tmp_path / "token"
    elsewhere.write_text("xyz")
    assert token_available(
        {"HOME": "/nonexistent", "RAY_AUTH_TOKEN_PATH": str(elsewhere)}
    )


def test_token_mode_is_set_only_for_a_named_cluster_and_an_unset_mode(
    tmp_path, monkeypatch
):
    for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not enable_token_auth("127.0.0.1:6379")  # no token anywhere
    assert "RAY_AUTH_MODE" not in os.environ
    monkeypatch.setenv("RAY_AUTH_TOKEN", "abc")
    for address in (None, "", "local", "auto"):  # Ray handles these itself
        assert not enable_token_auth(address)
        assert "RAY_AUTH_MODE" not in os.environ
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the user's choice wins
    assert not enable_token_auth("127.0.0.1:6379")
    assert os.environ["RAY_AUTH_MODE"] == "disabled"
    monkeypatch.delenv("RAY_AUTH_MODE")
    assert enable_token_auth("127.0.0.1:6379")
    assert os.environ["RAY_AUTH_MODE"] == "token"


@pytest.fixture(scope="module")
def token_head(tmp_path_factory):
    """A `ray start --head` whose machine has a token (so token auth is on), and
    the environment of a driver on that machine with no RAY_AUTH_* set."""
    home = tmp_path_factory.mktemp("home")
    (home / ".ray").mkdir()
    (home / ".ray" / "auth_token").write_text(uuid.uuid4().hex)
    env = _without_ray_auth(dict(os.environ)) | {
        "HOME": str(home),
        "RAY_DISABLE_USAGE_STATS": "1",
        "JAX_PLATFORMS": "cpu",
    }
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rayk", dir="/tmp")  # short: socket paths
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--block", "--head",
         f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats", "--node-ip-address=127.0.0.1",
         f"--temp-dir={temp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: we end exactly it
    )  # fmt: skip
    time.sleep(15)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(head.pid, sig)
                head.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def _driver(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


@_RAY
@pytest.mark.slow
def test_the_head_refuses_a_driver_without_the_token_mode(token_head):
    # What users met: ray.init with the address alone cannot join.
    address, env = token_head
    done = _driver(
        f"import ray; ray.init(address={address!r}); print('joined')",
        env,
    )
    assert "joined" not in done.stdout


@_RAY
@pytest.mark.slow
def test_service_joins_a_token_cluster_by_address(token_head, tmp_path):
    address, env = token_head
    server = make_server(tmp_path, CCELIM_RAY_ADDRESS=address, HOME=env["HOME"])
    server.env = server.env | {"RAY_AUTH_MODE": ""}  # unset for the helper
    server.start(timeout_s=300)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            assert http.get("/healthz").json()["backend"] == "ray"
            body = {"graph": MINIMAL, "time_budget_s": 0.3}
            answer = http.post("/v1/orders", json=body).json()
            assert answer["order"] == ["v"] and answer["cost"] == 2
    finally:
        server.stop()


@_RAY
@pytest.mark.slow
def test_ccelim_train_joins_a_token_cluster_by_address(token_head, tmp_path):
    address, env = token_head
    run = tmp_path / "run"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ccelim"), "train", "--address", address,
         "--steps", "2", "--workers", "1", "--out", str(run), *TINY_FLAGS],
        env=env, capture_output=True, text=True, timeout=420,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in run.glob("ckpt_*.msgpack"))[-1] == (
        "ckpt_00000002.msgpack"
    )
