"""Generic partials (graphs.generic): their structure and hand-solved costs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import graphs
from graphs.elimination import graph_edges
from graphs.generic import EXPORTED, RESULT, generic_partials
from graphs.ir import Vertex


def _partial(g, op):
    (vertex,) = [v for v in g.vertices if v.op == op and v.dtype.startswith("float")]
    (partial,) = [p for (_, dst, p) in graph_edges(g) if dst == vertex.id]
    return vertex, partial


def test_cumsum_then_sin_costs_n_squared():
    # x[4] -> c = cumsum(x) (dense 4x4 core) -> y = sin(c) (4-diagonal).
    # Eliminating c: labels {y=c (4), x (4)} -> 16 multiplications.
    g = graphs.trace(lambda x: jnp.sin(jnp.cumsum(x)), jnp.ones(4))
    vertex, partial = _partial(g, "cumsum")
    assert partial.core_shape == (4, 4)
    assert graphs.cost(g, [vertex.id]).multiplications == 16


def test_batched_cholesky_pairs_its_batch_axis():
    # x[3,2,2] -> L = cholesky(x): batch paired, core [3,2,2,2,2] (48 values; dense
    # would be 144). L -> sin(L): composing costs 3*2*2*2*2 = 48.
    spd = np.broadcast_to(np.eye(2) * 2.0, (3, 2, 2))
    g = graphs.trace(lambda a: jnp.sin(jnp.linalg.cholesky(a)), spd)
    vertex, partial = _partial(g, "cholesky")
    assert partial.core_shape == (3, 2, 2, 2, 2)
    steps = {s.vertex: s.multiplications for s in graphs.cost(g, "forward").steps}
    assert steps[vertex.id] == 48


def test_unknown_primitive_is_dense_and_non_float_results_have_no_partial():
    v = Vertex("y", "householder_product", shape=(3, 3), dtype="float32")
    (a, b) = generic_partials(v, [(3, 3), (3,)], ["float32", "float32"])
    assert a.core_shape == (3, 3, 3, 3) and b.core_shape == (3, 3, 3)
    ints = Vertex("p", "lu", params=((RESULT, 1),), shape=(3,), dtype="int32")
    assert generic_partials(ints, [(3, 3)], ["float32"]) == [None]
    exported = Vertex("w", EXPORTED, shape=(2,), dtype="float32")
    assert generic_partials(exported, [(), (2,)], ["int32", "float32"])[0] is None


def test_generic_edges_round_trip_through_structure_json():
    def f(x, w):
        return jnp.cumsum(lax.conv_general_dilated(x, w, (1,), "SAME"), axis=2)

    g = graphs.trace(f, jnp.ones((2, 1, 4)), jnp.ones((1, 1, 3)))
    structure = graphs.load(g.to_structure().to_json())
    for order in ("forward", "reverse", "markowitz"):
        assert graphs.cost(structure, order) == graphs.cost(g, order)


def test_effects_without_results_are_dropped():
    def f(x):
        jax.debug.print("x={x}", x=x)
        return jnp.sin(x)

    assert [v.op for v in graphs.trace(f, jnp.ones(2)).vertices] == ["input", "sin"]


def test_exported_modules_may_call_only_jax_stable_custom_targets():
    from graphs.linearize import _allowed_custom_calls, _custom_calls

    text = (
        "%0 = stablehlo.custom_call @lapack_dpotrf_ffi(%arg0) : ...\n"
        '%1 = "stablehlo.custom_call"(%0) {call_target_name = "xla_python_cpu_callback"}'
    )
    calls = _custom_calls(text)
    assert calls == {"lapack_dpotrf_ffi", "xla_python_cpu_callback"}
    assert calls - _allowed_custom_calls() == {"xla_python_cpu_callback"}
