"""The configuration of a training run, and how it comes back from a checkpoint.

:class:`TrainConfig` nests the learner's, self-play's and network's configs.
Every checkpoint stores it in ``asdict`` form; :func:`config_from_dict` rebuilds
the nested frozen dataclasses from that, and :func:`resume_config` reads the
newest checkpoint of a run directory (the ``--resume`` path of ``ccelim train``).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Any

from search.training import checkpoint
from search.training.learner import LearnerConfig
from search.training.selfplay import SelfPlayConfig


def _default_net_config():
    from search.net import NetConfig

    return NetConfig()


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A training run.

    Attributes:
      steps: learner steps in total (a resumed run continues up to this).
      batch_size: positions per learner step.
      num_workers: self-play actors.
      publish_every: learner steps between parameter versions (K).
      checkpoint_every: learner steps between checkpoints.
      validate_every: learner steps between validation scores (also measured at
        the last step); checkpoints carry the newest score and its step.
      min_replay: positions in the buffer before the first step.
      replay_capacity: positions kept per bucket.
      max_replay_ratio: at most this many sampled positions per self-played
        position; the learner waits for new games beyond it.
      validation_simulations: MCTS simulations per move for the validation score.
      max_time_s: stop (with a checkpoint and a validation score) after this many
        seconds of this call; 0 means no limit.
      seed: base seed of corpus sampling, MCTS and initialisation.
      learner, selfplay, net: the parts' configurations.
    """

    steps: int = 1000
    batch_size: int = 64
    num_workers: int = 2
    publish_every: int = 5
    checkpoint_every: int = 10
    validate_every: int = 50
    min_replay: int = 128
    replay_capacity: int = 20_000
    max_replay_ratio: float = 8.0
    validation_simulations: int = 8
    max_time_s: float = 0.0
    seed: int = 0
    learner: LearnerConfig = dataclasses.field(default_factory=LearnerConfig)
    selfplay: SelfPlayConfig = dataclasses.field(default_factory=SelfPlayConfig)
    net: Any = dataclasses.field(default_factory=_default_net_config)


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuilds a (nested) frozen config dataclass from its ``asdict`` form."""
    if cls is Any:
        from search.net import NetConfig

        cls = NetConfig
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value, hint = data[field.name], hints[field.name]
        if field.name == "net" and cls is TrainConfig:
            from search.net import NetConfig

            hint = NetConfig
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[field.name] = value
    return cls(**kwargs)


def resume_config(out_dir: str | os.PathLike, **overrides: Any) -> TrainConfig:
    """The configuration stored in a run's newest checkpoint, with ``overrides``.

    Raises:
      FileNotFoundError: when the directory holds no checkpoint.
    """
    last = checkpoint.latest(out_dir)
    if last is None:
        raise FileNotFoundError(
            f"no checkpoint (ckpt_<step>.msgpack) in {out_dir}; "
            "start a run with --out first"
        )
    stored = checkpoint.read_metadata(last)["train_config"]
    config = config_from_dict(TrainConfig, stored)
    return dataclasses.replace(config, **overrides)


__all__ = ["TrainConfig", "config_from_dict", "resume_config"]
