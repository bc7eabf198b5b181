"""search.core: the fast cost cores agree with graphs.cost; optimize at scale.

The scalar core (C) must give exactly the multiplications of the reference
definition (``graphs.elimination``) for any order, including value-less edges,
and the greedy baselines must be ``graphs.baselines``' orders. The scale check
draws DAGs from a generator written here (not ``graphs.random_programs``) and
re-prices the returned order with a reference cost function written here too.
"""

import random

import pytest

from graphs import structure as st
from graphs.baselines import GREEDY_RULES, baselines
from graphs.elimination import build, cost_of
from graphs.ir import INPUT, NODE, Edge, Graph, Vertex
from search.core import (
    ScalarAnnealer,
    ScalarCore,
    StructuredCore,
    greedy_order,
    price_baselines,
)
from search.optimize import optimize
from tests.search.searchgen import random_graph


def _layered_dag(
    seed: int, *, num_intermediates: int, num_inputs: int, num_outputs: int
):
    """A DAG unlike the project's generator: vertices in layers of random width,
    each with 1-4 operands drawn from the previous two layers, and every vertex
    without a consumer read by a random output."""
    rng = random.Random(seed)
    inputs = [f"in{i}" for i in range(num_inputs)]
    layers = [inputs]
    made = 0
    edges = []
    while made < num_intermediates:
        width = min(num_intermediates - made, rng.randint(3, 40))
        layer = [f"m{made + k}" for k in range(width)]
        pool = layers[-1] + (layers[-2] if len(layers) > 1 else [])
        for vid in layer:
            for src in rng.sample(pool, min(len(pool), rng.randint(1, 4))):
                edges.append((src, vid))
        layers.append(layer)
        made += width
    outputs = [f"out{j}" for j in range(num_outputs)]
    used = {src for src, _ in edges}
    for vid in [v for layer in layers[1:] for v in layer if v not in used]:
        edges.append((vid, rng.choice(outputs)))
    for out in outputs:  # every output reads something
        if all(dst != out for _, dst in edges):
            edges.append((rng.choice(layers[-1]), out))
    vertices = [Vertex(x, INPUT) for x in inputs]
    vertices += [Vertex(v, NODE) for layer in layers[1:] for v in layer]
    vertices += [Vertex(y, NODE) for y in outputs]
    return Graph(
        vertices=tuple(vertices),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        edges=tuple(Edge(s, d) for s, d in edges),
        name=f"layered_{seed}",
    )


def _reference_cost(graph: Graph, order) -> int:
    """Scalar multiplications of an order, by the textbook rule on edge sets:
    eliminating v costs |preds(v)|·|succs(v)| and joins every pred to every succ
    (all partials of these DAGs have values)."""
    pred = {}
    succ = {}
    for e in graph.edges:
        pred.setdefault(e.dst, set()).add(e.src)
        succ.setdefault(e.src, set()).add(e.dst)
    total = 0
    for v in order:
        ps, ss = pred.pop(v, set()), succ.pop(v, set())
        total += len(ps) * len(ss)
        for p in ps:
            succ[p].discard(v)
            succ[p] |= ss
        for s in ss:
            pred[s].discard(v)
            pred[s] |= ps
    return total


@pytest.mark.parametrize("seed", range(6))
def test_scalar_core_prices_orders_like_graphs_cost(seed):
    # value-less edges (copies) included: the semiring of graphs.algebra
    g = build(
        random_graph(seed, num_inputs=4, num_nodes=40, num_outputs=3, valueless=0.2)
    )
    core = ScalarCore(g)
    rng = random.Random(seed)
    for _ in range(4):
        order = list(g.intermediates)
        rng.shuffle(order)
        steps = [s.multiplications for s in cost_of(g, order).steps]
        assert core.order_costs(order) == steps


def _dense_graph(seed: int, *, num_inputs=14, num_nodes=60, num_outputs=10):
    """A DAG whose vertices read up to 14 operands and whose eliminations fill
    densely (sets past the core's linear-scan size, so its per-vertex indexes
    grow and shrink), with value-less copies (about 30 % of the edges) and
    outputs that feed later vertices."""
    rng = random.Random(seed)
    ids = [f"x{i}" for i in range(num_inputs)]
    vertices = [Vertex(x, INPUT) for x in ids]
    edges = []
    for j in range(num_nodes):
        vid = f"v{j}"
        for src in rng.sample(ids, min(len(ids), rng.randint(1, 14))):
            copy = st.identity(()) if rng.random() < 0.3 else None
            edges.append(Edge(src, vid, copy))
        vertices.append(Vertex(vid, NODE))
        ids.append(vid)
    nodes = ids[num_inputs:]
    outputs = (nodes[-1], *rng.sample(nodes[:-1], num_outputs - 1))
    return Graph(
        tuple(vertices), tuple(ids[:num_inputs]), outputs, tuple(edges), name="dense"
    )


