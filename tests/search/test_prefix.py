"""search.prefix: the greedy prefix's exact saving, hand-solved costs, optimize's use."""

import random

from graphs.elimination import build, cost_of
from graphs.ir import INPUT, NODE, Edge, Graph, Vertex
from graphs.random_programs import random_dag
from search import optimize
from search.prefix import grow_prefix, hub_vertices, prefix_order
from tests.search.searchgen import random_graph


def _graph(inputs, inter, outputs, edges):
    vertices = [Vertex(x, INPUT) for x in inputs]
    vertices += [Vertex(v, NODE) for v in [*inter, *outputs]]
    return Graph(
        tuple(vertices),
        tuple(inputs),
        tuple(outputs),
        tuple(Edge(s, d) for s, d in edges),
    )


def _ids(g, order):
    return [g.ids[v] for v in order]


def test_hand_solved_fan_out_goes_first():
    # x -> v -> a, b; a and b each -> y1, y2, y3. Reverse: b 1·3, a 1·3, then v
    # (successors now y1..y3) 1·3 = 9. Δ(v) = 1·2 - 1·3 + 0 = -1: v first costs
    # 1·2, then a and b (predecessor x) 3 each = 8; Δ(a) = Δ(b) = 0 then.
    outs = ("y1", "y2", "y3")
    edges = [("x", "v"), ("v", "a"), ("v", "b")]
    edges += [(m, y) for m in "ab" for y in outs]
    g = build(_graph(["x"], ["v", "a", "b"], outs, edges))
    assert cost_of(g, list(reversed(g.intermediates))).multiplications == 9
    order, saved = grow_prefix(g)
    assert _ids(g, order)[0] == "v" and saved == 1
    assert cost_of(g, order).multiplications == 8


def test_hand_solved_transpose_improves_forward():
    # Mirror image: x1, x2, x3 -> a, b -> v -> y. Forward pays 3 + 3 + 3 = 9;
    # on the transposed graph v goes first: 2·1, then a and b 3·1 each = 8.
    ins = ("x1", "x2", "x3")
    edges = [(x, m) for m in "ab" for x in ins] + [("a", "v"), ("b", "v"), ("v", "y")]
    g = build(_graph(ins, ["a", "b", "v"], ["y"], edges))
    assert cost_of(g, list(g.intermediates)).multiplications == 9
    order, saved = grow_prefix(g, transpose=True)
    assert _ids(g, order)[0] == "v" and saved == 1
    assert cost_of(g, order).multiplications == 8


def test_saving_is_exact_and_never_negative_on_random_dags():
    gained = 0
    for seed in range(40):
        rng = random.Random(seed)
        graph = random_dag(
            seed + 500,
            num_intermediates=rng.randint(5, 120),
            num_inputs=rng.randint(1, 8),
            num_outputs=rng.randint(1, 8),
        )
        g = build(graph)
        inter = list(g.intermediates)
        for transpose, mode in ((False, inter[::-1]), (True, inter)):
            order, saved = grow_prefix(g, transpose=transpose, rng=rng)
            assert sorted(order) == sorted(inter)
            base = cost_of(g, mode).multiplications
            assert cost_of(g, order).multiplications == base - saved
            assert saved >= 0
            gained += saved > 0
    assert gained >= 40


def test_valueless_edges_still_give_a_permutation():
    for seed in range(30):
        g = build(random_graph(seed, num_nodes=12, valueless=0.4))
        for transpose in (False, True):
            order = prefix_order(g, transpose=transpose)
            assert sorted(order) == sorted(g.intermediates)


def test_past_the_deadline_or_too_big_gives_none(monkeypatch):
    import search.prefix

    g = build(random_dag(3, num_intermediates=400, num_inputs=8, num_outputs=4))
    assert prefix_order(g, deadline=0.0) is None
    assert prefix_order(g) is not None
    # 400 intermediates x 12 inputs and outputs = 4,800 reach bits.
    monkeypatch.setattr(search.prefix, "MAX_REACH_BITS", 4_799)
    assert prefix_order(g) is None


