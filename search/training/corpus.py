"""The training corpus and the fixed held-out validation set.

Training graphs are drawn from three sources: random JAX programs of controllable
size and kind (``graphs.random_programs.random_program``), random structure-only
DAGs (``graphs.random_programs.random_dag``) and the benchmark tasks
(``graphs.tasks.TASKS``) small enough for the configured bucket. A graph is named
by a :class:`GraphSpec` (source, seed, size, kind), which is cheap to send to a
self-play actor and rebuilds the same graph anywhere.

The validation set is a fixed list of specs whose seeds lie in a reserved range
that the training sampler never draws (``VALIDATION_SEED_BASE`` and up). The
validation score of a search is ``mean(cost / best_baseline_cost)`` over it: 1.0
matches the best classic heuristic, lower is better.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from graphs.elimination import ElimGraph, build
from graphs.ir import Graph
from search.core import best_baseline_cost

#: Training seeds are drawn below this; validation seeds start here.
VALIDATION_SEED_BASE = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class GraphSpec:
    """A recipe for one corpus graph.

    Attributes:
      source: ``"program"`` (random JAX program), ``"dag"`` (random structure-only
        DAG) or ``"task"`` (a benchmark task).
      seed: the generator seed (unused for tasks).
      size: operations (programs) or intermediates (DAGs).
      kind: the program kind (``"scalar"``, ``"vector"``, ``"matrix"``, ``"mixed"``)
        or the task's name.
    """

    source: str
    seed: int = 0
    size: int = 0
    kind: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class CorpusConfig:
    """What the training sampler draws.

    Attributes:
      min_size, max_size: operations / intermediates of random graphs (inclusive).
      kinds: program kinds to mix.
      dag_fraction: share of random structure-only DAGs.
      task_fraction: share of benchmark tasks (those with at most ``max_vertices``).
      max_vertices: graphs with more vertices are redrawn, which keeps the game in
        few compiled buckets.
      num_validation: size of the held-out validation set.
    """

    min_size: int = 6
    max_size: int = 20
    kinds: tuple[str, ...] = ("scalar", "vector", "matrix", "mixed")
    dag_fraction: float = 0.0
    task_fraction: float = 0.05
    max_vertices: int = 32
    num_validation: int = 12


def graph_of(spec: GraphSpec) -> Graph:
    """Builds the graph a spec names (deterministic)."""
    return _graph_of(spec)


@functools.lru_cache(maxsize=512)
def _graph_of(spec: GraphSpec) -> Graph:
    if spec.source == "task":
        from graphs.tasks import TASKS

        return TASKS[spec.kind].graph()
    from graphs import random_programs

    if spec.source == "program":
        from graphs.trace import trace

        fn, args = random_programs.random_program(
            spec.seed, num_ops=spec.size, kind=spec.kind
        )
        return trace(fn, *args)
    if spec.source == "dag":
        rng = np.random.default_rng(spec.seed)
        return random_programs.random_dag(
            spec.seed,
            num_intermediates=spec.size,
            num_inputs=int(rng.integers(2, 6)),
            num_outputs=int(rng.integers(1, 4)),
        )
    raise ValueError(
        f"unknown graph source {spec.source!r}; expected 'program', 'dag' or 'task'"
    )


@functools.lru_cache(maxsize=512)
def elim_of(spec: GraphSpec) -> ElimGraph:
    """The elimination graph of a spec (memoised per process)."""
    return build(graph_of(spec))


@functools.lru_cache(maxsize=512)
def best_cost(spec: GraphSpec) -> int:
    """The best baseline's cost of a spec's graph (at least 1; ``search.core``)."""
    return best_baseline_cost(elim_of(spec))


@functools.lru_cache(maxsize=8)
def small_tasks(max_vertices: int) -> tuple[str, ...]:
    """Names of benchmark tasks with at least one and at most ``max_vertices``."""
    try:
        from graphs.tasks import TASKS
    except ImportError:
        return ()
    names = []
    for name, task in sorted(TASKS.items()):
        try:
            g = build(task.graph())
        except Exception:  # noqa: BLE001 - a task that fails to trace is skipped
            continue
        if g.intermediates and len(g.ids) <= max_vertices:
            names.append(name)
    return tuple(names)


def _random_spec(rng: np.random.Generator, config: CorpusConfig, seed: int):
    size = int(rng.integers(config.min_size, config.max_size + 1))
    if config.dag_fraction > 0 and rng.random() < config.dag_fraction:
        return GraphSpec("dag", seed, size, "")
    kind = str(config.kinds[int(rng.integers(len(config.kinds)))])
    return GraphSpec("program", seed, size, kind)


def _fits(spec: GraphSpec, max_vertices: int) -> bool:
    try:
        g = elim_of(spec)
        best_cost(spec)  # the baselines must run on it too (the reward scale)
    except Exception:  # noqa: BLE001 - a generator failure is redrawn, not fatal
        return False
    return bool(g.intermediates) and len(g.ids) <= max_vertices


def sample_specs(
    rng: np.random.Generator, config: CorpusConfig, count: int
) -> list[GraphSpec]:
    """Draws ``count`` training specs; never a validation seed.

    Args:
      rng: the random source (advanced).
      config: what to draw.
      count: how many.

    Returns:
      Specs whose graphs have between 1 intermediate and ``config.max_vertices``
      vertices.
    """
    tasks = small_tasks(config.max_vertices) if config.task_fraction > 0 else ()
    specs: list[GraphSpec] = []
    while len(specs) < count:
        if tasks and rng.random() < config.task_fraction:
            specs.append(GraphSpec("task", 0, 0, tasks[int(rng.integers(len(tasks)))]))
            continue
        seed = int(rng.integers(0, VALIDATION_SEED_BASE))
        spec = _random_spec(rng, config, seed)
        if _fits(spec, config.max_vertices):
            specs.append(spec)
    return specs


def validation_specs(config: CorpusConfig) -> tuple[GraphSpec, ...]:
    """The fixed held-out validation set (seeds at and above the reserved base).

    The same config always gives the same list; training never draws these seeds.
    """
    rng = np.random.default_rng(20260101)
    specs: list[GraphSpec] = []
    seed = VALIDATION_SEED_BASE
    while len(specs) < config.num_validation:
        spec = _random_spec(rng, config, seed)
        seed += 1
        if _fits(spec, config.max_vertices):
            specs.append(spec)
    return tuple(specs)


def validation_score(costs: Sequence[float], specs: Sequence[GraphSpec]) -> float:
    """``mean(cost / best_baseline_cost)`` (1.0 = best heuristic, lower is better)."""
    if len(costs) != len(specs):
        raise ValueError(f"expected {len(specs)} costs, got {len(costs)}")
    return float(np.mean([c / best_cost(s) for c, s in zip(costs, specs, strict=True)]))


__all__ = [
    "VALIDATION_SEED_BASE",
    "CorpusConfig",
    "GraphSpec",
    "best_cost",
    "elim_of",
    "graph_of",
    "sample_specs",
    "small_tasks",
    "validation_score",
    "validation_specs",
]
