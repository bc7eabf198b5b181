"""search.fastcost and search.local: fast costs equal graphs.cost; seeded annealing."""

import random

import pytest

from graphs import tasks
from graphs.baselines import best_baseline
from graphs.elimination import build, cost_of
from search.bitgraph import simulate
from search.fastcost import ScalarModel, TensorEvaluator
from search.local import LocalSearch, anneal, greedy_randomized
from tests.search.searchgen import random_graph


def test_scalar_model_equals_graphs_cost_on_random_graphs():
    for seed in range(300):
        rng = random.Random(seed)
        g = build(random_graph(seed, num_nodes=rng.randint(2, 14), valueless=0.3))
        model = ScalarModel(g)
        for _ in range(3):
            order = list(g.intermediates)
            rng.shuffle(order)
            report = cost_of(g, order)
            steps = [s.multiplications for s in report.steps]
            assert model.order_costs(order) == steps
            assert simulate(model, order) == steps


@pytest.mark.parametrize("name", ["RoeFlux_1d", "HumanHeartDipole", "g"])
def test_scalar_model_equals_graphs_cost_on_tasks(name):
    g = build(tasks.get(name).graph())
    assert g.is_scalar
    model = ScalarModel(g)
    rng = random.Random(0)
    for _ in range(3):
        order = list(g.intermediates)
        rng.shuffle(order)
        assert model.order_cost(order) == cost_of(g, order).multiplications


def test_hand_solved_costs():
    # x -> v -> y1, y2 and x -> y1: eliminating v costs |{x}|·|{y1, y2}| = 2,
    # and adds onto the existing edge y1 <- x (one addition, no product).
    from graphs.ir import Edge, Graph, Vertex

    graph = Graph(
        (
            Vertex("x", "input"),
            Vertex("v", "node"),
            Vertex("y1", "node"),
            Vertex("y2", "node"),
        ),
        ("x",),
        ("y1", "y2"),
        (Edge("x", "v"), Edge("v", "y1"), Edge("v", "y2"), Edge("x", "y1")),
    )
    g = build(graph)
    assert ScalarModel(g).order_cost(list(g.intermediates)) == 2


def test_tensor_windows_match_a_full_recount():
    # Moves re-price only their window; the total must still equal graphs.cost.
    for seed in range(25):
        g = build(random_graph(seed, num_nodes=6 + seed % 5, tensor=True))
        if len(g.intermediates) < 3:
            continue
        ev = TensorEvaluator(g)
        ev.reset(list(g.intermediates))
        rng = random.Random(seed)
        for _ in range(15):
            i = rng.randrange(len(ev.order) - 1)
            j = rng.randrange(i + 1, len(ev.order))
            seg = ev.order[i : j + 1]
            rng.shuffle(seg)
            ev.try_window(i, seg)
            ev.commit()
            assert ev.total == cost_of(g, ev.order).multiplications


def test_annealing_is_a_function_of_seed_and_moves():
    g = build(random_graph(7, num_inputs=5, num_nodes=40, num_outputs=4))
    a = anneal(g, num_moves=3000, seed=3)
    search = LocalSearch(g, seed=3)
    search.step(1000)
    b = search.step(2000)
    assert a.order == b.order and a.cost == b.cost and b.moves == 3000
    c = anneal(g, num_moves=3000, seed=4)
    assert c.cost == cost_of(g, c.order).multiplications
    assert sorted(a.order) == sorted(g.intermediates)


def test_annealing_never_worse_than_its_start_and_improves_tasks():
    graph = tasks.get("RoeFlux_1d").graph()
    g = build(graph)
    _, base = best_baseline(g)
    index = {g.ids[v]: v for v in g.intermediates}
    start = [index[v] for v in base.order]
    search = LocalSearch(g, seed=0, init_orders=[start])
    costs = [search.step(2000).cost for _ in range(4)]
    assert costs == sorted(costs, reverse=True)  # anytime: the best never gets worse
    assert costs[-1] < base.cost
    assert costs[-1] == cost_of(g, search.result.order).multiplications


