"""search: exact, local and tree search for cheap elimination orders; the portfolio."""

from search.corpus import CorpusConfig
from search.episodes import EpisodeBatch, play_episodes
from search.exact import ExactResult, ExactSearch, exact_optimum
from search.fastbaselines import scalar_baselines
from search.fastcost import ScalarModel, evaluator
from search.game import GameState
from search.local import LocalResult, LocalSearch, anneal, greedy_randomized
from search.mcts import MCTSResult, run_mcts
from search.net import NetConfig, load_params, make_network, save_params
from search.optimize import OptimizeResult, optimize
from search.training import (
    LearnerConfig,
    ReplayBuffer,
    SelfPlayConfig,
    TrainConfig,
    TrainResult,
    TrainState,
)

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
    "ReplayBuffer",
    "ScalarModel",
    "SelfPlayConfig",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "anneal",
    "evaluator",
    "exact_optimum",
    "greedy_randomized",
    "load_params",
    "make_network",
    "optimize",
    "play_episodes",
    "run_mcts",
    "save_params",
    "scalar_baselines",
]
