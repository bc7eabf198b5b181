"""search.insertion: a vertex moved to its cheapest place, all places priced at once."""

import ctypes
import random

import numpy as np

from graphs.elimination import build, cost_of
from graphs.ir import INPUT, NODE, Edge, Graph, Vertex
from search.core import ScalarCore
from search.core.scalar import _ptr
from search.insertion import InsertionSearch
from search.optimize import optimize
from tests.search.searchgen import random_graph
from tests.search.test_core import _dense_graph, _layered_dag


def test_best_insertion_is_the_cheapest_of_every_place_priced_by_graphs_cost():
    for seed in range(3):
        graphs_ = [
            random_graph(
                seed, num_inputs=5, num_nodes=45, num_outputs=4, valueless=0.2
            ),
            _dense_graph(seed, num_nodes=40),  # dense fill, copies, outputs read on
        ]
        for graph in graphs_:
            g = build(graph)
            core = ScalarCore(g)
            rng = random.Random(seed)
            order = rng.sample(list(g.intermediates), len(g.intermediates))
            steps = np.array(core.order_costs(order), dtype=np.int64)
            for u in rng.sample(order, 4):
                out = np.zeros(len(order), dtype=np.intc)
                out_steps = np.zeros(len(order), dtype=np.int64)
                arr = np.array(order, dtype=np.intc)
                cost = core.best_insertion(arr, steps, u, out, out_steps)
                rest = [w for w in order if w != u]
                every = [
                    cost_of(g, rest[:j] + [u] + rest[j:]).multiplications
                    for j in range(len(rest) + 1)
                ]
                j = every.index(min(every))  # ties: the earliest place
                assert cost == min(every)
                assert out.tolist() == rest[:j] + [u] + rest[j:]
                assert out_steps.tolist() == [
                    s.multiplications for s in cost_of(g, out.tolist()).steps
                ]
                order, steps = out.tolist(), out_steps


def _fan_out(num_outputs: int) -> Graph:
    # x1, x2 -> a -> b -> y1..yk
    vertices = [Vertex("x1", INPUT), Vertex("x2", INPUT), Vertex("a", NODE)]
    vertices += [Vertex("b", NODE)]
    outputs = tuple(f"y{k}" for k in range(num_outputs))
    vertices += [Vertex(y, NODE) for y in outputs]
    edges = [Edge("x1", "a"), Edge("x2", "a"), Edge("a", "b")]
    edges += [Edge("b", y) for y in outputs]
    return Graph(tuple(vertices), ("x1", "x2"), outputs, tuple(edges), name="fan")


def test_insertion_moves_a_vertex_to_its_cheaper_place_on_a_hand_solved_graph():
    g = build(_fan_out(3))
    a, b = (g.ids.index(v) for v in ("a", "b"))
    # [b, a]: b costs |{a}|·|{y0,y1,y2}| = 3, then a 2·3 = 6: 9.
    # [a, b]: a costs 2·|{b}| = 2, then b 2·3 = 6: 8.
    search = InsertionSearch(ScalarCore(g), [b, a], 9, seed=0)
    while not search.converged:
        search.step(1)
    assert (
        search.order == [a, b]
        and search.cost == 8 == cost_of(g, [a, b]).multiplications
    )


def test_insertion_search_never_gets_worse_and_keeps_a_permutation():
    improved = 0
    for seed in range(6):
        graph = random_graph(seed, num_inputs=4, num_nodes=40, valueless=0.2)
        g = build(graph)
        core = ScalarCore(g)
        start = list(g.intermediates)  # forward mode
        search = InsertionSearch(core, start, core.order_cost(start), seed=seed)
        costs = [search.cost]
        while not search.converged:
            search.step(7)
            costs.append(search.cost)
        assert costs == sorted(costs, reverse=True)
        assert sorted(search.order) == sorted(g.intermediates)
        assert cost_of(g, search.order).multiplications == search.cost
        improved += search.cost < costs[0]
    assert improved >= 4


def test_optimize_runs_insertions_once_annealing_is_slow_and_prices_them_right():
    graph = _layered_dag(3, num_intermediates=150, num_inputs=12, num_outputs=5)
    result = optimize(
        graph, time_budget_s=60, seed=0, methods=("local",), max_chunks=400
    )
    assert result.work["insertions"] > 0
    g = build(graph)
    positions = [g.ids.index(v) for v in result.order]
    assert result.cost == cost_of(g, positions).multiplications
    assert result.cost < result.best_baseline


