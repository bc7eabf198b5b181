"""Expert labelling and the learner of the constructive policy (``search.policy``).

The expert is the portfolio without any network (``search.optimize`` with
``methods=("baselines", "exact", "local")``) given a few seconds per graph. Its
order is replayed through :class:`search.policy.PolicyState`; at a sample of the
steps the example is every remaining intermediate's feature row and, as the
target, the row of the vertex the expert eliminated there (cross-entropy over
the legal vertices). A learner (optax Adam, one jitted ``train_step``) fits the
scores; the model file records the command, time, hardware and versions.

Shape letters: ``R`` packed rows, ``B`` steps in a batch, ``F`` features.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from graphs.elimination import ElimGraph
from search.net_policy import (
    HAIKU_VERSION,
    params_to_weights,
    policy_network,
    save_policy,
)
from search.policy import NUM_FEATURES, PolicyState
from search.training.corpus import VALIDATION_SEED_BASE, GraphSpec, elim_of


class Example(NamedTuple):
    """One expert step.

    Attributes:
      rows: ``[M, F]`` float32 feature rows of the M remaining intermediates.
      target: index into ``rows`` of the vertex the expert eliminated.
    """

    rows: np.ndarray
    target: int


class Batch(NamedTuple):
    """Examples packed into fixed shapes.

    Attributes:
      rows: ``[R, F]`` float32, the examples' rows one after another, then zeros.
      segment: ``[R]`` int32, the example of each row (padding: ``B``, dropped).
      target: ``[B]`` int32, the row of each example's target.
      weight: ``[B]`` float32, 1 for an example, 0 for padding.
    """

    rows: np.ndarray
    segment: np.ndarray
    target: np.ndarray
    weight: np.ndarray


class PolicyTrainState(NamedTuple):
    params: Any
    opt_state: Any
    step: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExpertConfig:
    """What :func:`train_policy` does.

    Attributes:
      num_graphs: training graphs (random scalar DAGs and scalar programs).
      min_size, max_size: intermediates of the DAGs (log-uniform), operations of
        the programs (at most ``max_program_size``).
      program_fraction: share of random scalar JAX programs.
      max_program_size: operations of the largest program (tracing is slow).
      expert_s_per_1000: the expert's budget per 1,000 intermediates, on top of
        ``expert_min_s``; at most ``expert_max_s``.
      steps_per_graph: expert steps sampled from each graph's order.
      num_updates, batch_steps, learning_rate: the learner (updates a round).
      rounds: expert-iteration rounds (:func:`train_policy`).
      hidden: the network's hidden sizes.
      seed: drawing the corpus (seeds below ``VALIDATION_SEED_BASE``) and the init.
    """

    num_graphs: int = 48
    min_size: int = 20
    max_size: int = 2000
    program_fraction: float = 0.25
    max_program_size: int = 300
    expert_min_s: float = 1.0
    expert_s_per_1000: float = 2.0
    expert_max_s: float = 5.0
    steps_per_graph: int = 64
    num_updates: int = 1000
    rounds: int = 2
    batch_steps: int = 16
    learning_rate: float = 1e-3
    hidden: tuple[int, ...] = (32, 32)
    seed: int = 0


def training_specs(config: ExpertConfig) -> list[GraphSpec]:
    """The training graphs: seeds drawn below ``VALIDATION_SEED_BASE``.

    DAGs vary their shape too: ``kind`` is ``"<inputs>,<outputs>,<max_preds>"``
    (2-16 inputs, 1-8 outputs, 2-5 operands), read by :func:`graph_of_spec`.
    """
    rng = np.random.default_rng([config.seed, 14])
    specs = []
    lo, hi = np.log(config.min_size), np.log(config.max_size)
    for _ in range(config.num_graphs):
        seed = int(rng.integers(0, VALIDATION_SEED_BASE))
        size = int(np.exp(rng.uniform(lo, hi)))
        if rng.random() < config.program_fraction:
            spec = GraphSpec(
                "program", seed, min(size, config.max_program_size), "scalar"
            )
        else:
            shape = (rng.integers(2, 17), rng.integers(1, 9), rng.integers(2, 6))
            spec = GraphSpec("dag", seed, size, ",".join(str(int(k)) for k in shape))
        specs.append(spec)
    return specs


def graph_of_spec(spec: GraphSpec) -> ElimGraph:
    """The elimination graph of a :func:`training_specs` spec."""
    if spec.source != "dag" or not spec.kind:
        return elim_of(spec)
    from graphs.elimination import build
    from graphs.random_programs import random_dag

    inputs, outputs, max_preds = (int(k) for k in spec.kind.split(","))
    return build(
        random_dag(
            spec.seed,
            num_intermediates=spec.size,
            num_inputs=inputs,
            num_outputs=outputs,
            max_preds=max_preds,
        )
    )


def expert_order(
    g: ElimGraph, budget_s: float, *, seed: int = 0, policy: Any = None
) -> tuple[list[int], float]:
    """The portfolio's order of ``g`` (positions) and its cost over the best
    baseline's: without any network, or
    with ``policy`` (``search.policy.PolicyWeights``) seeding it."""
    from search.optimize import optimize

    methods = ("baselines", "exact", "local") + (("policy",) if policy else ())
    result = optimize(
        g, time_budget_s=budget_s, seed=seed, methods=methods, policy=policy
    )
    index = {vid: i for i, vid in enumerate(g.ids)}
    return [index[v] for v in result.order], result.cost / max(result.best_baseline, 1)


def examples_of(
    g: ElimGraph, order: Sequence[int], *, max_steps: int, rng: np.random.Generator
) -> list[Example]:
    """Expert examples at up to ``max_steps`` steps of ``order`` (positions).

    The rows at step ``t`` are those of the state after ``order[:t]``, in
    position order; the target is ``order[t]``'s row among them.
    """
    n = len(order)
    steps = np.arange(n) if n <= max_steps else rng.choice(n, max_steps, replace=False)
    wanted = set(int(t) for t in steps)
    state = PolicyState(g)
    out = []
    for t, v in enumerate(order):
        if t in wanted:
            legal = np.flatnonzero(state.remaining)
            target = int(np.searchsorted(legal, v))
            if target >= len(legal) or legal[target] != v:
                raise ValueError(f"order step {t} eliminates {v}, which is not legal")
            out.append(Example(state.rows(legal), target))
        state.eliminate(v)
    return out


def pack(examples: Sequence[Example], num_rows: int, num_steps: int) -> Batch:
    """Packs examples into a :class:`Batch` (``num_rows`` rows, ``num_steps`` steps)."""
    rows = np.zeros((num_rows, NUM_FEATURES), np.float32)
    segment = np.full(num_rows, num_steps, np.int32)
    target = np.zeros(num_steps, np.int32)
    weight = np.zeros(num_steps, np.float32)
    at = 0
    for b, ex in enumerate(examples):
        m = len(ex.rows)
        if at + m > num_rows or b >= num_steps:
            raise ValueError(f"examples need more than {num_rows} rows / {num_steps}")
        rows[at : at + m] = ex.rows
        segment[at : at + m] = b
        target[b] = at + ex.target
        weight[b] = 1.0
        at += m
    return Batch(rows, segment, target, weight)


def make_loss(hidden: tuple[int, ...]) -> Callable[[Any, Batch], jax.Array]:
    """``loss(params, batch)``: mean cross-entropy of the targets over legal rows."""
    _, apply = policy_network(hidden)

    def loss(params, batch: Batch) -> jax.Array:
        num_steps = batch.target.shape[0]
        scores = apply(params, batch.rows)
        top = jax.ops.segment_max(scores, batch.segment, num_segments=num_steps + 1)
        top = jax.lax.stop_gradient(jnp.where(jnp.isfinite(top), top, 0.0))
        shifted = jnp.exp(scores - top[batch.segment])
        total = jax.ops.segment_sum(shifted, batch.segment, num_segments=num_steps + 1)
        lse = jnp.log(jnp.maximum(total[:num_steps], 1e-30)) + top[:num_steps]
        nll = lse - scores[batch.target]
        return jnp.sum(nll * batch.weight) / jnp.maximum(batch.weight.sum(), 1.0)

    return loss


def make_learner(config: ExpertConfig):
    """``(init_fn(rng_key) -> PolicyTrainState, train_step, loss_fn)``; jit the step."""
    init_net, _ = policy_network(config.hidden)
    optimizer = optax.adam(config.learning_rate)
    loss = make_loss(config.hidden)

    def init_fn(rng_key) -> PolicyTrainState:
        params = init_net(rng_key, jnp.zeros((1, NUM_FEATURES), jnp.float32))
        return PolicyTrainState(params, optimizer.init(params), 0)

    def train_step(state: PolicyTrainState, batch: Batch):
        value, grads = jax.value_and_grad(loss)(state.params, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return PolicyTrainState(params, opt_state, state.step + 1), {"loss": value}

    return init_fn, train_step, loss


def _bucket(rows: int) -> int:
    return 1 << max(10, int(np.ceil(np.log2(max(rows, 1)))))


def batches(examples: Sequence[Example], config: ExpertConfig, rng) -> Batch:
    """One random batch of ``config.batch_steps`` examples, rows padded to 2^k."""
    pick = rng.choice(len(examples), min(config.batch_steps, len(examples)), False)
    chosen = [examples[i] for i in pick]
    return pack(chosen, _bucket(sum(len(e.rows) for e in chosen)), config.batch_steps)


def mean_loss(loss_fn, params, examples, config: ExpertConfig) -> float:
    """Mean loss over ``examples`` in batches (their order)."""
    values, weights = [], []
    for i in range(0, len(examples), config.batch_steps):
        chunk = examples[i : i + config.batch_steps]
        batch = pack(
            chunk, _bucket(sum(len(e.rows) for e in chunk)), config.batch_steps
        )
        values.append(float(loss_fn(params, batch)))
        weights.append(len(chunk))
    return float(np.average(values, weights=weights)) if values else float("nan")


def hardware() -> dict[str, Any]:
    """Where training ran: devices, CPU count, platform."""
    return {
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "haiku": HAIKU_VERSION,
        "optax": optax.__version__,
        "numpy": np.__version__,
    }


def train_policy(
    config: ExpertConfig,
    out_path: str | Path,
    *,
    command: str = "",
    log_fn: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Expert iteration: label, fit, and label again with the policy's help.

    Round 0's expert is the portfolio without any network; from round 1 on the
    portfolio also gets the current policy's order (``methods`` with
    ``"policy"``), so its orders can only get better; each round labels new
    graphs, the examples accumulate and the learner continues. Every eighth
    graph's examples are held out of the updates (the held-out loss).

    Returns:
      The metadata written into the model file (losses, timings, corpus).
    """
    started = time.time()
    rng = np.random.default_rng([config.seed, 15])
    init_fn, train_step, loss_fn = make_learner(config)
    step_fn = jax.jit(train_step)
    eval_fn = jax.jit(loss_fn)
    state = init_fn(jax.random.key(config.seed))
    examples: list[Example] = []
    held: list[Example] = []
    labelled, rounds = [], []
    label_s = learn_s = 0.0
    for r in range(config.rounds):
        policy = params_to_weights(state.params) if r else None
        t0 = time.perf_counter()
        ratios = []
        specs = training_specs(dataclasses.replace(config, seed=config.seed + 7919 * r))
        for i, spec in enumerate(specs):
            try:
                g = graph_of_spec(spec)
            except Exception as err:  # noqa: BLE001 - a generator failure is skipped
                log_fn(f"skip {spec}: {type(err).__name__}")
                continue
            n = len(g.intermediates)
            if n < 2 or not g.is_scalar:
                continue
            budget = min(
                config.expert_max_s,
                config.expert_min_s + config.expert_s_per_1000 * n / 1000,
            )
            order, ratio = expert_order(g, budget, seed=i, policy=policy)
            found = examples_of(g, order, max_steps=config.steps_per_graph, rng=rng)
            (held if i % 8 == 7 else examples).extend(found)
            ratios.append(ratio)
            labelled.append(
                {"round": r, "source": spec.source, "seed": spec.seed, "n": n}
            )
            log_fn(
                f"round {r} [{i + 1}/{len(specs)}] {spec.source} n={n} "
                f"expert {budget:.1f}s: {ratio:.3f} x best baseline"
            )
        label_s += time.perf_counter() - t0
        before = mean_loss(eval_fn, state.params, held, config)
        t1 = time.perf_counter()
        for k in range(config.num_updates):
            state, metrics = step_fn(state, batches(examples, config, rng))
            if (k + 1) % 250 == 0:
                log_fn(f"update {k + 1}: batch loss {float(metrics['loss']):.4f}")
        learn_s += time.perf_counter() - t1
        after = mean_loss(eval_fn, state.params, held, config)
        rounds.append(
            {
                "round": r,
                "expert_cost_over_best_baseline": float(np.mean(ratios)),
                "held_out_loss_before": before,
                "held_out_loss_after": after,
                "train_loss_after": mean_loss(eval_fn, state.params, examples, config),
            }
        )
        log_fn(f"round {r}: {rounds[-1]}")
    metadata = {
        "command": command,
        "started_unix": started,
        "label_seconds": round(label_s, 1),
        "learn_seconds": round(learn_s, 1),
        "hardware": hardware(),
        "versions": versions(),
        "config": dataclasses.asdict(config),
        "corpus": labelled,
        "num_examples": len(examples),
        "num_held_out_examples": len(held),
        "rounds": rounds,
        "expert": "search.optimize(methods=('baselines', 'exact', 'local')"
        " [+ 'policy' from round 1])",
    }
    save_policy(out_path, state.params, hidden=config.hidden, metadata=metadata)
    return metadata
