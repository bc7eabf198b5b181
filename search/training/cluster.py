"""Ray plumbing of a training run: joining a cluster and spawning its actors.

:func:`connect` joins (or starts) Ray; :func:`spawn_workers` starts restartable
self-play actors spread over the nodes and :func:`spawn_learner` the learner
actor (on a GPU when the cluster has one). :func:`actor_env` is the environment
they run in: one XLA thread per self-play actor and a shared persistent
compilation cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from search.training.learner import LearnerShell
from search.training.selfplay import SelfPlayWorker
from search.training.trainconfig import TrainConfig


def connect(address: str | None, num_workers: int) -> bool:
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


def actor_env() -> dict[str, str]:
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


def spawn_workers(ray, config: TrainConfig, count: int, first: int = 0) -> list:
    """Starts ``count`` self-play actors (numbered from ``first``), spread over nodes.

    Args:
      ray: the ``ray`` module (imported by the caller, after :func:`connect`).
      config: the run's configuration (network, self-play and seed).
      count: actors to start.
      first: the first actor's index (each index seeds a distinct game stream).

    Returns:
      The actor handles.
    """
    # Ray restarts a dead actor and retries its pending calls on the new process
    # (a batch of games is safe to replay); the loop sees the restart as a new pid.
    actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(SelfPlayWorker)
    return [
        actor.options(
            scheduling_strategy="SPREAD", runtime_env={"env_vars": actor_env()}
        ).remote(
            net_config=config.net,
            config=config.selfplay,
            seed=config.seed,
            index=first + i,
        )
        for i in range(count)
    ]


def spawn_learner(ray, config: TrainConfig, raw: dict | None) -> Any:
    """Starts the learner actor, on a GPU when the cluster has one.

    Args:
      ray: the ``ray`` module.
      config: the run's configuration (network, learner and seed).
      raw: a checkpoint as ``search.training.checkpoint.read`` returns it, to continue
        from, or ``None`` for fresh parameters.

    Returns:
      The actor handle.
    """
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    actor = ray.remote(num_cpus=0, num_gpus=gpus, max_restarts=0)(LearnerShell)
    env = {k: v for k, v in actor_env().items() if k != "XLA_FLAGS"}
    return actor.options(runtime_env={"env_vars": env}).remote(
        net_config=config.net,
        learner_config=config.learner,
        seed=config.seed,
        raw_checkpoint=raw,
    )


__all__ = ["actor_env", "connect", "spawn_learner", "spawn_workers"]
