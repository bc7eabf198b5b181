"""Every benchmark task: exact Jacobians and kernel multiplications == cost model.

Random orders run the accumulation stage's own jaxpr eagerly on shared local-partial
cores (no compile per order); forward, reverse and Markowitz also run jitted and
vmapped (batch of 3).
"""

from __future__ import annotations

import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import interpreter
from interpreter.counting import kernel_multiplications
from tests.interpreter.helpers import assert_trees_close, diff_argnums, reference_blocks

tasks = pytest.importorskip("graphs.tasks")
TASK_NAMES = list(tasks.TASKS)
NUM_RANDOM_ORDERS = 20


class TaskCase:
    def __init__(self, name: str):
        task = tasks.TASKS[name]
        self.task = task
        self.graph = task.graph()
        self.args = tuple(jnp.asarray(a) for a in task.args)
        self.argnums = diff_argnums(self.graph)
        self.reference = reference_blocks(task.fn, self.args, self.argnums)
        plan = interpreter.make_plan(self.graph, "forward")
        leaves = {s.vertex: a for s, a in zip(plan.leaves, self.args)}
        self.edge_keys = plan.edge_keys
        self.cores = interpreter.partial_cores(plan, leaves)
        self.intermediates = [plan.elim.ids[v] for v in plan.elim.intermediates]


@pytest.fixture(scope="module", params=TASK_NAMES)
def case(request) -> TaskCase:
    return TaskCase(request.param)


def _orders(case: TaskCase) -> list:
    rng = random.Random(hash(case.task.name) % 1000)
    ids = case.intermediates
    return ["forward", "reverse", "markowitz"] + [
        rng.sample(ids, len(ids)) for _ in range(NUM_RANDOM_ORDERS)
    ]


def test_every_order_is_exact_and_performs_exactly_the_counted_multiplications(case):
    for order in _orders(case):
        plan = interpreter.make_plan(case.graph, order)
        assert plan.edge_keys == case.edge_keys
        # The kernel's own products (mul by output size, dot_general by batch *
        # free * contracting sizes) are exactly what graphs.cost counts.
        assert kernel_multiplications(plan) == plan.cost.multiplications, order
        with jax.disable_jit():
            blocks = interpreter.accumulate_blocks(plan, case.cores)
        assert len(blocks) == len(case.reference)
        for got, want in zip(blocks, case.reference):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _batched(case: TaskCase) -> tuple[jax.Array, ...]:
    scale = jnp.asarray([1.0, 1.0 + 1e-3, 1.0 - 2e-3])
    return tuple(a[None] * scale.reshape((3,) + (1,) * a.ndim) for a in case.args)


def _vmapped_reference(case: TaskCase, batched):
    argnums = case.argnums[0] if len(case.argnums) == 1 else case.argnums
    with jax.disable_jit():
        return jax.vmap(jax.jacfwd(case.task.fn, argnums=argnums))(*batched)


def test_jitted_vmapped_markowitz_kernel_matches_jacfwd(case):
    batched = _batched(case)
    got = jax.jit(jax.vmap(interpreter.jacobian(case.graph, "markowitz")))(*batched)
    assert_trees_close(got, _vmapped_reference(case, batched))


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_vmapped_forward_and_reverse_kernels_match_jacfwd(case, order):
    # Eager (no compile): the jitted path is the same code as Markowitz's above.
    batched = _batched(case)
    with jax.disable_jit():
        got = jax.vmap(interpreter.jacobian(case.graph, order))(*batched)
    assert_trees_close(got, _vmapped_reference(case, batched))