def test_kicks_go_on_from_converged_insertions_never_worse_and_priced_right():
    # The same seed and steps: until the sweeps converge the kicked search is
    # the plain one (kicks draw from the rng only after that), so it ends no
    # dearer; on most of these graphs (15-31 intermediates) kicks find cheaper.
    improved = 0
    for seed in range(1, 6):
        g = build(random_graph(seed, num_inputs=4, num_nodes=40, valueless=0.2))
        core = ScalarCore(g)
        start = list(g.intermediates)
        plain = InsertionSearch(core, start, core.order_cost(start), seed=seed)
        while not plain.converged:
            plain.step(7)
        kicked = InsertionSearch(
            core, start, core.order_cost(start), seed=seed, kicks=True
        )
        costs = [kicked.cost]
        for _ in range(200):
            kicked.step(7)
            costs.append(kicked.cost)
        assert not kicked.converged and kicked.kicks > 0
        assert costs == sorted(costs, reverse=True)
        assert sorted(kicked.order) == sorted(g.intermediates)
        assert cost_of(g, kicked.order).multiplications == kicked.cost <= plain.cost
        improved += kicked.cost < plain.cost
    assert improved >= 3


def test_optimize_with_kicks_is_a_function_of_the_seed_with_max_chunks():
    # 320 intermediates: insertions converge within 300 chunks and kick.
    graph = _layered_dag(3, num_intermediates=320, num_inputs=12, num_outputs=5)
    runs = [
        optimize(graph, time_budget_s=60, seed=0, methods=("local",), max_chunks=300)
        for _ in range(2)
    ]
    assert runs[0].work["kicks"] > 0 and runs[0].work["insert_passes"] > 0
    assert runs[0].order == runs[1].order and runs[0].work == runs[1].work
    g = build(graph)
    positions = [g.ids.index(v) for v in runs[0].order]
    assert runs[0].cost == cost_of(g, positions).multiplications


def test_cost_after_is_the_cost_once_the_other_vertex_is_eliminated():
    # Read off the sets (cc_cost_after) == eliminate u, price w, take u back;
    # on graphs with value-less edges, dense fill and outputs read on.
    for seed in range(3):
        for graph in (
            random_graph(seed, num_inputs=5, num_nodes=45, valueless=0.3),
            _dense_graph(seed, num_nodes=40),
        ):
            g = build(graph)
            core = ScalarCore(g)
            rng = random.Random(seed)
            order = rng.sample(list(g.intermediates), len(g.intermediates))
            checked = 0
            for k in range(0, len(order), 5):  # states part-way along the order
                core.reset()
                for v in order[:k]:
                    core.eliminate(v)
                left = order[k:]
                for w in left:
                    for u in left:
                        if u == w:
                            continue
                        mark = core.mark()
                        core.eliminate(u)
                        expected = core.cost(w)
                        core.undo(mark)
                        assert core.cost_after(w, u) == expected, (seed, k, w, u)
                        checked += expected != core.cost(w)
            assert checked > 20  # pairs where eliminating u changes w's cost


def _earlier(core: ScalarCore, order: list[int]):
    """cc_earlier_moves' raw output: (total, steps, to, gain)."""
    n = len(order)
    arr = np.array(order, dtype=np.intc)
    steps = np.zeros(n, dtype=np.int64)
    to = np.zeros(n, dtype=np.intc)
    gain = np.zeros(n, dtype=np.int64)
    total = core._lib.cc_earlier_moves(
        core._handle,
        _ptr(arr, ctypes.c_int),
        n,
        _ptr(steps, ctypes.c_longlong),
        _ptr(to, ctypes.c_int),
        _ptr(gain, ctypes.c_longlong),
        0.0,
    )
    return total, steps.tolist(), to.tolist(), gain.tolist()


