"""The ``ccelim`` Typer app; command modules register their commands on it."""

import typer

app = typer.Typer(
    name="ccelim",
    help="Cheaper exact Jacobians by cross-country vertex elimination.",
    no_args_is_help=True,
    add_completion=False,
)
