"""Blocks of split vertices stacked in groups: one fused loop per small block.

A vector program read by indexing (``u[i]``) with a stacked output has its input
and output split into elements (``graphs.elements``); the kernel assembles each
such block from its element pieces. ``interpreter.eliminate.STACK_GROUP`` stacks a
block of at most ``FUSED_BLOCK_MAX_ELEMENTS`` elements as a tree of stacks of 8,
each level along a new axis (XLA CPU fuses that into one loop; a flat stack of 64
became 26 loops and a copy), and larger blocks flat; a block of at most 16
elements with 4 rows, at a batch where it fills at least 8 KiB, is built from
padded columns instead (``eliminate.pads_columns``, the elements constant over
the batch added once) when the kernel stores no shared values behind a barrier.
Values and multiplications never change.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
import interpreter
from interpreter import eliminate
from interpreter.counting import _sub_jaxprs, kernel_multiplications
from tests.interpreter.helpers import pendulum


def _ring(n: int):
    """Lorenz-96-like right-hand side of ``n`` states, with a division and a sine."""

    def f(u):
        return jnp.stack(
            [
                (u[(i + 1) % n] - u[i - 2]) * u[i - 1] / (1.0 + u[i] * u[i])
                + jnp.sin(u[i])
                for i in range(n)
            ]
        )

    return f, np.linspace(0.5, 1.9, n)


def _stack_sizes(jaxpr) -> list[int]:
    """Operand counts of every stack/concatenate, nested jaxprs included."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    sizes = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in ("stack", "concatenate"):
            sizes.append(len(eqn.invars))
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                sizes.extend(_stack_sizes(sub))
    return sizes


@pytest.mark.parametrize("n", [1, 5, 8, 9, 11, 64, 65, 121])
@pytest.mark.parametrize("group", [2, 3, 8])
def test_stack_tree_equals_one_stack(n, group):
    pieces = [jnp.full((2,), float(i)) for i in range(n)]
    got = eliminate._stack_tree(pieces, group)
    np.testing.assert_array_equal(got, jnp.stack(pieces))


def test_stack_tree_stacks_at_most_a_group_at_once_along_new_axes():
    pieces = [jnp.float64(i) for i in range(121)]
    jaxpr = jax.make_jaxpr(lambda *p: eliminate._stack_tree(list(p), 8))(*pieces)
    # 121 = 16 stacks of 8 (the last padded with 7 zeros), 2 stacks of 8 of
    # those, one stack of 2: never more than 8 operands, never along one axis
    # twice (XLA would merge such concatenations back into one of 121).
    assert sorted(_stack_sizes(jaxpr)) == [2] + [8] * 18


def test_blocks_up_to_64_elements_are_grouped_larger_ones_flat():
    assert eliminate.block_group((8, 8), 8) == 8
    assert eliminate.block_group((11, 11), 8) is None
    assert eliminate.block_group((8, 8), None) is None
    for n, grouped, widest in ((8, True, 8), (11, False, 121)):
        f, x = _ring(n)
        graph = graphs.trace(f, x)
        plan = interpreter.make_plan(graph, "reverse")
        assert eliminate.fuses_blocks(plan, 8) is grouped
        assert not eliminate.fuses_blocks(plan, None)
        kernel = interpreter.jacobian(graph, "reverse")
        assert max(_stack_sizes(jax.make_jaxpr(kernel)(x))) == widest
        flat = interpreter.jacobian(graph, "reverse", stack_group=None)
        assert max(_stack_sizes(jax.make_jaxpr(flat)(x))) == n * n


def test_a_block_of_at_most_8x8_is_stacked_by_rows_without_padding():
    f, x = _ring(6)
    graph = graphs.trace(f, x)
    jaxpr = jax.make_jaxpr(interpreter.jacobian(graph, "reverse"))(x)
    # Six rows of six elements, then the six rows: no zeros padding a level to a
    # group of 8 and no slice removing them (their index arithmetic in the fused
    # loop made arrhenius_network's 6x6 kernel 4x slower at batch 2048).
    assert sorted(_stack_sizes(jaxpr)) == [6] * 7


