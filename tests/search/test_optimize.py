"""search.optimize: the portfolio is exact on small graphs, seeded, anytime."""

import itertools

import pytest

from graphs import tasks
from graphs.baselines import best_baseline, cost
from graphs.elimination import build, cost_of
from search import optimize
from tests.search.searchgen import random_graph


def _brute_force(g):
    return min(
        cost_of(g, list(p)).multiplications
        for p in itertools.permutations(g.intermediates)
    )


def test_optimize_finds_the_optimum_on_hundreds_of_small_graphs():
    checked = 0
    for seed in range(300):
        tensor = seed % 4 == 3
        graph = random_graph(seed, num_nodes=2 + seed % 7, valueless=0.2, tensor=tensor)
        g = build(graph)
        if len(g.intermediates) > 6:
            continue
        result = optimize(graph, time_budget_s=30, seed=seed, methods=("exact",))
        assert result.cost == _brute_force(g)
        assert result.lower_bound == result.cost and result.optimal
        assert cost(graph, list(result.order)).multiplications == result.cost
        assert result.cost <= min(result.baselines.values())
        checked += 1
    assert checked >= 200


def test_same_seed_same_order_and_more_work_never_worse():
    graph = random_graph(11, num_inputs=6, num_nodes=60, num_outputs=5, valueless=0.1)
    runs = [
        optimize(graph, time_budget_s=60, seed=5, methods=("local",), max_chunks=k)
        for k in (4, 4, 12)
    ]
    assert runs[0].order == runs[1].order and runs[0].cost == runs[1].cost
    assert runs[2].cost <= runs[0].cost
    # 4 chunks: 4 windows, two annealing chunks of 4096 moves (C moves: the chunk
    # is 4096 on graphs of at most 976 edges), 4 windows.
    assert runs[0].work["local_moves"] == 8192 and runs[0].work["windows"] == 8


def test_never_worse_than_the_best_baseline_on_tasks():
    for name in ("HumanHeartDipole", "MLP"):
        graph = tasks.get(name).graph()
        result = optimize(graph, time_budget_s=0.5, seed=0)
        _, base = best_baseline(graph)
        assert result.best_baseline == base.cost
        assert result.cost <= base.cost
        assert cost(graph, list(result.order)).multiplications == result.cost


def test_program_and_structure_only_graphs_agree():
    graph = tasks.get("BlackScholes_Jacobian").graph()
    structure = graph.to_structure()
    a = optimize(graph, time_budget_s=30, seed=1, methods=("local",), max_chunks=6)
    b = optimize(structure, time_budget_s=30, seed=1, methods=("local",), max_chunks=6)
    assert a.order == b.order and a.cost == b.cost
    assert a.cost < a.best_baseline
    assert a.method == "local" and a.lower_bound is None


def test_progress_and_history_record_improvements():
    seen = []
    graph = random_graph(2, num_inputs=5, num_nodes=50, num_outputs=4)
    result = optimize(
        graph,
        time_budget_s=60,
        seed=0,
        methods=("local",),
        max_chunks=10,
        progress_fn=lambda t, c, m: seen.append((c, m)),
    )
    costs = [c for _, c, _ in result.history]
    assert costs == sorted(costs, reverse=True) and costs[-1] == result.cost
    assert seen == [(c, m) for _, c, m in result.history]
    assert result.history[0][2].startswith("baseline:")


def test_unknown_method_is_an_error_that_lists_the_choices():
    with pytest.raises(ValueError, match="subset of"):
        optimize(random_graph(0), methods=("anneal",))


def _tiny(inputs, outputs, edges):
    from graphs.ir import Edge, Graph, Vertex

    ids = list(dict.fromkeys(list(inputs) + [v for e in edges for v in e]))
    vertices = tuple(Vertex(v, "input" if v in inputs else "node") for v in ids)
    return Graph(
        vertices, tuple(inputs), tuple(outputs), tuple(Edge(a, b) for a, b in edges)
    )


def test_graphs_with_zero_or_one_intermediate():
    # x -> y: nothing to eliminate, cost 0, trivially optimal.
    none = optimize(_tiny(["x"], ["y"], [("x", "y")]), time_budget_s=1)
    assert none.order == () and none.cost == 0 and none.optimal
    # x1, x2 -> v -> y1, y2, y3 and an output that is an input: 2·3 = 6.
    one = optimize(
        _tiny(
            ["x1", "x2"],
            ["y1", "x1", "y2", "y3"],
            [("x1", "v"), ("x2", "v"), ("v", "y1"), ("v", "y2"), ("v", "y3")],
        ),
        time_budget_s=1,
    )
    assert one.order == ("v",) and one.cost == 6 and one.optimal


def test_elimination_graph_input_and_proven_optimum_stop_early():
    g = build(tasks.get("HumanHeartDipole").graph())
    result = optimize(g, time_budget_s=60, seed=0)
    # The root lower bound already equals the best baseline: optimal, no search.
    assert result.optimal and result.cost == result.lower_bound == result.best_baseline
    assert result.elapsed_s < 30


def test_mcts_alone_needs_time_for_a_batch():
    result = optimize(random_graph(4), time_budget_s=1, methods=("mcts",))
    assert result.cost == result.best_baseline
    assert any("mcts" in note for note in result.notes)


def test_optimize_is_exact_on_random_dags():
    from graphs.random_programs import random_dag
    from search.fastcost import ScalarModel

    for seed in range(100):
        graph = random_dag(
            seed,
            num_intermediates=2 + seed % 6,
            num_inputs=1 + seed % 3,
            num_outputs=1 + seed % 4,
        )
        g = build(graph)
        model = ScalarModel(g)  # equals graphs.cost (test_local.py); fast brute force
        best = min(model.order_cost(p) for p in itertools.permutations(g.intermediates))
        result = optimize(graph, time_budget_s=30, seed=seed)
        assert result.optimal and result.cost == best
        assert result.cost <= result.best_baseline


@pytest.mark.parametrize("seed", [7001, 7002])
def test_optimize_proves_the_optimum_of_20_intermediate_dags(seed):
    # The subset DP covers all 2^20 sets; annealing alone never goes below it.
    from graphs.random_programs import random_dag
    from search.local import anneal

    graph = random_dag(seed, num_intermediates=20, num_inputs=3, num_outputs=2)
    g = build(graph)
    result = optimize(graph, time_budget_s=600, seed=0, methods=("exact",))
    assert result.optimal and result.lower_bound == result.cost
    assert result.work["exact_dp_steps"] > 0
    assert cost(graph, list(result.order)).multiplications == result.cost
    assert anneal(g, num_moves=5_000, seed=1).cost >= result.cost
