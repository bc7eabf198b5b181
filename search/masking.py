"""The one logit-masking rule shared by the network, MCTS, self-play and the learner."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def masked_logits(logits: jax.Array, legal: jax.Array) -> jax.Array:
    """Illegal actions get the dtype's lowest value; all-illegal rows become 0.

    A terminal state has no legal action; giving it uniform logits keeps softmaxes
    finite inside the search tree (``-inf`` would make them NaN).

    Args:
      logits: ``[..., A]`` floating logits.
      legal: ``[..., A]`` bool, True where the action is legal.

    Returns:
      ``[..., A]`` logits of the same dtype.
    """
    low = jnp.finfo(logits.dtype).min
    masked = jnp.where(legal, logits, low)
    return jnp.where(jnp.any(legal, axis=-1, keepdims=True), masked, 0.0)
