"""The training loop on Ray: self-play actors -> replay buffer -> learner -> checkpoints.

The driver only orchestrates. Self-play actors (``SelfPlayWorker``, restarted by
Ray when their process dies) each keep one batch of games in flight; finished
batches go to the replay buffer actor by reference (the driver fetches only their
small stats). A learner actor (on a GPU when the cluster has one) takes one
jitted ``train_step`` per step on a batch that the buffer samples, its input again
passed by reference. Every ``publish_every`` steps the learner's parameters become
the new version: one object in the object store whose reference every later game
receives. Every ``checkpoint_every`` steps the driver writes a checkpoint with the
validation score; a learner that dies is rebuilt from the last checkpoint, so it
loses at most the steps since then.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from search.training import checkpoint
from search.training.cluster import connect, spawn_learner, spawn_workers
from search.training.corpus import validation_score, validation_specs
from search.training.replay import ReplayBuffer
from search.training.runlog import RunLog, hardware
from search.training.trainconfig import TrainConfig

#: Consecutive failed self-play batches (or learner deaths) before giving up.
MAX_FAILURES = 20


@dataclasses.dataclass(frozen=True)
class StepEvent:
    """What the loop reports after each learner step (for progress and tests)."""

    step: int
    metrics: dict[str, float]
    workers: list[Any]  # the self-play actor handles
    learner: Any  # the learner actor handle


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """The outcome of :func:`train`."""

    out_dir: str
    steps: int
    start_step: int
    games: int
    positions: int
    elapsed_s: float
    validation_score: float
    checkpoint: str
    worker_restarts: int
    learner_restarts: int
    lost_steps: int
    nodes: tuple[str, ...]


def train(
    config: TrainConfig,
    *,
    out_dir: str | os.PathLike,
    resume: bool = False,
    address: str | None = None,
    metadata: dict[str, Any] | None = None,
    progress_fn: Callable[[dict[str, Any]], None] | None = None,
    callback: Callable[[StepEvent], None] | None = None,
) -> TrainResult:
    """Runs (or resumes) self-play training up to ``config.steps`` learner steps.

    Args:
      config: the run's configuration.
      out_dir: run directory for checkpoints (``ckpt_<step>.msgpack``), ``log.csv``
        (one row per step) and ``events.jsonl``.
      resume: continue from the newest checkpoint in ``out_dir``; without it a
        directory that already holds checkpoints is refused.
      address: ``None``/``"local"`` starts a local Ray; ``"auto"`` or
        ``HOST:PORT`` joins a running cluster. An already initialised Ray is used
        as is (and left running).
      metadata: extra JSON-able entries for every checkpoint (e.g. the command).
      progress_fn: called with each step's log row.
      callback: called with a :class:`StepEvent` after each step.

    Returns:
      A :class:`TrainResult`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    last = checkpoint.latest(out)
    if last is not None and not resume:
        raise ValueError(
            f"{out} already holds checkpoints (newest {last.name}); pass --resume "
            f"{out} to continue that run, or choose an empty --out directory"
        )
    raw = checkpoint.read(last) if (resume and last is not None) else None
    started = connect(address, config.num_workers)
    try:
        run = _Run(config, out, raw, metadata or {}, progress_fn, callback)
        try:
            return run.run()
        finally:
            run.close()
    finally:
        if started:
            import ray

            ray.shutdown()


