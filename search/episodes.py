"""Gumbel MuZero games on the elimination game (mctx), played move by move.

Each move runs ``mctx.gumbel_muzero_policy`` from the current states of ``B``
games, with the real :func:`search.game.step` as the model (``recurrent_fn``) and
the policy/value network (:mod:`search.net`) for priors and values, or a uniform
prior and zero values when there are no parameters. The chosen action is then
played on the real states. :func:`play_episodes` returns everything self-play
training needs (positions, search action weights, actions, costs, scaled
returns-to-go); :class:`Player` holds one network's apply function for it.

Shape letters: ``B`` games, ``T`` moves, ``N`` vertices (the bucket).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import mctx
import numpy as np

from search import game, heuristics
from search.game import GameState
from search.masking import masked_logits

#: Prior logits of the heuristic are ``-k * log1p(markowitz)`` with this ``k``
#: (3 beat 0 and 1 on random DAGs of 60-100 intermediates at 32 simulations).
HEURISTIC_PRIOR_SHARPNESS = 3.0


class EpisodeBatch(NamedTuple):
    """``B`` games played to the end, time-major (move ``t`` of game ``b``).

    Rows past the end of a game (``live`` false) hold no-op moves: weights,
    costs and returns are 0 there.
    """

    observations: GameState | None  # leaves [T, B, ...]: states before each move
    actions: np.ndarray  # [T, B] int32: the vertex eliminated
    action_weights: np.ndarray  # [T, B, N] float32: search policy (policy target)
    costs: np.ndarray  # [T, B] float64: multiplications of each move
    returns: np.ndarray  # [T, B] float32: scaled return-to-go -sum(costs[t:])/scale
    live: np.ndarray  # [T, B] bool: the game still had a legal move
    searched: np.ndarray  # [T, B] bool: the move came from a search (else greedy)
    completions: np.ndarray  # [T, B, 2] float64: forward, reverse completion
    #   cost estimates from the state before each move (heuristics.completion_costs)
    total_costs: np.ndarray  # [B] float64: multiplications of the whole game
    scales: np.ndarray  # [B] float64: each game's cost scale


def _completion_value(states: GameState) -> jax.Array:
    """``[B]`` ``-min(forward, reverse completion cost) / scale``."""
    forward, reverse = jax.vmap(heuristics.completion_costs)(states)
    return (-jnp.minimum(forward, reverse) / states.scale).astype(jnp.float32)


def _evaluate(apply_fn, params, states: GameState, heuristic: bool = False):
    """Masked prior logits ``[B, N]`` and values ``[B]``.

    Without a network: a uniform prior and values 0 or, with ``heuristic``, a
    prior that favours low Markowitz cost and the scaled cost of the better of
    the forward and reverse completions as the value.
    """
    legal = jax.vmap(game.legal_mask)(states)
    if apply_fn is None or params is None:
        logits = jnp.zeros(legal.shape, jnp.float32)
        value = jnp.zeros(legal.shape[:1], jnp.float32)
        if heuristic:
            markowitz = jax.vmap(heuristics.markowitz)(states)
            logits = -HEURISTIC_PRIOR_SHARPNESS * jnp.log1p(markowitz)
            logits = logits.astype(jnp.float32)
            value = _completion_value(states)
    else:
        logits, value = apply_fn(params, states)
        logits, value = logits.astype(jnp.float32), value.astype(jnp.float32)
    logits = masked_logits(logits, legal)
    value = jnp.where(legal.any(-1), value, 0.0)
    return logits, value


def _recurrent_fn(apply_fn, heuristic: bool):
    def recurrent_fn(params, rng_key, action, states: GameState):
        del rng_key
        new, cost = jax.vmap(game._step)(states, action)
        reward = (-cost / states.scale).astype(jnp.float32)
        logits, value = _evaluate(apply_fn, params, new, heuristic)
        done = jax.vmap(game.is_terminal)(new)
        discount = jnp.where(done, 0.0, 1.0).astype(jnp.float32)
        output = mctx.RecurrentFnOutput(
            reward=reward, discount=discount, prior_logits=logits, value=value
        )
        return output, new

    return recurrent_fn


@functools.lru_cache(maxsize=32)
def _move_fn(
    apply_fn, num_simulations: int, max_num_considered_actions: int, heuristic: bool
):
    """Jitted ``move(params, rng_key, states) -> (states, action, weights, cost, live)``."""
    recurrent_fn = _recurrent_fn(apply_fn, heuristic)

    def move(params, rng_key, states: GameState):
        legal = jax.vmap(game.legal_mask)(states)
        live = legal.any(-1)
        logits, value = _evaluate(apply_fn, params, states, heuristic)
        root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=states)
        output = mctx.gumbel_muzero_policy(
            params,
            rng_key,
            root,
            recurrent_fn,
            num_simulations=num_simulations,
            invalid_actions=jnp.where(live[:, None], ~legal, False),
            max_num_considered_actions=max_num_considered_actions,
        )
        action = output.action.astype(jnp.int32)
        new, cost = jax.vmap(game._step)(states, action)
        weights = jnp.where(live[:, None], output.action_weights, 0.0)
        return new, action, weights, jnp.where(live, cost, 0), live

    return jax.jit(move)


@jax.jit
def _completions(states: GameState) -> jax.Array:
    forward, reverse = jax.vmap(heuristics.completion_costs)(states)
    return jnp.stack([forward, reverse], axis=-1)


@jax.jit
def _greedy_move(states: GameState):
    """The lowest-Markowitz legal move of every game, played without search."""
    legal = jax.vmap(game.legal_mask)(states)
    live = legal.any(-1)
    score = jnp.where(legal, jax.vmap(heuristics.markowitz)(states), jnp.inf)
    action = jnp.argmin(score, axis=-1).astype(jnp.int32)
    new, cost = jax.vmap(game._step)(states, action)
    weights = jnp.zeros(legal.shape, jnp.float32)
    return new, action, weights, jnp.where(live, cost, 0), live


def play_episodes(
    states: GameState,
    *,
    params: Any = None,
    apply_fn: Callable | None = None,
    rng_key: jax.Array,
    num_simulations: int = 32,
    max_num_considered_actions: int = 16,
    record_observations: bool = True,
    deadline: float | None = None,
    heuristic: bool = False,
) -> EpisodeBatch:
    """Plays a batch of games to the end, one search per move.

    Args:
      states: a batch of initial states (leaves ``[B, ...]``, one bucket), e.g.
        ``game.stack([game.encode(g) for g in graphs])``.
      params: network parameters; ``None`` searches with a uniform prior.
      apply_fn: the network's apply function (``search.net.make_network``); keep
        one instance per config so that the compiled move is reused.
      rng_key: the key; each move splits its own.
      num_simulations: simulations per move.
      max_num_considered_actions: Gumbel top-k actions considered at the root.
      record_observations: keep the states before each move (for training).
      deadline: a ``time.perf_counter()`` value; moves after it are played by the
        greedy Markowitz rule without search (``searched`` false, weights 0).
      heuristic: without a network, use a Markowitz prior and value a node by
        the scaled cost of the better of its forward and reverse completions
        (:func:`search.heuristics.completion_costs`) instead of a uniform prior and 0.

    Returns:
      An :class:`EpisodeBatch` with ``T`` = the most intermediates of any game.

    Example:
      >>> batch = game.stack([game.encode(g, bucket=32)] * 4)
      >>> episodes = play_episodes(batch, rng_key=jax.random.key(0))
      >>> episodes.total_costs  # [4]
    """
    move = _move_fn(apply_fn, num_simulations, max_num_considered_actions, heuristic)
    params = params if apply_fn is not None else None
    rows: list[tuple] = []
    observations, completions = [], []
    current = states
    max_moves = int(np.max(np.asarray(jax.vmap(game.legal_mask)(states)).sum(-1)))
    for _ in range(max_moves):
        if record_observations:
            observations.append(jax.device_get(current))
        completions.append(_completions(current))
        searched = deadline is None or time.perf_counter() < deadline
        if searched:
            rng_key, move_key = jax.random.split(rng_key)
            current, *out = move(params, move_key, current)
        else:
            current, *out = _greedy_move(current)
        rows.append((*jax.device_get(out), searched))
    num_games, size = states.present.shape[0], states.present.shape[-1]
    actions = np.array([r[0] for r in rows], np.int32).reshape(-1, num_games)
    weights = np.array([r[1] for r in rows], np.float32).reshape(-1, num_games, size)
    costs = np.array([r[2] for r in rows], np.float64).reshape(-1, num_games)
    live = np.array([r[3] for r in rows], bool).reshape(-1, num_games)
    searched = np.array([[r[4]] * num_games for r in rows], bool).reshape(-1, num_games)
    completion = np.array(jax.device_get(completions), np.float64)
    completion = completion.reshape(-1, num_games, 2)
    scales = np.asarray(states.scale, np.float64)
    to_go = np.cumsum(costs[::-1], axis=0)[::-1]
    returns = np.where(live, -to_go / scales, 0.0).astype(np.float32)
    stacked = None
    if record_observations and observations:
        stacked = jax.tree.map(lambda *xs: np.stack(xs), *observations)
    return EpisodeBatch(
        observations=stacked,
        actions=actions,
        action_weights=weights,
        costs=costs,
        returns=returns,
        live=live,
        searched=searched & live,
        completions=completion,
        total_costs=costs.sum(axis=0),
        scales=scales,
    )


class Player:
    """Self-play helper: one network config, one compiled move per bucket.

    Args:
      net_config: the network's config, or ``None`` for a uniform prior.
    """

    def __init__(self, net_config: Any = None):
        self.net_config = net_config
        self.apply_fn = None
        if net_config is not None:
            from search.net import make_network

            self.apply_fn = make_network(net_config)[1]

    def play(
        self,
        params: Any,
        states: GameState,
        *,
        seed: int,
        num_simulations: int = 32,
        max_num_considered_actions: int = 16,
        record_observations: bool = True,
        heuristic: bool = False,
    ) -> EpisodeBatch:
        """:func:`play_episodes` with this player's network and ``key(seed)``.

        With ``params=None`` and ``heuristic``, the search uses the Markowitz
        prior and completion values: stronger targets to bootstrap training.
        """
        return play_episodes(
            states,
            params=params,
            apply_fn=self.apply_fn,
            rng_key=jax.random.key(seed),
            num_simulations=num_simulations,
            max_num_considered_actions=max_num_considered_actions,
            record_observations=record_observations,
            heuristic=heuristic,
        )


__all__ = ["EpisodeBatch", "Player", "play_episodes"]
