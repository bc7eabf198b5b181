"""The replay buffer: bounded FIFO per bucket, aligned rows, no mixed buckets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from search import game
from search.training.replay import ReplayBuffer, Samples


def tagged(tags, bucket: int = 8) -> Samples:
    """Samples whose every field encodes the row's tag, to check alignment."""
    tags = np.asarray(tags, np.int32)
    obs = game.stack([game.empty_state(bucket, 0)] * len(tags))
    obs = obs._replace(
        cost=jnp.asarray(tags, obs.cost.dtype),
        num_vertices=jnp.asarray(tags, jnp.int32),
    )
    obs = jax.tree.map(np.asarray, obs)
    target = np.zeros((len(tags), bucket), np.float32)
    target[np.arange(len(tags)), tags % bucket] = 1.0
    return Samples(obs, target, -tags.astype(np.float32) / 100, tags)


def test_replay_buffer_keeps_every_batch_not_only_the_last():
    buffer = ReplayBuffer(capacity=100, seed=0)
    for first in (0, 10, 20):
        buffer.add(tagged(range(first, first + 5)))
    assert len(buffer) == 15
    drawn = set(buffer.sample(400).action.tolist())
    assert drawn == set(range(0, 5)) | set(range(10, 15)) | set(range(20, 25))


def test_replay_buffer_is_bounded_and_evicts_the_oldest_first():
    buffer = ReplayBuffer(capacity=8, seed=0)
    for first in (0, 10, 20):
        buffer.add(tagged(range(first, first + 5)))
    assert len(buffer) == 8  # bounded: 15 added, 8 kept
    drawn = set(buffer.sample(400).action.tolist())
    # the newest 8: 12, 13, 14 of the second batch and all five of the third
    assert drawn == {12, 13, 14, 20, 21, 22, 23, 24}
    assert buffer.stats()["added"] == 15


def test_replay_samples_keep_observation_target_and_action_together():
    buffer = ReplayBuffer(capacity=64, seed=1)
    buffer.add(tagged(range(40)))
    batch = buffer.sample(128)
    tags = batch.action
    np.testing.assert_array_equal(batch.observation.num_vertices, tags)
    np.testing.assert_array_equal(batch.observation.cost, tags)
    np.testing.assert_array_equal(batch.policy_target.argmax(-1), tags % 8)
    np.testing.assert_allclose(batch.value_target, -tags / 100)


def test_replay_batches_never_mix_buckets():
    buffer = ReplayBuffer(capacity=64, seed=2)
    buffer.add(tagged(range(10), bucket=8))
    buffer.add(tagged(range(100, 110), bucket=16))
    for _ in range(20):
        batch = buffer.sample(6)
        size = batch.policy_target.shape[-1]
        assert batch.observation.present.shape == (6, size, size)
        assert set(batch.action.tolist()) <= (
            set(range(10)) if size == 8 else set(range(100, 110))
        )
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(capacity=4).sample(2)
