"""Shared helpers for the interpreter tests: references by jax.jacfwd, comparisons."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

RTOL = 1e-10
ATOL = 1e-12


def diff_argnums(graph: Any) -> tuple[int, ...]:
    inputs = set(graph.inputs)
    return tuple(
        i for i, ids in enumerate(graph.signature) if any(v in inputs for v in ids)
    )


def reference_blocks(
    f: Callable[..., Any], args: Sequence[Any], argnums: tuple[int, ...]
):
    """jacfwd blocks, output-major then differentiated leaves (the plan's block order)."""
    flat_f = lambda *a: tuple(jax.tree_util.tree_leaves(f(*a)))  # noqa: E731
    jac = jax.jacfwd(flat_f, argnums=argnums)(*args)
    return [
        leaf
        for per_out in jac
        for per_arg in per_out
        for leaf in jax.tree_util.tree_leaves(per_arg)
    ]


def assert_trees_close(
    got: Any, want: Any, *, rtol: float = RTOL, atol: float = ATOL
) -> None:
    got_leaves, got_tree = jax.tree_util.tree_flatten(got)
    want_leaves, want_tree = jax.tree_util.tree_flatten(want)
    assert got_tree == want_tree, f"layout differs:\n got {got_tree}\nwant {want_tree}"
    for g, w in zip(got_leaves, want_leaves):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


def check_program(f: Callable[..., Any], *args: Any, argnums: Any = None) -> None:
    """Every kind of order gives jacfwd's Jacobian, and the kernel's products the cost.

    Forward and reverse run eagerly (``jax.disable_jit``, no compile), Markowitz
    jitted.
    """
    import graphs
    import interpreter
    from interpreter.counting import kernel_multiplications

    graph = graphs.trace(f, *args, argnums=argnums)
    nums = diff_argnums(graph)
    want = jax.jacfwd(f, argnums=nums[0] if len(nums) == 1 else nums)(*args)
    for order in ("forward", "reverse", "markowitz"):
        kernel = interpreter.jacobian(graph, order)
        assert kernel_multiplications(kernel.plan) == kernel.plan.cost.multiplications
        if order == "markowitz":
            got = kernel(*args)
        else:
            with jax.disable_jit():
                got = kernel(*args)
        assert_trees_close(got, want)


def pendulum(u):
    """Double pendulum right-hand side: shared sines and cosines of four angles
    and a shared division (the fused-block kernels' test program)."""
    t1, t2, w1, w2 = u[0], u[1], u[2], u[3]
    d = t1 - t2
    den = 3.0 - jnp.cos(2.0 * d)
    a1 = (
        -3.0 * 9.81 * jnp.sin(t1)
        - 9.81 * jnp.sin(t1 - 2.0 * t2)
        - 2.0 * jnp.sin(d) * (w2 * w2 + w1 * w1 * jnp.cos(d))
    ) / den
    a2 = (
        2.0
        * jnp.sin(d)
        * (2.0 * w1 * w1 + 2.0 * 9.81 * jnp.cos(t1) + w2 * w2 * jnp.cos(d))
    ) / den
    return jnp.stack([w1, w2, a1, a2])
