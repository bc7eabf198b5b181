"""Two small neural-network losses: MLP and a transformer Encoder block.

Both return a scalar loss of all their arguments (inputs, targets and weights), as
AlphaGrad's MLP and Encoder tasks do.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_LAYER_NORM_EPS = 1e-5


def _layer_norm(x, gamma, beta, axis: int):
    """Normalises ``x`` along ``axis`` and applies the affine ``gamma, beta``."""
    mean = jnp.mean(x, axis=axis, keepdims=True)
    centred = x - mean
    var = jnp.mean(centred * centred, axis=axis, keepdims=True)
    return centred * jax.lax.rsqrt(var + _LAYER_NORM_EPS) * gamma + beta


def mlp(x, target, w1, b1, w2, b2, gamma, beta):
    """Two-layer perceptron with layer norm and tanh; half squared error loss.

    Args:
      x: input, shape (4,).
      target: regression target, shape (4,).
      w1: first layer weights, shape (8, 4); b1: its bias, shape (8,).
      w2: second layer weights, shape (4, 8); b2: its bias, shape (4,).
      gamma, beta: layer-norm scale and shift of the hidden layer, shape (8,).

    Returns:
      ``0.5 * sum((y - target)²)``, a scalar.
    """
    hidden = jnp.tanh(_layer_norm(w1 @ x + b1, gamma, beta, axis=0))
    y = w2 @ hidden + b2
    err = y - target
    return 0.5 * jnp.sum(err * err)


def _attention_head(z, wq, wk, wv):
    """One softmax attention head over the columns (tokens) of ``z`` (d, n)."""
    q, k, v = wq @ z, wk @ z, wv @ z  # (d, n) each
    scores = (q.T @ k) * (1.0 / jnp.sqrt(z.shape[0]))  # (n, n): query × key
    weights = jax.nn.softmax(scores, axis=-1)
    return v @ weights.T  # (d, n)


def encoder(
    x,
    target,
    wq1,
    wk1,
    wv1,
    wq2,
    wk2,
    wv2,
    w1,
    b1,
    w2,
    b2,
    gamma1,
    beta1,
    gamma2,
    beta2,
):
    """One pre-norm transformer encoder block and a softmax cross-entropy loss.

    Tokens are the columns of ``x``: 4 features × 4 tokens. The block is
    ``z = x + head1(LN1(x)) + head2(LN1(x))``, then a ReLU feed-forward layer on
    ``LN2(z)``, then a linear read-out to two classes per token.

    Args:
      x: input, shape (4, 4) (features × tokens).
      target: class probabilities per token, shape (2, 4).
      wq1, wk1, wv1, wq2, wk2, wv2: query/key/value weights of the two heads,
        shape (4, 4) each.
      w1: feed-forward weights, shape (4, 4); b1: its bias, shape (4,).
      w2: read-out weights, shape (2, 4); b2: its bias, shape (2, 1).
      gamma1, beta1, gamma2, beta2: the two layer norms' scales and shifts, (4,).

    Returns:
      The mean over tokens of the cross-entropy between ``target`` and the
      softmax of the logits, a scalar.
    """
    z = _layer_norm(x, gamma1[:, None], beta1[:, None], axis=0)
    z = x + _attention_head(z, wq1, wk1, wv1) + _attention_head(z, wq2, wk2, wv2)
    h = _layer_norm(z, gamma2[:, None], beta2[:, None], axis=0)
    h = jax.nn.relu(w1 @ h + b1[:, None])
    logits = w2 @ h + b2  # (2, 4)
    log_probs = jax.nn.log_softmax(logits, axis=0)
    return -jnp.mean(jnp.sum(target * log_probs, axis=0))