def test_optimize_is_never_worse_than_the_prefix_orders():
    g = build(random_dag(7, num_intermediates=300, num_inputs=12, num_outputs=6))
    result = optimize(g, time_budget_s=30, seed=0, methods=("local",), max_chunks=1)
    for transpose in (False, True):
        cost = cost_of(g, prefix_order(g, transpose=transpose)).multiplications
        assert result.cost <= cost
    assert result.cost < min(result.baselines.values())


def _ladder(width: int, depth: int, num_inputs: int, num_outputs: int):
    """Layers of ``width``, each vertex reading every vertex of the layer before;
    the first layer splits the inputs between its vertices, every output reads
    the whole last layer."""
    xs = [f"x{i}" for i in range(num_inputs)]
    layers = [[f"v{d}_{k}" for k in range(width)] for d in range(depth)]
    edges = [(x, layers[0][i * width // num_inputs]) for i, x in enumerate(xs)]
    for prev, lay in zip(layers, layers[1:]):
        edges += [(p, v) for v in lay for p in prev]
    ys = [f"y{j}" for j in range(num_outputs)]
    edges += [(p, y) for y in ys for p in layers[-1]]
    return _graph(xs, [v for lay in layers for v in lay], ys, edges)


def test_hub_hand_solved_ladder():
    # Width 2, six layers a..f, inputs x1-x3 -> a1 and x4-x6 -> a2, outputs
    # y1-y3 read f1, f2. Forward: a 3·2 each, b..e 6·2 each, f 6·3 each = 144.
    # Reverse: f..b 2·3 each, a 3·3 each = 78. The forward hub is {a1, a2}
    # (2 < 6 inputs): b..e then 2·2 each, f 2·3 each, and a last 3·3 each = 62,
    # the optimum (proven by exact search below).
    g = build(_ladder(2, 6, 6, 3))
    inter = list(g.intermediates)
    assert cost_of(g, inter).multiplications == 144
    assert cost_of(g, inter[::-1]).multiplications == 78
    assert _ids(g, hub_vertices(g, transpose=True)) == ["v0_0", "v0_1"]
    order = prefix_order(g, transpose=True, hub=True)
    assert _ids(g, order)[-2:] == ["v0_0", "v0_1"]
    assert cost_of(g, order).multiplications == 62
    assert cost_of(g, prefix_order(g, transpose=True)).multiplications == 80
    exact = optimize(g, time_budget_s=10, seed=0, methods=("exact",))
    assert exact.optimal and exact.cost == 62


def test_no_hub_where_it_is_not_narrower():
    # The fan-out graph: one input, so {v} is no narrower than the input.
    outs = ("y1", "y2", "y3")
    edges = [("x", "v"), ("v", "a"), ("v", "b")]
    edges += [(m, y) for m in "ab" for y in outs]
    g = build(_graph(["x"], ["v", "a", "b"], outs, edges))
    assert hub_vertices(g, transpose=True) is None
    assert prefix_order(g, transpose=True, hub=True) is None
    # Towards the outputs: a and b (2) are fewer than y1-y3.
    assert sorted(_ids(g, hub_vertices(g))) == ["a", "b"]


def test_hub_orders_are_permutations():
    rng = random.Random(5)
    for seed in range(40):
        g = build(random_graph(seed, num_nodes=rng.randint(6, 40), valueless=0.3))
        for transpose in (False, True):
            order = prefix_order(g, transpose=transpose, hub=True)
            if order is not None:
                assert sorted(order) == sorted(g.intermediates)


def test_optimize_starts_from_the_hub_order():
    # Width 4, 25 layers, 32 inputs, 10 outputs: the forward hub (the first
    # layer) beats both prefix orders and every baseline, although forward mode
    # costs more than twice reverse mode (so no plain forward prefix is tried).
    g = build(_ladder(4, 25, 32, 10))
    hub = cost_of(g, prefix_order(g, transpose=True, hub=True)).multiplications
    plain = [
        cost_of(g, prefix_order(g, transpose=t)).multiplications for t in (False, True)
    ]
    assert (hub, plain) == (1952, [4160, 2880])
    result = optimize(g, time_budget_s=30, seed=0, methods=("local",), max_chunks=1)
    assert result.cost <= hub < min(result.baselines.values())
