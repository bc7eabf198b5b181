"""The DESIGN.md pitfalls: repeated operands, outputs used later, odd outputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import graphs
import interpreter
from tests.interpreter.helpers import check_program

X = jnp.asarray([0.4, -1.3, 2.2])


def test_x_times_x_adds_both_edges():
    check_program(lambda x: x * x, X)
    check_program(lambda x: jnp.sin(x * x) * x, 0.7)


def test_x_plus_x_adds_both_edges():
    check_program(lambda x: x + x, X)
    check_program(lambda x: jnp.exp(x + x) - x, 0.3)


def test_output_also_used_later():
    def f(x):
        y = jnp.sin(x)
        return y, y * jnp.cos(y), jnp.sum(y)

    check_program(f, X)


def test_repeated_outputs():
    def f(x):
        y = jnp.tanh(x) * 2.0
        return y, x, y

    check_program(f, X)


def test_output_that_is_an_input():
    check_program(lambda x, y: (x, x * y), X, X[::-1])


def test_constant_outputs():
    check_program(lambda x: (jnp.ones(2), x * 3.0, jnp.float64(2.0)), X)


def test_input_that_no_output_depends_on():
    check_program(lambda x, unused: jnp.sin(x) * 2.0, X, jnp.ones((2, 2)))


def test_concatenate_of_the_same_vector_sums_duplicate_paths():
    # The reverse sweep through concatenate([x, x]) adds two sources into each
    # element of x: done by gathers, never by a scatter.
    def f(x):
        z = jnp.concatenate([x, x * 2.0, x])
        return jnp.sum(jnp.sin(z) * jnp.arange(9.0)), z[2:7]

    check_program(f, X)
    plan = interpreter.make_plan(graphs.trace(f, X), "reverse")
    from interpreter.counting import accumulation_jaxpr

    names = {e.primitive.name for e in accumulation_jaxpr(plan).jaxpr.eqns}
    assert not any("scatter" in n for n in names)


def test_relu_and_softplus_custom_jvp_have_real_derivatives():
    def f(x):
        return jax.nn.relu(x) + jax.nn.softplus(x) * jax.nn.relu(-x)

    check_program(f, X)
    jac = interpreter.jac(f)(X)
    assert np.all(np.diag(jac) != 0.0)
