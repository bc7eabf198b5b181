"""Fixes made in graphs/structure.py while building the interpreter."""

from __future__ import annotations

import jax.numpy as jnp

from graphs import algebra
from graphs import structure as st
from graphs.densify import to_dense
from tests.interpreter.helpers import check_program


def test_index_map_of_a_selection_onto_a_scalar():
    # squeeze (1,) -> (): a value-less selection with a 0-d output.
    s = st.Structure((), (1,), (), (0,), None)
    assert st.as_index_map(s) == st.IndexMap((), (1,), (0,))


def test_indexing_one_element_then_composing_with_a_slice():
    check_program(lambda x: jnp.sin(x[1:3])[0] * x[2], jnp.asarray([0.3, -0.7, 1.1]))


def test_scatter_by_gathers_sums_every_source():
    # J[s, p] = A[s, v] · G[v, p] with v = concatenate([p, p]): each p element has
    # two sources; the gathers add both (no scatter-add).
    m = st.IndexMap((4,), (2,), (0, 1, 0, 1))
    a = st.dense((), (4,))
    value = jnp.asarray([1.0, 2.0, 3.0, 4.0])
    product = algebra.compose(a, m, value, None, dtype=jnp.float64)
    assert product.multiplications == 0
    assert jnp.allclose(
        to_dense(product.partial, product.value, dtype=jnp.float64),
        jnp.asarray([4.0, 6.0]),
    )


def test_small_contraction_as_broadcast_multiply_counts_the_same():
    # (3,) core times (3,) core contracted over the shared axis: 3 products.
    a = st.dense((), (3,))
    b = st.dense((3,), ())
    sym = algebra.compose(a, b)
    val = algebra.compose(
        a,
        b,
        jnp.asarray([1.0, 2.0, 3.0]),
        jnp.asarray([4.0, 5.0, 6.0]),
        dtype=jnp.float64,
    )
    assert sym.multiplications == val.multiplications == 3
    assert float(val.value) == 32.0


def test_stack_primitive_of_scalars_and_vectors():
    # jnp.stack binds the `stack` primitive in recent JAX; it had no structure rule.
    check_program(lambda a, b: jnp.stack([a * b, jnp.sin(a), b]), 0.3, -1.2)
    x = jnp.asarray([0.5, 1.5, -0.2])
    check_program(lambda u, v: jnp.stack([u, v * u], axis=1) ** 2, x, x[::-1])
