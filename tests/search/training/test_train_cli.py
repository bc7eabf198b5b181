"""``ccelim train`` end to end (checkpoints, log, --resume), plot-training, export."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from search.training import checkpoint
from service.cli import app

CCELIM = str(Path(sys.executable).parent / "ccelim")
#: Small settings so that 20 steps take seconds once compiled on 2 cores.
TINY_FLAGS = [
    "--batch-size", "8", "--simulations", "2", "--games-per-batch", "2",
    "--max-size", "8", "--hidden-size", "8", "--num-layers", "1",
    "--checkpoint-every", "10", "--publish-every", "5", "--quiet",
]  # fmt: skip


def ccelim(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, RAY_DISABLE_USAGE_STATS="1", JAX_PLATFORMS="cpu")
    return subprocess.run(
        [CCELIM, *args], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 20-step run by `ccelim train --workers 2 --steps 20 --out DIR`."""
    out = tmp_path_factory.mktemp("train") / "run"
    done = ccelim(
        "train", "--workers", "2", "--steps", "20", "--out", str(out), *TINY_FLAGS
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained steps 0->20" in done.stdout
    return out


def log_steps(run: Path) -> list[int]:
    with open(run / "log.csv", newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def test_train_writes_checkpoints_and_a_log(run_dir):
    names = [p.name for p in checkpoint.list_checkpoints(run_dir)]
    assert names == ["ckpt_00000010.msgpack", "ckpt_00000020.msgpack"]
    assert log_steps(run_dir) == list(range(1, 21))
    with open(run_dir / "log.csv", newline="") as handle:
        last = list(csv.DictReader(handle))[-1]
    for column in ("loss", "entropy", "games_per_s", "validation_score"):
        assert float(last[column]) > 0, column
    meta = checkpoint.read_metadata(checkpoint.latest(run_dir))
    assert meta["step"] == 20
    assert meta["command"].startswith("ccelim train --workers 2 --steps 20")
    assert meta["net_config"] == {"hidden_size": 8, "num_layers": 1, "head_size": 8}
    assert meta["train_config"]["num_workers"] == 2
    assert meta["hardware"]["cpu_count"] >= 1 and "jax" in meta["versions"]
    kinds = [json.loads(line)["event"] for line in open(run_dir / "events.jsonl")]
    assert kinds[0] == "start" and kinds[-1] == "end"


def test_resume_continues_from_the_last_step(run_dir):
    done = ccelim(
        "train", "--workers", "1", "--steps", "25", "--resume", str(run_dir), "--quiet"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained steps 20->25" in done.stdout
    assert log_steps(run_dir) == list(range(1, 26))
    assert checkpoint.latest(run_dir).name == "ckpt_00000025.msgpack"
    # the resumed run kept the stored configuration (tiny network, not defaults)
    meta = checkpoint.read_metadata(checkpoint.latest(run_dir))
    assert meta["net_config"]["hidden_size"] == 8


def test_plot_training_writes_a_png(run_dir, tmp_path):
    out = tmp_path / "curves.png"
    result = CliRunner().invoke(
        app, ["plot-training", str(run_dir), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_exported_model_loads_with_search_net(run_dir, tmp_path):
    from search.net import NetConfig, load_params
    from search.training.export import export_model

    path = export_model(checkpoint.latest(run_dir), tmp_path / "model.msgpack")
    model = load_params(path)
    assert model.config == NetConfig(hidden_size=8, num_layers=1, head_size=8)
    assert model.metadata["step"] >= 20
    assert model.metadata["command"].startswith("ccelim train")
    with pytest.raises(ValueError, match="different config"):
        load_params(path, config=NetConfig())


def test_cli_refuses_bad_arguments(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--steps", "1"])
    assert result.exit_code != 0 and "exactly one of --out" in result.output
    result = runner.invoke(app, ["train", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "no checkpoint" in result.output
    result = runner.invoke(app, ["plot-training", str(tmp_path)])
    assert result.exit_code == 2 and "log.csv" in result.output