def test_grouped_blocks_keep_the_batch_axis_first_without_transposes():
    f, x = _ring(3)
    graph = graphs.trace(f, x)
    batch = jnp.asarray(np.tile(x, (4, 1)))
    kernel = interpreter.jacobian(graph, "reverse")
    jaxpr = jax.make_jaxpr(jax.vmap(kernel))(batch)
    # jnp.stack under vmap stacks behind the batch axis and transposes back, a
    # strided copy in the block's fused loop; the kernel's stacks do not.
    assert "transpose" not in str(jaxpr)


def _fusions(fn, x) -> int:
    return jax.jit(fn).lower(x).compile().as_text().count(" fusion(")


def test_a_grouped_8x8_block_compiles_to_few_fused_loops():
    f, x = _ring(8)
    graph = graphs.trace(f, x)
    batch = jnp.asarray(np.tile(x, (16, 1)))
    grouped = jax.vmap(interpreter.jacobian(graph, "reverse"))
    flat = jax.vmap(interpreter.jacobian(graph, "reverse", stack_group=None))
    # XLA CPU (jax 0.10): the flat stack of 64 pieces is one loop per nonzero
    # piece plus a copy; grouped, the block is one loop, and the shared sines
    # and divisions stored behind the barrier add a few.
    n_grouped, n_flat = _fusions(grouped, batch), _fusions(flat, batch)
    assert n_flat >= 16
    assert n_grouped <= n_flat // 2


@pytest.mark.parametrize("n", [3, 8, 11])
@pytest.mark.parametrize("order", ["forward", "reverse", "markowitz"])
def test_grouped_kernels_match_jacfwd_with_the_cost_models_multiplications(n, order):
    jax.config.update("jax_enable_x64", True)
    f, x = _ring(n)
    graph = graphs.trace(f, x)
    kernel = interpreter.jacobian(graph, order)
    plan = kernel.plan
    assert kernel_multiplications(plan) == plan.cost.multiplications
    batch = jnp.asarray(x[None] * (1.0 + 0.1 * np.arange(5)[:, None]))
    want = jax.vmap(jax.jacfwd(f))(batch)
    for stack_group in (eliminate.STACK_GROUP, None, 3):
        k = interpreter.jacobian(graph, order, stack_group=stack_group)
        np.testing.assert_allclose(jax.jit(jax.vmap(k))(batch), want, rtol=1e-12)
        np.testing.assert_allclose(k(x), jax.jacfwd(f)(x), rtol=1e-12)


@pytest.mark.parametrize("bad", [1, 0, -8, True, 2.5, "8"])
def test_a_stack_group_below_2_or_not_an_int_is_refused_at_once(bad):
    # A group of 1 never shrinks a level of the stacking tree: before this check
    # interpreter.jacobian(..., stack_group=1) traced forever.
    f, x = _ring(11)
    graph = graphs.trace(f, x)
    with pytest.raises(ValueError, match="stack_group must be None .* >= 2"):
        interpreter.jacobian(graph, "reverse", stack_group=bad)
    with pytest.raises(ValueError, match="stack_group must be None"):
        interpreter.export(graph, "reverse", stack_group=bad)


def test_the_smallest_stack_group_matches_jacfwd():
    jax.config.update("jax_enable_x64", True)
    f, x = _ring(11)
    k = interpreter.jacobian(graphs.trace(f, x), "reverse", stack_group=np.int64(2))
    np.testing.assert_allclose(k(x), jax.jacfwd(f)(x), rtol=1e-12)


