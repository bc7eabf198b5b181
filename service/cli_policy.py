"""``ccelim train-policy``: the constructive policy by expert iteration (one round)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.cli_app import app

Opt = typer.Option


@app.command("train-policy")
def train_policy_command(
    out: Annotated[Path, Opt(help="Model file to write.")] = Path(
        "search/models/policy.msgpack"
    ),
    graphs: Annotated[int, Opt(help="Training graphs.")] = 48,
    min_size: Annotated[int, Opt(help="Smallest random graph.")] = 20,
    max_size: Annotated[int, Opt(help="Largest random DAG (intermediates).")] = 2000,
    expert_max_s: Annotated[float, Opt(help="Expert budget cap per graph (s).")] = 5.0,
    expert_s_per_1000: Annotated[
        float, Opt(help="Expert seconds per 1,000 intermediates.")
    ] = 2.0,
    updates: Annotated[int, Opt(help="Learner updates a round.")] = 1000,
    rounds: Annotated[int, Opt(help="Expert-iteration rounds.")] = 2,
    steps_per_graph: Annotated[int, Opt(help="Expert steps per graph.")] = 64,
    learning_rate: Annotated[float, Opt(help="Adam step size.")] = 1e-3,
    seed: Annotated[int, Opt(help="Corpus and init seed.")] = 0,
) -> None:
    """Label random scalar graphs with the portfolio (from round 1 with the
    current policy inside it) and fit the constructive policy to its moves."""
    from search.training.expert import ExpertConfig, train_policy

    config = ExpertConfig(
        num_graphs=graphs,
        min_size=min_size,
        max_size=max_size,
        expert_max_s=expert_max_s,
        expert_s_per_1000=expert_s_per_1000,
        num_updates=updates,
        rounds=rounds,
        steps_per_graph=steps_per_graph,
        learning_rate=learning_rate,
        seed=seed,
    )
    command = "ccelim " + shlex.join(sys.argv[1:])
    meta = train_policy(config, out, command=command, log_fn=typer.echo)
    last = meta["rounds"][-1]
    typer.echo(
        f"wrote {out}: held-out loss {meta['rounds'][0]['held_out_loss_before']:.3f}"
        f" -> {last['held_out_loss_after']:.3f}, labelling {meta['label_seconds']} s,"
        f" learning {meta['learn_seconds']} s"
    )
