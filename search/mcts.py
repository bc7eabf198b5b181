"""Tree search for one graph's order: MCTS games, keeping the cheapest order seen.

:func:`run_mcts` plays batches of Gumbel MuZero games
(:func:`search.episodes.play_episodes`) on one graph, with a trained network, a
uniform prior or a Markowitz heuristic, until its episode or time budget runs
out. Besides each game's order it checks the cheapest prefixes finished in
forward or reverse order, and returns the best order exactly as ``graphs.cost``
counts it.

Shape letters: ``B`` games, ``T`` moves.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from graphs.elimination import ElimGraph, build, cost_of
from graphs.ir import Graph
from search import game
from search.episodes import EpisodeBatch, play_episodes

#: ``progress_fn(episodes_played, best_cost)`` after each batch of episodes.
ProgressFn = Callable[[int, float], None]


class MCTSResult(NamedTuple):
    """The best order found by :func:`run_mcts`."""

    order: tuple[int, ...]  # positions in the elimination graph
    order_ids: tuple[str, ...]  # the same order as vertex ids
    cost: int  # multiplications (graphs.cost of the order)
    episodes: int  # games played to the end
    simulations: int  # search simulations run in all


def _candidate_orders(
    played: EpisodeBatch, g: ElimGraph, num_completions: int = 2
) -> list[list[int]]:
    """The orders played, and prefixes finished in forward or reverse order.

    The prefixes are the ``num_completions`` whose cost so far plus completion
    estimate is lowest; their exact cost is checked by the caller.
    """
    orders = []
    for b in range(played.actions.shape[1]):
        orders.append(played.actions[:, b][played.live[:, b]].tolist())
    if played.actions.shape[0] == 0:
        return orders
    spent = np.cumsum(played.costs, axis=0) - played.costs  # [T, B] before move t
    estimate = spent[..., None] + played.completions  # [T, B, 2]
    estimate = np.where(played.live[..., None], estimate, np.inf)
    best = np.argsort(estimate, axis=None, kind="stable")[:num_completions]
    for flat in best:
        t, b, direction = np.unravel_index(flat, estimate.shape)
        prefix = played.actions[:t, b].tolist()
        done = set(prefix)
        rest = [v for v in g.intermediates if v not in done]
        orders.append(prefix + (rest[::-1] if direction == 1 else rest))
    return orders


@functools.lru_cache(maxsize=8)
def _apply_fn_for(net_config):
    from search.net import make_network

    return make_network(net_config)[1]


def run_mcts(
    graph_or_elim: Graph | ElimGraph,
    *,
    num_simulations: int = 32,
    time_budget_s: float | None = None,
    seed: int = 0,
    params: Any = None,
    net_config: Any = None,
    num_episodes: int | None = None,
    progress_fn: ProgressFn | None = None,
    batch_size: int = 4,
    max_num_considered_actions: int = 16,
    heuristic: bool = False,
    scale: float | None = None,
) -> MCTSResult:
    """Plays MCTS games on one graph and returns the cheapest order seen.

    Games are played ``batch_size`` at a time (different Gumbel noise per game).
    Without ``num_episodes`` and ``time_budget_s`` one batch is played; with a
    budget, batches are played until it runs out (moves past it are finished by
    the greedy Markowitz rule), so only ``num_episodes`` runs are exactly
    reproducible; the same seed and ``num_episodes`` give the same order.

    Args:
      graph_or_elim: a program or structure-only graph, or its elimination graph.
      num_simulations: search simulations per move.
      time_budget_s: wall-clock budget in seconds (``None``: no limit).
      seed: the random seed.
      params: network parameters, or a ``search.net.LoadedModel`` (which brings
        its config); ``None``: uniform prior, zero values.
      net_config: the network's config (default ``search.net.NetConfig()``).
      num_episodes: games to play at most (rounded up to whole batches).
      progress_fn: ``progress_fn(episodes, best_cost)`` after each batch.
      batch_size: games searched side by side.
      max_num_considered_actions: Gumbel top-k at the root.
      heuristic: without ``params``, a Markowitz prior and the best
        forward/reverse completion as value instead of a uniform prior and 0
        (stronger without a trained network).
      scale: the reward scale, e.g. the best baseline cost when the caller knows
        it; default ``search.game.default_scale``.

    Returns:
      An :class:`MCTSResult` (cost exactly as ``graphs.cost`` counts it).

    Example:
      >>> result = run_mcts(graph, num_simulations=16, num_episodes=4, seed=0)
      >>> result.order_ids, result.cost
    """
    g = graph_or_elim if isinstance(graph_or_elim, ElimGraph) else build(graph_or_elim)
    if not g.intermediates:
        return MCTSResult((), (), 0, 0, 0)
    if hasattr(params, "params") and hasattr(params, "config"):
        params, net_config = params.params, params.config  # a net.LoadedModel
    apply_fn = None
    if params is not None:
        from search.net import NetConfig

        apply_fn = _apply_fn_for(net_config or NetConfig())
    start = time.perf_counter()
    deadline = None if time_budget_s is None else start + time_budget_s
    if num_episodes is None and time_budget_s is None:
        num_episodes = batch_size
    state = game.encode(g, scale=scale)
    batch = game.stack([state] * batch_size)
    rng_key = jax.random.key(seed)
    best_order: list[int] | None = None
    best_cost = np.inf
    episodes = simulations = 0
    while num_episodes is None or episodes < num_episodes:
        if best_order is not None and deadline is not None:
            if time.perf_counter() >= deadline:
                break
        rng_key, play_key = jax.random.split(rng_key)
        played = play_episodes(
            batch,
            params=params,
            apply_fn=apply_fn,
            rng_key=play_key,
            num_simulations=num_simulations,
            max_num_considered_actions=max_num_considered_actions,
            record_observations=False,
            deadline=deadline,
            heuristic=heuristic,
        )
        episodes += batch_size
        simulations += int(played.searched.sum()) * num_simulations
        for order in _candidate_orders(played, g):
            found = cost_of(g, order).multiplications
            if found < best_cost:
                best_cost, best_order = float(found), order
        if progress_fn is not None:
            progress_fn(episodes, best_cost)
    assert best_order is not None
    report = cost_of(g, best_order)
    return MCTSResult(
        order=tuple(best_order),
        order_ids=tuple(g.ids[v] for v in best_order),
        cost=int(report.multiplications),
        episodes=episodes,
        simulations=simulations,
    )


__all__ = ["MCTSResult", "run_mcts"]
