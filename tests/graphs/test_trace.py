"""Tracing: inlining, ids, argnums, unsupported primitives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import graphs


def test_ids_are_deterministic_program_order():
    def f(x, y):
        return jnp.sin(x) * y + 1.0

    a = graphs.trace(f, 1.0, 2.0)
    b = graphs.trace(f, 1.0, 2.0)
    assert a == b
    assert a.inputs == ("x0", "x1")
    assert [v.id for v in a.vertices] == ["x0", "x1", "v0", "v1", "v2"]
    assert [v.op for v in a.vertices[2:]] == ["sin", "mul", "add"]


def test_pytree_arguments_flatten_into_inputs_and_signature():
    def f(params, x):
        return params["w"] @ x + params["b"]

    params = {"b": jnp.ones(2), "w": jnp.ones((2, 3))}
    g = graphs.trace(f, params, jnp.ones(3))
    # dict leaves come in sorted key order: b, w; then x.
    assert g.signature == (("x0", "x1"), ("x2",))
    assert [g.vertex(x).shape for x in g.inputs] == [(2,), (2, 3), (3,)]


def test_argnums_makes_other_arguments_parameters():
    g = graphs.trace(lambda x, w: w * x, 1.0, 3.0, argnums=0)
    assert g.inputs == ("x0",)
    assert g.vertex("p0").op == "parameter"


@pytest.mark.parametrize(
    "fn",
    [jax.nn.relu, jax.nn.softplus, jax.nn.softmax, jnp.linalg.norm, jax.nn.gelu],
    ids=["relu", "softplus", "softmax", "norm", "gelu"],
)
def test_custom_jvp_and_jit_wrappers_are_inlined(fn):
    g = graphs.trace(fn, jnp.array([0.5, -1.0, 2.0]))
    ops = {v.op for v in g.vertices}
    assert not ops & {"custom_jvp_call", "jit", "pjit", "custom_vjp_call"}
    # Something depends on the input: the derivative is not silently zero.
    assert graphs.build(g).edges


def test_custom_vjp_uses_the_primal_body():
    @jax.custom_vjp
    def f(x):
        return jnp.sin(x)

    f.defvjp(lambda x: (jnp.sin(x), x), lambda r, g: (g * jnp.cos(r),))
    g = graphs.trace(lambda x: f(x) * 2.0, 1.0)
    assert [v.op for v in g.vertices[1:]] == ["sin", "mul"]


def test_where_traces_through_select_n():
    g = graphs.trace(lambda x: jnp.where(x > 0, x * x, -x), jnp.ones(3))
    assert "select_n" in {v.op for v in g.vertices}
    assert len(graphs.build(g).intermediates) >= 2


def test_split_becomes_slices():
    g = graphs.trace(lambda x: jnp.split(x, 2)[1] * 2.0, jnp.ones(4))
    assert [v.op for v in g.vertices[1:]].count("slice") == 2


def test_a_primitive_jax_cannot_differentiate_names_the_users_line():
    def f(x):
        return jax.pure_callback(np.sin, jax.ShapeDtypeStruct(x.shape, x.dtype), x)

    with pytest.raises(graphs.GraphError) as err:
        graphs.trace(f, jnp.ones(3))
    message = str(err.value)
    assert "'pure_callback'" in message
    assert "test_trace.py:" in message
    assert "custom_jvp" in message


def test_primitives_without_a_structured_rule_become_generic_vertices():
    g = graphs.trace(lambda x: lax.cumsum(jnp.sin(x)), jnp.ones(3))
    assert [v.op for v in g.vertices] == ["input", "sin", "cumsum"]


def test_constant_output_becomes_a_vertex():
    g = graphs.trace(lambda x: (x * 2.0, 3.0), 1.0)
    assert len(g.outputs) == 2
    assert g.vertex(g.outputs[1]).op == "copy"
