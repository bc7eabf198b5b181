"""Shared expensive values evaluated once (``interpreter.materialize``).

From ``STORE_SHARED_MIN_BATCH`` on, a vmapped kernel stores the transcendental
values that several output blocks need behind one ``lax.cond`` instead of letting
XLA recompute them in every block's fused loop. Values, Jacobians and the count
of multiplications must not change.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
import interpreter
from interpreter import batching, materialize
from interpreter.counting import (
    _sub_jaxprs,
    count_multiplications,
    kernel_multiplications,
)
from interpreter.materialize import evaluate_once
from tests.interpreter.helpers import assert_trees_close, diff_argnums, pendulum

tasks = pytest.importorskip("graphs.tasks")


def _conds(jaxpr) -> list:
    """Every ``cond`` equation, nested jaxprs (jit, custom rules) included."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "cond":
            found.append(eqn)
            continue
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                found.extend(_conds(sub))
    return found


def _enclosing(jaxpr):
    """The (nested) jaxpr holding the conditional, and the conditional's position."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    for i, eqn in enumerate(jaxpr.eqns):
        if eqn.primitive.name == "cond":
            return jaxpr, i
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                found = _enclosing(sub)
                if found is not None:
                    return found
    return None


class _Eqns:
    """Part of a jaxpr: ``count_multiplications`` reads only ``.eqns``."""

    def __init__(self, eqns):
        self.eqns = list(eqns)


def _stored(jaxpr) -> list[str]:
    """Primitive names of the values passed through the (single) conditional."""
    (cond,) = _conds(jaxpr)
    producers = {v: e.primitive.name for e in jaxpr.jaxpr.eqns for v in e.outvars}
    return sorted(producers[v] for v in cond.invars[1:])


def _shared(x):
    s = jnp.sin(x)  # two consumers: stored
    e = jnp.exp(x)  # one consumer: left fused
    return s * 2.0, s + 1.0, e * 3.0


def test_values_with_two_consumers_are_stored_once_and_results_unchanged():
    x = jnp.array([0.3, -1.2, 0.7])
    jaxpr = jax.make_jaxpr(lambda x: evaluate_once(_shared, x))(x)
    assert _stored(jaxpr) == ["sin"]
    # sin is evaluated once (before the conditional), exp once (after it).
    names = [e.primitive.name for e in jaxpr.jaxpr.eqns]
    assert names.count("sin") == 1 and names.count("exp") == 1
    for got, want in zip(evaluate_once(_shared, x), _shared(x)):
        np.testing.assert_array_equal(got, want)


def test_fan_out_follows_long_chains_of_cheap_operations():
    def f(x):
        y = jnp.sin(x)
        for _ in range(3000):  # deeper than Python's recursion limit
            y = y + 1.0
        return y * 2.0, y * 3.0  # sin reaches two consumers through the chain

    x = jnp.array([0.3, -1.2])
    assert _stored(jax.make_jaxpr(lambda x: evaluate_once(f, x))(x)) == ["sin"]
    for got, want in zip(evaluate_once(f, x), f(x)):
        np.testing.assert_array_equal(got, want)


def test_dot_consumers_read_a_buffer_and_do_not_count():
    def f(x, w):
        s = jnp.tanh(x)
        return w @ s, s * 2.0  # one dot consumer + one fused consumer: not stored

    x, w = jnp.array([0.3, -1.2, 0.7]), jnp.eye(3)
    assert not _conds(jax.make_jaxpr(lambda x, w: evaluate_once(f, x, w))(x, w))


def test_only_values_the_store_predicate_accepts_are_stored():
    x = jnp.arange(15.0).reshape(3, 5) / 10

    def f(x):
        big = jnp.exp(x)  # 5 elements per example (batch 3)
        kept = jnp.log1p(x[:, 0])  # 3 elements
        unit = jnp.sqrt(1.0 + x[:1])  # shape (1, 5)
        return big + 1, big * 2, kept + 1, kept * 2, unit + 1, unit * 2

    def small(aval):
        return batching.worth_storing(aval.shape, 3)

    jaxpr = jax.make_jaxpr(lambda x: evaluate_once(f, x, store=small))(x)
    assert _stored(jaxpr) == ["log1p"]
    jaxpr = jax.make_jaxpr(lambda x: evaluate_once(f, x))(x)
    assert _stored(jaxpr) == ["exp", "log1p", "sqrt"]


def test_worth_storing_looks_at_the_shape_of_one_example():
    assert batching.worth_storing((256,), 256)  # a scalar per example
    assert batching.worth_storing((1,), 1)  # batch 1
    assert batching.worth_storing((256, 4), 256)
    assert not batching.worth_storing((256, 4, 4), 256)  # 16 elements
    assert not batching.worth_storing((256, 1, 4), 256)  # keepdims: broadcast later
    assert batching.worth_storing((), 256)  # unbatched scalar


def test_a_nested_function_called_twice_keeps_both_values_apart():
    @jax.jit
    def twice_used(x):
        return jnp.cos(x) * 2.0

    def f(x):
        a, b = twice_used(x), twice_used(x + 1.0)  # one jaxpr, two call sites
        return a + b, a - b

    x = jnp.array([0.3, -1.2])
    got = jax.jit(lambda x: evaluate_once(f, x))(x)
    for g, w in zip(got, f(x)):
        np.testing.assert_allclose(g, w, rtol=1e-15)


def _batched(task, batch):
    scale = 1.0 + 1e-3 * jnp.arange(batch)
    return tuple(
        jnp.asarray(a)[None] * scale.reshape((batch,) + (1,) * np.ndim(a))
        for a in task.args
    )


def _fresh_traces():
    jax.clear_caches()
    interpreter.kernel._jitted.cache_clear()


@pytest.mark.parametrize("name", ["RobotArm_6DOF", "f"])
def test_large_batches_store_shared_values_exactly_with_the_same_multiplications(
    name, monkeypatch
):
    task = tasks.TASKS[name]
    graph = task.graph()
    batch = batching.STORE_SHARED_MIN_BATCH
    args = _batched(task, batch)
    _fresh_traces()
    kernel = interpreter.jacobian(graph, "markowitz")
    stored = jax.make_jaxpr(jax.vmap(kernel))(*args)
    argnums = diff_argnums(graph)
    argnums = argnums[0] if len(argnums) == 1 else argnums
    got = jax.jit(jax.vmap(kernel))(*args)
    monkeypatch.setattr(batching, "STORE_SHARED_MIN_BATCH", 10**9)
    _fresh_traces()
    plain = jax.make_jaxpr(jax.vmap(interpreter.jacobian(graph, "markowitz")))(*args)
    _fresh_traces()
    assert len(_conds(stored)) == 1 and not _conds(plain)
    # After the conditional the kernel is the plain one: the same products (the
    # accumulation among them); only the cheap part of what the stored values
    # depend on runs before it as well.
    inner, at = _enclosing(stored)
    before = count_multiplications(_Eqns(inner.eqns[:at]))
    assert count_multiplications(stored) - before == count_multiplications(plain)
    want = jax.vmap(jax.jacfwd(task.fn, argnums=argnums))(*args)
    assert_trees_close(got, want)


def test_recompute_cost_counts_each_equation_of_a_cone_once_above_stored_values():
    def f(x):
        a = x * 2.0  # 1
        b = jnp.sin(a)  # EXPENSIVE_WEIGHT
        c = a + b  # 1; a is in the cones of both operands but counts once
        d = c[1:]  # a slice is free
        return d * d  # 1

    jaxpr = jax.make_jaxpr(f)(jnp.ones(3)).jaxpr
    a, b, c, sliced, out = (e.outvars[0] for e in jaxpr.eqns)
    w = materialize.EXPENSIVE_WEIGHT
    cost = materialize.recompute_cost(jaxpr, set())
    assert [cost[v] for v in (a, b, c, sliced, out)] == [1, 1 + w, 2 + w, 2 + w, 3 + w]
    cost = materialize.recompute_cost(jaxpr, {b})  # b read from a buffer
    assert [cost[v] for v in (a, b, c, out)] == [1, 1 + w, 2, 3]


def _chain_shared(x):
    s = x[0]
    for i in range(10):  # a product chain that three outputs share
        s = s * x[i % 3] + 1.0
    return jnp.stack([s * x[0], s * x[1], s - x[2], x[1] * x[2]])


def test_shared_cheap_values_are_stored_where_sharing_begins():
    x = jnp.array([0.3, -1.2, 0.7])
    seen = []

    def shared(aval, fanout, cost):
        seen.append((fanout, cost))
        return True

    jaxpr = jax.make_jaxpr(lambda x: evaluate_once(_chain_shared, x, shared=shared))(x)
    # Only the chain's last value has two consumers (three, each a stacked
    # element): the 20 operations of the chain above it are stored with it.
    assert _stored(jaxpr) == ["add"]
    assert (3, 20) in seen and all(f >= 2 for f, _ in seen)
    np.testing.assert_array_equal(
        evaluate_once(_chain_shared, x, shared=shared), _chain_shared(x)
    )
    # Without ``shared`` nothing cheap is stored.
    assert not _conds(jax.make_jaxpr(lambda x: evaluate_once(_chain_shared, x))(x))


def test_stored_values_that_depend_on_each_other_pass_one_barrier_per_level():
    def f(x):
        s = jnp.sin(x)  # level 0
        t = s * s + 1.0  # shared cheap value of s: level 1
        return t * 2.0, t * 3.0, s * 4.0

    x = jnp.array([0.3, -1.2])
    jaxpr = jax.make_jaxpr(
        lambda x: evaluate_once(f, x, shared=lambda aval, fan, cost: True)
    )(x)
    conds = _conds(jaxpr)
    producers = {v: e.primitive.name for e in jaxpr.jaxpr.eqns for v in e.outvars}
    assert [[producers[v] for v in c.invars[1:]] for c in conds] == [["sin"], ["add"]]
    # sin is evaluated once, before the first barrier.
    assert [e.primitive.name for e in jaxpr.jaxpr.eqns].count("sin") == 1
    for got, want in zip(evaluate_once(f, x, shared=lambda *a: True), f(x)):
        np.testing.assert_array_equal(got, want)


def test_worth_storing_shared_weighs_saved_work_against_a_buffer():
    limit = batching.STORE_RECOMPUTED_MIN
    # (fan-out - 1) * cost * batch against the threshold, one scalar per example.
    assert batching.worth_storing_shared((256,), 256, 1 + limit // 256, 1)
    assert not batching.worth_storing_shared((256,), 256, limit // 256, 1)
    assert batching.worth_storing_shared((2048,), 2048, 3, limit // 4096)
    assert not batching.worth_storing_shared((2048, 2), 2048, 100, 100)


def test_the_expensive_predicate_opens_the_barrier_for_all_or_none():
    def f(x):
        s = jnp.sin(x)  # two consumers, cost 16: saves 16
        c = jnp.cos(x * 2.0)  # five uses (c * c reads it twice), cost 17: saves 68
        return s * 2.0, s + 1.0, c * 2.0, c + 1.0, c - 1.0, c * c

    x = jnp.array([0.3, -1.2])
    seen = []

    def worth(limit):
        def expensive(aval, fanout, cost):
            seen.append((fanout, cost))
            return (fanout - 1) * cost >= limit

        return expensive

    w = materialize.EXPENSIVE_WEIGHT
    jaxpr = jax.make_jaxpr(lambda x: evaluate_once(f, x, expensive=worth(69)))(x)
    assert not _conds(jaxpr)
    assert sorted(seen) == [(2, w), (5, w + 1)]
    jaxpr = jax.make_jaxpr(lambda x: evaluate_once(f, x, expensive=worth(68)))(x)
    assert _stored(jaxpr) == ["cos", "sin"]
    for got, want in zip(evaluate_once(f, x, expensive=worth(68)), f(x)):
        np.testing.assert_array_equal(got, want)


def test_small_trigonometric_blocks_keep_no_barrier_rate_tables_do():
    def arm(u):  # sines shared by two or three elements: cheaper to recompute
        c1, c12 = jnp.cos(u[0]), jnp.cos(u[0] + u[1])
        s1, s12 = jnp.sin(u[0]), jnp.sin(u[0] + u[1])
        return jnp.stack([c1 + 0.8 * c12, s1 + 0.8 * s12, u[1] * u[1]])

    def rates(u):  # one rate constant in every element
        k = jnp.exp(-1.5 / u[3])
        return jnp.stack([k * u[0] * u[1], k * u[1] * u[2], k * u[2] * u[0], k])

    for fn, x, barrier in (
        (arm, np.array([0.3, 0.5]), False),
        (rates, np.array([1.0, 0.6, 0.3, 1.4]), True),
    ):
        graph = graphs.trace(fn, x)
        kernel = interpreter.jacobian(graph, "reverse")
        batch = jnp.asarray(np.tile(x, (8, 1)))
        assert bool(_conds(jax.make_jaxpr(jax.vmap(kernel))(batch))) is barrier
        assert_trees_close(jax.vmap(kernel)(batch), jax.vmap(jax.jacfwd(fn))(batch))


def _stored_in_kernel(closed) -> list[str]:
    """Primitive names of the values passed through every conditional of a kernel."""
    inner, _ = _enclosing(closed)
    producers = {v: e.primitive.name for e in inner.eqns for v in e.outvars}
    conds = [e for e in inner.eqns if e.primitive.name == "cond"]
    return sorted(producers[v] for c in conds for v in c.invars[1:])


def test_an_open_barrier_in_a_fused_block_also_stores_values_one_element_reads(
    monkeypatch,
):
    def rates(u):
        k = jnp.exp(-1.5 / u[3])  # read by every element: opens the barrier
        s = jnp.sin(u[2])  # its partial, cos(u[2]), is read by one element only
        return jnp.stack([k * u[0] * u[1], k * u[1] * u[2], k * u[2] * u[0] + s, k])

    x = np.array([1.0, 0.6, 0.3, 1.4])
    graph = graphs.trace(rates, x)
    batch = jnp.asarray(x[None] * (1.0 + 1e-3 * np.arange(8))[:, None])

    def kernel_jaxpr():
        _fresh_traces()
        return jax.make_jaxpr(jax.vmap(interpreter.jacobian(graph, "reverse")))(batch)

    stored = kernel_jaxpr()
    assert "cos" in _stored_in_kernel(stored) and "exp" in _stored_in_kernel(stored)
    monkeypatch.setattr(batching, "FUSED_STORE_MIN_FANOUT", 2)
    before = kernel_jaxpr()
    assert "cos" not in _stored_in_kernel(before) and "exp" in _stored_in_kernel(before)
    monkeypatch.setattr(batching, "STORE_SHARED_MIN_BATCH", 10**9)
    plain = kernel_jaxpr()
    monkeypatch.undo()
    _fresh_traces()
    # The accumulation after the conditionals performs the plain kernel's products.
    inner, at = _enclosing(stored)
    first = count_multiplications(_Eqns(inner.eqns[:at]))
    assert count_multiplications(stored) - first == count_multiplications(plain)
    plan = interpreter.make_plan(graph, "reverse")
    assert kernel_multiplications(plan) == graphs.cost(graph, "reverse").multiplications
    got = jax.jit(jax.vmap(interpreter.jacobian(graph, "reverse")))(batch)
    assert_trees_close(got, jax.vmap(jax.jacfwd(rates))(batch))


def test_the_sine_and_cosine_of_one_operand_cross_the_barrier_as_one_array():
    def f(x):
        d = x[0] - x[1]
        s, c = jnp.sin(d), jnp.cos(d)  # one operand: one [..., 2] array
        e = jnp.exp(x[0])  # alone
        return s * c, s + e, c * e, e * 2.0

    def once(x):
        return evaluate_once(f, x, pair_sincos=True)

    jax.config.update("jax_enable_x64", True)
    x = jnp.array([0.3, -1.2, 0.7])
    jaxpr = jax.make_jaxpr(once)(x)
    (cond,) = _conds(jaxpr)
    assert sorted(v.aval.shape for v in cond.invars[1:]) == [(), (2,)]
    names = [e.primitive.name for e in jaxpr.jaxpr.eqns]
    assert names.count("sin") == names.count("cos") == names.count("exp") == 1
    for got, want in zip(once(x), f(x)):
        np.testing.assert_array_equal(got, want)
    # Under vmap: the pair is [batch, 2], and the values are unchanged.
    xs = x[None] * jnp.linspace(0.5, 1.5, 7)[:, None]
    got = jax.jit(jax.vmap(once))(xs)
    for g, w in zip(got, jax.vmap(f)(xs)):
        np.testing.assert_array_equal(g, w)
    # Without pair_sincos (consumers vectorised over the batch) they stay apart.
    (cond,) = _conds(jax.make_jaxpr(lambda x: evaluate_once(f, x))(x))
    assert [v.aval.shape for v in cond.invars[1:]] == [(), (), ()]


def test_a_fused_pendulum_kernel_stores_its_sines_and_cosines_in_pairs():
    jax.config.update("jax_enable_x64", True)
    x = np.array([0.4, -0.3, 0.8, 0.2])
    kernel = interpreter.jacobian(graphs.trace(pendulum, x), "markowitz")
    batch = 64
    xs = jnp.asarray(x[None] * (1.0 + 0.01 * np.arange(batch)[:, None] / batch))
    first = _conds(jax.make_jaxpr(jax.vmap(kernel))(xs))[0]
    # sin/cos of t1, of t1 - 2 t2, of t1 - t2 and of 2 (t1 - t2): four pairs,
    # each value once (the program and the partials' rules write sin(t1 - t2)
    # and cos(t1 - t2) three and four times: 16 stored values before).
    assert [v.aval.shape for v in first.invars[1:]] == [(batch, 2)] * 4
    got = jax.jit(jax.vmap(kernel))(xs)
    np.testing.assert_allclose(got, jax.vmap(jax.jacfwd(pendulum))(xs), rtol=1e-12)


def test_a_value_computed_twice_crosses_a_packed_barrier_once():
    def f(x):
        a = jnp.sin(x)  # the program's sine ...
        b = jnp.sin(x)  # ... and a partial's rule writing it again
        return a * 2.0, a + 1.0, b * 3.0, b - 1.0

    def once(x):
        return evaluate_once(f, x, pair_sincos=True)

    x = jnp.array([0.3, -1.2])
    (cond,) = _conds(jax.make_jaxpr(once)(x))
    assert len(cond.invars[1:]) == 1
    for got, want in zip(once(x), f(x)):
        np.testing.assert_array_equal(got, want)
    # Unpacked, each keeps its own output (XLA merges the computations).
    (cond,) = _conds(jax.make_jaxpr(lambda x: evaluate_once(f, x))(x))
    assert len(cond.invars[1:]) == 2


def test_a_stored_sine_without_its_cosine_stays_a_plain_value():
    def f(x):
        s, c = jnp.sin(x), jnp.cos(x + 1.0)  # different operands: not paired
        return s * c, s + c, s - c

    x = jnp.array([0.3, -1.2])
    jaxpr = jax.make_jaxpr(lambda x: evaluate_once(f, x, pair_sincos=True))(x)
    assert _stored(jaxpr) == ["cos", "sin"]
    for got, want in zip(evaluate_once(f, x, pair_sincos=True), f(x)):
        np.testing.assert_array_equal(got, want)
