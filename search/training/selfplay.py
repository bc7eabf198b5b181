"""Self-play on Ray: actors that play MCTS games with the parameters they are handed.

:class:`SelfPlayWorker` is a thin shell around ``search.episodes``: it draws graphs
from the corpus, plays a batch of games with the parameters it is handed, and
returns the positions (``search.training.replay.Samples``) with their MCTS action weights
and scaled returns; the training loop runs it as a Ray actor that restarts itself
when its process dies. :func:`evaluate_costs` plays one game per graph with
given parameters (the validation score), by search or by the policy's argmax.

Shape letters: ``N`` vertices, ``R`` axes, ``B`` games.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from search.game import GameState, _step, bucket_for, encode, legal_mask, stack
from search.masking import masked_logits
from search.training.corpus import (
    CorpusConfig,
    GraphSpec,
    best_cost,
    elim_of,
    sample_specs,
)
from search.training.replay import Samples, episode_samples
from search.training.runlog import normal_priority


@dataclasses.dataclass(frozen=True, kw_only=True)
class SelfPlayConfig:
    """How a self-play actor plays.

    Attributes:
      games_per_batch: games played side by side (one vmapped MCTS batch).
      num_simulations: MCTS simulations per move.
      max_num_considered_actions: Gumbel MuZero's considered actions at the root.
      bucket: games are padded to at least this many vertices and to rank 4, so
        that one compiled search serves every batch.
      corpus: what graphs to play on.
    """

    games_per_batch: int = 8
    num_simulations: int = 8
    max_num_considered_actions: int = 8
    bucket: int = 32
    corpus: CorpusConfig = dataclasses.field(default_factory=CorpusConfig)


def encode_batch(specs: list[GraphSpec], *, bucket: int = 8) -> GameState:
    """Encodes specs into one batch of one shape.

    The batch is padded to the largest of ``bucket`` and the specs' buckets, and
    to rank :data:`search.game.MAX_RANK` (scalar graphs get size-1 axes), so that
    scalar and tensor graphs share one compiled search.
    """
    from search.game import MAX_RANK

    size = max([bucket] + [bucket_for(len(elim_of(s).ids)) for s in specs])
    states = [
        _with_rank(encode(elim_of(s), bucket=size, scale=float(best_cost(s))), MAX_RANK)
        for s in specs
    ]
    return stack(states)


def _with_rank(state: GameState, rank: int) -> GameState:
    """Pads a scalar (rank-0) state to tensor rank ``rank`` (all axes size 1)."""
    if state.pair.shape[-1] == rank:
        return state
    n = state.present.shape[0]
    return state._replace(
        pair=jnp.full((n, n, rank), -1, state.pair.dtype),
        out_core=jnp.zeros((n, n, rank), bool),
        in_core=jnp.zeros((n, n, rank), bool),
        sizes=jnp.ones((n, rank), state.sizes.dtype),
    )


class SelfPlayWorker:
    """Plays batches of MCTS games with the parameters it is handed.

    Args:
      net_config: the network configuration (``search.net.NetConfig``).
      config: how to play.
      seed: base seed; ``index`` makes each worker's stream distinct.
      index: the worker's number.
    """

    def __init__(
        self, *, net_config: Any, config: SelfPlayConfig, seed: int = 0, index: int = 0
    ):
        from search.episodes import Player

        normal_priority()
        self.config = config
        self.index = index
        self._player = Player(net_config)
        self._rng = np.random.default_rng([seed, index, os.getpid()])
        self._seed = seed
        self.games = 0

    def pid(self) -> int:
        """The process id (tests kill it)."""
        return os.getpid()

    def node(self) -> str:
        """The Ray node id this actor runs on ("" outside Ray)."""
        return _node_id()

    def play(self, params: Any, version: int = 0) -> tuple[Samples, dict[str, Any]]:
        """Plays one batch of games.

        Args:
          params: network parameters (a Ray actor receives them by reference).
          version: the parameter version, echoed in the stats.

        Returns:
          ``(samples, stats)``; stats has ``games``, ``moves``, ``simulations``,
          ``seconds``, ``cost_ratio`` (mean cost / best baseline), ``version``,
          ``worker`` and ``pid``.
        """
        start = time.perf_counter()
        specs = sample_specs(self._rng, self.config.corpus, self.config.games_per_batch)
        states = encode_batch(specs, bucket=self.config.bucket)
        key = int(self._rng.integers(0, 2**31 - 1))
        episodes = self._player.play(
            params,
            states,
            seed=key,
            num_simulations=self.config.num_simulations,
            max_num_considered_actions=self.config.max_num_considered_actions,
        )
        samples = episode_samples(
            episodes.observations,
            episodes.action_weights,
            episodes.actions,
            episodes.returns,
            live=episodes.live,
        )
        moves = int(samples.action.shape[0])
        self.games += len(specs)
        stats = {
            "games": len(specs),
            "moves": moves,
            "simulations": moves * self.config.num_simulations,
            "seconds": time.perf_counter() - start,
            "cost_ratio": float(np.mean(episodes.total_costs / episodes.scales)),
            "version": version,
            "worker": self.index,
            "pid": os.getpid(),
            "node": _node_id(),
            "restarted": _restarted(),
        }
        return samples, stats

    def evaluate(
        self,
        params: Any,
        specs: list[GraphSpec],
        *,
        num_simulations: int,
        seed: int = 0,
    ) -> list[float]:
        """Costs (multiplications) of one game per spec with these parameters.

        ``num_simulations=0`` plays the network's greedy policy (argmax of the
        logits) without search; ``params=None`` searches with a uniform prior.
        Deterministic for a seed.
        """
        return evaluate_costs(
            self._player,
            params,
            specs,
            num_simulations=num_simulations,
            seed=seed,
            max_num_considered_actions=self.config.max_num_considered_actions,
            batch_size=self.config.games_per_batch,
            bucket=self.config.bucket,
        )


def _restarted() -> bool:
    """Whether this actor process is a restart of one that died."""
    try:
        import ray

        if not ray.is_initialized():  # asking the context would start Ray
            return False
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # noqa: BLE001 - outside an actor
        return False


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except Exception:  # noqa: BLE001 - outside Ray there is no node
        return ""


def evaluate_costs(
    player: Any,
    params: Any,
    specs: list[GraphSpec],
    *,
    num_simulations: int,
    seed: int = 0,
    max_num_considered_actions: int = 16,
    batch_size: int | None = None,
    bucket: int = 8,
) -> list[float]:
    """One game per spec; returns each game's multiplications.

    Args:
      player: a ``search.episodes.Player`` (it holds the network's apply function).
      params: network parameters, or ``None`` for a uniform prior.
      specs: the graphs.
      num_simulations: MCTS simulations per move; 0 plays the policy's argmax.
      seed: the MCTS seed.
      max_num_considered_actions: Gumbel top-k at the root.
      batch_size: games per compiled batch (default all at once).
      bucket: pad games to at least this many vertices (see :func:`encode_batch`).
    """
    specs = list(specs)
    size = batch_size or len(specs)
    costs: list[float] = []
    for start in range(0, len(specs), size):
        chunk = specs[start : start + size]
        # pad the last chunk with repeats so that every chunk has one shape
        states = encode_batch(chunk + chunk[:1] * (size - len(chunk)), bucket=bucket)
        if num_simulations == 0:
            if params is None or player.apply_fn is None:
                raise ValueError("the greedy policy (num_simulations=0) needs params")
            total = policy_costs(player.apply_fn, params, states)
        else:
            total = player.play(
                params,
                states,
                seed=seed + start,
                num_simulations=num_simulations,
                max_num_considered_actions=max_num_considered_actions,
                record_observations=False,
            ).total_costs
        costs.extend(float(c) for c in total[: len(chunk)])
    return costs


def policy_costs(apply_fn: Any, params: Any, states: GameState) -> np.ndarray:
    """``[B]`` costs of playing the network's most likely legal move until the end."""
    move = _policy_move(apply_fn)
    legal = np.asarray(jax.vmap(legal_mask)(states))
    total = np.zeros(legal.shape[0])
    for _ in range(int(legal.sum(-1).max())):
        states, cost = move(params, states)
        total += np.asarray(cost, np.float64)
    return total


_POLICY_MOVES: dict[int, Any] = {}


def _policy_move(apply_fn: Any):
    """A jitted move that plays argmax of the (masked) logits in every game."""
    key = id(apply_fn)
    if key not in _POLICY_MOVES:

        def move(params, states):
            logits, _ = apply_fn(params, states)
            legal = jax.vmap(legal_mask)(states)
            live = legal.any(-1)
            logits = masked_logits(logits, legal)
            action = jnp.argmax(logits, -1).astype(jnp.int32)
            new, cost = jax.vmap(_step)(states, action)
            return new, jnp.where(live, cost, 0)

        _POLICY_MOVES[key] = (apply_fn, jax.jit(move))
    return _POLICY_MOVES[key][1]


__all__ = [
    "SelfPlayConfig",
    "SelfPlayWorker",
    "encode_batch",
    "evaluate_costs",
    "policy_costs",
]
