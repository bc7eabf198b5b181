"""The JAX elimination game reproduces graphs.cost exactly, batches and jits once."""

from __future__ import annotations

import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
from graphs.baselines import baselines
from graphs.elimination import build, cost_of
from graphs.ir import Edge, Graph, Vertex
from graphs.structure import IndexMap, Structure
from search import game, heuristics
from tests.search.gamegen import scalar_dag, tensor_dag


def orders_of(g, seed=0, num_random=3):
    """forward, reverse, every baseline, and random orders (positions)."""
    found = {
        name: [g.ids.index(vid) for vid in b.order] for name, b in baselines(g).items()
    }
    rng = random.Random(seed)
    for k in range(num_random):
        order = list(g.intermediates)
        rng.shuffle(order)
        found[f"random{k}"] = order
    return found


def assert_steps_match(g, order, bucket):
    """Every step's game cost equals graphs' per-step multiplications."""
    report = cost_of(g, order)
    state = game.encode(g, bucket=bucket, scale=1.0)
    for v, expected in zip(order, report.steps, strict=True):
        state, cost = game.step(state, v)
        assert float(cost) == expected.multiplications, (g.ids[v], order)
    assert float(state.cost) == report.multiplications
    assert bool(game.is_terminal(state))
    return report.multiplications


# ------------------------------------------------------------------------ tests


def test_hand_solved_scalar_diamond():
    # x -> a, x -> b, a -> y, b -> y, a -> b.  Eliminating a first: preds {x},
    # succs {b, y}: 2 mults (b gets x-edge added, y gets a fill-in). Then b:
    # preds {x}, succs {y}: 1 mult. Total 3. Reverse: b first (preds {x, a},
    # succs {y}: 2), then a (preds {x}, succs {y}: 1): 3 as well.
    g = graphs.Graph(
        tuple(graphs.Vertex(v, "input" if v == "x" else "node") for v in "xaby"),
        ("x",),
        ("y",),
        tuple(graphs.Edge(s, d) for s, d in ["xa", "xb", "ay", "by", "ab"]),
    )
    eg = build(g)
    a, b = eg.ids.index("a"), eg.ids.index("b")
    state = game.encode(eg, bucket=8, scale=1.0)
    assert state.pair.shape == (8, 8, 0)  # scalar graphs use rank bucket 0
    assert list(np.flatnonzero(game.legal_mask(state))) == [a, b]
    state, cost = game.step(state, a)
    assert float(cost) == 2.0
    assert list(np.flatnonzero(game.legal_mask(state))) == [b]
    state, cost = game.step(state, b)
    assert float(cost) == 1.0 and float(state.cost) == 3.0
    assert bool(game.is_terminal(state))


def test_hand_solved_tensor_chain():
    # x (3,) --sin--> v (3,) --dense W (2x3)--> y (2,).
    # Eliminating v: W core (2,3) times diagonal core (3,): 2*3 = 6 mults.
    x, v = Vertex("x", "input", shape=(3,)), Vertex("v", "node", shape=(3,))
    y = Vertex("y", "node", shape=(2,))
    diag = Structure((3,), (3,), (0,), (0,), (0,))
    dense = Structure((2,), (3,), (0,), (1,), (0, 1))
    g = Graph((x, v, y), ("x",), ("y",), (Edge("x", "v", diag), Edge("v", "y", dense)))
    state = game.encode(g, bucket=8, scale=1.0)
    assert state.pair.shape == (8, 8, game.MAX_RANK)
    assert float(heuristics.markowitz(state)[1]) == 6.0  # dense x diagonal: exact
    state, cost = game.step(state, 1)
    assert float(cost) == 6.0 == graphs.cost(g, ["v"]).multiplications
    # The new edge y <- x is dense with values: no pairs, both axes in the core.
    assert bool(state.present[2, 0]) and bool(state.has_values[2, 0])
    assert list(np.asarray(state.pair[2, 0])) == [-1, -1, -1, -1]
    assert list(np.asarray(state.out_core[2, 0]))[:1] == [True]
    assert list(np.asarray(state.in_core[2, 0]))[:1] == [True]


