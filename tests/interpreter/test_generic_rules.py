"""Generic vertices (graphs.generic): exact kernels for primitives without a rule.

Every function here runs through :func:`check_generic`: the Jacobian of the kernel
equals ``jax.jacfwd`` in float64 at rtol 1e-10 for forward, reverse, Markowitz and
five random orders (jitted and vmapped for Markowitz), and the kernel's counted
multiplications equal ``graphs.cost`` for every one of those orders.
"""

from __future__ import annotations

import base64
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import graphs
import interpreter
import search
from graphs.elimination import graph_edges
from graphs.generic import EXPORTED, MODULE, RESULT
from graphs.structure import RuntimeMap
from interpreter.counting import kernel_multiplications
from tests.interpreter.helpers import assert_trees_close, diff_argnums

RNG = np.random.default_rng(7)
SPD = (lambda a: a @ a.T + 3.0 * np.eye(3))(RNG.normal(size=(3, 3)))
VEC = RNG.normal(size=5)
MAT = RNG.normal(size=(2, 4))


def _orders(graph, count: int = 5):
    ids = list(graphs.build(graph).intermediate_ids)
    rng = np.random.default_rng(len(ids))
    randoms = [list(rng.permutation(ids)) for _ in range(count)]
    return ["forward", "reverse", "markowitz", *randoms]


def check_generic(f, *args, ops: tuple[str, ...] = (), random_orders: int = 5):
    """jacfwd's Jacobian by eight orders; counted products == graphs.cost.

    All eight kernels (and Markowitz's under ``jax.vmap``) run inside one
    ``jax.jit``: one compilation per function instead of eight.
    """
    graph = graphs.trace(f, *args)
    present = {v.op for v in graph.vertices}
    assert set(ops) <= present, f"expected ops {ops}, graph has {sorted(present)}"
    nums = diff_argnums(graph)
    argnums = nums[0] if len(nums) == 1 else nums
    kernels = []
    for order in _orders(graph, random_orders):
        kernel = interpreter.jacobian(graph, order)
        assert kernel_multiplications(kernel.plan) == kernel.plan.cost.multiplications
        assert kernel.plan.cost == graphs.cost(graph, order)
        kernels.append(kernel)
    batch = jax.tree_util.tree_map(lambda a: jnp.stack([a, a * 0.5 + 0.1]), args)
    run = jax.jit(lambda a, b: ([k(*a) for k in kernels], jax.vmap(kernels[2])(*b)))
    singles, batched = run(args, batch)
    want = jax.jacfwd(f, argnums=argnums)(*args)
    for got in singles:
        assert_trees_close(got, want)
    assert_trees_close(batched, jax.vmap(jax.jacfwd(f, argnums=argnums))(*batch))
    return graph


# ------------------------------------------------------------------ cumulative ops


def test_cumsum_is_triangular_along_its_axis_and_paired_elsewhere():
    g = check_generic(lambda x: jnp.sin(jnp.cumsum(x, axis=1)), MAT, ops=("cumsum",))
    (vertex,) = [v for v in g.vertices if v.op == "cumsum"]
    (partial,) = [p for (s, d, p) in graph_edges(g) if d == vertex.id]
    assert partial.core_shape == (2, 4, 4)  # rows paired: 32 values, not 64


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: jnp.cumprod(x + 2.0),
        lambda x: lax.cummax(x * x, reverse=True),
        lambda x: lax.cumlogsumexp(x),
        lambda x: lax.cumsum(jnp.exp(x), reverse=True) * x,
    ],
    ids=["cumprod", "cummax", "cumlogsumexp", "reverse-cumsum"],
)
def test_cumulative_ops(fn):
    check_generic(fn, VEC)


# -------------------------------------------------------------------------- sort


def test_sort_is_a_selection_computed_at_kernel_time_and_costs_nothing():
    g = check_generic(lambda x: jnp.sin(jnp.sort(jnp.cos(x))), VEC, ops=("sort",))
    (vertex,) = [v for v in g.vertices if v.op == "sort"]
    (partial,) = [p for (s, d, p) in graph_edges(g) if d == vertex.id]
    assert isinstance(partial, RuntimeMap) and not partial.has_values
    # Eliminating the sort first: cos' (5 values) through the permutation, no products.
    first = graphs.cost(
        g, [vertex.id] + [i for i in graphs.build(g).intermediate_ids if i != vertex.id]
    )
    assert first.steps[0].multiplications == 0
    check_generic(lambda x: jnp.sort(x) * jnp.arange(5.0), VEC, ops=("sort",))
    check_generic(lambda x: lax.top_k(jnp.sin(x), 3)[0], VEC, ops=("top_k",))


