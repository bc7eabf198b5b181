"""Loops and index maps while tracing: what the graph looks like and what it costs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import graphs
import interpreter
from graphs.structure import IndexMap, RuntimeMap
from tests.interpreter.helpers import check_program

X = jnp.asarray([0.3, -0.7, 1.1])


def _ops(g):
    return [v.op for v in g.vertices if v.op not in ("input", "parameter")]


def _partials(g, op):
    """The partials of the first vertex with ``op`` w.r.t. non-constant operands."""
    vid = next(v.id for v in g.vertices if v.op == op)
    by_id = g.by_id
    return [
        p
        for src, dst, p in graphs.elimination.graph_edges(g)
        if dst == vid and by_id[src].op != "broadcast_in_dim"
    ]


def test_fori_loop_unrolls_into_the_same_graph_as_a_python_loop():
    def looped(x):
        return lax.fori_loop(0, 3, lambda i, c: jnp.sin(c) * x, x)

    def unrolled(x):
        c = x
        for _ in range(3):
            c = jnp.sin(c) * x
        return c

    g, h = graphs.trace(looped, X), graphs.trace(unrolled, X)
    assert _ops(g) == _ops(h) == ["sin", "mul"] * 3
    for order in ("forward", "reverse", "markowitz"):
        assert graphs.cost(g, order) == graphs.cost(h, order)
    check_program(looped, X)


def test_scan_rows_are_slices_and_results_one_concatenation():
    def f(x, xs):
        def step(c, row):
            c = c * row + jnp.sin(row)
            return c, c * 2.0

        return lax.scan(step, x, xs)

    xs = jnp.arange(6.0).reshape(3, 2) / 7.0
    g = graphs.trace(f, X[:2], xs)
    assert _ops(g).count("concatenate") == 1
    assert _ops(g).count("slice") == 3
    check_program(f, X[:2], xs)
    check_program(
        lambda x, xs: lax.scan(lambda c, r: (c * r, c), x, xs, reverse=True), X[:2], xs
    )


def test_unroll_limit_makes_one_generic_vertex_per_loop():
    def f(x):
        return lax.fori_loop(0, 50, lambda i, c: jnp.sin(c) * x, x)

    assert _ops(graphs.trace(f, X)).count("sin") == 50
    with graphs.unroll_limit(0):
        g = graphs.trace(f, X)
    assert "sin" not in _ops(g) and len(_ops(g)) <= 2
    with graphs.unroll_limit(0):
        check_program(f, X)


def test_loop_bodies_with_jit_custom_jvp_and_remat():
    @jax.checkpoint
    def body(i, c):
        return jax.jit(jnp.sin)(c) + jax.nn.relu(c) * jax.nn.softplus(c)

    check_program(lambda x: lax.fori_loop(0, 3, body, x), X)


def test_loop_body_with_custom_vjp_differentiates_its_primal():
    # jacfwd refuses custom_vjp functions; jacrev uses the custom rule, which here
    # is the true derivative, so the kernel must match it.
    @jax.custom_vjp
    def squash(x):
        return jnp.tanh(x)

    squash.defvjp(
        lambda x: (jnp.tanh(x), x), lambda x, g: (g * (1 - jnp.tanh(x) ** 2),)
    )

    def f(x):
        return lax.fori_loop(0, 3, lambda i, c: squash(c) * x, x)

    g = graphs.trace(f, X)
    for order in ("forward", "reverse", "markowitz"):
        got = interpreter.jacobian(g, order)(X)
        np.testing.assert_allclose(got, jax.jacrev(f)(X), rtol=1e-10, atol=1e-12)


def test_static_gather_is_a_selection_table():
    g = graphs.trace(lambda x: jnp.sin(x)[jnp.array([2, 0, 2, -1])], X)
    (partial,) = _partials(g, "gather")
    assert partial == IndexMap((4,), (3,), (2, 0, 2, 2))


def test_traced_indices_make_runtime_maps():
    def f(x, i):
        return jnp.sin(x)[i] * 2.0

    g = graphs.trace(f, X, jnp.array([2, 0, 2]), argnums=0)
    (partial,) = _partials(g, "gather")
    assert partial == RuntimeMap((3,), (3,), False)
    # sin: diag(3); gather: 3 <- 3 at run time; mul by 2.0: diag(3).
    # forward: sin·gather densifies sin's diagonal into a 3x3 core (no products),
    # then mul·(3x3) = 9. reverse: mul·gather scatters mul's 3x3 core (none), then
    # (3x3)·sin = 9.
    assert graphs.cost(g, "forward").multiplications == 9
    assert graphs.cost(g, "reverse").multiplications == 9
    check_program(f, X, jnp.array([2, 0, 2]), argnums=0)


def test_scatter_add_with_repeated_indices_is_a_scatter_form_map():
    def f(x, i):
        return jnp.zeros(4).at[i].add(jnp.exp(x))

    g = graphs.trace(f, X, jnp.array([1, 3, 1]), argnums=0)
    (partial,) = _partials(g, "scatter-add")
    assert partial == RuntimeMap((4,), (3,), True)
    check_program(f, X, jnp.array([1, 3, 1]), argnums=0)
    static = graphs.trace(lambda x: jnp.zeros(4).at[jnp.array([1, 3, 1])].add(x * x), X)
    assert _partials(static, "scatter-add") == [RuntimeMap((4,), (3,), True)]
    unique = graphs.trace(lambda x: jnp.zeros(4).at[jnp.array([1, 3, 0])].add(x * x), X)
    assert _partials(unique, "scatter-add") == [IndexMap((4,), (3,), (2, 0, -1, 1))]


def test_runtime_maps_round_trip_through_structure_json():
    g = graphs.trace(lambda x, i: jnp.cos(x)[i] * x[i], X, jnp.array([1, 1]), argnums=0)
    s = g.to_structure()
    back = graphs.load(s.to_json())
    assert back == s
    for order in ("forward", "reverse"):
        assert graphs.cost(back, order) == graphs.cost(g, order)


def test_constant_index_arithmetic_is_folded():
    g = graphs.trace(lambda x: x[jnp.arange(3) % 2] * x[::-1], X)
    assert "iota" not in _ops(g) and "rem" not in _ops(g)
    (partial,) = _partials(g, "gather")
    assert isinstance(partial, IndexMap)
    np.testing.assert_array_equal(partial.index, [0, 1, 0])


def test_cond_kernel_follows_the_branch_taken_at_run_time():
    def f(x):
        return lax.cond(x[0] > 0.0, jnp.sin, lambda t: jnp.cos(t) * t, x) * x

    g = graphs.trace(f, X)  # traced where x[0] > 0
    for order in ("forward", "reverse"):
        kernel = interpreter.jacobian(g, order)
        for x in (X, -X):
            np.testing.assert_allclose(kernel(x), jax.jacfwd(f)(x), rtol=1e-10)


def test_traced_index_kernel_follows_the_indices_at_run_time():
    def f(x, i):
        return jnp.sin(x)[i] * x[i[::-1]]

    g = graphs.trace(f, X, jnp.array([0, 1]), argnums=0)
    kernel = interpreter.jacobian(g, "reverse")
    for i in ([0, 1], [2, 2], [1, 0]):
        i = jnp.array(i)
        np.testing.assert_allclose(kernel(X, i), jax.jacfwd(f)(X, i), rtol=1e-10)
