"""Vector forms of the benchmark tasks: same values, one dense Jacobian, traceable."""

import jax
import numpy as np
import pytest

import graphs
import interpreter
from graphs import tasks
from graphs.tasks.vector import vector_fn


def _flat_outputs(out) -> np.ndarray:
    parts = out if isinstance(out, tuple) else (out,)
    return np.concatenate([np.ravel(np.asarray(p)) for p in parts])


@pytest.mark.parametrize("name", list(tasks.TASKS))
def test_vector_form_computes_the_scalar_forms_values_and_traces(name):
    scalar = tasks.get(name)
    vector = tasks.get(name + tasks.VECTOR_SUFFIX)
    (u,) = vector.args
    assert u.shape == (sum(np.size(a) for a in scalar.args),)
    np.testing.assert_array_equal(np.ravel(vector()), _flat_outputs(scalar()))
    graph = vector.graph()
    assert len(graph.inputs) == 1 and len(graph.outputs) == 1
    assert graph.vertex(graph.inputs[0]).shape == u.shape
    assert graph.vertex(graph.outputs[0]).shape == np.shape(vector())


def test_vector_tasks_cover_every_task_under_the_suffix():
    assert list(tasks.VECTOR_TASKS) == [n + "/vec" for n in tasks.TASKS]
    assert tasks.get("g/vec").name == "g/vec"


def test_vector_fn_reads_scalars_by_index_and_arrays_by_slice():
    def fn(a, b, c):
        return a * b[1, 0], c

    g = vector_fn(fn, ((), (2, 2), (3,)))
    u = np.arange(8.0)
    # a = u[0], b = u[1:5].reshape(2, 2), c = u[5:8]; outputs concatenated.
    np.testing.assert_array_equal(g(u), [0.0 * 3.0, 5.0, 6.0, 7.0])


@pytest.mark.parametrize(
    "name", ["HumanHeartDipole", "BlackScholes_Jacobian", "RoeFlux_1d", "MLP"]
)
def test_vector_form_kernel_matches_jacfwd_as_one_dense_array(name):
    task = tasks.get(name + tasks.VECTOR_SUFFIX)
    graph = task.graph()
    _, best = graphs.best_baseline(graph)
    got = interpreter.jacobian(graph, list(best.order))(*task.args)
    want = jax.jacfwd(task.fn)(*task.args)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["HumanHeartDipole", "BlackScholes_Jacobian", "g"])
def test_indexing_costs_what_the_scalar_program_costs(name):
    # Reading u[i] and stacking scalar outputs are selections: split into their
    # elements (graphs.elements) every baseline costs what the scalar form costs.
    scalar = graphs.baselines(tasks.get(name).graph())
    vector = graphs.baselines(tasks.get(name + tasks.VECTOR_SUFFIX).graph())
    assert {k: b.cost for k, b in vector.items()} == {
        k: b.cost for k, b in scalar.items()
    }


def _mixed(u, w):
    # u is read element by element (split); w also as a whole (not split); the
    # first output is assembled from scalars (split), the second is not.
    a = jax.numpy.sin(u[0]) * u[2]
    return jax.numpy.stack([a, u[1] * w[0], jax.numpy.sum(w * w)]), a * w


def test_split_and_whole_vertices_mix_in_one_kernel():
    u, w = np.array([0.3, -1.2, 0.7]), np.array([0.5, 2.0])
    graph = graphs.trace(_mixed, u, w)
    elim = graphs.build(graph)
    assert set(elim.split) == {graph.inputs[0], graph.outputs[0]}
    # u[0] and u[2] feed `a`, u[1] the product; all three elements are read.
    assert all(p >= 0 for p in elim.split[graph.inputs[0]])
    want = jax.jacfwd(_mixed, argnums=(0, 1))(u, w)
    for order, group in (("forward", None), ("reverse", 2), ("markowitz", 8)):
        got = interpreter.jacobian(graph, order, stack_group=group)(u, w)
        jax.tree_util.tree_map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14),
            got,
            want,
        )
    blocks = interpreter.jacobian(graph, "reverse", structured=True)(u, w)
    dense = {k: np.asarray(b.core) for k, b in blocks.items()}
    np.testing.assert_allclose(
        dense[(graph.outputs[0], graph.inputs[0])], want[0][0], rtol=1e-12
    )
    batched = jax.vmap(interpreter.jacobian(graph, "forward"))(
        np.stack([u, 2 * u]), np.stack([w, w])
    )
    np.testing.assert_allclose(
        batched[0][0][1], jax.jacfwd(_mixed, argnums=(0, 1))(2 * u, w)[0][0]
    )