def _shuffled_orders():
    """(graph, core, a shuffled order, its graphs.cost report) on small random
    and dense graphs, three seeds each."""
    for seed in range(3):
        for graph in (
            random_graph(
                seed, num_inputs=5, num_nodes=36, num_outputs=4, valueless=0.2
            ),
            _dense_graph(seed, num_nodes=30),
        ):
            g = build(graph)
            rng = random.Random(seed)
            order = rng.sample(list(g.intermediates), len(g.intermediates))
            yield g, ScalarCore(g), order, cost_of(g, order)


def test_earlier_moves_are_every_vertexs_cheapest_earlier_place_by_graphs_cost():
    for g, core, order, ref in _shuffled_orders():
        total, steps, to, gain = _earlier(core, order)
        assert total == ref.multiplications
        assert steps == [s.multiplications for s in ref.steps]
        for a, u in enumerate(order):
            rest = order[:a] + order[a + 1 :]
            every = [
                cost_of(g, rest[:j] + [u] + rest[j:]).multiplications
                for j in range(a + 1)
            ]
            # The earliest of the cheapest places; none cheaper: its own.
            j = every.index(min(every)) if min(every) < total else a
            assert (to[a], gain[a]) == (j, total - min(every)), a
        # The disjoint moves made at once save exactly what they say.
        out = np.zeros(len(order), dtype=np.intc)
        priced, saved = core.earlier_moves(
            np.array(order, dtype=np.intc), np.zeros(len(order), np.int64), out
        )
        assert priced == total and saved >= max(gain)
        assert sorted(out.tolist()) == sorted(order)
        assert cost_of(g, out.tolist()).multiplications == total - saved


def test_insertion_with_passes_never_gets_worse_and_is_a_function_of_the_seed():
    for seed in range(4):
        g = build(random_graph(seed, num_inputs=4, num_nodes=60, valueless=0.2))
        core = ScalarCore(g)
        start = list(g.intermediates)[::-1]  # reverse mode
        runs = []
        for _ in range(2):
            search = InsertionSearch(
                core, start, core.order_cost(start), seed=seed, passes=True
            )
            costs = [search.cost]
            while not search.converged:
                search.step(5)
                costs.append(search.cost)
            runs.append((search.order, costs))
            assert search.passes > 0
            assert costs == sorted(costs, reverse=True)
            assert sorted(search.order) == sorted(g.intermediates)
            assert cost_of(g, search.order).multiplications == search.cost
        assert runs[0] == runs[1]


def _later(core: ScalarCore, order: list[int], steps: list[int], reach: int):
    """cc_later_moves' raw output: (to, gain)."""
    n = len(order)
    arr = np.array(order, dtype=np.intc)
    steps_ = np.array(steps, dtype=np.int64)
    to = np.zeros(n, dtype=np.intc)
    gain = np.zeros(n, dtype=np.int64)
    work = core._lib.cc_later_moves(
        core._handle,
        _ptr(arr, ctypes.c_int),
        _ptr(steps_, ctypes.c_longlong),
        n,
        reach,
        _ptr(to, ctypes.c_int),
        _ptr(gain, ctypes.c_longlong),
        0.0,
    )
    assert work > 0
    return to.tolist(), gain.tolist()


def test_later_moves_are_every_vertexs_cheapest_later_place_within_reach():
    for g, core, order, ref in _shuffled_orders():
        total, steps = ref.multiplications, [s.multiplications for s in ref.steps]
        for reach in (3, len(order)):
            to, gain = _later(core, order, steps, reach)
            for a, u in enumerate(order):
                rest = order[:a] + order[a + 1 :]
                places = range(a + 1, min(a + reach, len(order) - 1) + 1)
                every = [
                    cost_of(g, rest[:j] + [u] + rest[j:]).multiplications
                    for j in places
                ]
                if not every or min(every) >= total:
                    assert (to[a], gain[a]) == (a, 0), (reach, a)
                    continue
                j = places[every.index(min(every))]  # the earliest cheapest
                assert (to[a], gain[a]) == (j, total - min(every))
            out = np.zeros(len(order), dtype=np.intc)
            saved = core.later_moves(
                np.array(order, dtype=np.intc),
                np.array(steps, dtype=np.int64),
                out,
                reach=reach,
            )
            assert saved >= max(gain)
            assert sorted(out.tolist()) == sorted(order)
            assert cost_of(g, out.tolist()).multiplications == total - saved
