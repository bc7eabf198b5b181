"""Training positions from self-play episodes, and the bounded replay buffer.

:func:`episode_samples` flattens time-major MCTS episodes into aligned training
positions (:class:`Samples`); :class:`ReplayBuffer` keeps them in a bounded FIFO
ring per bucket (observation shape) and samples batches uniformly from one
bucket. Training runs the buffer as a Ray actor (``search.training.train``).

Shape letters: ``M`` positions, ``N`` vertices, ``R`` axes, ``T`` moves, ``B`` games.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from search.game import GameState


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


__all__ = ["ReplayBuffer", "Samples", "episode_samples"]
