"""``ccelim optimize``: search a cheap elimination order for a task or a graph file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer

from service.cli_app import app


def order_document(result, *, seed: int, budget: float) -> dict:
    """What the CLI writes for an ``OptimizeResult`` (``order.json``)."""
    return {
        "order": list(result.order),
        "cost": result.cost,
        "method": result.method,
        "lower_bound": result.lower_bound,
        "baselines": result.baselines,
        "seed": seed,
        "budget_s": budget,
    }


def _load_graph(target: str):
    """A graph from a task name or a ``ccelim.graph/1`` JSON file."""
    import graphs
    from graphs import GraphError, tasks

    path = Path(target)
    if target.endswith(".json") or path.is_file():
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {target}", param_hint="TASK|FILE")
        try:
            return graphs.load(path.read_text())
        except GraphError as err:
            raise typer.BadParameter(
                f"{target}: {err}", param_hint="TASK|FILE"
            ) from None
    try:
        return tasks.get(target).graph()
    except GraphError as err:
        raise typer.BadParameter(
            f"{err}; or give a ccelim.graph/1 .json file", param_hint="TASK|FILE"
        ) from None


class LiveLine:
    """The live line of ``ccelim optimize``: rich re-renders it at every refresh,
    so its clock keeps running between improvements (a fixed string stopped it
    at the last one).

    Args:
      label: what is being searched.
      clock_fn: seconds since some start, e.g. ``time.perf_counter``.
    """

    def __init__(self, label: str, clock_fn: Callable[[], float]):
        self.label = label
        self.status = "pricing baselines…"
        self._clock_fn = clock_fn
        self._start = clock_fn()

    def __rich__(self) -> str:
        elapsed = self._clock_fn() - self._start
        return f"[bold]{self.label}[/] {elapsed:5.1f}s  {self.status}"


@app.command("optimize")
def optimize_command(
    target: str = typer.Argument(
        ...,
        metavar="TASK|FILE.json",
        help="A task name (`ccelim tasks`) or a graph file.",
    ),
    budget: float = typer.Option(10.0, "--budget", help="Search time in seconds."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same order)."),
    out: str = typer.Option(None, "--out", help="Write the order here as JSON."),
    methods: str = typer.Option(
        None,
        "--methods",
        help="Comma-separated subset of baselines,exact,local,mcts (default: all).",
    ),
) -> None:
    """Search the cheapest elimination order within a time budget and report it."""
    import time

    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from search import optimize
    from search.optimize import METHODS

    if budget <= 0:
        raise typer.BadParameter(
            "must be positive, e.g. --budget 10", param_hint="--budget"
        )
    chosen = None
    if methods:
        chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
        unknown = sorted(set(chosen) - set(METHODS))
        if unknown:
            raise typer.BadParameter(
                f"unknown {unknown}; choose from {','.join(METHODS)}",
                param_hint="--methods",
            )
    graph = _load_graph(target)
    console = Console(width=120)
    line = LiveLine(target, time.perf_counter)
    with Live(line, console=console, refresh_per_second=4, transient=True):

        def progress(elapsed: float, cost: int, method: str) -> None:
            line.status = f"best {cost} ({method}, at {elapsed:.1f}s)"

        result = optimize(
            graph,
            time_budget_s=budget,
            seed=seed,
            methods=chosen,
            progress_fn=progress,
        )

    table = Table(title=f"{target}: baselines (multiplications)")
    table.add_column("baseline")
    table.add_column("cost", justify="right")
    for name, cost in sorted(result.baselines.items(), key=lambda kv: kv[1]):
        table.add_row(name, str(cost))
    console.print(table)
    lower = "none" if result.lower_bound is None else str(result.lower_bound)
    if result.optimal:
        lower += " (proven optimal)"
    console.print(
        f"found [bold]{result.cost}[/] by {result.method} in {result.elapsed_s:.1f}s; "
        f"best baseline {result.best_baseline}; "
        f"improvement {100 * result.improvement:.1f}%; lower bound {lower}"
    )
    work = ", ".join(f"{k} {v}" for k, v in result.work.items() if v)
    console.print(f"work: {work or 'none'}")
    for note in result.notes:
        console.print(f"[dim]{note}[/]")
    if out is not None:
        doc = order_document(result, seed=seed, budget=budget)
        Path(out).write_text(json.dumps(doc, indent=2) + "\n")
        console.print(f"order written to {out}")