def test_illegal_actions_are_noops_that_cost_nothing():
    g = build(scalar_dag(0, 2, 5))
    state = game.encode(g, bucket=16)
    for action in (g.inputs[0], list(g.outputs.values())[0], 15):
        new, cost = game.step(state, action)
        assert float(cost) == 0.0
        assert all(jax.tree.leaves(jax.tree.map(jnp.array_equal, new, state)))


@pytest.mark.parametrize("seed", range(4))
def test_scalar_random_graphs_match_graphs_cost(seed):
    g = build(scalar_dag(seed, num_inputs=3, num_nodes=20))
    for name, order in orders_of(g, seed).items():
        expected = graphs.cost(g, [g.ids[v] for v in order]).multiplications
        assert assert_steps_match(g, order, bucket=32) == expected, name


def test_tensor_random_graphs_match_graphs_cost():
    checked = 0
    for seed in range(40):
        g = build(tensor_dag(seed, random.Random(seed).randint(5, 12)))
        if not g.intermediates:
            continue
        for order in orders_of(g, seed, num_random=1).values():
            try:
                cost_of(g, order)
            except ValueError:
                continue  # graphs.structure cannot compose this pair itself
            assert_steps_match(g, order, bucket=16)
            checked += 1
    assert checked > 150


def test_hand_made_index_maps_and_sums_match():
    # A slice (IndexMap), a sum (value-less, not a selection), a broadcast and a
    # diagonal: exercises both IndexMap branches and the factor rule.
    x = Vertex("x", "input", shape=(4,))
    s = Vertex("s", "node", shape=(2,))  # x[1:3]
    t = Vertex("t", "node", shape=())  # sum(s)
    b = Vertex("b", "node", shape=(3, 2))  # broadcast s to (3, 2)
    u = Vertex("u", "node", shape=(3, 2))  # sin(b)
    y = Vertex("y", "node", shape=())  # sum(u) + t
    w = Vertex("w", "node", shape=(2,))  # exp(s) * t
    edges = (
        Edge("x", "s", IndexMap((2,), (4,), (1, 2))),
        Edge("s", "t", Structure((), (2,), (), (0,), None)),
        Edge("s", "b", Structure((3, 2), (2,), (0, 1), (1,), None)),
        Edge("b", "u", Structure((3, 2), (3, 2), (0, 1), (0, 1), (0, 1))),
        Edge("u", "y", Structure((), (3, 2), (), (0, 1), None)),
        Edge("t", "y", Structure((), (), (), (), ())),
        Edge("s", "w", Structure((2,), (2,), (0,), (0,), (0,))),
        Edge("t", "w", Structure((2,), (), (0,), (), (0,))),
    )
    graph = Graph((x, s, t, b, u, y, w), ("x",), ("y", "w"), edges)
    g = build(graph)
    for order in orders_of(g, num_random=6).values():
        assert_steps_match(g, order, bucket=8)


def test_program_graphs_match_graphs_cost():
    def f(x, w, b):
        h = jnp.tanh(w @ x + b)
        z = jnp.concatenate([h[:3], x[1:3]]) * 2.0
        return jnp.sum(h * h) + jnp.sin(x[:2]).sum(), z.reshape(5, 1) @ jnp.ones((1, 2))

    def g2(x, a):
        m = a @ a.T + x[:, None] * x[None, :]
        return jnp.log1p(jnp.exp(m).reshape(-1)[::3] ** 2).sum(), (m[:, :2] * x[:2]).T

    for graph in (
        graphs.trace(f, jnp.ones(4), jnp.ones((6, 4)), jnp.ones(6)),
        graphs.trace(g2, jnp.ones(4), jnp.ones((4, 3))),
    ):
        g = build(graph)
        for name, order in orders_of(g).items():
            expected = graphs.cost(graph, [g.ids[v] for v in order]).multiplications
            assert game.game_cost(g, order) == expected, name


