"""interpreter.jacobian / interpreter.jac: layout, caching, structured blocks, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
import interpreter
from interpreter.kernel import TRACE_COUNTS
from tests.interpreter.helpers import assert_trees_close


def two_args(x, w):
    h = jnp.tanh(w @ x)
    return jnp.sum(h * h), h[:2] * x[0]


X = jnp.asarray([0.3, -0.7, 1.1])
W = jnp.asarray(np.linspace(-1.0, 1.0, 12).reshape(4, 3))


@pytest.fixture(scope="module")
def graph():
    return graphs.trace(two_args, X, W)


def test_layout_matches_jacfwd_over_all_traced_arguments(graph):
    got = interpreter.jacobian(graph, "markowitz")(X, W)
    assert_trees_close(got, jax.jacfwd(two_args, argnums=(0, 1))(X, W))


def test_single_argument_single_output_has_jacfwds_nesting():
    f = lambda x: jnp.sin(x) * x[::-1]  # noqa: E731
    got = interpreter.jacobian(graphs.trace(f, X), "reverse")(X)
    assert isinstance(got, jax.Array) and got.shape == (3, 3)
    np.testing.assert_allclose(got, jax.jacfwd(f)(X), rtol=1e-12)


def test_argnums_subset_keeps_parameters_as_arguments():
    g = graphs.trace(two_args, X, W, argnums=1)
    got = interpreter.jacobian(g, "forward")(X, W)
    assert_trees_close(got, jax.jacfwd(two_args, argnums=1)(X, W))


def test_second_call_with_same_shapes_does_not_retrace(graph):
    kernel = interpreter.jacobian(graph, "reverse")
    plan = kernel.plan
    kernel(X, W)
    before = TRACE_COUNTS[id(plan)]
    kernel(X + 1.0, W * 2.0)
    assert TRACE_COUNTS[id(plan)] == before
    # The same graph and order give the same cached kernel.
    assert interpreter.jacobian(graph, "reverse") is kernel


def test_composes_with_jit_and_vmap(graph):
    kernel = interpreter.jacobian(graph, "markowitz")
    xs = jnp.stack([X, X * 0.5, -X])
    got = jax.jit(jax.vmap(kernel, in_axes=(0, None)))(xs, W)
    want = jax.vmap(jax.jacfwd(two_args, argnums=(0, 1)), in_axes=(0, None))(xs, W)
    assert_trees_close(got, want)


def test_structured_blocks_densify_to_the_jacobian(graph):
    from graphs.densify import to_dense

    blocks = interpreter.jacobian(graph, "markowitz", structured=True)(X, W)
    dense = interpreter.jacobian(graph, "markowitz")(X, W)
    out_ids = graph.outputs
    for k, out in enumerate(out_ids):
        for a, inp in enumerate(graph.inputs):
            block = blocks.get((out, inp))
            want = dense[k][a]
            if block is None:
                np.testing.assert_array_equal(want, 0.0)
            else:
                got = to_dense(block.partial, block.core, dtype=jnp.float64)
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # sum(h*h) wrt x: a dense (3,) row; the core of h[:2]*x[0] wrt w stays structured.
    assert blocks[(out_ids[0], "x0")].partial.has_values


def test_structured_blocks_pass_through_vmap(graph):
    fn = interpreter.jacobian(graph, "forward", structured=True)
    batched = jax.vmap(fn, in_axes=(0, None))(jnp.stack([X, X]), W)
    block = batched[(graph.outputs[0], "x0")]
    assert block.core.shape[0] == 2


def test_pytree_arguments_and_outputs_via_jac():
    def f(params, x):
        return {"y": jnp.tanh(params["w"] @ x + params["b"]), "n": jnp.sum(x**2)}

    params = {"w": W, "b": jnp.arange(4.0)}
    for argnums in (0, (0, 1), 1):
        got = interpreter.jac(f, argnums=argnums)(params, X)
        assert_trees_close(got, jax.jacfwd(f, argnums=argnums)(params, X))


def test_jac_traces_once_per_shape():
    calls = []

    def f(x):
        calls.append(1)
        return jnp.sin(x) * x[::-1]

    jf = interpreter.jac(f, order="reverse")
    np.testing.assert_allclose(jf(X), jax.jacfwd(f)(X), rtol=1e-12)
    n = len(calls)
    jf(X * 2)
    assert len(calls) == n
    np.testing.assert_allclose(jf(jnp.ones(5)), jax.jacfwd(f)(jnp.ones(5)), rtol=1e-12)


def test_pytree_graph_loaded_as_flat_leaves_per_argument():
    def f(p):
        return p[0] * jnp.exp(p[1])

    p = (jnp.ones(2), jnp.asarray([0.1, 0.2]))
    g = graphs.trace(f, p)
    got = interpreter.jacobian(g, "forward")(p)
    assert_trees_close(got, jax.jacfwd(f)(p))
    assert_trees_close(
        interpreter.jacobian(g, "forward")(list(p)), list(jax.jacfwd(f)(p))
    )


def test_wrong_shape_names_argument_expected_and_got(graph):
    kernel = interpreter.jacobian(graph, "forward")
    with pytest.raises(
        graphs.GraphError, match=r"argument 1 .*expected \(4, 3\), got \(3, 4\)"
    ):
        kernel(X, W.T)


def test_wrong_dtype_names_argument(graph):
    kernel = interpreter.jacobian(graph, "forward")
    with pytest.raises(
        graphs.GraphError, match="argument 0 .*expected float64, got int32"
    ):
        kernel(jnp.asarray([1, 2, 3], dtype=jnp.int32), W)


def test_wrong_argument_count(graph):
    with pytest.raises(graphs.GraphError, match="takes 2 positional argument"):
        interpreter.jacobian(graph, "forward")(X)


def test_python_scalars_are_accepted_for_scalar_arguments():
    f = lambda a, b: jnp.sin(a) * b  # noqa: E731
    g = graphs.trace(f, 0.5, 2.0)
    got = interpreter.jacobian(g, "reverse")(0.5, 2.0)
    assert_trees_close(got, jax.jacfwd(f, argnums=(0, 1))(0.5, 2.0))


def test_structure_only_graph_needs_a_program_graph(graph):
    with pytest.raises(graphs.GraphError, match=r"program graph.*graphs\.trace"):
        interpreter.jacobian(graph.to_structure(), "forward")
    with pytest.raises(graphs.GraphError, match=r"program graph.*graphs\.trace"):
        interpreter.export(graph.to_structure(), "forward")


def test_unknown_order_name(graph):
    with pytest.raises(graphs.GraphError, match="unknown order 'sideways'"):
        interpreter.jacobian(graph, "sideways")


def test_every_baseline_name_is_an_order(graph):
    want = jax.jacfwd(two_args, argnums=(0, 1))(X, W)
    for name in graphs.baselines(graph):
        with jax.disable_jit():
            assert_trees_close(interpreter.jacobian(graph, name)(X, W), want)


def test_public_api():
    assert set(interpreter.__all__) >= {
        "jacobian",
        "jac",
        "export",
        "KernelArtifact",
        "Block",
    }


def test_graph_loaded_from_json_takes_flat_leaves_per_argument():
    def f(p, y):
        return p[0] * jnp.exp(p[1]) + y

    p = (jnp.ones(2), jnp.asarray([0.1, 0.2]))
    y = jnp.asarray([3.0, 4.0])
    loaded = graphs.load(graphs.trace(f, p, y).to_json())
    got = interpreter.jacobian(loaded, "reverse")(p, y)
    assert_trees_close(got, jax.jacfwd(f, argnums=(0, 1))(p, y))
