"""CLI errors are one line on stderr (what was wrong, how to fix it), exit 1, and
``ccelim submit`` reports a job's best cost while it waits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli_errors import describe
from tests.service.servicekit import MINIMAL, free_port, random_dag

CCELIM = str(Path(sys.executable).parent / "ccelim")


def _ccelim(*args: str, cwd: Path, stdin: str | None = None):
    return subprocess.run(
        [CCELIM, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_error_line(done: subprocess.CompletedProcess, returncode: int = 1) -> str:
    assert done.returncode == returncode, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
    return lines[0]


def test_submit_of_a_missing_file_is_one_line(tmp_path):
    line = _one_error_line(_ccelim("submit", "missing.json", cwd=tmp_path))
    assert line == (
        "error: no such file: missing.json; check the path "
        "(or pass - to read standard input)"
    )


@pytest.mark.parametrize("command", ["submit", "fetch"])
def test_an_unreachable_server_is_one_line_that_says_how_to_start_one(
    tmp_path, command
):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    (tmp_path / "g.json").write_text(json.dumps(MINIMAL))
    target = "g.json" if command == "submit" else "g1-0123"
    line = _one_error_line(_ccelim(command, target, "--url", url, cwd=tmp_path))
    assert line.startswith(f"error: cannot reach the ccelim server at {url} (")
    assert line.endswith(
        "start one with `ccelim serve` (or `make serve`), or point --url / "
        "CCELIM_URL at a running server"
    )


def test_a_url_without_http_is_one_line(tmp_path):
    line = _one_error_line(_ccelim("fetch", "g1-0", "--url", "localhost", cwd=tmp_path))
    assert "give one like --url http://127.0.0.1:8000" in line


def test_a_folder_is_one_line(tmp_path):
    line = _one_error_line(_ccelim("submit", ".", cwd=tmp_path))
    assert line == "error: . is a folder; give a file"


def test_usage_errors_are_one_line_with_the_help_command(tmp_path):
    line = _one_error_line(
        _ccelim("submit", "--budget", "x", "g.json", cwd=tmp_path), 2
    )
    assert line.startswith("error: Invalid value for '--budget': ")
    assert line.endswith("(see `ccelim submit --help`)")
    line = _one_error_line(_ccelim("graph", "nosuch", cwd=tmp_path), 2)
    assert line.startswith("error: Invalid value for TASK: unknown task 'nosuch'; ")
    line = _one_error_line(_ccelim("frob", cwd=tmp_path), 2)
    assert line == "error: No such command 'frob'. (see `ccelim --help`)"


def test_help_still_prints_and_exits_0(tmp_path):
    done = _ccelim("submit", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "Usage: ccelim submit" in done.stdout


def test_an_unexpected_error_names_its_type_and_the_debug_switch():
    assert describe(ValueError("bad\nthing")) == (
        "ValueError: bad; thing (set CCELIM_DEBUG=1 to see the traceback)"
    )


def test_a_server_error_answer_is_one_line(server, tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"format": "ccelim.graph/1"}))
    line = _one_error_line(
        _ccelim("submit", "g.json", "--url", server.url, cwd=tmp_path)
    )
    assert line.startswith('error: 422 invalid_graph: missing "inputs"')


@pytest.mark.slow
def test_submit_reports_the_best_cost_while_it_waits_on_a_job(server, tmp_path):
    # 4 s is above the test server's synchronous limit (3 s): the answer is a job.
    (tmp_path / "g.json").write_text(json.dumps(random_dag(60, seed=3)))
    done = _ccelim(
        "submit", "g.json", "--budget", "4", "--no-kernel", "--url", server.url,
        "-o", "answer.json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("job ") and lines[0].endswith(" accepted")
    progress = [line for line in lines[1:] if " so far" in line]
    assert progress, done.stderr
    assert progress[-1].startswith("job ") and " done: best cost " in progress[-1]
    assert progress[-1].endswith(" of a 4 s budget")
    final_cost = int(progress[-1].split("best cost ")[1].split()[0])
    assert final_cost == json.loads((tmp_path / "answer.json").read_text())["cost"]
