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

import csv
import dataclasses
import json
import os
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from search import checkpoint
from search.corpus import CorpusConfig, validation_score, validation_specs
from search.learner import LearnerConfig, LearnerShell
from search.selfplay import ReplayBuffer, SelfPlayConfig, SelfPlayWorker

#: Consecutive failed self-play batches (or learner deaths) before giving up.
MAX_FAILURES = 20

LOG_FIELDS = (
    "step",
    "elapsed_s",
    "loss",
    "policy_loss",
    "value_loss",
    "entropy",
    "target_entropy",
    "kl",
    "grad_norm",
    "games",
    "games_per_s",
    "simulations_per_s",
    "positions",
    "selfplay_cost_ratio",
    "validation_score",
    "param_version",
    "worker_restarts",
    "learner_restarts",
)


def _default_net_config():
    from search.net import NetConfig

    return NetConfig()


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A training run.

    Attributes:
      steps: learner steps in total (a resumed run continues up to this).
      batch_size: positions per learner step.
      num_workers: self-play actors.
      publish_every: learner steps between parameter versions (K).
      checkpoint_every: learner steps between checkpoints.
      validate_every: learner steps between validation scores (also measured at
        the last step); checkpoints carry the newest score and its step.
      min_replay: positions in the buffer before the first step.
      replay_capacity: positions kept per bucket.
      max_replay_ratio: at most this many sampled positions per self-played
        position; the learner waits for new games beyond it.
      validation_simulations: MCTS simulations per move for the validation score.
      max_time_s: stop (with a checkpoint and a validation score) after this many
        seconds of this call; 0 means no limit.
      seed: base seed of corpus sampling, MCTS and initialisation.
      learner, selfplay, net: the parts' configurations.
    """

    steps: int = 1000
    batch_size: int = 64
    num_workers: int = 2
    publish_every: int = 5
    checkpoint_every: int = 10
    validate_every: int = 50
    min_replay: int = 128
    replay_capacity: int = 20_000
    max_replay_ratio: float = 8.0
    validation_simulations: int = 8
    max_time_s: float = 0.0
    seed: int = 0
    learner: LearnerConfig = dataclasses.field(default_factory=LearnerConfig)
    selfplay: SelfPlayConfig = dataclasses.field(default_factory=SelfPlayConfig)
    net: Any = dataclasses.field(default_factory=_default_net_config)


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuilds a (nested) frozen config dataclass from its ``asdict`` form."""
    if cls is Any:
        from search.net import NetConfig

        cls = NetConfig
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value, hint = data[field.name], hints[field.name]
        if field.name == "net" and cls is TrainConfig:
            from search.net import NetConfig

            hint = NetConfig
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[field.name] = value
    return cls(**kwargs)


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


