"""Random programs and random DAGs: determinism, domains, sizes and structure."""

import jax
import numpy as np
import pytest

import graphs
from graphs.random_programs import KINDS, count_primitives, random_dag, random_program


def _primitives(fn, args) -> int:
    return count_primitives(jax.make_jaxpr(fn)(*args).jaxpr)


def _all_finite(tree) -> bool:
    return all(np.all(np.isfinite(x)) for x in jax.tree.leaves(tree))


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_gives_the_same_program_and_arguments(kind):
    fn_a, args_a = random_program(7, num_ops=60, kind=kind)
    fn_b, args_b = random_program(7, num_ops=60, kind=kind)
    fn_c, args_c = random_program(8, num_ops=60, kind=kind)
    assert all(np.array_equal(a, b) for a, b in zip(args_a, args_b, strict=True))
    jaxpr_a = str(jax.make_jaxpr(fn_a)(*args_a))
    assert jaxpr_a == str(jax.make_jaxpr(fn_b)(*args_b))
    assert jaxpr_a != str(jax.make_jaxpr(fn_c)(*args_c))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_ops", [10, 150])
def test_program_has_about_num_ops_primitives(kind, num_ops):
    fn, args = random_program(3, num_ops=num_ops, kind=kind)
    assert num_ops <= _primitives(fn, args) <= num_ops + 10
    assert all(a.dtype == np.float64 and np.all(np.abs(a) <= 1.0) for a in args)


def test_scalar_program_jacobians_are_finite_over_30_seeds():
    for seed in range(30):
        fn, args = random_program(seed, num_ops=50, kind="scalar")
        jac = jax.jacfwd(fn, argnums=tuple(range(len(args))))(*args)
        assert _all_finite((fn(*args), jac)), seed


@pytest.mark.slow
def test_array_program_jacobians_are_finite_over_seeds_and_kinds():
    programs = [
        (kind, seed, *random_program(seed, num_ops=30, kind=kind))
        for kind in ("vector", "matrix", "mixed")
        for seed in range(5)
    ]

    def jacobians(all_args):  # one compilation for all the programs
        return [
            (fn(*args), jax.jacfwd(fn, argnums=tuple(range(len(args))))(*args))
            for (_, _, fn, _), args in zip(programs, all_args, strict=True)
        ]

    results = jax.jit(jacobians)([p[3] for p in programs])
    for (kind, seed, _, _), result in zip(programs, results, strict=True):
        assert _all_finite(result), (kind, seed)


@pytest.mark.slow
def test_a_2000_op_scalar_program_has_finite_derivatives():
    fn, args = random_program(0, num_ops=2000, kind="scalar")
    tangents = tuple(np.ones_like(a) for a in args)
    assert _all_finite(jax.jvp(fn, args, tangents))


@pytest.mark.parametrize("kind", KINDS)
def test_program_traces_and_every_input_reaches_an_output(kind):
    fn, args = random_program(11, num_ops=80, kind=kind)
    elim = graphs.build(graphs.trace(fn, *args))
    assert len(elim.inputs) == len(args)
    assert len(elim.intermediates) >= 40


def test_scalar_program_graph_is_all_scalar_with_valued_edges():
    fn, args = random_program(5, num_ops=120, kind="scalar")
    elim = graphs.build(graphs.trace(fn, *args))
    assert elim.is_scalar
    for (dst, _), partial in elim.edges.items():
        assert partial.has_values or elim.ids[dst].endswith("#out")


def test_program_arguments_follow_num_inputs():
    _, args = random_program(0, num_ops=30, kind="scalar", num_inputs=5)
    assert [a.shape for a in args] == [()] * 5
    _, args = random_program(0, num_ops=30, kind="matrix", num_inputs=3)
    assert len(args) == 3 and all(a.ndim in (1, 2) for a in args)


def test_bad_program_arguments_say_what_is_expected():
    with pytest.raises(ValueError, match="kind must be one of"):
        random_program(0, num_ops=10, kind="tensor")
    with pytest.raises(ValueError, match="num_ops must be at least 1"):
        random_program(0, num_ops=0)


def _paths_ok(graph: graphs.Graph) -> bool:
    succ: dict[str, set[str]] = {}
    pred: dict[str, set[str]] = {}
    for e in graph.edges:
        succ.setdefault(e.src, set()).add(e.dst)
        pred.setdefault(e.dst, set()).add(e.src)

    def closure(start, nxt):
        seen, stack = set(start), list(start)
        while stack:
            for w in nxt.get(stack.pop(), ()):
                if w not in seen:
                    seen.add(w)
                    stack.append(w)
        return seen

    every = {v.id for v in graph.vertices}
    return closure(graph.inputs, succ) == every == closure(graph.outputs, pred)


@pytest.mark.parametrize(
    "seed, num_intermediates, num_inputs, num_outputs, max_preds",
    [(0, 30, 4, 2, 3), (1, 200, 10, 5, 4), (2, 0, 3, 2, 3), (3, 5, 1, 8, 1)],
)
def test_random_dag_counts_and_every_vertex_on_an_input_output_path(
    seed, num_intermediates, num_inputs, num_outputs, max_preds
):
    graph = random_dag(
        seed,
        num_intermediates=num_intermediates,
        num_inputs=num_inputs,
        num_outputs=num_outputs,
        max_preds=max_preds,
    )
    ids = [v.id for v in graph.vertices]
    assert ids[:num_inputs] == [f"x{i}" for i in range(num_inputs)]
    assert ids[num_inputs:-num_outputs] == [f"v{k}" for k in range(num_intermediates)]
    assert list(graph.outputs) == [f"y{j}" for j in range(num_outputs)]
    assert {v.op for v in graph.vertices[:num_inputs]} == {"input"}
    assert {v.op for v in graph.vertices[num_inputs:]} == {"node"}
    assert _paths_ok(graph)
    position = {vid: i for i, vid in enumerate(ids)}
    assert all(position[e.src] < position[e.dst] for e in graph.edges)
    assert len({(e.src, e.dst) for e in graph.edges}) == len(graph.edges)
    preds = {vid: 0 for vid in ids}
    for e in graph.edges:
        preds[e.dst] += 1
    assert all(1 <= preds[f"v{k}"] <= max_preds for k in range(num_intermediates))
    assert all(preds[y] >= 1 for y in graph.outputs)
    elim = graphs.build(graph)
    assert len(elim.intermediates) == num_intermediates
    assert len(elim.edges) == len(graph.edges)


def test_random_dag_is_deterministic_and_seed_dependent():
    a = random_dag(4, num_intermediates=50, num_inputs=5, num_outputs=3)
    b = random_dag(4, num_intermediates=50, num_inputs=5, num_outputs=3)
    c = random_dag(5, num_intermediates=50, num_inputs=5, num_outputs=3)
    assert a.edges == b.edges != c.edges


def test_random_dag_round_trips_through_json_and_costs_like_the_textbook():
    graph = random_dag(6, num_intermediates=40, num_inputs=4, num_outputs=3)
    assert graphs.load(graph.to_json()).edges == graph.edges
    # Scalar DAG: eliminating in forward order costs sum |P|·|S| as it goes.
    report = graphs.cost(graph, "forward")
    elim = graphs.build(graph)
    total = 0
    for v in elim.intermediates:
        total += len(elim.preds(v)) * len(elim.succs(v))
        elim = graphs.elimination.eliminate(elim, v)[0]
    assert report.multiplications == total


def test_bad_dag_sizes_say_what_is_expected():
    with pytest.raises(ValueError, match="num_inputs must be at least 1"):
        random_dag(0, num_intermediates=3, num_inputs=0, num_outputs=1)
