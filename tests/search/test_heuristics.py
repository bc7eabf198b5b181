"""Cost heuristics of a game state match graphs' costs where they are exact."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import graphs
from graphs.elimination import build, cost_of, elimination_cost
from graphs.ir import Edge, Graph
from search import game, heuristics
from tests.search.gamegen import scalar_dag, tensor_dag


def test_markowitz_and_elimination_costs_match_graphs():
    g = build(scalar_dag(3, 3, 12))
    state = game.encode(g, bucket=32)
    marko = np.asarray(heuristics.markowitz(state))
    exact = np.asarray(heuristics.elimination_costs(state))
    for v in g.intermediates:
        assert marko[v] == exact[v] == elimination_cost(g, v)[0]
    t = build(tensor_dag(5, 10))
    state = game.encode(t, bucket=16)
    exact = np.asarray(heuristics.elimination_costs(state))
    for v in t.intermediates:
        assert exact[v] == elimination_cost(t, v)[0]
    # On a vector program every product is dense or diagonal in the eliminated
    # vertex's axes, so the O(N^2) tensor Markowitz cost is exact too.
    from graphs.random_programs import random_program

    p = build(graphs.trace(*_call(random_program(1, num_ops=40, kind="vector"))))
    state = game.encode(p, bucket=64, scale=1.0)
    marko = np.asarray(jax.jit(heuristics.markowitz)(state))
    for v in p.intermediates:
        assert marko[v] == elimination_cost(p, v)[0]


def _call(fn_args):
    fn, args = fn_args
    return (fn, *args)


def test_completion_costs_are_exact_for_valued_graphs_with_sink_outputs():
    # All edges valued and outputs that feed nothing: the forward and reverse
    # completions cost exactly sum(inputs reaching v * succs) and
    # sum(preds * outputs reached), from any position in the game.
    base = scalar_dag(8, 3, 14)
    sources = {e.src for e in base.edges}
    outputs = tuple(v.id for v in base.vertices if v.id not in sources)
    edges = tuple(Edge(e.src, e.dst) for e in base.edges)
    g = build(Graph(base.vertices, base.inputs, outputs, edges))
    prefix = list(g.intermediates[1::3])
    state, _ = game.replay(game.encode(g, bucket=32), jnp.array(prefix))
    rest = [v for v in g.intermediates if v not in prefix]
    spent = cost_of(g, prefix).multiplications
    forward, reverse = heuristics.completion_costs(state)
    assert float(forward) == cost_of(g, prefix + rest).multiplications - spent
    assert float(reverse) == cost_of(g, prefix + rest[::-1]).multiplications - spent
