"""The training loop on Ray: faults (killed actors, killed learner) and two nodes.

The fault tests share one local Ray instance (module fixture); the multi-node
test starts its own head and worker node (``ray start --block``, loopback only)
and ends exactly the processes it started, never other Ray instances on the
machine (``ray stop`` would stop every Ray on the host, other runs included).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from search.net import NetConfig
from search.training import checkpoint
from search.training.corpus import CorpusConfig
from search.training.selfplay import SelfPlayConfig
from search.training.train import train
from search.training.trainconfig import TrainConfig

os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")

TINY = TrainConfig(
    steps=8,
    batch_size=8,
    num_workers=2,
    publish_every=2,
    checkpoint_every=4,
    validate_every=1000,
    min_replay=8,
    max_replay_ratio=4.0,
    validation_simulations=2,
    selfplay=SelfPlayConfig(
        games_per_batch=2,
        num_simulations=2,
        max_num_considered_actions=2,
        bucket=16,
        corpus=CorpusConfig(
            min_size=4, max_size=8, max_vertices=16, num_validation=2, task_fraction=0
        ),
    ),
    net=NetConfig(hidden_size=8, num_layers=1, head_size=8),
)

#: The same settings as ``ccelim train`` flags (the CLI has no bucket flag: 32).
TINY_FLAGS = [
    "--batch-size", "8", "--simulations", "2", "--games-per-batch", "2",
    "--max-size", "8", "--hidden-size", "8", "--num-layers", "1",
    "--checkpoint-every", "4", "--publish-every", "2", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def local_ray():
    import ray

    if ray.is_initialized():  # left by another module: start our own 2-CPU one
        ray.shutdown()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


def events(run_dir: Path) -> list[dict]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_training_goes_on_when_a_selfplay_actor_dies(local_ray, tmp_path):
    ray = local_ray
    seen = {}

    def kill_worker(event):
        actor = event.workers[0]
        if event.step == 1:
            seen["pid"] = ray.get(actor.pid.remote())
        if event.step == 2:
            ray.kill(actor, no_restart=False)  # its process dies
        if event.step == 3:
            # Ray restarted it: a new process that plays games again
            _, stats = ray.get(actor.play.options(num_returns=2).remote(None, -1))
            seen["after"] = stats

    # replay ratio 1: every step needs fresh games, so both actors keep playing
    config = dataclasses.replace(TINY, steps=12, max_replay_ratio=1.0)
    result = train(config, out_dir=tmp_path, callback=kill_worker)
    assert result.steps == 12
    assert checkpoint.latest(tmp_path).name == "ckpt_00000012.msgpack"
    after = seen["after"]
    assert after["pid"] != seen["pid"] and after["restarted"] and after["games"] == 2
    # the loop counts a restart when it gets games from a restarted process
    restarted = [e for e in events(tmp_path) if e["event"] == "worker_restarted"]
    assert result.worker_restarts == len(restarted) <= 1


def test_killed_learner_resumes_from_the_last_checkpoint(local_ray, tmp_path):
    ray = local_ray
    kills = []

    def kill_learner(event):
        if event.step == 6 and not kills:
            kills.append(event.step)
            ray.kill(event.learner)  # no restart: the loop must rebuild it

    result = train(TINY, out_dir=tmp_path, callback=kill_learner)
    assert result.steps == 8 and result.learner_restarts == 1
    # checkpoints at 4 and 8: the kill after step 6 loses steps 5 and 6 only
    assert result.lost_steps == 2
    died = [e for e in events(tmp_path) if e["event"] == "learner_died"]
    assert [(e["step"], e["resumed_from"]) for e in died] == [(6, 4)]
    steps = [
        int(line.split(",")[0])
        for line in (tmp_path / "log.csv").read_text().splitlines()[1:]
    ]
    assert steps == [1, 2, 3, 4, 5, 6, 5, 6, 7, 8]
    meta = checkpoint.read_metadata(checkpoint.latest(tmp_path))
    assert meta["step"] == 8 and meta["train_config"]["steps"] == 8
    assert 0 < meta["validation_score"] < 10  # measured at the last step

    # `ccelim train --resume` (tests/search/test_train_cli.py) continues from here;
    # a fresh run into the same directory is refused
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(TINY, out_dir=tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_start(args: list[str], env: dict) -> subprocess.Popen:
    ray_bin = str(Path(sys.executable).parent / "ray")
    return subprocess.Popen(
        [ray_bin, "start", "--block", "--node-ip-address=127.0.0.1", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: we end exactly it
    )


def _end(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
def test_ccelim_train_runs_across_a_head_and_a_worker_node(tmp_path):
    port = _free_port()
    # loopback-only throwaway cluster: no token (the driver would need the head's)
    env = dict(
        os.environ,
        RAY_DISABLE_USAGE_STATS="1",
        RAY_AUTH_MODE="disabled",
        JAX_PLATFORMS="cpu",
    )
    temp = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: socket paths
    nodes = []
    try:
        nodes.append(
            _ray_start(
                [
                    "--head",
                    f"--port={port}",
                    "--num-cpus=1",
                    "--include-dashboard=false",
                    "--disable-usage-stats",
                    f"--temp-dir={temp}",
                ],
                env,
            )
        )
        address = f"127.0.0.1:{port}"
        time.sleep(8)
        nodes.append(_ray_start([f"--address={address}", "--num-cpus=1"], env))
        ccelim = str(Path(sys.executable).parent / "ccelim")
        run = tmp_path / "run"
        done = subprocess.run(
            [ccelim, "train", "--address", address, "--steps", "3", "--workers", "2",
             "--out", str(run), *TINY_FLAGS],
            env=env, capture_output=True, text=True, timeout=420,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        end = [e for e in events(run) if e["event"] == "end"][0]
        assert end["step"] == 3
        # one self-play actor on each node (1 CPU each); games came from them
        assert len(set(end["actor_nodes"])) == 2
        assert set(end["nodes"]) <= set(end["actor_nodes"]) and end["games"] > 0
        assert checkpoint.latest(run).name == "ckpt_00000003.msgpack"
    finally:
        for process in reversed(nodes):
            _end(process)
