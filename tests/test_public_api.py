"""The public surface of graphs, search and interpreter, and the Haiku boundary.

A rename of a public name must change this file: that makes it a conscious act.
"""

import ast
from pathlib import Path

import graphs
import interpreter
import search

ROOT = Path(__file__).resolve().parents[1]

PUBLIC = {
    graphs: """Baseline CanonicalForm CostReport Edge ElimGraph Graph GraphError IndexMap Limits Literal
        MAX_EDGES MAX_VERTICES Partial RuntimeMap Step Structure Vertex baselines
        best_baseline build canonical_form canonical_hash cost isomorphic isomorphism
        load random_dag random_program trace unroll_limit""",
    search: """CorpusConfig EpisodeBatch ExactResult ExactSearch GameState LearnerConfig
        LocalResult LocalSearch MCTSResult NetConfig OptimizeResult ReplayBuffer
        ScalarModel SelfPlayConfig TrainConfig TrainResult TrainState anneal evaluator
        exact_optimum greedy_randomized load_params make_network optimize
        play_episodes run_mcts save_params scalar_baselines PolicyWeights
        load_policy_weights policy_order prefix_order TimeFeatures TimeModel
        predicted_time_s time_features""",
    interpreter: """Block InputSpec KernelArtifact OutputBlock Plan TuneResult accumulate
        accumulate_blocks accumulate_structured count_multiplications dense_block
        evaluate export fastest jac jacobian jax_jacobian kernel_multiplications
        local_partials make_plan partial_cores""",
}


def test_public_names_are_exactly_the_documented_ones():
    for package, names in PUBLIC.items():
        assert sorted(package.__all__) == sorted(names.split()), package.__name__
        for name in package.__all__:
            assert getattr(package, name) is not None


def test_only_search_net_modules_import_haiku():
    importers = []
    for folder in ("graphs", "search", "interpreter", "service", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n == "haiku" or n.startswith("haiku.") for n in names):
                    importers.append(str(path.relative_to(ROOT)))
    assert sorted(set(importers)) == ["search/net.py", "search/net_policy.py"]
