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
