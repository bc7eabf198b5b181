"""Gumbel MuZero search on the real game: optimum on a hand-solved graph, episodes."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest

import graphs
from graphs.elimination import build, cost_of
from graphs.ir import Edge, Graph, Vertex
from search import game, mcts, net
from search.episodes import _evaluate, _move_fn, play_episodes
from tests.search.gamegen import scalar_dag

SIMS = 32  # every uniform-prior test uses 32 simulations and bucket 16: one compile


def bottleneck_chain() -> Graph:
    """x0..x3 -> a1 -> a2 -> a3 -> a4 -> a5 -> y0..y3 (all scalar).

    Hand-solved: eliminating an interior chain vertex with one predecessor and
    one successor costs 1 (a2, a3, a4: 3 in all) and leaves x* -> a1 -> a5 -> y*;
    then a1 costs 4 * 1 and a5 costs 4 * 4 = 16 (or a5 first: 1 * 4, then a1:
    4 * 4): 3 + 4 + 16 = 23. Eliminating a1 (or a5) early makes every later
    chain step cost 4 instead of 1, e.g. forward order 4+4+4+4+16 = 32. Only
    12 of the 120 orders (a1 and a5 last) reach 23.
    """
    xs = [f"x{i}" for i in range(4)]
    ys = [f"y{i}" for i in range(4)]
    chain = [f"a{i}" for i in range(1, 6)]
    vertices = [Vertex(x, "input") for x in xs]
    vertices += [Vertex(v, "node") for v in chain + ys]
    edges = [Edge(x, "a1") for x in xs]
    edges += [Edge(a, b) for a, b in itertools.pairwise(chain)]
    edges += [Edge("a5", y) for y in ys]
    return Graph(tuple(vertices), tuple(xs), tuple(ys), tuple(edges))


def test_the_hand_solved_optimum_is_23_by_brute_force():
    g = build(bottleneck_chain())
    costs = [
        cost_of(g, list(p)).multiplications
        for p in itertools.permutations(g.intermediates)
    ]
    assert min(costs) == 23 and costs.count(23) == 12
    assert graphs.cost(g, "forward").multiplications == 32


def test_mcts_with_a_uniform_prior_finds_the_optimum():
    result = mcts.run_mcts(bottleneck_chain(), num_simulations=SIMS, num_episodes=4)
    assert result.cost == 23
    assert set(result.order_ids[-2:]) == {"a1", "a5"}
    assert graphs.cost(bottleneck_chain(), list(result.order_ids)).multiplications == 23
    assert result.episodes == 4
    assert 0 < result.simulations <= 4 * 5 * SIMS


def test_same_seed_gives_the_same_order():
    graph = scalar_dag(5, 3, 11)
    runs = [
        mcts.run_mcts(graph, num_simulations=SIMS, num_episodes=4, seed=seed)
        for seed in (7, 7, 8)
    ]
    assert runs[0].order == runs[1].order and runs[0].cost == runs[1].cost
    # Three runs (and the other tests of this bucket) share one compiled move.
    assert _move_fn(None, SIMS, 16, False)._cache_size() == 1
    g = build(graph)
    for run in runs:
        assert sorted(run.order) == sorted(g.intermediates)
        assert run.cost == cost_of(g, list(run.order)).multiplications


def test_episodes_hold_aligned_policy_targets_and_scaled_returns():
    g = build(scalar_dag(6, 3, 10))
    states = game.stack([game.encode(g)] * 4)
    episodes = play_episodes(
        states, rng_key=jax.random.key(0), num_simulations=SIMS
    )
    t_max, b = episodes.actions.shape
    assert (t_max, b) == (len(g.intermediates), 4)
    assert episodes.action_weights.shape == (t_max, 4, 16)
    assert episodes.observations.present.shape == (t_max, 4, 16, 16)
    assert episodes.live.all() and episodes.searched.all()
    assert episodes.completions.shape == (t_max, 4, 2)
    scale = float(states.scale[0])
    for game_index in range(4):
        order = episodes.actions[:, game_index].tolist()
        report = cost_of(g, order)
        assert episodes.total_costs[game_index] == report.multiplications
        assert list(episodes.costs[:, game_index]) == [
            s.multiplications for s in report.steps
        ]
        # return-to-go: -(cost of this move and all later ones) / scale
        to_go = [sum(s.multiplications for s in report.steps[t:]) for t in range(t_max)]
        np.testing.assert_allclose(
            episodes.returns[:, game_index], -np.array(to_go) / scale, rtol=1e-6
        )
    for t in range(t_max):
        observation = jax.tree.map(lambda x, t=t: x[t], episodes.observations)
        legal = np.asarray(jax.vmap(game.legal_mask)(observation))
        weights = episodes.action_weights[t]
        np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
        assert np.all(weights[~legal] == 0.0)  # targets only on legal moves
        assert legal[np.arange(4), episodes.actions[t]].all()  # the move was legal
        if t + 1 < t_max:  # the next observation is this one after the move
            nxt = jax.tree.map(lambda x, t=t: x[t + 1], episodes.observations)
            stepped, _ = jax.vmap(game.step)(observation, episodes.actions[t])
            assert np.array_equal(np.asarray(stepped.present), nxt.present)


def test_games_of_different_lengths_share_a_batch():
    long_g, short_g = build(scalar_dag(6, 3, 10)), build(scalar_dag(9, 2, 4))
    states = game.stack(
        [game.encode(long_g, bucket=16), game.encode(short_g, bucket=16)] * 2
    )
    episodes = play_episodes(
        states, rng_key=jax.random.key(1), num_simulations=SIMS
    )
    assert episodes.live[:, 1].sum() == len(short_g.intermediates)
    assert np.all(episodes.costs[~episodes.live] == 0)
    assert np.all(episodes.action_weights[~episodes.live] == 0)
    assert np.all(episodes.returns[~episodes.live] == 0)
    order = episodes.actions[episodes.live[:, 1], 1].tolist()
    assert episodes.total_costs[1] == cost_of(short_g, order).multiplications


def test_heuristic_values_and_completions_never_lose_to_forward_or_reverse():
    graph = scalar_dag(12, 4, 12)
    result = mcts.run_mcts(graph, num_simulations=SIMS, heuristic=True)
    # Among the candidates are the first move's forward and reverse completions
    # (the ones with the lowest estimates on this graph).
    assert result.cost <= min(
        graphs.cost(graph, "forward").multiplications,
        graphs.cost(graph, "reverse").multiplications,
    )
    assert result.cost == graphs.cost(graph, list(result.order_ids)).multiplications


def test_an_exhausted_budget_finishes_the_order_greedily():
    g = build(scalar_dag(6, 3, 10))
    result = mcts.run_mcts(g, num_simulations=SIMS, time_budget_s=0.0)
    assert sorted(result.order) == sorted(g.intermediates)
    assert result.cost == cost_of(g, list(result.order)).multiplications
    assert result.simulations == 0 and result.episodes == 4


@pytest.mark.slow
def test_mcts_runs_with_network_parameters_and_progress():
    config = net.NetConfig(hidden_size=8, num_layers=1, head_size=8)
    init_fn, _ = net.make_network(config)
    graph = bottleneck_chain()
    params = jax.jit(init_fn)(jax.random.key(0), game.encode(build(graph)))
    seen = []
    result = mcts.run_mcts(
        graph,
        num_simulations=SIMS,
        num_episodes=8,
        params=params,
        net_config=config,
        progress_fn=lambda episodes, best: seen.append((episodes, best)),
    )
    assert result.cost == 23
    assert [e for e, _ in seen] == [4, 8] and seen[-1][1] == 23


def test_heuristic_prior_prefers_cheap_moves_and_values_the_best_completion():
    g = build(bottleneck_chain())
    states = game.stack([game.encode(g, scale=23.0)])
    logits, value = _evaluate(None, None, states, heuristic=True)
    ids = {vid: i for i, vid in enumerate(g.ids)}
    low = np.finfo(np.float32).min
    assert logits[0, ids["x0"]] == low and logits[0, ids["y0"]] == low
    # a2..a4 cost 1 now, a1 and a5 cost 4: the prior prefers the chain interior.
    assert logits[0, ids["a3"]] > logits[0, ids["a1"]]
    assert logits[0, ids["a3"]] == logits[0, ids["a2"]]
    # forward and reverse both cost 32 from the start (see bottleneck_chain).
    assert float(value[0]) == pytest.approx(-32 / 23)
    uniform, zero = _evaluate(None, None, states)
    assert float(zero[0]) == 0.0 and float(uniform[0, ids["a1"]]) == 0.0
