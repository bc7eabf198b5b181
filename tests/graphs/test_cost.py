"""Hand-solved costs of small graphs, order validation and baselines."""

import jax
import jax.numpy as jnp
import pytest

import graphs
from graphs import Edge, Graph, Vertex


def _scalar_graph(inputs, outputs, edges):
    ids = []
    for a, b in edges:
        for v in (a, b):
            if v not in ids:
                ids.append(v)
    vertices = tuple(Vertex(v, "input" if v in inputs else "node") for v in ids)
    return Graph(vertices, tuple(inputs), tuple(outputs), tuple(Edge(a, b) for a, b in edges))


# x0, x1 -> v1 -> v2; y1 = h(v1, v2); y2 = k(v2)
TWO_PATHS = _scalar_graph(
    ["x0", "x1"],
    ["y1", "y2"],
    [("x0", "v1"), ("x1", "v1"), ("v1", "v2"), ("v1", "y1"), ("v2", "y1"), ("v2", "y2")],
)


def test_forward_order_hand_solved():
    # v1: P={x0,x1}, S={v2,y1} -> 2*2 = 4 products.
    # v2: P={x0,x1} (fill-in), S={y1,y2} -> 4 products; y1<-x0, y1<-x1 exist: 2 adds.
    report = graphs.cost(TWO_PATHS, "forward")
    assert report.order == ("v1", "v2")
    assert report.multiplications == 8
    assert report.additions == 2
    assert [s.multiplications for s in report.steps] == [4, 4]


def test_reverse_order_hand_solved():
    # v2: P={v1}, S={y1,y2} -> 2 products; y1<-v1 exists: 1 add.
    # v1: P={x0,x1}, S={y1,y2} -> 4 products.
    report = graphs.cost(TWO_PATHS, ["v2", "v1"])
    assert report.multiplications == 6
    assert report.additions == 1


def test_markowitz_picks_lowest_product_first():
    found = graphs.baselines(TWO_PATHS)
    # Initially |P|*|S|: v1 = 2*2 = 4, v2 = 1*2 = 2, so v2 goes first.
    assert found["markowitz"].order == ("v2", "v1")
    assert found["markowitz"].cost == 6
    assert found["forward"].cost == 8
    assert found["reverse"].cost == 6
    assert graphs.best_baseline(TWO_PATHS)[1].cost == 6


def test_design_minimal_example_costs_two():
    # v has two predecessors and one successor: 2 * 1 = 2 products.
    g = _scalar_graph(["x0", "x1"], ["y"], [("x0", "v"), ("x1", "v"), ("v", "y")])
    assert graphs.cost(g, ["v"]).multiplications == 2


def test_chain_costs_one_per_elimination():
    # x -> a -> b -> c -> y: every elimination has |P| = |S| = 1.
    g = _scalar_graph(["x"], ["y"], [("x", "a"), ("a", "b"), ("b", "c"), ("c", "y")])
    for order in (["a", "b", "c"], ["c", "a", "b"], ["b", "a", "c"]):
        assert graphs.cost(g, order).multiplications == 3


def test_order_errors_name_missing_repeated_and_unknown_ids():
    with pytest.raises(graphs.GraphError) as err:
        graphs.cost(TWO_PATHS, ["v1", "v1", "zz"])
    message = str(err.value)
    assert "missing ['v2']" in message
    assert "repeated ['v1']" in message
    assert "unknown (not intermediates) ['zz']" in message
    with pytest.raises(graphs.GraphError, match="unknown order 'sideways'"):
        graphs.cost(TWO_PATHS, "sideways")


def test_elementwise_vector_ops_cost_n_not_n_squared():
    # exp(sin(x)) on a 7-vector: eliminating sin multiplies two diagonals: 7.
    g = graphs.trace(lambda x: jnp.exp(jnp.sin(x)), jnp.ones(7))
    assert graphs.cost(g, "forward").multiplications == 7


