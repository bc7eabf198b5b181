"""search: exact, local and tree search for cheap elimination orders; the portfolio."""

from search.episodes import EpisodeBatch, play_episodes
from search.exact import ExactResult, ExactSearch, exact_optimum
from search.fastbaselines import scalar_baselines
from search.fastcost import ScalarModel, evaluator
from search.game import GameState
from search.local import LocalResult, LocalSearch, anneal, greedy_randomized
from search.mcts import MCTSResult, run_mcts
from search.net import NetConfig, load_params, make_network, save_params
from search.net_policy import PolicyWeights
from search.optimize import OptimizeResult, optimize
from search.policy import load_policy_weights, policy_order
from search.prefix import prefix_order
from search.timemodel import TimeFeatures, TimeModel, predicted_time_s, time_features
from search.training import (
    LearnerConfig,
    ReplayBuffer,
    SelfPlayConfig,
    TrainConfig,
    TrainResult,
    TrainState,
)
from search.training.corpus import CorpusConfig

__all__ = [
    "CorpusConfig",
    "EpisodeBatch",
    "ExactResult",
    "ExactSearch",
    "GameState",
    "LearnerConfig",
    "LocalResult",
    "LocalSearch",
    "MCTSResult",
    "NetConfig",
    "OptimizeResult",
    "PolicyWeights",
    "ReplayBuffer",
    "ScalarModel",
    "SelfPlayConfig",
    "TrainConfig",
    "TrainResult",
    "TimeFeatures",
    "TimeModel",
    "TrainState",
    "anneal",
    "evaluator",
    "exact_optimum",
    "greedy_randomized",
    "load_params",
    "load_policy_weights",
    "make_network",
    "optimize",
    "play_episodes",
    "policy_order",
    "predicted_time_s",
    "prefix_order",
    "run_mcts",
    "save_params",
    "scalar_baselines",
    "time_features",
]
