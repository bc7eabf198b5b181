"""Coverage: functions from JAX's public libraries trace and get exact kernels.

For each function: ``graphs.trace``, then the kernel of the forward, reverse and
Markowitz orders (and, for the index and control-flow forms, five random orders)
equals ``jax.jacfwd`` in float64 (rtol 1e-10),
and the kernel's counted multiplications equal ``graphs.cost``. A subset also runs
``jit(vmap(kernel))`` on a batch, and another one an order found by
``search.optimize`` with a tiny budget. Kernels run eagerly (``jax.disable_jit``)
where they are not batched, so the suite compiles little.

Linear algebra, sort, cumulative ops, convolutions, ``while``, ``cond`` and
``scatter-mul`` go through the generic rule (dense local Jacobians from JAX's
linearisation); index maps and ``scan`` through their structured rules.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy as jsp
import numpy as np
import pytest
from jax import lax

import graphs
import interpreter
import search
from interpreter.counting import kernel_multiplications
from tests.interpreter.helpers import RTOL, assert_trees_close, diff_argnums

X = jnp.asarray([0.3, 0.75, 0.2, 0.55])
Y = jnp.asarray([0.9, 0.4, 0.65, 0.15])
A = jnp.asarray([[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.2]])
B = jnp.asarray([0.5, -0.2, 0.8])
IDX = jnp.asarray([2, 0, 3, 2])
SEG = jnp.asarray([0, 1, 1, 0])
NBR = jnp.asarray([[1, 2], [0, 3], [0, 1], [2, 1]])


def _mat(x):
    """A symmetric positive definite 3x3 matrix depending on x (4)."""
    m = A + 0.1 * jnp.outer(x[:3], x[1:])
    return 0.5 * (m + m.T) + jnp.eye(3) * x[3]


def _body(i, c):
    return jnp.sin(c) * 0.9 + 0.1 * i


#: name -> (function, args, argnums). Small shapes; inputs in the domains.
CASES = {
    # jax.numpy, elementwise and reductions
    "jnp.sin": (jnp.sin, (X,), None),
    "jnp.tanh*exp": (lambda x: jnp.tanh(x) * jnp.exp(x), (X,), None),
    "jnp.log1p/sqrt": (lambda x: jnp.log1p(x) / jnp.sqrt(x), (X,), None),
    "jnp.arctan2": (jnp.arctan2, (X, Y), None),
    "jnp.hypot": (jnp.hypot, (X, Y), None),
    "jnp.sinc": (jnp.sinc, (X,), None),
    "jnp.logaddexp": (jnp.logaddexp, (X, Y), None),
    "jnp.power": (lambda x, y: jnp.power(x, y), (X, Y), None),
    "jnp.sum": (lambda x: jnp.sum(x**2), (X,), None),
    "jnp.prod": (jnp.prod, (X,), None),
    "jnp.mean": (lambda x: jnp.mean(jnp.sin(x)), (X,), None),
    "jnp.var": (jnp.var, (X,), None),
    "jnp.std": (jnp.std, (X,), None),
    "jnp.max": (lambda x: jnp.max(x * jnp.cos(x)), (X,), None),
    "jnp.linalg.norm": (jnp.linalg.norm, (X,), None),
    "jnp.dot": (lambda x: jnp.dot(A, x[:3]), (X,), None),
    "jnp.outer": (jnp.outer, (X, Y), None),
    "jnp.einsum": (lambda x, y: jnp.einsum("i,j,j->i", x, y, y), (X, Y), None),
    "jnp.cross": (lambda x, y: jnp.cross(x[:3], y[:3]), (X, Y), None),
    "jnp.where": (lambda x: jnp.where(x > 0.5, x**2, jnp.sin(x)), (X,), None),
    "jnp.clip": (lambda x: jnp.clip(x, 0.25, 0.6) * x, (X,), None),
    "jnp.roll": (lambda x: jnp.roll(x, 1) * x, (X,), None),
    "jnp.flip": (lambda x: jnp.flip(x) * jnp.exp(x), (X,), None),
    "jnp.tile": (lambda x: jnp.tile(x[:2], 3) * 2.0, (X,), None),
    "jnp.kron": (lambda x, y: jnp.kron(x[:2], y[:3]), (X, Y), None),
    "jnp.diff": (lambda x: jnp.diff(x**3), (X,), None),
    "jnp.trace": (lambda x: jnp.trace(_mat(x)), (X,), None),
    "jnp.triu": (lambda x: jnp.triu(jnp.outer(x, x)), (X,), None),
    "jnp.polyval": (lambda x: jnp.polyval(x, x[0] * 2.0), (X,), None),
    "jnp.interp": (
        lambda x: jnp.interp(jnp.asarray([0.1, 0.5]), jnp.linspace(0, 1, 4), x),
        (X,),
        None,
    ),
    "jnp.cumsum": (lambda x: jnp.cumsum(x * x), (X,), None),
    "jnp.cumprod": (jnp.cumprod, (X,), None),
    "jnp.sort": (lambda x: jnp.sort(x * Y), (X,), None),
    "lax.top_k": (lambda x: lax.top_k(jnp.sin(x), 2)[0], (X,), None),
    "jnp.convolve": (lambda x: jnp.convolve(x, x[:2]), (X,), None),
    # jax.numpy.linalg
    "jnp.linalg.solve": (
        lambda x: jnp.linalg.solve(_mat(x), B),
        (X,),
        None,
    ),
    "jnp.linalg.inv": (lambda x: jnp.linalg.inv(_mat(x)), (X,), None),
    "jnp.linalg.det": (lambda x: jnp.linalg.det(_mat(x)), (X,), None),
    "jnp.linalg.slogdet": (
        lambda x: jnp.linalg.slogdet(_mat(x))[1],
        (X,),
        None,
    ),
    "jnp.linalg.cholesky": (
        lambda x: jnp.linalg.cholesky(_mat(x)),
        (X,),
        None,
    ),
    "jnp.linalg.eigh": (lambda x: jnp.linalg.eigh(_mat(x))[0], (X,), None),
    # jax.nn
    "nn.relu": (lambda x: jax.nn.relu(x - 0.4) * x, (X,), None),
    "nn.softplus": (jax.nn.softplus, (X,), None),
    "nn.gelu": (jax.nn.gelu, (X,), None),
    "nn.silu": (jax.nn.silu, (X,), None),
    "nn.sigmoid": (jax.nn.sigmoid, (X,), None),
    "nn.elu": (lambda x: jax.nn.elu(x - 0.5), (X,), None),
    "nn.softmax": (jax.nn.softmax, (X,), None),
    "nn.log_softmax": (jax.nn.log_softmax, (X,), None),
    "nn.logsumexp": (jax.nn.logsumexp, (X,), None),
    "nn.standardize": (jax.nn.standardize, (X,), None),
    "nn.one_hot-weighted": (
        lambda x: jax.nn.one_hot(IDX, 4) @ x,
        (X,),
        None,
    ),
    # jax.scipy.special
    "special.erf": (jsp.special.erf, (X,), None),
    "special.gammaln": (jsp.special.gammaln, (X,), None),
    "special.digamma": (jsp.special.digamma, (X,), None),
    "special.xlogy": (jsp.special.xlogy, (X, Y), None),
    "special.expit": (jsp.special.expit, (X,), None),
    "special.logit": (jsp.special.logit, (X,), None),
    "special.entr": (jsp.special.entr, (X,), None),
    # jax.scipy.stats
    "stats.norm.logpdf": (
        lambda x, y: jsp.stats.norm.logpdf(x, y, 0.7),
        (X, Y),
        None,
    ),
    "stats.norm.cdf": (jsp.stats.norm.cdf, (X,), None),
    "stats.gamma.logpdf": (lambda x: jsp.stats.gamma.logpdf(x, 2.0), (X,), None),
    "stats.multivariate_normal.logpdf": (
        lambda x: jsp.stats.multivariate_normal.logpdf(B, x[:3], _mat(x)),
        (X,),
        None,
    ),
    # jax.scipy.linalg
    "linalg.solve_triangular": (
        lambda x: jsp.linalg.solve_triangular(jnp.tril(_mat(x)), B, lower=True),
        (X,),
        None,
    ),
    "linalg.cho_solve": (
        lambda x: jsp.linalg.cho_solve(jsp.linalg.cho_factor(_mat(x)), B),
        (X,),
        None,
    ),
    # lax control flow
    "lax.fori_loop": (lambda x: lax.fori_loop(0, 3, _body, x), (X,), None),
    "lax.scan": (
        lambda x, y: lax.scan(lambda c, r: (c * r + 0.1, jnp.sin(c)), x[0], y),
        (X, Y),
        None,
    ),
    "lax.map": (lambda x: lax.map(lambda r: jnp.sin(r) * r, x), (X,), None),
    "lax.while_loop": (
        lambda x: lax.while_loop(
            lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.sin(c[1]) * x), (0, x)
        )[1],
        (X,),
        None,
    ),
    "lax.cond": (
        lambda x: lax.cond(x[0] > 0.2, jnp.sin, jnp.cos, x) * x,
        (X,),
        None,
    ),
    "lax.switch": (
        lambda x, i: lax.switch(i, [jnp.sin, jnp.cos, jnp.tanh], x) * x,
        (X, jnp.int32(2)),
        0,
    ),
    # indexing idioms
    "x[static array]": (lambda x: jnp.exp(x)[jnp.asarray([3, 0, 0])], (X,), None),
    "x[traced array]": (lambda x, i: jnp.exp(x)[i] * x[i], (X, IDX), 0),
    "jnp.take": (lambda x, i: jnp.take(jnp.sin(x), i) * 2.0, (X, IDX), 0),
    "take_along_axis": (
        lambda x, i: jnp.take_along_axis(jnp.outer(x, x), i, axis=1),
        (X, NBR),
        0,
    ),
    "neighbour sum": (
        lambda x, i: jnp.sum((x[i] - x[:, None]) ** 2, axis=1),
        (X, NBR),
        0,
    ),
    "x.at[i].set": (lambda x, i: jnp.sin(x).at[i[:2]].set(x[:2] ** 2), (X, IDX), 0),
    "x.at[i].add": (lambda x, i: jnp.sin(x).at[i].add(x**2), (X, IDX), 0),
    "x.at[static].add": (
        lambda x: jnp.sin(x).at[jnp.asarray([1, 1, 0, 3])].add(x**2),
        (X,),
        None,
    ),
    "x.at[i].multiply": (
        lambda x, i: jnp.sin(x).at[i[:2]].multiply(x[:2], unique_indices=True),
        (X, IDX),
        0,
    ),
    "segment_sum": (
        lambda x, s: jax.ops.segment_sum(jnp.exp(x), s, 2),
        (X, SEG),
        0,
    ),
    "lax.dynamic_slice": (
        lambda x, i: lax.dynamic_slice(jnp.cos(x), (i,), (2,)) * x[:2],
        (X, jnp.int32(1)),
        0,
    ),
    "x[traced int]": (lambda x, i: jnp.sin(x)[i] * x, (X, jnp.int32(3)), 0),
    "lax.dynamic_update_slice": (
        lambda x, i: lax.dynamic_update_slice(jnp.cos(x), x[:2] ** 2, (i,)),
        (X, jnp.int32(1)),
        0,
    ),
}

#: Cases also run as jit(vmap(kernel)) on a batch of two, and with a searched order.
BATCHED = {
    "jnp.sin",
    "jnp.outer",
    "jnp.where",
    "nn.softmax",
    "lax.fori_loop",
    "x[traced array]",
    "neighbour sum",
    "segment_sum",
    "x.at[i].set",
}
#: The index and control-flow forms also run five random orders (the generic
#: primitives run theirs in test_generic_rules).
RANDOM_ORDERS = {
    "jnp.polyval",
    "lax.fori_loop",
    "lax.scan",
    "lax.map",
    "x[static array]",
    "x[traced array]",
    "take_along_axis",
    "neighbour sum",
    "x.at[i].set",
    "x.at[i].add",
    "x.at[static].add",
    "segment_sum",
    "lax.dynamic_slice",
    "lax.dynamic_update_slice",
}
SEARCHED = {
    "jnp.std",
    "jnp.polyval",
    "nn.log_softmax",
    "stats.norm.logpdf",
    "lax.scan",
    "take_along_axis",
    "x.at[i].add",
    "jnp.linalg.det",
    "lax.cond",
}


def _random_order(graph, seed):
    ids = list(graphs.build(graph).intermediate_ids)
    np.random.default_rng(seed).shuffle(ids)
    return ids


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_is_exact_and_costs_what_it_counts(name):
    f, args, argnums = CASES[name]
    graph = graphs.trace(f, *args, argnums=argnums)
    nums = diff_argnums(graph)
    want = jax.jacfwd(f, argnums=nums[0] if len(nums) == 1 else nums)(*args)
    orders = ["forward", "reverse", "markowitz"]
    if name in RANDOM_ORDERS:
        orders += [_random_order(graph, seed) for seed in range(5)]
    if name in SEARCHED:
        orders.append(search.optimize(graph, time_budget_s=0.05, seed=0).order)
    for order in orders:
        kernel = interpreter.jacobian(graph, order)
        assert kernel_multiplications(kernel.plan) == kernel.plan.cost.multiplications
        with jax.disable_jit():
            got = kernel(*args)
        assert_trees_close(got, want, rtol=RTOL)
    if name in BATCHED:
        kernel = interpreter.jacobian(graph, "markowitz")
        batch = [jnp.stack([a, a]) for a in args]
        scale = [1.0 if jnp.issubdtype(a.dtype, jnp.integer) else 0.9 for a in args]
        batch = [
            b.at[1].multiply(s) if s != 1.0 else b
            for b, s in zip(batch, scale, strict=True)
        ]
        got = jax.jit(jax.vmap(kernel))(*batch)
        for k in range(2):
            ref_args = [b[k] for b in batch]
            ref = jax.jacfwd(f, argnums=nums[0] if len(nums) == 1 else nums)(*ref_args)
            assert_trees_close(jax.tree_util.tree_map(lambda t, k=k: t[k], got), ref)


def test_the_suite_covers_at_least_sixty_functions():
    assert len(CASES) >= 60
