"""Batch-aware execution: every contraction policy is exact and counts the same.

Under ``jax.vmap`` the kernel is re-traced with a policy for its batch size
(``interpreter.batching``): small contractions as a fused broadcast multiply or as
``dot_general``. Both must perform exactly ``graphs.cost``'s multiplications and
give ``jax.jacfwd``'s Jacobian.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interpreter
from interpreter.batching import dot_policy, executing_for
from interpreter.counting import accumulation_jaxpr, count_multiplications
from tests.interpreter.helpers import (
    assert_trees_close,
    diff_argnums,
    reference_blocks,
)

tasks = pytest.importorskip("graphs.tasks")
TENSOR_TASKS = ["RoeFlux_3d", "f", "MLP", "Encoder"]


def _dots(jaxpr) -> int:
    return sum(eqn.primitive.name == "dot_general" for eqn in jaxpr.jaxpr.eqns)


@pytest.mark.parametrize("name", TENSOR_TASKS)
@pytest.mark.parametrize("batch", [1, 16, None])
def test_every_batch_policy_is_exact_and_counts_the_cost(name, batch):
    task = tasks.TASKS[name]
    graph = task.graph()
    args = tuple(jnp.asarray(a) for a in task.args)
    plan = interpreter.make_plan(graph, "reverse")
    leaves = {s.vertex: a for s, a in zip(plan.leaves, args)}
    with executing_for(batch):
        jaxpr = accumulation_jaxpr(plan)
        assert count_multiplications(jaxpr) == plan.cost.multiplications
        cores = interpreter.partial_cores(plan, leaves)
        with jax.disable_jit():
            blocks = interpreter.accumulate_blocks(plan, cores)
    want = reference_blocks(task.fn, args, diff_argnums(graph))
    for got, ref in zip(blocks, want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_large_batches_contract_with_dot_general_small_ones_fuse():
    graph = tasks.TASKS["RoeFlux_3d"].graph()
    plan = interpreter.make_plan(graph, "reverse")
    with executing_for(1):
        small = _dots(accumulation_jaxpr(plan))
    with executing_for(None):
        large = _dots(accumulation_jaxpr(plan))
    assert large > small
    # Contracting 3 labels of a 3x3 einsum (27 products): fused for one example,
    # dot_general once the batch makes it 4096 products or more.
    assert not dot_policy(1)(3, 27)
    assert dot_policy(152)(3, 27)
    assert not dot_policy(None)(1, 10**6)  # no contraction: always a multiply


def test_vmapped_kernel_at_a_large_batch_matches_jacfwd():
    task = tasks.TASKS["RoeFlux_3d"]
    graph = task.graph()
    kernel = interpreter.jacobian(graph, "reverse")
    batch = 160  # 160 * 27 >= 4096: the 3x3 contractions run as dot_general
    batched = tuple(
        jnp.asarray(a)[None]
        * (1.0 + 1e-3 * jnp.arange(batch)).reshape((batch,) + (1,) * np.ndim(a))
        for a in task.args
    )
    argnums = diff_argnums(graph)
    argnums = argnums[0] if len(argnums) == 1 else argnums
    got = jax.jit(jax.vmap(kernel))(*batched)
    want = jax.vmap(jax.jacfwd(task.fn, argnums=argnums))(*batched)
    assert_trees_close(got, want)


def _mixed(x, w):
    # a matrix product (a contraction the batch policy decides on) and transcendentals
    return jnp.tanh(w @ jnp.sin(x)) * jnp.exp(x[::-1])


@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
def test_kernels_differentiate_to_the_second_derivative(mode):
    # The kernel is batch-aware (custom_vmap); differentiating it (Hessians) goes
    # through the plain body and must equal JAX's second derivative of the program.
    x = jnp.array([0.3, -1.2, 0.7])
    w = jnp.array([[1.0, 2.0, -0.5], [0.1, 0.4, 3.0], [-2.0, 0.0, 1.5]])
    kernel = interpreter.jac(_mixed, order="markowitz", argnums=0)
    expected = jax.jacfwd(jax.jacfwd(_mixed))(x, w)
    hessian = getattr(jax, mode)(kernel)(x, w)
    np.testing.assert_allclose(hessian, expected, rtol=1e-10, atol=1e-12)
    grad = jax.grad(lambda x: kernel(x, w).sum())(x)
    np.testing.assert_allclose(grad, expected.sum(axis=(0, 1)), rtol=1e-10)


def test_vmap_over_an_argument_the_kernel_does_not_read_the_batch_from():
    # vmap with every kernel input unbatched (in_axes=None) broadcasts the result.
    x = jnp.array([0.3, -1.2, 0.7])
    w = jnp.eye(3)
    kernel = interpreter.jac(_mixed, argnums=0)
    out = jax.vmap(lambda _, x: kernel(x, w), in_axes=(0, None))(jnp.ones(4), x)
    assert out.shape == (4, 3, 3)
    np.testing.assert_allclose(out[2], jax.jacfwd(_mixed)(x, w), rtol=1e-10)
