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