def test_multi_operand_sort_differentiates_the_values_only():
    def f(keys, values):
        _, v = lax.sort((keys, values), num_keys=1)
        return jnp.cumsum(v) * keys

    g = check_generic(f, VEC, VEC[::-1] * 2.0, ops=("sort",))
    sorted_values = [
        v for v in g.vertices if v.op == "sort" and v.param_dict[RESULT] == 1
    ]
    (vid,) = [v.id for v in sorted_values]
    sources = {s for (s, d, _) in graph_edges(g) if d == vid}
    assert sources == {"x1"}  # the permutation is piecewise constant in the keys


def test_reductions_and_top_k_pair_their_kept_axes_and_use_reverse_mode():
    # Fewer active outputs than inputs: the cores come from VJPs (one per output).
    g = check_generic(lambda x: jnp.prod(x + 2.0, axis=1), MAT, ops=("reduce_prod",))
    (vertex,) = [v for v in g.vertices if v.op == "reduce_prod"]
    (partial,) = [p for (s, d, p) in graph_edges(g) if d == vertex.id]
    assert partial.core_shape == (2, 4)  # rows paired
    g = check_generic(lambda x: lax.top_k(x * x, 3)[0], MAT, ops=("top_k",))
    (vertex,) = [v for v in g.vertices if v.op == "top_k" and v.dtype == "float64"]
    (partial,) = [p for (s, d, p) in graph_edges(g) if d == vertex.id]
    assert isinstance(partial, RuntimeMap)  # a selection: no values


# ------------------------------------------------------------------- convolution


def test_convolutions():
    check_generic(lambda x, w: jnp.convolve(x, w), VEC, VEC[:3] * 0.3)
    lhs = RNG.normal(size=(2, 2, 5))  # N, C, W
    rhs = RNG.normal(size=(3, 2, 3))  # O, I, W
    g = check_generic(
        lambda x, w: jnp.tanh(lax.conv_general_dilated(x, w, (1,), "SAME")),
        lhs,
        rhs,
        ops=("conv_general_dilated",),
    )
    (conv,) = [v for v in g.vertices if v.op == "conv_general_dilated"]
    edges = {s: p for (s, d, p) in graph_edges(g) if d == conv.id}
    assert edges["x0"].core_shape == (2, 3, 5, 2, 5)  # batch axis paired
    assert edges["x1"].core_shape == (2, 3, 5, 3, 2, 3)


# ---------------------------------------------------------------- linear algebra


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: jnp.linalg.cholesky(a),
        lambda a: jnp.linalg.inv(a),
        lambda a: jnp.linalg.det(a),
        lambda a: jnp.linalg.slogdet(a)[1],
        lambda a: jnp.linalg.eigvalsh(a),
        lambda a: jnp.linalg.qr(a)[1],
        lambda a: jnp.linalg.svd(a, compute_uv=False),
        lambda a: jax.scipy.linalg.lu_factor(a)[0],
        lambda a: jax.scipy.linalg.solve_triangular(a, jnp.sin(a[0]), lower=True),
        lambda a: jax.scipy.stats.multivariate_normal.logpdf(a[0], a[1], a),
    ],
    ids=[
        "cholesky",
        "inv",
        "det",
        "slogdet",
        "eigh",
        "qr",
        "svd",
        "lu",
        "trsolve",
        "mvn",
    ],
)
def test_linear_algebra(fn):
    check_generic(fn, SPD)


def test_solve_differentiates_the_matrix_and_the_right_hand_side():
    check_generic(lambda a, b: jnp.linalg.solve(a, jnp.sin(b)), SPD, VEC[:3])


# -------------------------------------------------------- common library functions


@pytest.mark.slow
def test_elementwise_and_library_functions():
    def f(x):
        y = jax.nn.softplus(x) + jax.nn.gelu(x) + jax.nn.log_softmax(x)
        y = y + jax.scipy.special.logsumexp(x) + lax.logistic(x) * lax.erf_inv(x / 3.0)
        y = y + lax.integer_pow(x, 3) + jnp.expm1(x) * jnp.log1p(x * x)
        y = y + jnp.arctan2(x, 2.0 + x) + jnp.remainder(x, 0.7) + jnp.clip(x, -0.5, 0.5)
        y = y + jax.scipy.special.gammaln(x + 3.0) + jax.scipy.special.i0e(x)
        return y * jnp.max(x) + jnp.power(jnp.abs(x) + 1.0, x)

    check_generic(f, VEC, random_orders=1)  # 60 vertices: one compile is ~10 s


# ----------------------------------------------------------- the exported form


