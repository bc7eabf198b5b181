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

import interpreter
from interpreter import batching
from interpreter.counting import _sub_jaxprs, count_multiplications
from interpreter.materialize import evaluate_once
from tests.interpreter.helpers import assert_trees_close, diff_argnums

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