def test_matrix_chain_costs_follow_the_contraction():
    # y = A @ (B @ x), A (2x3), B (3x4) parameters, x (4,): the partials are
    # d y/d u = A (2x3) and d u/d x = B (3x4); eliminating u = 2*3*4 = 24.
    def f(x, a, b):
        return a @ (b @ x)

    g = graphs.trace(f, jnp.ones(4), jnp.ones((2, 3)), jnp.ones((3, 4)), argnums=0)
    assert graphs.cost(g, "forward").multiplications == 24


def test_index_maps_cost_nothing():
    # transpose, reshape and slice are pure index maps: 0 products.
    g = graphs.trace(lambda x: jnp.sin(x.T.reshape(-1)[1:4]), jnp.ones((2, 3)))
    for order in ("forward", "reverse"):
        assert graphs.cost(g, order).multiplications == 0


def test_output_that_feeds_later_vertices_is_split():
    # y1 = sin(x) is an output and feeds y2 = cos(y1). Eliminating y1 multiplies
    # d y2/d y1 * d y1/d x (1 product); the copy to y1's own sink is free.
    def f(x):
        y1 = jnp.sin(x)
        return y1, jnp.cos(y1)

    g = graphs.trace(f, 1.0)
    eg = graphs.build(g)
    assert eg.intermediate_ids == ("v0",)
    assert graphs.cost(g, ["v0"]).multiplications == 1


def test_repeated_operand_is_one_edge_with_added_partials():
    # sin(x * x): the two edges x -> x*x become one; eliminating x*x costs 1.
    g = graphs.trace(lambda x: jnp.sin(x * x), 2.0)
    eg = graphs.build(g)
    assert len(eg.edges) == 2
    assert graphs.cost(g, "forward").multiplications == 1


def test_vertices_off_every_path_are_dropped():
    # z depends on no input and w feeds no output: neither is an intermediate.
    def f(x, p):
        z = jnp.sin(p)
        _w = jnp.cos(x)
        return jnp.exp(x) * z

    g = graphs.trace(f, 1.0, 2.0, argnums=0)
    eg = graphs.build(g)
    assert [g.vertex(v).op for v in eg.intermediate_ids] == ["exp"]


def test_scalar_graph_follows_textbook_rule_on_random_orders():
    # Every intermediate elimination costs |P| * |S| products in a scalar graph
    # (no value-less edges): recount by hand on the evolving edge sets.
    import random

    rng = random.Random(0)
    g = TWO_PATHS
    eg = graphs.build(g)
    for _ in range(5):
        order = rng.sample(eg.intermediate_ids, len(eg.intermediate_ids))
        edges = {(a, b) for a, b in ((e.src, e.dst) for e in g.edges)}
        total = 0
        for v in order:
            preds = {a for a, b in edges if b == v}
            succs = {b for a, b in edges if a == v}
            total += len(preds) * len(succs)
            edges = {(a, b) for a, b in edges if v not in (a, b)}
            edges |= {(p, s) for p in preds for s in succs}
        assert graphs.cost(g, order).multiplications == total


def test_cost_accepts_baseline_names():
    assert graphs.cost(TWO_PATHS, "markowitz").multiplications == 6
    with pytest.raises(graphs.GraphError, match="use a list of ids or one of"):
        graphs.cost(TWO_PATHS, "nonsense_heuristic")


def test_jit_trace_and_x64_do_not_change_costs():
    def f(x):
        return jax.jit(lambda t: jnp.tanh(t) * t)(x)

    g = graphs.trace(f, jnp.ones(3))
    # tanh(t) * t: eliminating tanh: diag * diag = 3 products.
    assert graphs.cost(g, "forward").multiplications == 3


def test_constant_matrix_operand_gives_the_other_side_a_partial():
    # sin(x @ W) with W a closed-over constant: d(x@W)/dx has core W (3x2), and
    # eliminating x@W multiplies diag(cos) (2) by it: 2 * 3 = 6 products.
    import numpy as np

    w = np.arange(6.0).reshape(3, 2)
    g = graphs.trace(lambda x: jnp.sin(x @ w), jnp.ones(3))
    assert graphs.cost(g, "forward").multiplications == 6
