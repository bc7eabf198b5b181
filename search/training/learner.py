"""The learner: optax Adam with gradient clipping and one jitted ``train_step``.

The network is trained on replayed self-play positions: the policy head by
cross-entropy against the MCTS action weights (the search's improved policy), the
value head by squared error against the scaled return-to-go of the episode. Both
losses only look at legal actions: illegal logits are masked before the softmax,
so padding and eliminated vertices never receive probability mass.

:class:`LearnerShell` is the thin Ray actor around it (``search.training.train`` runs it,
on a GPU when the cluster has one).

Shape letters: ``B`` batch, ``N`` vertices (the game's bucket).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from search.game import GameState, legal_mask
from search.masking import masked_logits

#: ``apply_fn(params, observation) -> (logits [B, N], value [B])`` on a batch.
ApplyFn = Callable[[Any, GameState], tuple[jax.Array, jax.Array]]


class Batch(NamedTuple):
    """A batch of replayed positions (all of one bucket)."""

    observation: GameState  # leaves [B, ...]: the position before the move
    policy_target: jax.Array  # [B, N] float: MCTS action weights, 0 when illegal
    value_target: jax.Array  # [B] float: scaled return-to-go (-cost / scale)


class TrainState(NamedTuple):
    """What the learner carries from one step to the next."""

    params: Any  # the network's parameters (a pytree)
    opt_state: Any  # the optax state
    step: jax.Array  # [] int32: gradient steps taken


@dataclasses.dataclass(frozen=True, kw_only=True)
class LearnerConfig:
    """Optimiser settings.

    Attributes:
      learning_rate: Adam step size.
      max_grad_norm: global-norm gradient clipping threshold.
      weight_decay: decoupled weight decay (AdamW); 0 gives plain Adam.
      value_weight: weight of the value loss against the policy loss.
    """

    learning_rate: float = 1e-3
    max_grad_norm: float = 1.0
    weight_decay: float = 1e-4
    value_weight: float = 1.0


def make_optimizer(config: LearnerConfig) -> optax.GradientTransformation:
    """Gradient clipping followed by Adam(W)."""
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adamw(config.learning_rate, weight_decay=config.weight_decay),
    )


def learner_device() -> jax.Device:
    """The first GPU when one is present, else the first CPU device."""
    for backend in ("gpu", "cuda", "rocm"):
        try:
            return jax.devices(backend)[0]
        except RuntimeError:
            continue
    return jax.devices("cpu")[0]


def init_state(params: Any, optimizer: optax.GradientTransformation) -> TrainState:
    """A fresh :class:`TrainState` at step 0, placed on :func:`learner_device`."""
    state = TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))
    return jax.device_put(state, learner_device())


def losses(logits: jax.Array, value: jax.Array, batch: Batch) -> dict[str, jax.Array]:
    """Per-batch policy cross-entropy, value MSE and policy statistics.

    Args:
      logits: ``[B, N]`` policy logits.
      value: ``[B]`` predicted scaled return-to-go.
      batch: the targets.

    Returns:
      ``policy_loss`` (cross-entropy vs the action weights), ``value_loss`` (MSE),
      ``entropy`` (of the predicted policy over legal actions), ``kl`` (target to
      prediction, 0 at a perfect fit) and ``target_entropy``; all ``[]``.
    """
    legal = jax.vmap(legal_mask)(batch.observation)
    logits = masked_logits(logits, legal)
    log_p = jax.nn.log_softmax(logits, axis=-1)
    log_p = jnp.where(legal, log_p, 0.0)
    target = jnp.where(legal, batch.policy_target, 0.0)
    target = target / jnp.maximum(target.sum(-1, keepdims=True), 1e-12)
    cross_entropy = -jnp.sum(target * log_p, axis=-1)
    log_t = jnp.where(target > 0, jnp.log(jnp.where(target > 0, target, 1.0)), 0.0)
    target_entropy = -jnp.sum(target * log_t, axis=-1)
    entropy = -jnp.sum(jnp.exp(log_p) * log_p * legal, axis=-1)
    value_loss = jnp.square(value - batch.value_target)
    return {
        "policy_loss": cross_entropy.mean(),
        "value_loss": value_loss.mean(),
        "entropy": entropy.mean(),
        "kl": (cross_entropy - target_entropy).mean(),
        "target_entropy": target_entropy.mean(),
    }


def make_train_step(
    apply_fn: ApplyFn,
    optimizer: optax.GradientTransformation,
    *,
    value_weight: float = 1.0,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]:
    """``train_step(state, batch) -> (state, metrics)``, jitted.

    Args:
      apply_fn: the batched network, ``(params, observation) -> (logits, value)``.
      optimizer: from :func:`make_optimizer`.
      value_weight: weight of the value loss in the total loss.

    Returns:
      The jitted step. ``metrics`` holds ``loss``, the entries of :func:`losses`
      and ``grad_norm``, all ``[]`` arrays.

    Example:
      >>> train_step = make_train_step(apply_fn, make_optimizer(LearnerConfig()))
      >>> state, metrics = train_step(state, batch)
    """

    def loss_fn(params, batch: Batch):
        logits, value = apply_fn(params, batch.observation)
        parts = losses(logits, value, batch)
        loss = parts["policy_loss"] + value_weight * parts["value_loss"]
        return loss, parts

    def train_step(state: TrainState, batch: Batch):
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, parts), grads = grad_fn(state.params, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = dict(parts, loss=loss, grad_norm=optax.global_norm(grads))
        return TrainState(params, opt_state, state.step + 1), metrics

    return jax.jit(train_step)


class LearnerShell:
    """The learner as an actor: holds the ``TrainState`` and runs ``train_step``."""

    def __init__(
        self,
        *,
        net_config: Any,
        learner_config: LearnerConfig,
        seed: int,
        raw_checkpoint: dict | None = None,
    ):
        from search.net import network_fns
        from search.training import checkpoint
        from search.training.runlog import normal_priority

        normal_priority()

        init_params, apply_batch = network_fns(net_config)
        optimizer = make_optimizer(learner_config)
        state = init_state(init_params(seed), optimizer)
        if raw_checkpoint is not None:
            state, _ = checkpoint.restore(
                raw_checkpoint, state, net_config=net_config, source="resume"
            )
            state = jax.device_put(state, learner_device())
        self._state = state
        self._train_step = make_train_step(
            apply_batch, optimizer, value_weight=learner_config.value_weight
        )

    def train(self, samples) -> dict[str, float]:
        """One ``train_step`` on a sampled batch; returns float metrics."""
        batch = Batch(
            observation=type(samples.observation)(
                *[jnp.asarray(x) for x in samples.observation]
            ),
            policy_target=jnp.asarray(samples.policy_target),
            value_target=jnp.asarray(samples.value_target),
        )
        self._state, metrics = self._train_step(self._state, batch)
        out = {k: float(v) for k, v in metrics.items()}
        out["step"] = int(self._state.step)
        return out

    def params(self) -> Any:
        """The current parameters as host arrays."""
        return jax.device_get(self._state.params)

    def state(self) -> Any:
        """The whole ``TrainState`` as host arrays (for checkpoints)."""
        return jax.device_get(self._state)

    def step(self) -> int:
        return int(self._state.step)

    def pid(self) -> int:
        return os.getpid()


__all__ = [
    "ApplyFn",
    "Batch",
    "LearnerConfig",
    "LearnerShell",
    "TrainState",
    "init_state",
    "learner_device",
    "losses",
    "make_optimizer",
    "make_train_step",
]