def test_greedy_randomized_is_a_permutation_and_seeded():
    g = build(random_graph(3, num_nodes=30, valueless=0.2))
    a = greedy_randomized(g, random.Random(1))
    b = greedy_randomized(g, random.Random(1))
    assert a == b and sorted(a) == sorted(g.intermediates)
    gt = build(random_graph(3, num_nodes=12, tensor=True))
    order = greedy_randomized(gt, random.Random(0))
    assert sorted(order) == sorted(gt.intermediates)


def test_scalar_baselines_equal_graphs_baselines():
    from graphs.baselines import baselines
    from search.fastbaselines import scalar_baselines

    graphs_checked = [
        build(random_graph(s, num_nodes=3 + s % 20, valueless=0.25)) for s in range(60)
    ]
    graphs_checked.append(build(tasks.get("BlackScholes_Jacobian").graph()))
    for g in graphs_checked:
        mine = scalar_baselines(ScalarModel(g))
        for name, ref in baselines(g).items():
            order, cost = mine[name]
            assert tuple(g.ids[v] for v in order) == ref.order
            assert cost == ref.cost


@pytest.mark.parametrize("name", ["MLP", "RoeFlux_3d"])
def test_tensor_baselines_equal_graphs_baselines(name):
    from graphs.baselines import baselines
    from search.fastbaselines import tensor_baselines

    graphs_checked = [build(tasks.get(name).graph())]
    if name == "MLP":
        graphs_checked += [
            build(random_graph(s, num_nodes=3 + s % 14, valueless=0.25, tensor=True))
            for s in range(40)
        ]
    for g in graphs_checked:
        mine = tensor_baselines(g)
        for base, ref in baselines(g).items():
            order, cost = mine[base]
            assert tuple(g.ids[v] for v in order) == ref.order
            assert cost == ref.cost


def test_checkpoint_windows_match_a_full_recount():
    from search.bitgraph import CheckpointEvaluator

    for seed in range(15):
        g = build(random_graph(seed, num_nodes=40, valueless=0.2))
        model = ScalarModel(g)
        ev = CheckpointEvaluator(model, every=4)
        ev.reset(list(g.intermediates))
        rng = random.Random(seed)
        for _ in range(30):
            n = len(ev.order)
            if n < 3:
                break
            i = rng.randrange(n - 1)
            j = rng.randrange(i + 1, min(n, i + 9))
            seg = ev.order[i : j + 1]
            rng.shuffle(seg)
            ev.try_window(i, seg)
            if rng.random() < 0.6:
                ev.commit()
            assert ev.total == cost_of(g, ev.order).multiplications


def test_tensor_annealer_with_known_start_costs_makes_the_same_moves():
    # init_costs spare the tensor annealer a pricing pass per start (0.2 s each
    # at 1,500 intermediates); its decisions are the same as when it prices them.
    g = build(tasks.get("RoeFlux_3d").graph())
    starts = [list(g.intermediates), list(reversed(g.intermediates))]
    costs = [cost_of(g, o).multiplications for o in starts]
    runs = []
    for init_costs in (None, costs):
        search = LocalSearch(g, seed=3, init_orders=starts, init_costs=init_costs)
        runs.append(search.step(300))
    assert runs[0].cost == runs[1].cost and runs[0].order == runs[1].order
    assert cost_of(g, list(runs[1].order)).multiplications == runs[1].cost
    assert runs[1].cost < min(costs)


def test_tensor_evaluator_relates_each_vertex_to_its_ancestors_and_descendants():
    for name in ("RoeFlux_3d", "f", "Encoder"):
        g = build(tasks.get(name).graph())
        n = len(g.ids)
        pred, succ = [0] * n, [0] * n
        for s, p in g.edges:
            pred[s] |= 1 << p
            succ[p] |= 1 << s
        inter = sum(1 << v for v in g.intermediates)
        want = [
            (ScalarModel._closure(1 << v, pred) | ScalarModel._closure(1 << v, succ))
            & inter
            & ~(1 << v)
            for v in range(n)
        ]
        assert TensorEvaluator(g).related == want
