"""``ccelim train`` (self-play training on Ray) and ``ccelim plot-training``."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.cli_app import app


def _fmt(value: float, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


Opt = typer.Option


@app.command("train")
def train_command(
    workers: Annotated[int, Opt("--workers", help="Self-play actors.")] = 2,
    address: Annotated[
        str,
        Opt(help="'local' starts Ray here; 'auto' or HOST:PORT joins a cluster."),
    ] = "local",
    steps: Annotated[int | None, Opt(help="Learner steps in total.")] = None,
    out: Annotated[Path | None, Opt(help="Run directory (new).")] = None,
    resume: Annotated[Path | None, Opt(help="Continue the run in this dir.")] = None,
    seed: Annotated[int, Opt(help="Base seed.")] = 0,
    batch_size: Annotated[int | None, Opt(help="Positions per step.")] = None,
    simulations: Annotated[int | None, Opt(help="MCTS simulations/move.")] = None,
    games_per_batch: Annotated[int | None, Opt(help="Games per actor batch.")] = None,
    checkpoint_every: Annotated[int | None, Opt(help="Steps between ckpts.")] = None,
    publish_every: Annotated[int | None, Opt(help="Steps between params.")] = None,
    max_size: Annotated[int | None, Opt(help="Largest random graph (ops).")] = None,
    hidden_size: Annotated[int | None, Opt(help="Network width.")] = None,
    num_layers: Annotated[int | None, Opt(help="Message passes.")] = None,
    learning_rate: Annotated[float | None, Opt(help="Adam step size.")] = None,
    validate_every: Annotated[int | None, Opt(help="Steps between scores.")] = None,
    max_minutes: Annotated[float | None, Opt(help="Stop after this long.")] = None,
    export: Annotated[Path | None, Opt(help="Also write a model file.")] = None,
    quiet: Annotated[bool, Opt(help="No progress bar.")] = False,
) -> None:
    """Train the policy/value network by self-play (Ray actors + learner)."""
    from search.training.export import export_model
    from search.training.train import train
    from search.training.trainconfig import TrainConfig, resume_config
    from service.raytoken import AUTH_HINT, enable_token_auth

    if (out is None) == (resume is None):
        raise typer.BadParameter("give exactly one of --out DIR or --resume DIR")
    if resume is not None:
        try:
            config = resume_config(resume, num_workers=workers)
        except FileNotFoundError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from err
        run_dir = resume
    else:
        config = TrainConfig(num_workers=workers, seed=seed)
        run_dir = out
    config = _with_overrides(
        config,
        steps=steps,
        batch_size=batch_size,
        simulations=simulations,
        games_per_batch=games_per_batch,
        checkpoint_every=checkpoint_every,
        publish_every=publish_every,
        max_size=max_size,
        hidden_size=hidden_size if resume is None else None,
        num_layers=num_layers if resume is None else None,
        learning_rate=learning_rate,
        validate_every=validate_every,
        max_time_s=None if max_minutes is None else 60.0 * max_minutes,
    )
    command = "ccelim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, desc="train", unit="step", dynamic_ncols=True)

    def progress(row: dict) -> None:
        if bar is None:
            return
        bar.n = row["step"]
        bar.set_postfix_str(
            f"loss={_fmt(row['loss'])} H={_fmt(row['entropy'])} "
            f"games/s={_fmt(row['games_per_s'], 2)} "
            f"val={_fmt(row['validation_score'])}",
            refresh=True,
        )

    enable_token_auth(address)
    try:
        result = train(
            config,
            out_dir=run_dir,
            resume=resume is not None,
            address=address,
            metadata={"command": command},
            progress_fn=progress,
        )
    except (ValueError, FileNotFoundError) as err:
        if bar is not None:
            bar.close()
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    except ConnectionError as err:  # ray.init could not join --address
        if bar is not None:
            bar.close()
        typer.echo(f"error: {err}; {AUTH_HINT}", err=True)
        raise typer.Exit(1) from err
    if bar is not None:
        bar.close()
    typer.echo(
        f"trained steps {result.start_step}->{result.steps} in "
        f"{result.elapsed_s:.1f}s: {result.games} games, validation score "
        f"{_fmt(result.validation_score)} (cost / best baseline), worker restarts "
        f"{result.worker_restarts}, learner restarts {result.learner_restarts}; "
        f"checkpoint {result.checkpoint}; log {Path(run_dir) / 'log.csv'}"
    )
    if export is not None:
        path = export_model(result.checkpoint, export)
        typer.echo(f"model written to {path}")


def _with_overrides(config, **values):
    """Applies the CLI's optional settings to a nested TrainConfig."""
    top = {
        k: values[k]
        for k in (
            "steps",
            "batch_size",
            "checkpoint_every",
            "publish_every",
            "validate_every",
            "max_time_s",
        )
        if values[k] is not None
    }
    selfplay = config.selfplay
    if values["simulations"] is not None:
        selfplay = dataclasses.replace(selfplay, num_simulations=values["simulations"])
        top["validation_simulations"] = values["simulations"]
    if values["games_per_batch"] is not None:
        selfplay = dataclasses.replace(
            selfplay, games_per_batch=values["games_per_batch"]
        )
    if values["max_size"] is not None:
        corpus = dataclasses.replace(selfplay.corpus, max_size=values["max_size"])
        selfplay = dataclasses.replace(selfplay, corpus=corpus)
    net = config.net
    if values["hidden_size"] is not None:
        net = dataclasses.replace(
            net, hidden_size=values["hidden_size"], head_size=values["hidden_size"]
        )
    if values["num_layers"] is not None:
        net = dataclasses.replace(net, num_layers=values["num_layers"])
    learner = config.learner
    if values["learning_rate"] is not None:
        learner = dataclasses.replace(learner, learning_rate=values["learning_rate"])
    return dataclasses.replace(
        config, selfplay=selfplay, net=net, learner=learner, **top
    )


@app.command("plot-training")
def plot_training_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with log.csv.")],
    output: Annotated[Path | None, Opt(help="PNG path.")] = None,
) -> None:
    """Plot loss, policy entropy, games/s and validation score of a run (PNG)."""
    log = run_dir / "log.csv"
    if not log.exists():
        typer.echo(
            f"error: {log} not found; run `ccelim train --out {run_dir}`", err=True
        )
        raise typer.Exit(2)
    path = plot_log(log, output or run_dir / "training.png")
    typer.echo(f"wrote {path}")


def plot_log(log: Path, output: Path) -> Path:
    """Writes a 2x2 PNG of a training log's curves and returns its path."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log, newline="") as handle:
        rows = list(csv.DictReader(handle))

    def column(name):
        out = []
        for row in rows:
            try:
                out.append(float(row[name]))
            except (KeyError, TypeError, ValueError):
                out.append(float("nan"))
        return out

    step = column("step")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    panels = [
        (axes[0, 0], ("loss", "policy_loss", "value_loss"), "loss"),
        (axes[0, 1], ("entropy", "target_entropy"), "policy entropy (nats)"),
        (axes[1, 0], ("games_per_s",), "self-play games / s"),
        (axes[1, 1], ("validation_score",), "validation: cost / best baseline"),
    ]
    for ax, names, title in panels:
        for name in names:
            values = column(name)
            if any(not math.isnan(v) for v in values):
                ax.plot(step, values, label=name, marker="." if len(step) < 50 else "")
        ax.set_title(title)
        ax.set_xlabel("learner step")
        ax.grid(alpha=0.3)
        if len(names) > 1:
            ax.legend()
    fig.suptitle(f"ccelim training: {log.parent.name}")
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return output
