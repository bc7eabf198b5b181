"""Self-play on Ray: actors that play MCTS games, and a bounded replay buffer.

The pure parts are :func:`episode_samples` (episodes -> aligned training
positions) and :class:`ReplayBuffer` (a bounded FIFO per bucket with uniform
sampling). :class:`SelfPlayWorker` is a thin shell around ``search.mcts``: it
draws graphs from the corpus, plays a batch of games with the parameters it is
handed, and returns the positions with their MCTS action weights and scaled
returns. ``ReplayActor`` and ``SelfPlayActor`` are their Ray actor classes; the
self-play actor restarts itself when its process dies.

Shape letters: ``M`` positions, ``N`` vertices, ``R`` axes, ``T`` moves, ``B`` games.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from search.corpus import CorpusConfig, GraphSpec, best_cost, elim_of, sample_specs
from search.game import GameState, _step, bucket_for, encode, legal_mask, stack


class Samples(NamedTuple):
    """Training positions: one row per move played."""

    observation: GameState  # leaves [M, ...]: the position before the move
    policy_target: np.ndarray  # [M, N] float32: MCTS action weights
    value_target: np.ndarray  # [M] float32: scaled return-to-go from here
    action: np.ndarray  # [M] int32: the move played


def _bucket_key(samples: Samples) -> tuple[int, int]:
    """``(N, R)``: the observation shape that a batch must share."""
    return int(samples.observation.present.shape[-1]), int(
        samples.observation.pair.shape[-1]
    )


def episode_samples(
    observations: GameState,
    action_weights: np.ndarray,
    actions: np.ndarray,
    returns: np.ndarray,
    *,
    live: np.ndarray | None = None,
) -> Samples:
    """Flattens time-major episodes into positions, dropping finished games.

    Args:
      observations: states before each move, leaves ``[T, B, ...]``.
      action_weights: ``[T, B, N]`` MCTS action weights (policy targets).
      actions: ``[T, B]`` moves played.
      returns: ``[T, B]`` scaled return-to-go from each position.
      live: ``[T, B]`` whether the game still had a legal move (default: computed
        from the observations).

    Returns:
      :class:`Samples` of the positions where the game still had a legal move;
      row ``i`` keeps the observation, target, return and action of the same
      ``(t, b)``, so targets stay aligned with the positions they were searched in.
    """
    if live is None:
        legal = np.asarray(observations.is_intermediate) & ~np.asarray(
            observations.eliminated
        )
        live = legal.any(axis=-1)  # [T, B]
    flat = np.nonzero(live.reshape(-1))[0]

    def rows(x):
        x = np.asarray(x)
        return x.reshape((-1,) + x.shape[2:])[flat]

    obs = jax.tree.map(rows, observations)
    return Samples(
        observation=obs,
        policy_target=rows(action_weights).astype(np.float32),
        value_target=rows(returns).astype(np.float32),
        action=rows(actions).astype(np.int32),
    )


class _Ring:
    """A fixed-capacity ring of samples of one bucket."""

    def __init__(self, first: Samples, capacity: int):
        self.capacity = capacity
        self.size = 0
        self.next = 0
        self.data = jax.tree.map(
            lambda x: np.zeros((capacity,) + np.shape(x)[1:], np.asarray(x).dtype),
            first,
        )

    def add(self, samples: Samples) -> None:
        count = int(samples.action.shape[0])
        if count > self.capacity:
            samples = jax.tree.map(lambda x: np.asarray(x)[-self.capacity :], samples)
            count = self.capacity
        index = (self.next + np.arange(count)) % self.capacity

        def write(buf, x):
            buf[index] = np.asarray(x)

        jax.tree.map(write, self.data, samples)
        self.next = int((self.next + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)

    def take(self, index: np.ndarray) -> Samples:
        return jax.tree.map(lambda buf: buf[index], self.data)


class ReplayBuffer:
    """A bounded first-in-first-out store of :class:`Samples`, one ring per bucket.

    Args:
      capacity: positions kept per bucket; the oldest are overwritten first.
      seed: seeds the sampler.

    Example:
      >>> buffer = ReplayBuffer(capacity=10_000)
      >>> buffer.add(samples)
      >>> batch = buffer.sample(64)
    """

    def __init__(self, *, capacity: int = 20_000, seed: int = 0):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._rings: dict[tuple[int, int], _Ring] = {}
        self._rng = np.random.default_rng(seed)
        self.added = 0
        self.sampled = 0

    def add(self, samples: Samples | tuple) -> int:
        """Stores positions (a :class:`Samples`, or ``(Samples, stats)``).

        Returns:
          The number of positions now stored in all buckets.
        """
        if not isinstance(samples, Samples):
            samples = samples[0]
        if int(samples.action.shape[0]) == 0:
            return len(self)
        key = _bucket_key(samples)
        if key not in self._rings:
            self._rings[key] = _Ring(samples, self.capacity)
        self._rings[key].add(samples)
        self.added += int(samples.action.shape[0])
        return len(self)

    def __len__(self) -> int:
        return sum(ring.size for ring in self._rings.values())

    def size(self) -> int:
        """Positions stored (a method, so that a Ray actor can answer it)."""
        return len(self)

    def stats(self) -> dict[str, Any]:
        """Stored, added and sampled position counts, and stored per bucket."""
        return {
            "size": len(self),
            "added": self.added,
            "sampled": self.sampled,
            "buckets": {f"{n}x{r}": ring.size for (n, r), ring in self._rings.items()},
        }

    def sample(self, batch_size: int) -> Samples:
        """``batch_size`` positions drawn uniformly (with replacement) from one bucket.

        The bucket is drawn in proportion to how many positions it holds.

        Raises:
          ValueError: when the buffer is empty.
        """
        if not self._rings:
            raise ValueError("the replay buffer is empty; add samples before sampling")
        keys = list(self._rings)
        sizes = np.array([self._rings[k].size for k in keys], float)
        ring = self._rings[
            keys[int(self._rng.choice(len(keys), p=sizes / sizes.sum()))]
        ]
        index = self._rng.integers(0, ring.size, batch_size)
        self.sampled += batch_size
        return ring.take(index)


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


def network_fns(net_config: Any):
    """``(init_params(seed) -> params, apply_fn(params, states) -> (logits, value))``.

    Parameters do not depend on the bucket, so a small empty state initialises
    them.
    """
    from search.game import empty_state
    from search.net import make_network

    init_fn, apply_fn = make_network(net_config)

    def init_params(seed: int) -> Any:
        return init_fn(jax.random.key(seed), empty_state(8, 0))

    return init_params, apply_fn


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
        from search.mcts import Player

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


def normal_priority() -> None:
    """Undoes the niceness that Ray gives its worker processes (15 by default).

    Self-play and the learner are the workload, not background chores; at nice
    15 they starve next to any other process on a shared machine.
    """
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) > 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    except (OSError, AttributeError):
        pass  # not permitted (or not POSIX): keep the niceness


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
      player: a ``search.mcts.Player`` (it holds the network's apply function).
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
            logits = jnp.where(legal, logits, -jnp.inf)
            action = jnp.argmax(logits, -1).astype(jnp.int32)
            new, cost = jax.vmap(_step)(states, action)
            return new, jnp.where(live, cost, 0)

        _POLICY_MOVES[key] = (apply_fn, jax.jit(move))
    return _POLICY_MOVES[key][1]


__all__ = [
    "ReplayBuffer",
    "Samples",
    "SelfPlayConfig",
    "SelfPlayWorker",
    "encode_batch",
    "evaluate_costs",
    "network_fns",
    "policy_costs",
    "episode_samples",
]