def test_while_loop_is_one_exported_vertex():
    def f(x):
        def body(c):
            i, y = c
            return i + 1, jnp.sin(y) * y + 0.5

        return lax.while_loop(lambda c: c[0] < 3, body, (0, x))[1] * 2.0

    g = check_generic(f, VEC[:3])
    assert any(v.op == EXPORTED for v in g.vertices)
    kernel = interpreter.jacobian(g, "reverse")
    with pytest.raises(graphs.GraphError, match="cannot be differentiated again"):
        jax.jacfwd(kernel)(VEC[:3])


# ------------------------------------------------------- closed-over constants


def test_closed_over_arrays_and_pytrees_work_jitted_vmapped_and_exported():
    c = jnp.ones(2) * 1.5
    tree = {"w": jnp.arange(4.0).reshape(2, 2), "b": (jnp.array([0.5, -0.5, 1.0]),)}

    def f(a):
        return jnp.sin(a) * c + tree["w"] @ a + tree["b"][0][:2].sum()

    x = jnp.asarray([0.3, -0.8])
    g = graphs.trace(f, x)
    want = jax.jacfwd(f)(x)
    kernel = interpreter.jacobian(g, "reverse")
    assert_trees_close(jax.jit(kernel)(x), want)
    batch = jnp.stack([x, x + 1.0])
    assert_trees_close(jax.vmap(kernel)(batch), jax.vmap(jax.jacfwd(f))(batch))
    art = interpreter.export(g, "markowitz")
    (block,) = jax.export.deserialize(art.stablehlo).call(x)
    assert_trees_close(block, want)
    module = types.ModuleType("generated")
    exec(art.python_source, module.__dict__)  # noqa: S102 - our own generated code
    assert_trees_close(module.jacobian(x)[0], want)
    assert graphs.load(g.to_json()) == g


# ------------------------------------------------------------ errors and format


def test_a_primitive_jax_cannot_differentiate_names_the_line_and_the_fix():
    def f(x):
        return jax.pure_callback(np.cos, jax.ShapeDtypeStruct(x.shape, x.dtype), x)

    with pytest.raises(graphs.GraphError) as err:
        graphs.trace(lambda x: f(x) * 2.0, VEC)
    message = str(err.value)
    assert "'pure_callback'" in message
    assert "test_generic_rules.py:" in message
    assert "custom_jvp" in message


def test_generic_vertices_round_trip_through_json():
    def f(a, x):
        y = lax.while_loop(lambda c: c[0] < 2, lambda c: (c[0] + 1, c[1] * 1.5), (0, x))
        return jnp.linalg.cholesky(a) @ jnp.sort(y[1])

    args = (SPD, VEC[:3])
    g = graphs.trace(f, *args)
    loaded = graphs.load(g.to_json())
    assert loaded == g
    ops = {v.op for v in loaded.vertices}
    assert {"cholesky", "sort"} <= ops
    exported = [v for v in loaded.vertices if v.op == EXPORTED]
    for v in exported:
        base64.b64decode(v.param_dict[MODULE][1:], validate=True)
    want = jax.jacfwd(f, argnums=(0, 1))(*args)
    assert_trees_close(interpreter.jacobian(loaded, "reverse")(*args), want)
    structure = graphs.load(g.to_structure().to_json())
    for order in ("forward", "reverse", "markowitz"):
        assert graphs.cost(structure, order) == graphs.cost(g, order)


def test_unknown_op_in_a_document_is_refused():
    doc = {
        "format": "ccelim.graph/1",
        "inputs": ["x"],
        "outputs": ["y"],
        "vertices": [
            {"id": "x", "op": "input", "shape": [2], "dtype": "float32"},
            {"id": "y", "op": "not_a_primitive", "operands": ["x"], "shape": [2]},
        ],
    }
    with pytest.raises(graphs.GraphError, match="unknown op 'not_a_primitive'"):
        graphs.load(doc)


# ------------------------------------------------------------------------ search


def test_search_prices_generic_vertices_and_its_order_is_exact():
    def f(a, x, w):
        factor = jnp.linalg.cholesky(a)
        y = lax.conv_general_dilated(x, w, (1,), "SAME")
        return jnp.sum(factor) * jnp.tanh(y), factor @ jnp.sin(a)

    args = (SPD, RNG.normal(size=(2, 2, 5)), RNG.normal(size=(3, 2, 3)))
    g = graphs.trace(f, *args)
    result = search.optimize(g, time_budget_s=0.5)
    assert result.cost <= min(b.cost for b in graphs.baselines(g).values())
    want = jax.jacfwd(f, argnums=(0, 1, 2))(*args)
    assert_trees_close(interpreter.jacobian(g, result.order)(*args), want, rtol=1e-9)
    from graphs.baselines import order_positions
    from search.game import game_cost

    elim = graphs.build(g)
    for name in ("forward", "reverse", "markowitz"):
        positions = list(order_positions(elim, name))
        assert game_cost(g, positions) == graphs.cost(g, name).multiplications
