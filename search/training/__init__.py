"""search.training: self-play, expert labelling, replay, learner, checkpoints, cluster.

Apart from the search algorithms (``search.*``), which never import this package;
the learner builds the network with :func:`search.net.network_fns` and never
imports self-play.
"""

from search.training.export import export_model
from search.training.learner import LearnerConfig, TrainState
from search.training.replay import ReplayBuffer
from search.training.selfplay import SelfPlayConfig
from search.training.train import TrainResult, train
from search.training.trainconfig import TrainConfig, resume_config

__all__ = [
    "LearnerConfig",
    "ReplayBuffer",
    "SelfPlayConfig",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "export_model",
    "resume_config",
    "train",
]
