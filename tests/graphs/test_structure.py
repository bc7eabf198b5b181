"""The partial algebra against dense arithmetic, and its multiplication counts."""

import math

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hs

from graphs import algebra
from graphs import structure as st
from graphs.densify import to_dense


@hs.composite
def structures(draw, out_shape=None, in_shape=None):
    """A random well-formed Structure (pairs, constant axes, value core or none)."""
    sizes = hs.integers(1, 3)
    if out_shape is None:
        out_shape = tuple(draw(hs.lists(sizes, max_size=2)))
    if in_shape is None:
        in_shape = tuple(draw(hs.lists(sizes, max_size=2)))
    out_labels = list(range(len(out_shape)))
    in_labels = []
    free = len(out_shape)
    used = set()
    for d in in_shape:
        candidates = [
            i for i, n in enumerate(out_shape) if n == d and i not in used
        ]
        if candidates and draw(hs.booleans()):
            i = draw(hs.sampled_from(candidates))
            used.add(i)
            in_labels.append(out_labels[i])
        else:
            in_labels.append(free)
            free += 1
    labels = sorted(set(out_labels) | set(in_labels))
    if draw(hs.booleans()):
        core = None
    else:
        chosen = [lab for lab in labels if draw(hs.booleans())]
        core = tuple(draw(hs.permutations(chosen)))
    return st.Structure(out_shape, in_shape, tuple(out_labels), tuple(in_labels), core)


def _value(s, seed):
    if s.core is None:
        return None
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=s.core_shape))


def _dense(s, value):
    return np.asarray(to_dense(s, value, dtype=jnp.float64))


@settings(max_examples=150, deadline=None)
@given(hs.data())
def test_compose_equals_dense_contraction(data):
    a = data.draw(structures())
    b = data.draw(structures(out_shape=a.in_shape))
    av, bv = _value(a, 1), _value(b, 2)
    product = algebra.compose(a, b, av, bv, dtype=jnp.float64)
    da, db = _dense(a, av), _dense(b, bv)
    k = len(a.in_shape)
    expected = np.tensordot(da, db, axes=k) if k else np.multiply.outer(da, db)
    np.testing.assert_allclose(_dense(product.partial, product.value), expected, atol=1e-12)
    # The symbolic result is the same partial with the same counts.
    symbolic = algebra.compose(a, b)
    assert symbolic.partial == product.partial
    assert symbolic.multiplications == product.multiplications
    if a.core is None or b.core is None:
        # A factor without values never costs a product (unless summing ones
        # scales the result, which costs one product per core element).
        assert product.multiplications in (0, product.partial.core_size)


@settings(max_examples=150, deadline=None)
@given(hs.data())
def test_add_equals_dense_sum(data):
    x = data.draw(structures())
    y = data.draw(structures(out_shape=x.out_shape, in_shape=x.in_shape))
    xv, yv = _value(x, 3), _value(y, 4)
    total = algebra.add(x, y, xv, yv, dtype=jnp.float64)
    np.testing.assert_allclose(
        _dense(total.partial, total.value), _dense(x, xv) + _dense(y, yv), atol=1e-12
    )
    assert algebra.add(x, y).partial == total.partial


def test_elementwise_chain_costs_n_not_n_squared():
    # sin then exp on a 5-vector: the product of two diagonals is 5 products.
    a = st.elementwise((5,), (5,))
    product = algebra.compose(a, a)
    assert product.multiplications == 5
    # The same partials stored densely would cost 5 * 5 * 5.
    d = st.dense((5,), (5,))
    assert algebra.compose(d, d).multiplications == 125


def test_matrix_product_costs_p_m_n():
    # (2x3 dense) . (3x4 dense) = 24 products.
    assert (
        algebra.compose(st.dense((2,), (3,)), st.dense((3,), (4,))).multiplications
        == 24
    )


def test_value_less_factors_cost_nothing():
    copy = st.identity((4, 3))
    diag = st.elementwise((4, 3), (4, 3))
    assert algebra.compose(diag, copy).multiplications == 0
    assert algebra.compose(copy, diag).multiplications == 0


def test_index_maps_compose_to_index_map():
    # reverse then take the first two elements of a 4-vector.
    rev = st.IndexMap((4,), (4,), (3, 2, 1, 0))
    head = st.IndexMap((2,), (4,), (0, 1))
    product = algebra.compose(head, rev)
    assert product.partial == st.IndexMap((2,), (4,), (3, 2))
    assert product.multiplications == 0


def test_selection_structure_converts_to_index_map():
    # squeeze of a (1, 3) array: output j copies input (0, j).
    squeeze = st.Structure((3,), (1, 3), (0,), (1, 0), None)
    assert st.is_selection(squeeze)
    assert st.as_index_map(squeeze).index == (0, 1, 2)
    assert math.prod(squeeze.in_shape) == 3
