"""The five realistic programs (graphs/tasks/realistic.py) get exact kernels."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
import interpreter
import search
from graphs.tasks.realistic import DIFF_ARGNUMS, REALISTIC
from tests.interpreter.helpers import assert_trees_close, check_program


def _args(name):
    fn, example_args = REALISTIC[name]
    return fn, [jnp.asarray(a) for a in example_args()]


@pytest.mark.parametrize("name", list(REALISTIC))
def test_realistic_program_is_exact(name):
    fn, args = _args(name)
    check_program(fn, *args, argnums=DIFF_ARGNUMS[name])


@pytest.mark.parametrize(
    "name",
    ["rk4_lotka_volterra", "particles_lj", "kalman_step"],
)
def test_realistic_program_with_a_searched_order_is_exact_under_jit_and_vmap(name):
    fn, args = _args(name)
    argnums = DIFF_ARGNUMS[name]
    graph = graphs.trace(fn, *args, argnums=argnums)
    order = search.optimize(graph, time_budget_s=0.5, seed=0).order
    kernel = interpreter.jacobian(graph, order)
    batch = [jnp.stack([a, a * 1.01 if a.dtype.kind == "f" else a]) for a in args]
    got = jax.jit(jax.vmap(kernel))(*batch)
    for k in range(2):
        nums = argnums[0] if len(argnums) == 1 else argnums
        want = jax.jacfwd(fn, argnums=nums)(*[b[k] for b in batch])
        assert_trees_close(jax.tree_util.tree_map(lambda t, k=k: t[k], got), want)


def test_an_unsupported_construct_names_the_users_source_line():
    def simulate(x):
        y = jnp.sin(x)
        z = jax.pure_callback(np.cos, jax.ShapeDtypeStruct(y.shape, y.dtype), y)  # here
        return z * y

    with pytest.raises(graphs.GraphError) as err:
        graphs.trace(simulate, jnp.ones(3))
    line = next(
        i
        for i, text in enumerate(open(__file__).read().splitlines(), 1)
        if text.rstrip().endswith("# here")
    )
    assert f"test_realistic.py:{line}" in str(err.value)
    assert "pure_callback" in str(err.value)
