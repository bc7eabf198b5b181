"""search.exact: A* over eliminated sets against brute force and hand-solved graphs."""

import itertools

import pytest

from graphs.baselines import cost
from graphs.elimination import build, cost_of
from graphs.ir import Edge, Graph, Vertex
from search.bounds import CutBound
from search.exact import exact_optimum
from search.fastcost import ScalarModel
from tests.search.searchgen import random_graph


def _graph(inputs, outputs, edges):
    ids = list(dict.fromkeys(list(inputs) + [v for e in edges for v in e]))
    vertices = tuple(Vertex(v, "input" if v in inputs else "node") for v in ids)
    return Graph(
        vertices, tuple(inputs), tuple(outputs), tuple(Edge(a, b) for a, b in edges)
    )


def _brute_force(g):
    # Scalar graphs use the bitset model (equal to graphs.cost, see test_local.py).
    price = ScalarModel(g).order_cost if g.is_scalar else None
    return min(
        price(p) if price else cost_of(g, list(p)).multiplications
        for p in itertools.permutations(g.intermediates)
    )


def _ids(g, order):
    return [g.ids[v] for v in order]


def chain_graph():
    """x1, x2 -> a -> b -> c -> y1, y2, y3 (optimum 9: b, a, c)."""
    return _graph(
        ["x1", "x2"],
        ["y1", "y2", "y3"],
        [
            ("x1", "a"),
            ("x2", "a"),
            ("a", "b"),
            ("b", "c"),
            ("c", "y1"),
            ("c", "y2"),
            ("c", "y3"),
        ],
    )


def test_chain_optimum_eliminates_the_middle_first():
    # x1, x2 -> a -> b -> c -> y1, y2, y3.
    # The vertex eliminated last always costs |{x1,x2}|·|{y1,y2,y3}| = 6.
    # First b (1·1 = 1, joins a -> c), then a (2·1 = 2), then c (6): 9.
    # Forward: a 2·1 + b 2·1 + c 2·3 = 10; reverse: c 1·3 + b 1·3 + a 2·3 = 12.
    graph = chain_graph()
    g = build(graph)
    result = exact_optimum(g, time_limit_s=10)
    assert result.optimal and result.cost == 9 and result.lower_bound == 9
    assert _ids(g, result.order) == ["b", "a", "c"]
    assert cost(graph, "forward").multiplications == 10
    assert cost(graph, "reverse").multiplications == 12


def test_output_with_successors_costs_nothing_on_its_copy_edge():
    # x1, x2 -> a; a -> y1; a -> b -> y2; outputs a, y1, y2 (a is split: a -> a#out
    # is a value-less copy). Order (a, b): a costs 2 valued preds · 2 valued succs
    # (y1, b; the copy is free) = 4, then b 2·1 = 2: 6. Order (b, a): b 1·1 = 1,
    # then a 2·2 (y1, y2; copy free) = 4: 5, the optimum.
    graph = _graph(
        ["x1", "x2"],
        ["a", "y1", "y2"],
        [("x1", "a"), ("x2", "a"), ("a", "y1"), ("a", "b"), ("b", "y2")],
    )
    g = build(graph)
    result = exact_optimum(g, time_limit_s=10)
    assert result.optimal and result.cost == 5
    assert _ids(g, result.order) == ["b", "a"]
    assert cost(graph, ["a", "b"]).multiplications == 6


@pytest.mark.parametrize(
    "tensor,method", [(False, "auto"), (False, "astar"), (True, "auto")]
)
def test_exact_equals_brute_force_on_random_graphs(tensor, method):
    checked = 0
    for seed in range(60):
        graph = random_graph(
            seed, num_nodes=2 + seed % 7, valueless=0.25, tensor=tensor
        )
        g = build(graph)
        if not 1 <= len(g.intermediates) <= 7:
            continue
        result = exact_optimum(g, time_limit_s=30, method=method)
        assert result.optimal
        assert (
            result.cost == _brute_force(g) == cost_of(g, result.order).multiplications
        )
        checked += 1
    assert checked >= 40


def test_cut_bound_never_exceeds_a_later_cost():
    import random

    for seed in range(80):
        rng = random.Random(seed)
        g = build(random_graph(seed, num_nodes=4 + seed % 10, valueless=0.2))
        model = ScalarModel(g)
        bound = CutBound(model)
        inter = list(g.intermediates)
        for _ in range(10):
            x = sum(1 << v for v in inter if rng.random() < 0.4)
            for v in inter:
                if x >> v & 1:
                    continue
                later = x | sum(1 << u for u in inter if u != v and rng.random() < 0.5)
                assert bound(v, x) <= model.vertex_cost(v, later)
            total = sum(bound.missing(o, x) for o in bound.targets)
            rest = [v for v in inter if not x >> v & 1]
            # h2 never exceeds what any completion still costs.
            completion = x
            spent = 0
            for v in rest:
                spent += model.vertex_cost(v, completion)
                completion |= 1 << v
            assert total <= spent


def test_time_limit_reports_a_valid_lower_bound():
    graph = random_graph(1000, num_inputs=4, num_nodes=30, num_outputs=3, valueless=0.1)
    g = build(graph)
    result = exact_optimum(g, time_limit_s=0.2, max_expansions=50, method="astar")
    assert not result.optimal
    assert 0 < result.lower_bound <= result.cost
    assert result.cost == cost_of(g, result.order).multiplications
