"""search.window: exact window re-ordering only ever lowers the true cost."""

from graphs.elimination import build, cost_of
from graphs.random_programs import random_dag
from search.fastbaselines import scalar_baselines
from search.fastcost import ScalarModel
from search.window import WindowSearch
from tests.search.searchgen import random_graph


def _converge(search):
    costs = [search.cost]
    while not search.converged:
        search.step()
        costs.append(search.cost)
    return costs


def test_windows_lower_the_true_cost_and_keep_a_permutation():
    improved = 0
    for seed in range(12):
        if seed % 2:
            graph = random_graph(seed, num_inputs=4, num_nodes=40, valueless=0.2)
        else:
            graph = random_dag(
                seed, num_intermediates=50, num_inputs=3, num_outputs=2 + seed % 3
            )
        g = build(graph)
        model = ScalarModel(g)
        start, start_cost = scalar_baselines(model)["forward"]
        search = WindowSearch(model, start, width=8)
        costs = _converge(search)
        assert costs == sorted(costs, reverse=True)  # never worse
        assert sorted(search.order) == sorted(g.intermediates)
        assert cost_of(g, search.order).multiplications == search.cost
        improved += search.cost < start_cost
        again = WindowSearch(model, start, width=8)
        _converge(again)
        assert again.order == search.order  # deterministic
    assert improved >= 10


def test_offer_continues_from_a_cheaper_order_only():
    g = build(random_dag(5, num_intermediates=40, num_inputs=3, num_outputs=3))
    model = ScalarModel(g)
    found = scalar_baselines(model)
    search = WindowSearch(model, found["forward"][0], width=6)
    search.step()
    before = search.cost
    worse = list(reversed(search.order))
    search.offer(worse, before + 10_000)
    assert search.cost == before
    best_order, best_cost = min(found.values(), key=lambda t: t[1])
    if best_cost < before:
        search.offer(best_order, best_cost)
        assert search.cost == best_cost and search.order == list(best_order)
    _converge(search)
    assert cost_of(g, search.order).multiplications == search.cost
