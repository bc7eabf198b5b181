"""``ccelim serve``, ``ccelim submit`` and ``ccelim fetch``: the service commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.cli_app import app

_URL_HELP = "Server URL (or CCELIM_URL)."


def _url(url: str | None) -> str:
    return url or os.environ.get("CCELIM_URL", "http://127.0.0.1:8000")


def _client(url: str | None, api_key: str | None):
    from service.client import Client

    return Client(_url(url), api_key or os.environ.get("CCELIM_API_KEY") or None)


def _print_answer(answer: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"graph {answer['graph_hash'][:16]}", show_header=False)
    best = min(answer["baselines"].values(), default=None)
    table.add_row("cost (multiplications)", str(answer["cost"]))
    table.add_row(
        "method", answer["method"] + (" (cached)" if answer["cached"] else "")
    )
    for name, cost in sorted(answer["baselines"].items(), key=lambda kv: kv[1]):
        table.add_row(f"baseline {name}", str(cost))
    if best:
        saved = 100 * (best - answer["cost"]) / best
        table.add_row("saved vs best baseline", f"{saved:.1f}%")
    if answer.get("lower_bound") is not None:
        table.add_row("lower bound", str(answer["lower_bound"]))
    table.add_row("elapsed", f"{answer['elapsed_s']:.2f} s")
    if answer.get("kernel"):
        table.add_row("kernel", "included (StableHLO + Python source)")
    elif answer.get("kernel_unavailable"):
        table.add_row("kernel", answer["kernel_unavailable"])
    console.print(table)
    console.print("order: " + " ".join(answer["order"]))


class _JobProgress:
    """Reports a job's best cost so far while ``ccelim submit`` waits on it: a
    line that updates in place on a terminal, otherwise one line per change."""

    def __init__(self) -> None:
        self._last: tuple | None = None
        self._live = sys.stderr.isatty()

    def __call__(self, status: dict) -> None:
        best = status.get("best_cost")
        key = (status["state"], best)
        elapsed = status.get("elapsed_s")
        text = (
            f"job {status['job_id'][:8]} {status['state']}: best cost "
            f"{'-' if best is None else best} so far"
            + ("" if elapsed is None else f", {elapsed:.1f} s")
            + f" of a {status['time_budget_s']:g} s budget"
        )
        if self._live:
            end = "\n" if status["state"] in ("done", "failed") else ""
            sys.stderr.write(f"\r\x1b[2K{text}{end}")
            sys.stderr.flush()
        elif key != self._last:
            typer.echo(text, err=True)
        self._last = key


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP service (settings from CCELIM_* variables; see deploy/README.md)."""
    import uvicorn

    from service.app import create_app
    from service.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    # Keep idle connections open longer than uvicorn's 5 s default, so that
    # clients that pause between requests do not race the server's close.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        timeout_keep_alive=30,
    )


@app.command("submit")
def submit_command(
    file: Annotated[
        Path, typer.Argument(help="A ccelim.graph/1 JSON file ('-': stdin).")
    ],
    budget: Annotated[
        float | None, typer.Option("--budget", help="Search budget in seconds.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Search seed.")] = 0,
    refresh: Annotated[
        bool, typer.Option(help="Search even if the order is cached.")
    ] = False,
    kernel: Annotated[
        bool, typer.Option(help="Ask for the kernel (program graphs).")
    ] = True,
    wait: Annotated[
        bool, typer.Option(help="Wait for long searches to finish.")
    ] = True,
    output: Annotated[
        Path | None, typer.Option("-o", help="Write the full JSON answer here.")
    ] = None,
    url: Annotated[str | None, typer.Option(help=_URL_HELP)] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API key (or CCELIM_API_KEY).")
    ] = None,
) -> None:
    """POST a graph to the service and print the best order and its costs."""
    from service.client import ServiceError

    text = sys.stdin.read() if str(file) == "-" else file.read_text()
    try:
        document = json.loads(text)
    except ValueError as err:
        typer.echo(f"error: {file} is not JSON: {err}", err=True)
        raise typer.Exit(2) from None
    with _client(url, api_key) as client:
        try:
            status, answer = client.submit(
                document,
                time_budget_s=budget,
                seed=seed,
                include_kernel=kernel,
                refresh=refresh,
            )
            if status == 202:
                typer.echo(f"job {answer['job_id']} accepted", err=True)
                if not wait:
                    typer.echo(json.dumps(answer))
                    return
                answer = client.wait(answer["job_id"], progress_fn=_JobProgress())
        except ServiceError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(1) from None
    if output:
        output.write_text(json.dumps(answer, indent=1))
    _print_answer(answer)


@app.command("fetch")
def fetch_command(
    graph_hash: Annotated[str, typer.Argument(help="The graph's canonical hash.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the raw JSON answer.")
    ] = False,
    url: Annotated[str | None, typer.Option(help=_URL_HELP)] = None,
) -> None:
    """Print the cached best order of a graph hash."""
    from service.client import ServiceError

    with _client(url, None) as client:
        try:
            found = client.fetch(graph_hash)
        except ServiceError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(found.raw, indent=1))
    else:
        _print_answer(found.raw)
