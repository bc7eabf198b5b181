"""Episode -> sample alignment, corpus hold-out, and self-play games."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from search import game
from search.episodes import Player
from search.training import corpus
from search.training.corpus import CorpusConfig, GraphSpec
from search.training.replay import episode_samples
from search.training.selfplay import SelfPlayConfig, SelfPlayWorker, encode_batch

SMALL = CorpusConfig(min_size=4, max_size=8, max_vertices=16, num_validation=4)


def test_validation_set_is_fixed_and_never_drawn_for_training():
    held_out = corpus.validation_specs(SMALL)
    assert held_out == corpus.validation_specs(SMALL)
    assert all(s.seed >= corpus.VALIDATION_SEED_BASE for s in held_out)
    drawn = corpus.sample_specs(np.random.default_rng(0), SMALL, 40)
    assert all(s.seed < corpus.VALIDATION_SEED_BASE for s in drawn)
    assert not set(held_out) & set(drawn)
    for spec in drawn + list(held_out):
        g = corpus.elim_of(spec)
        assert 1 <= len(g.intermediates) and len(g.ids) <= SMALL.max_vertices
    # the score is cost / best baseline: the baseline itself scores exactly 1
    costs = [corpus.best_cost(s) for s in held_out]
    assert corpus.validation_score(costs, held_out) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def episodes():
    """Two uniform-prior MCTS games on small held-out graphs, with the batch."""
    specs = list(corpus.validation_specs(SMALL))[:2]
    states = encode_batch(specs, bucket=16)
    played = Player(None).play(
        None, states, seed=0, num_simulations=4, max_num_considered_actions=4
    )
    return specs, states, played


def test_episode_samples_line_targets_up_with_positions_and_returns(episodes):
    specs, states, played = episodes
    samples = episode_samples(
        played.observations,
        played.action_weights,
        played.actions,
        played.returns,
        live=played.live,
    )
    moves = [len(corpus.elim_of(s).intermediates) for s in specs]
    assert samples.action.shape[0] == sum(moves)  # finished positions dropped
    legal = np.asarray(jax.vmap(game.legal_mask)(samples.observation))
    rows = np.arange(len(samples.action))
    assert legal[rows, samples.action].all()  # each action legal where played
    assert (samples.policy_target[~legal] == 0).all()  # no weight off the board
    np.testing.assert_allclose(samples.policy_target.sum(-1), 1.0, rtol=1e-5)
    # the next position of a game is the previous one with the action played
    obs = played.observations
    for t in range(played.actions.shape[0] - 1):
        for b in range(2):
            if played.live[t + 1, b]:
                before = jax.tree.map(lambda x, t=t, b=b: x[t, b], obs)
                after, _ = game.step(before, jnp.int32(played.actions[t, b]))
                np.testing.assert_array_equal(
                    after.eliminated, obs.eliminated[t + 1, b]
                )
    # value target = -(cost still to pay) / scale, and the whole game costs what
    # graphs.cost says for the order played
    for b, spec in enumerate(specs):
        live = played.live[:, b]
        costs = played.costs[live, b]
        to_go = -np.cumsum(costs[::-1])[::-1] / corpus.best_cost(spec)
        np.testing.assert_allclose(played.returns[live, b], to_go, rtol=1e-5)
        order = played.actions[live, b].tolist()
        from graphs.elimination import cost_of

        assert (
            played.total_costs[b]
            == cost_of(corpus.elim_of(spec), order).multiplications
        )


def test_worker_plays_a_batch_and_reports_throughput():
    config = SelfPlayConfig(
        games_per_batch=2,
        num_simulations=4,
        max_num_considered_actions=4,
        bucket=16,
        corpus=SMALL,
    )
    worker = SelfPlayWorker(net_config=None, config=config, seed=3)
    samples, stats = worker.play(None, version=7)
    assert stats["games"] == 2 and stats["version"] == 7
    assert stats["moves"] == samples.action.shape[0] > 0
    assert stats["simulations"] == 4 * stats["moves"]
    assert samples.observation.present.shape[1:] == (16, 16)
    assert samples.observation.pair.shape[-1] == game.MAX_RANK
    assert np.all(samples.value_target <= 0)
    # evaluate: one game per spec, every cost at least the exact optimum > 0
    held_out = list(corpus.validation_specs(SMALL))
    costs = worker.evaluate(None, held_out, num_simulations=4)
    assert len(costs) == len(held_out) and min(costs) > 0
    assert costs == worker.evaluate(None, held_out, num_simulations=4)  # seeded


def test_graph_spec_of_a_task_builds_it():
    spec = GraphSpec("task", 0, 0, "MLP")
    assert corpus.graph_of(spec).name == "MLP"
    with pytest.raises(ValueError, match="unknown graph source"):
        corpus.graph_of(GraphSpec("nope"))


def test_corpus_mixes_programs_dags_and_tasks():
    config = CorpusConfig(dag_fraction=0.4, task_fraction=0.2, max_vertices=32)
    specs = corpus.sample_specs(np.random.default_rng(0), config, 30)
    assert {s.source for s in specs} == {"program", "dag", "task"}
    dag = next(s for s in specs if s.source == "dag")
    g = corpus.graph_of(dag)
    assert g.edges is not None  # structure-only
    assert all(len(corpus.elim_of(s).ids) <= 32 for s in specs)