def test_an_element_never_read_has_a_zero_column():
    def fn(u):
        return jax.numpy.stack([u[0] * u[2], jax.numpy.cos(u[2])])

    u = np.array([0.4, 9.0, -0.3])
    graph = graphs.trace(fn, u)
    assert graphs.build(graph).split[graph.inputs[0]][1] == -1
    got = interpreter.jacobian(graph, "reverse")(u)
    np.testing.assert_allclose(got, jax.jacfwd(fn)(u), rtol=1e-12, atol=0)
    grouped = jax.vmap(interpreter.jacobian(graph, "forward", stack_group=2))(
        np.stack([u, u])
    )
    np.testing.assert_allclose(grouped[1], got, rtol=1e-12, atol=0)
    assert not got[:, 1].any()


def test_exported_vector_kernel_runs_without_ccelim_layout_changes():
    task = tasks.get("BlackScholes_Jacobian" + tasks.VECTOR_SUFFIX)
    graph = task.graph()
    artifact = interpreter.export(graph, "markowitz", batch=2)
    (u,) = task.args
    batch = np.stack([u, u * 1.01])
    (got,) = jax.export.deserialize(artifact.stablehlo).call(batch)
    want = jax.vmap(jax.jacfwd(task.fn))(batch)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert [b.shape for b in artifact.output_layout] == [(2, 5, 5)]


def _euler(x, y, z, steps=12):
    for _ in range(steps):
        x, y, z = (
            x + 0.01 * 10.0 * (y - x),
            y + 0.01 * (x * (28.0 - z) - y),
            z + 0.01 * (x * y - 8.0 / 3.0 * z),
        )
    return x, y, z


def _lorenz_unrolled(u):
    # An explicit Euler loop written the way users write it: indexing, scalar
    # arithmetic, a stacked output. Traced, u[i] is a one-element slice.
    return jax.numpy.stack(_euler(u[0], u[1], u[2]))


def _one_element_arrays(u):
    a = u[0:1] * u[1:2]  # (1,)
    b = jax.numpy.sin(a) + u[2]  # (1,) + () -> (1,)
    c = (a * b).sum() * u[3]
    d = jax.numpy.reshape(c, (1, 1)) * u[0]  # (1, 1)
    return jax.numpy.concatenate([b, d.ravel(), jax.numpy.stack([c])])


@pytest.mark.parametrize(
    "fn, u",
    [
        (_lorenz_unrolled, np.array([1.0, 0.5, 0.2])),
        (_one_element_arrays, np.array([0.3, -0.7, 1.1, 0.4])),
    ],
)
def test_one_element_arrays_take_the_scalar_path_at_the_same_cost(fn, u):
    # Slices u[i:i+1] and (1, 1) reshapes are one-element arrays: the graph is
    # scalar (the C core, exact DP, annealing), and the C core prices every
    # order as the reference structured cost does.
    import random

    from search.core import ScalarCore, core_for

    graph = graphs.trace(fn, u)
    elim = graphs.build(graph)
    assert any(shape != () for shape in elim.shapes)  # (1,) or (1, 1) too
    assert elim.is_scalar and isinstance(core_for(elim), ScalarCore)
    core = ScalarCore(elim)
    rng = random.Random(0)
    order = list(elim.intermediates)
    for _ in range(50):
        rng.shuffle(order)
        want = graphs.elimination.cost_of(elim, order).multiplications
        assert core.order_cost(order) == want
    result = search_optimize(graph)
    assert result.cost <= result.best_baseline
    got = interpreter.jacobian(graph, list(result.order))(u)
    np.testing.assert_allclose(got, jax.jacfwd(fn)(u), rtol=1e-10, atol=1e-12)


def search_optimize(graph):
    from search import optimize

    return optimize(graph, time_budget_s=5, seed=0, max_chunks=20)


def test_unrolled_loop_vector_form_is_searched_like_its_scalar_form():
    # The same loop with scalar arguments and a tuple output: its vector form
    # (indexing, stack) prices every baseline the same and its search gets the
    # same cost for the same work (both on the C core).
    from search import optimize

    vec = graphs.trace(_lorenz_unrolled, np.array([1.0, 0.5, 0.2]))
    sca = graphs.trace(_euler, 1.0, 0.5, 0.2)
    runs = [optimize(g, time_budget_s=60, seed=1, max_chunks=30) for g in (vec, sca)]
    assert runs[0].baselines == runs[1].baselines
    assert runs[0].cost == runs[1].cost
    assert runs[0].work["local_moves"] == runs[1].work["local_moves"] > 0