def _scara(u):
    """SCARA arm pose: a 4x4 Jacobian with shared sines, cosines and constant rows."""
    t1, t2, d3, t4 = u[0], u[1], u[2], u[3]
    x = 0.45 * jnp.cos(t1) + 0.35 * jnp.cos(t1 + t2)
    y = 0.45 * jnp.sin(t1) + 0.35 * jnp.sin(t1 + t2)
    return jnp.stack([x, y, 0.6 - d3, t1 + t2 - t4])


def _primitives(jaxpr) -> list[str]:
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    names = []
    for eqn in jaxpr.eqns:
        names.append(eqn.primitive.name)
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                names.extend(_primitives(sub))
    return names


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shape", [(4, 4), (4, 3), (1, 5), (3, 1)])
def test_padded_columns_place_every_nonzero_element(shape, seed):
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal(shape) * (rng.random(shape) < 0.6)
    values = {
        (r, c): jnp.float64(dense[r, c])
        for r in range(shape[0])
        for c in range(shape[1])
        if dense[r, c] != 0
    }
    got = eliminate._padded_columns(values, shape, jnp.float64)
    np.testing.assert_array_equal(got, dense)
    assert got.dtype == jnp.float64


def test_padded_columns_only_for_4_row_blocks_of_enough_bytes_over_the_batch():
    assert eliminate.pads_columns(4, 4, np.float64, 2048)
    assert eliminate.pads_columns(4, 4, np.float64, 256)
    assert eliminate.pads_columns(4, 3, np.float32, 2048)
    assert eliminate.pads_columns(4, 4, np.float32, 256)  # 16 KiB
    assert eliminate.pads_columns(4, 3, np.float64, 256)  # 24 KiB
    assert eliminate.pads_columns(4, 4, np.float32, 128)  # 8 KiB
    assert not eliminate.pads_columns(4, 4, np.float32, 64)  # 4 KiB: stacked
    assert not eliminate.pads_columns(4, 4, np.float64, 16)
    assert not eliminate.pads_columns(3, 3, np.float64, 2048)  # 3 rows: a loop
    assert not eliminate.pads_columns(4, 5, np.float64, 2048)  # 20 elements
    assert not eliminate.pads_columns(4, 4, np.float64, 1)
    assert not eliminate.pads_columns(4, 4, np.float64, None)  # symbolic batch


@pytest.mark.parametrize("shape", [(4, 4), (4, 3)])
def test_padded_columns_add_the_constant_elements_once_under_vmap(shape):
    jax.config.update("jax_enable_x64", True)
    m, n = shape
    rng = np.random.default_rng(n)
    varying = {(0, 0), (1, 0), (0, 1), (3, 1)}  # two columns vary over the batch
    constant = {(2, n - 1): -1.0, (3, 0): 1.0, (3, n - 1): 0.5}
    batch = 5
    xs = jnp.asarray(rng.standard_normal((batch, len(varying))))

    def block(x):
        values = {key: x[i] for i, key in enumerate(sorted(varying))}
        values.update({k: jnp.float64(v) for k, v in constant.items()})
        return eliminate._padded_columns(values, shape, jnp.float64)

    want = np.zeros((batch, m, n))
    for i, (r, c) in enumerate(sorted(varying)):
        want[:, r, c] = xs[:, i]
    for (r, c), v in constant.items():
        want[:, r, c] = v
    np.testing.assert_array_equal(jax.jit(jax.vmap(block))(xs), want)
    # Two padded varying columns added together, then the constants' block once:
    # two adds over [batch, m, n]; each constant column padded and added at full
    # size would be two more. The constant block itself is one example's size.
    eqns = jax.make_jaxpr(jax.vmap(block))(xs).jaxpr.eqns
    full = [e for e in eqns if e.primitive.name == "add"]
    assert [e.outvars[0].aval.shape for e in full].count((batch, m, n)) == 2
    assert all(e.outvars[0].aval.shape in {(batch, m, n), (m, n)} for e in full)


