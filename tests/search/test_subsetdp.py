"""search.subsetdp: the vectorised DP over subsets against brute force and A*."""

import itertools

import pytest

from graphs.elimination import build, cost_of
from graphs.random_programs import random_dag
from search.bitgraph import BitGraph, simulate
from search.exact import exact_optimum
from search.fastcost import ScalarModel
from search.subsetdp import SubsetDP, local_problem, whole_graph_problem
from tests.search.searchgen import random_graph


def test_dp_equals_brute_force_on_hundreds_of_small_graphs():
    checked = 0
    for seed in range(400):
        graph = random_graph(
            seed,
            num_inputs=1 + seed % 3,
            num_nodes=2 + seed % 7,
            num_outputs=1 + seed % 3,
            valueless=0.1 + 0.3 * (seed % 3) / 2,
        )
        g = build(graph)
        if not 1 <= len(g.intermediates) <= 7:
            continue
        model = ScalarModel(g)  # equals graphs.cost (test_local.py)
        best = min(model.order_cost(p) for p in itertools.permutations(g.intermediates))
        order, found = SubsetDP(whole_graph_problem(model)).run()
        assert found == best == cost_of(g, list(order)).multiplications
        assert sorted(order) == sorted(g.intermediates)
        checked += 1
    assert checked >= 250


def test_chain_optimum_by_hand():
    # x1, x2 -> a -> b -> c -> y1, y2, y3 (see test_exact.py): b, a, c costs 9.
    from tests.search.test_exact import chain_graph

    g = build(chain_graph())
    result = exact_optimum(g, method="dp")
    assert result.optimal and result.cost == 9
    assert [g.ids[v] for v in result.order] == ["b", "a", "c"]


@pytest.mark.parametrize("seed", range(6))
def test_dp_equals_astar_on_random_dags(seed):
    # 11-13 intermediates: A* still proves these quickly, and the two agree.
    g = build(
        random_dag(
            1000 + seed,
            num_intermediates=11 + seed % 3,
            num_inputs=2 + seed % 3,
            num_outputs=1 + seed % 3,
        )
    )
    astar = exact_optimum(g, time_limit_s=60, method="astar")
    dp = exact_optimum(g, method="dp")
    assert astar.optimal and dp.optimal
    assert dp.cost == astar.cost == cost_of(g, dp.order).multiplications


def test_segment_optimum_is_an_exact_move():
    # Re-ordering order[lo:hi] optimally after the prefix never costs more, and
    # the steps after the segment keep their costs.
    for seed in range(40):
        g = build(random_dag(seed, num_intermediates=14, num_inputs=3, num_outputs=2))
        model = ScalarModel(g)
        order = list(g.intermediates)[::-1] if seed % 2 else list(g.intermediates)
        lo, hi = 3, 3 + 4 + seed % 5
        state = BitGraph(model)
        for v in order[:lo]:
            state.eliminate(v)
        prob = local_problem(
            state.pred, state.succ, state.vl_in, state.vl_out, order[lo:hi], model.rank
        )
        seg, seg_cost = SubsetDP(prob).run()
        before = simulate(model, order)
        after = simulate(model, order[:lo] + list(seg) + order[hi:])
        assert sum(after[lo:hi]) == seg_cost <= sum(before[lo:hi])
        assert after[hi:] == before[hi:]
        best = (
            min(
                sum(simulate(model, order[:lo] + list(p) + order[hi:])[lo:hi])
                for p in itertools.permutations(order[lo:hi])
            )
            if hi - lo <= 6
            else seg_cost
        )
        assert seg_cost == best


def test_too_many_vertices_is_an_error_that_says_what_to_use():
    g = build(random_dag(3, num_intermediates=30, num_inputs=2, num_outputs=2))
    prob = whole_graph_problem(ScalarModel(g))
    with pytest.raises(ValueError, match="ExactSearch"):
        SubsetDP(prob)