def _task_names():
    try:
        from graphs import tasks
    except ImportError:
        return []
    return sorted(getattr(tasks, "TASKS", {}))


@pytest.mark.slow
@pytest.mark.parametrize("name", _task_names())
def test_benchmark_tasks_match_graphs_cost(name):
    from graphs import tasks

    g = build(tasks.get(name).graph())
    for label, order in orders_of(g, num_random=1).items():
        expected = cost_of(g, order).multiplications
        assert game.game_cost(g, order) == expected, label


def test_vmap_batch_matches_single_steps_and_does_not_recompile():
    g1, g2 = build(scalar_dag(1, 3, 10)), build(scalar_dag(2, 2, 12))
    s1, s2 = game.encode(g1, bucket=16), game.encode(g2, bucket=16)
    batch = game.stack([s1, s2])
    batched_step = jax.jit(jax.vmap(game.step))
    o1, o2 = list(g1.intermediates), list(reversed(g2.intermediates))
    total = np.zeros(2)
    for t in range(max(len(o1), len(o2))):
        # Past its end a game gets an illegal action: a no-op costing 0.
        actions = jnp.array([o1[t] if t < len(o1) else 0, o2[t] if t < len(o2) else 0])
        batch, costs = batched_step(batch, actions)
        total += np.asarray(costs)
    assert list(total) == [
        cost_of(g1, o1).multiplications,
        cost_of(g2, o2).multiplications,
    ]
    assert list(np.asarray(batch.cost)) == list(total)
    assert batched_step._cache_size() == 1
    before = game.step._cache_size()
    game.step(s1, o1[0])
    game.step(s2, o2[0])
    assert game.step._cache_size() - before <= 1  # both graphs share one compile


def test_reward_is_cost_over_best_baseline():
    g = build(scalar_dag(4, 2, 8))
    state = game.encode(g, bucket=16)
    best = graphs.best_baseline(g)[1].cost
    assert float(state.scale) == best
    state, cost = game.step(state, g.intermediates[0])
    assert float(game.reward(state, cost)) == pytest.approx(-float(cost) / best)


def test_rank_above_the_bucket_is_refused_with_a_clear_error():
    x = Vertex("x", "input", shape=(1, 1, 1, 1, 2))
    v = Vertex("v", "node", shape=(1, 1, 1, 1, 2))
    y = Vertex("y", "node", shape=())
    g = Graph((x, v, y), ("x",), ("y",), (Edge("x", "v"), Edge("v", "y")))
    with pytest.raises(ValueError, match="rank 5.*at most rank 4"):
        game.encode(g)
    with pytest.raises(ValueError, match="bucket 1 is smaller"):
        game.encode(g, bucket=1, max_rank=5)


@pytest.mark.parametrize("kind", ["scalar", "vector", "matrix", "mixed"])
def test_random_programs_match_graphs_cost(kind):
    from graphs.random_programs import random_program

    for seed in range(2):
        fn, args = random_program(seed, num_ops=25, kind=kind)
        graph = graphs.trace(fn, *args)
        g = build(graph)
        bucket = game.bucket_for(len(g.ids))
        for name, order in orders_of(g, seed, num_random=1).items():
            expected = cost_of(g, order).multiplications
            assert game.game_cost(g, order, bucket=bucket) == expected, (kind, name)


def test_random_dags_match_graphs_cost():
    from graphs.random_programs import random_dag

    for seed in range(3):
        g = build(random_dag(seed, num_intermediates=20, num_inputs=4, num_outputs=3))
        for name, order in orders_of(g, seed).items():
            assert game.game_cost(g, order) == cost_of(g, order).multiplications, name