def _connect(address: str | None, num_workers: int) -> bool:
    """Connects to (or starts) Ray; returns whether this call started it."""
    import ray

    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    if ray.is_initialized():
        return False
    if address in (None, "", "local"):
        ray.init(
            num_cpus=max(num_workers, 1),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    else:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return True


def _actor_env() -> dict[str, str]:
    """Environment of the actors: one XLA thread each, so that self-play actors
    scale with cores instead of fighting over them, and a persistent compilation
    cache, so that restarted and resumed actors skip recompiling the search."""
    cache = os.environ.get(
        "JAX_COMPILATION_CACHE_DIR",
        str(Path.home() / ".cache" / "ccelim" / "jax-compilation-cache"),
    )
    return {
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false "
        "intra_op_parallelism_threads=1",
        "JAX_COMPILATION_CACHE_DIR": cache,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "1",
        "RAY_DISABLE_USAGE_STATS": "1",
    }


def _spawn_workers(ray, config: TrainConfig, count: int, first: int = 0):
    # Ray restarts a dead actor and retries its pending calls on the new process
    # (a batch of games is safe to replay); the loop sees the restart as a new pid.
    actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(SelfPlayWorker)
    return [
        actor.options(
            scheduling_strategy="SPREAD", runtime_env={"env_vars": _actor_env()}
        ).remote(
            net_config=config.net,
            config=config.selfplay,
            seed=config.seed,
            index=first + i,
        )
        for i in range(count)
    ]


def _spawn_learner(ray, config: TrainConfig, raw: dict | None):
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    actor = ray.remote(num_cpus=0, num_gpus=gpus, max_restarts=0)(LearnerShell)
    env = {k: v for k, v in _actor_env().items() if k != "XLA_FLAGS"}
    return actor.options(runtime_env={"env_vars": env}).remote(
        net_config=config.net,
        learner_config=config.learner,
        seed=config.seed,
        raw_checkpoint=raw,
    )


class _Log:
    """CSV (one row per step) and JSON-lines (events) logs of a run directory."""

    def __init__(self, out_dir: Path):
        self.csv_path = out_dir / "log.csv"
        self.events_path = out_dir / "events.jsonl"
        fresh = not self.csv_path.exists()
        self._csv = open(self.csv_path, "a", newline="")  # noqa: SIM115
        self._writer = csv.DictWriter(self._csv, LOG_FIELDS, extrasaction="ignore")
        if fresh:
            self._writer.writeheader()

    def row(self, values: dict[str, Any]) -> None:
        self._writer.writerow(values)
        self._csv.flush()

    def event(self, kind: str, **fields: Any) -> None:
        with open(self.events_path, "a") as handle:
            record = {"time": time.time(), "event": kind, **fields}
            handle.write(json.dumps(record, default=str) + "\n")

    def close(self) -> None:
        self._csv.close()


def _hardware() -> dict[str, Any]:
    import platform

    import jax

    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax_backend": jax.default_backend(),
    }


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
    started = _connect(address, config.num_workers)
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
        self.log = _Log(out)
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
        self.learner = _spawn_learner(ray, config, raw)
        self.publish()
        self.workers = _spawn_workers(ray, config, config.num_workers)
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
                self.learner = _spawn_learner(ray, self.config, raw)
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
            hardware=_hardware(),
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


def resume_config(out_dir: str | os.PathLike, **overrides: Any) -> TrainConfig:
    """The configuration stored in a run's newest checkpoint, with ``overrides``.

    Raises:
      FileNotFoundError: when the directory holds no checkpoint.
    """
    last = checkpoint.latest(out_dir)
    if last is None:
        raise FileNotFoundError(
            f"no checkpoint (ckpt_<step>.msgpack) in {out_dir}; "
            "start a run with --out first"
        )
    stored = checkpoint.read_metadata(last)["train_config"]
    config = config_from_dict(TrainConfig, stored)
    return dataclasses.replace(config, **overrides)


def export_model(
    checkpoint_path: str | os.PathLike,
    model_path: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Writes a checkpoint's parameters as a ``search.net`` model file.

    The model file (what ``search.net.load_params`` reads, e.g. the shipped
    ``search/models/default.msgpack``) keeps the network config and the run's
    metadata: step, validation score, command, hardware, time and versions, plus
    ``metadata`` (JSON-able) when given.
    """
    from search.net import NetConfig, save_params
    from search.selfplay import network_fns

    raw = checkpoint.read(checkpoint_path)
    meta = raw["metadata"]
    net_config = config_from_dict(NetConfig, meta["net_config"])
    init_params, _ = network_fns(net_config)
    params = checkpoint.decode_tree(
        raw["params"], init_params(0), what=f"{checkpoint_path} params"
    )
    keep = (
        "step",
        "validation_score",
        "validation_simulations",
        "command",
        "hardware",
        "elapsed_s",
        "games",
        "total_elapsed_s",
        "total_games",
        "versions",
        "train_config",
    )
    info = {k: meta[k] for k in keep if k in meta}
    info["checkpoint"] = Path(checkpoint_path).name
    info.update(metadata or {})
    return save_params(model_path, params, net_config, metadata=info)


__all__ = [
    "LOG_FIELDS",
    "CorpusConfig",
    "LearnerShell",
    "StepEvent",
    "TrainConfig",
    "TrainResult",
    "config_from_dict",
    "export_model",
    "resume_config",
    "train",
]
