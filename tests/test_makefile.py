"""`make serve` installs only the runtime; `make test` the dev extra too, and a
dev install counts as a runtime install (dry runs of make on a scratch venv)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_MAKE_ENV = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _dry_run(target: str, venv: Path, *variables: str) -> list[str]:
    # Under `make test` this runs as a sub-make: without the outer make's
    # variables and with --no-print-directory it prints only the recipe.
    env = {k: v for k, v in os.environ.items() if k not in _MAKE_ENV}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={venv}", *variables],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _installs(lines: list[str]) -> list[str]:
    return [
        line for line in lines if "pip install" in line and "--upgrade pip" not in line
    ]


def _fake_venv(tmp_path: Path, *stamps: str) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    python = venv / "bin" / "python"
    later = max((REPO / "pyproject.toml").stat().st_mtime, python.stat().st_mtime) + 10
    for stamp in stamps:
        (venv / stamp).touch()
        os.utime(venv / stamp, (later, later))
    return venv


def test_a_fresh_serve_installs_the_runtime_only(tmp_path):
    installs = _installs(_dry_run("serve", tmp_path / "venv"))
    assert len(installs) == 1 and installs[0].endswith("pip install --quiet -e .")


def test_a_fresh_test_run_installs_the_dev_extra(tmp_path):
    installs = _installs(_dry_run("test", tmp_path / "venv"))
    assert len(installs) == 1 and installs[0].endswith("-e '.[dev]'")


def test_after_serve_a_test_run_adds_the_dev_extra(tmp_path):
    venv = _fake_venv(tmp_path, ".installed-runtime")
    assert _installs(_dry_run("serve", venv)) == []
    installs = _installs(_dry_run("test", venv))
    assert len(installs) == 1 and "[dev]" in installs[0]


def test_after_a_dev_install_serve_installs_nothing(tmp_path):
    venv = _fake_venv(tmp_path, ".installed", ".installed-runtime")
    assert _installs(_dry_run("serve", venv)) == []
    assert _installs(_dry_run("test", venv)) == []


def test_the_port_is_a_make_variable(tmp_path):
    venv = _fake_venv(tmp_path, ".installed-runtime")
    lines = _dry_run("serve", venv, "PORT=8123")
    assert lines[-1].endswith("serve --host 127.0.0.1 --port 8123")