@pytest.mark.parametrize("seed", range(3))
def test_scalar_core_prices_dense_fill_with_copies_like_graphs_cost(seed):
    g = build(_dense_graph(seed))
    core = ScalarCore(g)
    assert 0.2 < core._csr[2].mean() < 0.4  # value-less copies
    rng = random.Random(seed)
    orders = [list(g.intermediates), list(g.intermediates)[::-1]]
    for _ in range(3):
        orders.append(rng.sample(list(g.intermediates), len(g.intermediates)))
    for order in orders:
        steps = [s.multiplications for s in cost_of(g, order).steps]
        assert core.order_costs(order) == steps
        # Eliminating windows and taking them back (the annealer's moves)
        # leaves the same state: the tail costs the same again.
        core.reset()
        head = [core.eliminate(v) for v in order[:15]]
        mark = core.mark()
        tail = [core.eliminate(v) for v in order[15:40]]
        core.undo(mark)
        assert [core.eliminate(v) for v in order[15:40]] == tail == steps[15:40]
        core.undo(0)
        degrees = []
        for v in order:
            degrees.append(core.degree(v))
            core.eliminate(v)
        assert max(degrees) >= 17  # a set past the linear-scan size (8)
        assert head == steps[:15]
    # the same state again after each order's undo: price the first order anew
    assert core.order_costs(orders[0]) == [
        s.multiplications for s in cost_of(g, orders[0]).steps
    ]


@pytest.mark.parametrize("seed", range(4))
def test_forward_and_reverse_mode_priced_in_closed_form_like_graphs_cost(seed):
    # The modes are priced from bitsets of the inputs and outputs reached (and
    # reached by a valued edge), without eliminating: the state stays.
    for graph in (
        random_graph(seed, num_inputs=5, num_nodes=60, num_outputs=6, valueless=0.3),
        _dense_graph(seed),
        _layered_dag(seed, num_intermediates=300, num_inputs=20, num_outputs=70),
    ):
        g = build(graph)
        core = ScalarCore(g)
        first = g.intermediates[0]
        before = core.cost(first)
        for order in (list(g.intermediates), list(g.intermediates)[::-1]):
            steps = [s.multiplications for s in cost_of(g, order).steps]
            core.reset()
            assert core.order_costs(order) == steps
            assert core.cost(first) == before  # not eliminated: closed form
            total = sum(steps)
            assert core.order_costs(order, cap=total) == steps
            assert core.order_costs(order, cap=total - 1) is None


def test_scalar_core_refuses_to_eliminate_an_output():
    g = build(_dense_graph(0))
    core = ScalarCore(g)
    output = next(iter(g.outputs.values()))
    with pytest.raises(ValueError, match="intermediate"):
        core.eliminate(output)
    with pytest.raises(ValueError, match="intermediate"):
        core.order_costs([output])


def test_undo_returns_to_the_same_state():
    g = build(random_graph(3, num_inputs=4, num_nodes=50, num_outputs=3, valueless=0.2))
    core = ScalarCore(g)
    order = list(g.intermediates)
    random.Random(0).shuffle(order)
    core.reset()
    head = [core.eliminate(v) for v in order[:20]]
    mark = core.mark()
    tail = [core.eliminate(v) for v in order[20:35]]
    core.undo(mark)
    assert [core.eliminate(v) for v in order[20:35]] == tail
    core.undo(0)
    assert [core.eliminate(v) for v in order[:20]] == head


@pytest.mark.parametrize("seed", range(3))
def test_undone_eliminations_leave_every_vertex_as_a_fresh_core_has_it(seed):
    # An undone elimination restores only its neighbours' sets (the vertex's own
    # are kept while it is gone); on dense fill the sets cross the 8-entry
    # inline size and the 16-entry scan size both ways.  Every live vertex's
    # cost, degree and fill must then be those of a core that never eliminated
    # and undid anything, and an eliminated vertex has none.
    g = build(_dense_graph(seed))
    order = list(g.intermediates)
    random.Random(seed).shuffle(order)
    core, fresh = ScalarCore(g), ScalarCore(g)
    core.reset()
    for k, v in enumerate(order[:40]):
        mark = core.mark()
        for u in order[k : k + 4]:
            core.eliminate(u)
        core.undo(mark)
        core.eliminate(v)
        fresh.reset()
        for u in order[: k + 1]:
            fresh.eliminate(u)
        for u in order[k + 1 :]:
            assert (core.cost(u), core.degree(u), core.fill(u)) == (
                fresh.cost(u),
                fresh.degree(u),
                fresh.fill(u),
            )
        assert (core.cost(v), core.degree(v), core.fill(v)) == (0, 0, 0)
        assert core.eliminate(v) == 0  # again: nothing left to multiply
    rest = [core.eliminate(u) for u in order[40:]]
    assert sum(rest) == cost_of(g, order).multiplications - sum(
        fresh.order_costs(order)[:40]
    )