class _Run:
    """The state of one :func:`train` call (driver-side bookkeeping only)."""

    def __init__(self, config, out, raw, metadata, progress_fn, callback):
        import ray

        self.ray = ray
        self.config = config
        self.out = out
        self.metadata = metadata
        self.progress_fn = progress_fn
        self.callback = callback
        self.log = RunLog(out)
        self.specs = list(validation_specs(config.selfplay.corpus))
        self.step = self.start_step = int(raw["metadata"]["step"]) if raw else 0
        self.checkpoint_step = self.step
        self.checkpoint_path = str(checkpoint.latest(out) or "")
        self.games = self.positions = self.simulations = 0
        self.worker_restarts = self.learner_restarts = self.lost_steps = 0
        self.failures = 0
        self.cost_ratio = float("nan")
        self.score = (
            float(raw["metadata"].get("validation_score", "nan"))
            if raw
            else (float("nan"))
        )
        self.score_step = int(raw["metadata"].get("validation_step", -1)) if raw else -1
        prior = raw["metadata"] if raw else {}
        self.prior_games = int(prior.get("total_games", prior.get("games", 0)))
        self.prior_elapsed = float(
            prior.get("total_elapsed_s", prior.get("elapsed_s", 0.0))
        )
        self.nodes: set[str] = set()
        self.worker_pids: dict[int, list[int]] = {}
        self.buffer = ray.remote(num_cpus=0)(ReplayBuffer).remote(
            capacity=config.replay_capacity, seed=config.seed
        )
        self.learner = spawn_learner(ray, config, raw)
        self.publish()
        self.workers = spawn_workers(ray, config, config.num_workers)
        self.actor_nodes = self.placement()
        self.inflight: dict[Any, tuple[int, Any]] = {}
        self.t0 = time.perf_counter()
        self.log.event("start", step=self.step, config=checkpoint.config_dict(config))

    def placement(self, timeout_s: float = 120.0) -> list[str]:
        """Node ids of the self-play actors that started within ``timeout_s``.

        Actors that cannot be placed yet (too few CPUs in the cluster) do not
        stop training; their games join when Ray places them.
        """
        refs = [worker.node.remote() for worker in self.workers]
        ready, pending = self.ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        if pending:
            self.log.event("actors_pending", count=len(pending), timeout_s=timeout_s)
        return [self.ray.get(ref) for ref in ready]

    def publish(self) -> None:
        """A new parameter version: one object, whose reference every game gets."""
        self.params_ref = self.learner.params.remote()
        self.version = self.step

    def submit(self, index: int) -> None:
        play = self.workers[index].play.options(num_returns=2)
        samples_ref, stats_ref = play.remote(self.params_ref, self.version)
        self.inflight[stats_ref] = (index, samples_ref)

    def harvest(self, *, block: bool) -> None:
        """Moves finished game batches to the buffer and resubmits their workers."""
        ray = self.ray
        refs = list(self.inflight)
        ready, _ = ray.wait(
            refs, num_returns=1 if block else len(refs), timeout=None if block else 0
        )
        for ref in ready:
            index, samples_ref = self.inflight.pop(ref)
            try:
                stats = ray.get(ref)  # already finished: no waiting here
            except ray.exceptions.RayError as err:
                self.failures += 1
                self.log.event("selfplay_failed", worker=index, error=str(err)[:300])
                if self.failures > MAX_FAILURES:
                    raise RuntimeError(
                        f"{self.failures} self-play batches failed in a row; the "
                        f"last error was: {err}"
                    ) from err
            else:
                self.failures = 0
                self.buffer.add.remote(samples_ref)
                self.games += stats["games"]
                self.positions += stats["moves"]
                self.simulations += stats["simulations"]
                self.cost_ratio = stats["cost_ratio"]
                self.nodes.add(stats.get("node", ""))
                pids = self.worker_pids.setdefault(index, [])
                if stats["pid"] not in pids:
                    if pids or stats.get("restarted"):
                        self.worker_restarts += 1
                        self.log.event(
                            "worker_restarted", worker=index, pid=stats["pid"]
                        )
                    pids.append(stats["pid"])
            self.submit(index)

    def learner_call(self, method: str, *args):
        """Calls the learner; rebuilds it from the last checkpoint if it died."""
        ray = self.ray
        while True:
            try:
                return ray.get(getattr(self.learner, method).remote(*args))
            except ray.exceptions.RayActorError as err:
                if self.learner_restarts >= MAX_FAILURES:
                    raise RuntimeError(
                        f"the learner died {self.learner_restarts + 1} times; the "
                        f"last error was: {err}"
                    ) from err
                self.learner_restarts += 1
                self.lost_steps += self.step - self.checkpoint_step
                self.log.event(
                    "learner_died",
                    step=self.step,
                    resumed_from=self.checkpoint_step,
                    error=str(err)[:300],
                )
                last = checkpoint.latest(self.out)
                raw = checkpoint.read(last) if last is not None else None
                self.learner = spawn_learner(ray, self.config, raw)
                self.step = self.checkpoint_step
                self.publish()
                if method == "train":
                    args = (self.buffer.sample.remote(self.config.batch_size),)

    def validate(self) -> float:
        ray = self.ray
        ref = self.workers[0].evaluate.remote(
            self.params_ref,
            self.specs,
            num_simulations=self.config.validation_simulations,
            seed=self.config.seed,
        )
        try:
            return validation_score(ray.get(ref), self.specs)
        except ray.exceptions.RayError as err:
            self.log.event("validation_failed", step=self.step, error=str(err)[:300])
            return float("nan")

    def save(self, *, final: bool = False) -> None:
        state = self.learner_call("state")
        self.step = int(np.asarray(state.step))
        self.publish()
        if (
            self.step % self.config.validate_every == 0
            or self.step >= self.config.steps
        ):
            self.score = self.validate()
            self.score_step = self.step
        meta = dict(
            self.metadata,
            validation_score=self.score,
            validation_step=self.score_step,
            validation_simulations=self.config.validation_simulations,
            train_config=checkpoint.config_dict(self.config),
            games=self.games,
            elapsed_s=time.perf_counter() - self.t0,
            total_games=self.prior_games + self.games,
            total_elapsed_s=self.prior_elapsed + time.perf_counter() - self.t0,
            hardware=hardware(),
        )
        path = checkpoint.save(
            self.out, state, net_config=self.config.net, metadata=meta
        )
        self.checkpoint_step = self.step
        self.checkpoint_path = str(path)
        self.log.event("checkpoint", step=self.step, path=str(path), score=self.score)

    def run(self) -> TrainResult:
        config = self.config
        if self.step < config.steps:
            for index in range(len(self.workers)):
                self.submit(index)
        while self.step < config.steps:
            self.harvest(block=False)
            done = (self.step - self.start_step + 1) * config.batch_size
            while (
                self.positions < config.min_replay
                or done > config.max_replay_ratio * self.positions
            ):
                self.harvest(block=True)
            sample = self.buffer.sample.remote(config.batch_size)
            metrics = self.learner_call("train", sample)
            self.step = metrics["step"]
            out_of_time = 0 < config.max_time_s < time.perf_counter() - self.t0
            if self.step % config.publish_every == 0:
                self.publish()
            last = self.step >= config.steps or out_of_time
            if self.step % config.checkpoint_every == 0 or last:
                self.save(final=last)
            self.report(metrics)
            if out_of_time:
                self.log.event("time_limit", step=self.step)
                break
        nodes = tuple(sorted(n for n in self.nodes if n))
        self.log.event(
            "end",
            step=self.step,
            games=self.games,
            nodes=nodes,
            actor_nodes=self.actor_nodes,
            worker_pids=self.worker_pids,
        )
        self.log.close()
        return TrainResult(
            out_dir=str(self.out),
            steps=self.step,
            start_step=self.start_step,
            games=self.games,
            positions=self.positions,
            elapsed_s=time.perf_counter() - self.t0,
            validation_score=self.score,
            checkpoint=self.checkpoint_path,
            worker_restarts=self.worker_restarts,
            learner_restarts=self.learner_restarts,
            lost_steps=self.lost_steps,
            nodes=nodes,
        )

    def close(self) -> None:
        """Ends this run's actors (a shared Ray instance gets its CPUs back)."""
        for handle in [*self.workers, self.learner, self.buffer]:
            try:
                self.ray.kill(handle)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def report(self, metrics: dict[str, float]) -> None:
        elapsed = time.perf_counter() - self.t0
        row = dict(
            metrics,
            step=self.step,
            elapsed_s=round(elapsed, 3),
            games=self.games,
            games_per_s=self.games / max(elapsed, 1e-9),
            simulations_per_s=self.simulations / max(elapsed, 1e-9),
            positions=self.positions,
            selfplay_cost_ratio=self.cost_ratio,
            validation_score=self.score,
            param_version=self.version,
            worker_restarts=self.worker_restarts,
            learner_restarts=self.learner_restarts,
        )
        self.log.row(row)
        if self.progress_fn is not None:
            self.progress_fn(row)
        if self.callback is not None:
            self.callback(StepEvent(self.step, metrics, self.workers, self.learner))


__all__ = ["MAX_FAILURES", "StepEvent", "TrainResult", "train"]