def test_a_padded_float32_block_stays_below_its_bytes_in_arithmetic():
    # XLA CPU (jax 0.10) runs a loop fusion on several threads when its
    # HloCostAnalysis flops exceed its bytes accessed (and the work is large
    # enough); for SCARA's 4x4 block that hand-off cost more than the loop.
    # With the constant elements added once, the loop's flops stay below its
    # bytes at batch 256 and 2048 in float32, and it runs on one thread.
    jax.config.update("jax_enable_x64", True)
    x = np.array([0.4, -0.6, 0.1, 0.3], dtype=np.float32)
    kernel = interpreter.jacobian(graphs.trace(_scara, x), "reverse")
    for batch in (256, 2048):
        xs = jnp.asarray(np.tile(x, (batch, 1)) * np.float32(1.001))
        compiled = jax.jit(jax.vmap(kernel)).lower(xs).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        assert cost["flops"] <= cost["bytes accessed"]
        hlo = compiled.as_text()
        assert hlo.count(" fusion(") == 1 and "outer_dimension_partitions" not in hlo
        np.testing.assert_allclose(
            compiled(xs), jax.vmap(jax.jacfwd(_scara))(xs), rtol=2e-6, atol=1e-6
        )


@pytest.mark.parametrize("order", ["forward", "reverse", "markowitz"])
def test_a_4x4_block_at_a_large_batch_is_padded_columns_without_concatenation(order):
    jax.config.update("jax_enable_x64", True)
    x = np.array([0.4, -0.6, 0.1, 0.3])
    graph = graphs.trace(_scara, x)
    kernel = interpreter.jacobian(graph, order)
    plan = kernel.plan
    assert kernel_multiplications(plan) == plan.cost.multiplications
    for batch, padded in ((2048, True), (16, False)):
        xs = jnp.asarray(x[None] * (1.0 + 0.01 * np.arange(batch)[:, None] / batch))
        names = _primitives(jax.make_jaxpr(jax.vmap(kernel))(xs))
        # Padded: the block is selects, pads and adds (XLA CPU: one loop with
        # the rows vectorised); stacked: a concatenation of the rows.
        assert ("pad" in names) is padded
        assert ("concatenate" not in names) is padded
        got = jax.jit(jax.vmap(kernel))(xs)
        np.testing.assert_allclose(got, jax.vmap(jax.jacfwd(_scara))(xs), rtol=1e-12)
    np.testing.assert_allclose(kernel(x), jax.jacfwd(_scara)(x), rtol=1e-12)


def test_a_padded_block_compiles_to_one_loop_without_concatenation():
    jax.config.update("jax_enable_x64", True)
    x = np.array([0.4, -0.6, 0.1, 0.3])
    kernel = interpreter.jacobian(graphs.trace(_scara, x), "reverse")
    xs = jnp.asarray(np.tile(x, (2048, 1)))
    hlo = jax.jit(jax.vmap(kernel)).lower(xs).compile().as_text()
    # XLA CPU (jax 0.10): the stacked rows were one fused loop per row with a
    # scalar store per element; padded columns are one elementwise loop.
    assert hlo.count(" fusion(") == 1
    assert "concatenate(" not in hlo


def test_a_4x4_block_behind_an_open_barrier_keeps_the_stacked_rows():
    jax.config.update("jax_enable_x64", True)
    x = np.array([0.4, -0.3, 0.8, 0.2])
    kernel = interpreter.jacobian(graphs.trace(pendulum, x), "markowitz")
    xs = jnp.asarray(x[None] * (1.0 + 0.01 * np.arange(2048)[:, None] / 2048))
    names = _primitives(jax.make_jaxpr(jax.vmap(kernel))(xs))
    # Its shared sines and division are stored behind the barrier (a cond), so
    # padded columns would save no evaluation; the block stays a stack of rows.
    assert "cond" in names
    assert "concatenate" in names and "pad" not in names
    got = jax.jit(jax.vmap(kernel))(xs)
    np.testing.assert_allclose(got, jax.vmap(jax.jacfwd(pendulum))(xs), rtol=1e-12)