@pytest.mark.parametrize("seed", range(4))
def test_greedy_rules_give_graphs_baselines_orders(seed):
    graph = random_graph(seed, num_inputs=5, num_nodes=45, num_outputs=4, valueless=0.1)
    g = build(graph)
    reference = baselines(g)
    for core in (ScalarCore(g), StructuredCore(g)):
        for name, terms in GREEDY_RULES.items():
            order = greedy_order(core, terms)
            assert tuple(g.ids[v] for v in order) == reference[name].order, name
        found, skipped = price_baselines(core)
        assert not skipped
        assert {k: c for k, (_, c) in found.items()} == {
            k: b.cost for k, b in reference.items()
        }


def test_annealer_is_a_function_of_seed_and_moves_and_prices_right():
    g = build(random_graph(5, num_inputs=5, num_nodes=80, num_outputs=4, valueless=0.1))
    core = ScalarCore(g)
    start = list(g.intermediates)[::-1]
    kwargs = dict(seed=3, run_moves=5000, mean_distance=3.0)
    a = ScalarAnnealer(core, start, **kwargs)
    a.step(7000)
    b = ScalarAnnealer(core, start, **kwargs)
    b.step(2000)
    b.step(5000)
    assert a.best_order == b.best_order and a.best_cost == b.best_cost
    assert a.best_cost == cost_of(g, a.best_order).multiplications
    assert a.best_cost <= core.order_cost(start)


@pytest.mark.parametrize("seed,distance", [(0, 4.0), (1, 4.0), (2, 4.0), (3, 1.5)])
def test_annealer_keeps_the_current_orders_cost_through_free_and_cut_moves(
    seed, distance
):
    # Moves that only exchange vertices not adjacent at the cursor are priced
    # without eliminating (every vertex keeps its step cost), uphill moves
    # stop pricing once they must be rejected, and a window's last two steps
    # are read off the graph without eliminating them (a swap eliminates
    # nothing; distance 1.5 makes most moves short); the annealer's running
    # total must still be the re-priced cost of the order it is at, after
    # every chunk, on sparse and on densely filling graphs with copies.
    graphs_ = [
        random_graph(seed, num_inputs=5, num_nodes=70, num_outputs=4, valueless=0.2),
        _dense_graph(seed),
    ]
    for graph in graphs_:
        g = build(graph)
        core = ScalarCore(g)
        start = list(g.intermediates)[::-1]
        a = ScalarAnnealer(
            core, start, seed=seed, run_moves=3000, mean_distance=distance
        )
        totals = set()
        for _ in range(12):
            a.step(997)
            order, total = a.current
            assert sorted(order) == sorted(g.intermediates)
            assert total == cost_of(g, order).multiplications
            totals.add(total)
        assert len(totals) > 1  # it moved
        assert a.best_cost == cost_of(g, a.best_order).multiplications


@pytest.mark.parametrize("seed", [1, 2])
def test_optimize_on_an_unseen_dag_family_is_valid_and_priced_right(seed):
    graph = _layered_dag(seed, num_intermediates=400, num_inputs=30, num_outputs=8)
    result = optimize(graph, time_budget_s=0.5, seed=0, methods=("local",))
    inter = {v.id for v in graph.vertices} - set(graph.inputs) - set(graph.outputs)
    assert sorted(result.order) == sorted(inter)  # a permutation of the intermediates
    assert _reference_cost(graph, result.order) == result.cost
    reference = {
        "forward": _reference_cost(
            graph, [v.id for v in graph.vertices if v.id in inter]
        ),
    }
    reference["reverse"] = _reference_cost(
        graph, [v.id for v in reversed(graph.vertices) if v.id in inter]
    )
    assert result.baselines["forward"] == reference["forward"]
    assert result.baselines["reverse"] == reference["reverse"]
    assert result.cost <= min(result.baselines.values())


def test_baselines_past_the_deadline_are_skipped_and_named():
    # The first baseline always runs (the result needs a floor); the rest are
    # skipped once the deadline has passed, and say why.
    import time

    from search.core import baseline_order

    g = build(random_graph(2, num_inputs=6, num_nodes=60, num_outputs=2))
    found, skipped = price_baselines(ScalarCore(g), deadline=time.perf_counter() - 1)
    first, *rest = baseline_order(len(g.inputs), len(g.outputs))
    assert first == "reverse"  # fewer outputs than inputs
    assert (
        list(found) == [first]
        and found[first][1] == cost_of(g, found[first][0]).multiplications
    )
    assert skipped == dict.fromkeys(rest, "budget")
