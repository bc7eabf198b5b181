"""``ccelim tasks`` and ``ccelim graph``: the benchmark tasks and their graphs."""

from __future__ import annotations

import typer

from service.cli_app import app


@app.command("tasks")
def tasks_command() -> None:
    """Print the benchmark tasks with their sizes and baseline costs."""
    from rich.console import Console
    from rich.table import Table

    import graphs
    from graphs import tasks

    table = Table(title="ccelim benchmark tasks (multiplications)")
    for column in (
        "task",
        "inputs",
        "outputs",
        "intermediates",
        "edges",
        "forward",
        "reverse",
        "markowitz",
        "best baseline",
    ):
        table.add_column(column, justify="left" if column == "task" else "right")
    for name, task in tasks.TASKS.items():
        g = graphs.build(task.graph())
        found = graphs.baselines(g)
        best_name = min(found, key=lambda k: found[k].cost)
        table.add_row(
            name,
            str(len(g.inputs)),
            str(len(g.outputs)),
            str(len(g.intermediates)),
            str(len(g.edges)),
            str(found["forward"].cost),
            str(found["reverse"].cost),
            str(found["markowitz"].cost),
            f"{found[best_name].cost} ({best_name})",
        )
    Console(width=160).print(table)


@app.command("graph")
def graph_command(
    task: str = typer.Argument(..., help="Task name (see `ccelim tasks`)."),
    structure: bool = typer.Option(
        False, "--structure", help="Print the structure-only flavour (edge list)."
    ),
    indent: int = typer.Option(None, help="Indent the JSON by this many spaces."),
) -> None:
    """Print a task's graph as ccelim.graph/1 JSON (program or structure-only)."""
    from graphs import GraphError, tasks

    try:
        graph = tasks.get(task).graph()
    except (KeyError, GraphError) as err:
        raise typer.BadParameter(str(err), param_hint="TASK") from None
    if structure:
        graph = graph.to_structure()
    typer.echo(graph.to_json(indent=indent))
