"""Evaluating expensive shared values once: a barrier XLA's fusion cannot cross.

XLA (CPU) fuses elementwise producers into every consumer's loop. When a
transcendental value (``sin``, ``exp``, ``div``, …) feeds several output blocks,
each block's fused loop recomputes it: RobotArm_6DOF's batched kernel evaluated
348 transcendentals per example where its primal program has 54, so at batch 2048
it ran no faster than ``jax.jacfwd`` although it performs fewer multiplications.

:func:`evaluate_once` traces a function to a jaxpr, evaluates the outputs of its
expensive equations whose value reaches more than one consumer, passes them all
through one ``lax.cond`` (its branches are separate computations, so XLA
materialises the values in buffers instead of fusing their producers into the
consumers), then evaluates everything else again, reading those buffers. Both
branches return the values unchanged (the second adds ``0``, so that XLA cannot
prove the branches equal and drop the conditional; it is taken only when the
first value is NaN, and then differs at most in the sign of a zero). In a kernel
the stored values belong to the local partials' evaluation, so the accumulation
performs exactly the multiplications it performs without storing (the cheap
equations the stored values depend on run twice: before and after the barrier).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
from jax import lax
from jax.extend import core as jcore

__all__ = ["EXPENSIVE", "evaluate_once"]

#: Primitives worth evaluating once (transcendentals, division, powers).
EXPENSIVE = frozenset(
    {
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh",
        "asinh", "acosh", "atanh", "exp", "exp2", "expm1", "log", "log1p", "tanh",
        "logistic", "sqrt", "rsqrt", "cbrt", "pow", "div", "erf", "erfc",
        "erf_inv", "lgamma", "digamma",
    }
)  # fmt: skip

#: Call-like primitives evaluated through their body (their parameter holding it).
_CALLS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
}


#: Consumers that XLA (CPU) gives a stored operand rather than fusing its producer.
_READS_BUFFER = frozenset({"dot_general"})


def _read(env: dict, atom: Any) -> Any:
    return atom.val if isinstance(atom, jcore.Literal) else env[atom]


def _fanout(jaxpr: Any) -> dict[Any, int]:
    """``{var: how many consumers recompute it if it is fused, not stored}``.

    A cheap elementwise consumer passes its own fan-out on (XLA duplicates it, and
    ``var`` with it, into each of its consumers); a ``dot_general`` reads a stored
    operand anyway and counts zero; any other consumer, and being an output,
    counts one. Computed from the last equation back (consumers come later).
    """
    uses: dict[Any, list[Any]] = {}
    for eqn in jaxpr.eqns:
        for atom in eqn.invars:
            if not isinstance(atom, jcore.Literal):
                uses.setdefault(atom, []).append(eqn)
    outputs = {a for a in jaxpr.outvars if not isinstance(a, jcore.Literal)}
    fan: dict[Any, int] = {}
    for eqn in reversed(jaxpr.eqns):
        for var in eqn.outvars:
            n = int(var in outputs)
            for consumer in uses.get(var, ()):
                name = consumer.primitive.name
                if name in _READS_BUFFER:
                    continue
                if name in EXPENSIVE or name in _CALLS or len(consumer.outvars) != 1:
                    n += 1
                else:
                    n += fan[consumer.outvars[0]]
            fan[var] = n
    return fan


def _inline(jaxpr: Any, consts: Any, args: Sequence[Any]) -> list[Any]:
    """Evaluates ``jaxpr`` with nested calls' bodies bound in place (traced: flat)."""
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in _CALLS:
            closed = eqn.params[_CALLS[name]]
            body = getattr(closed, "jaxpr", closed)
            ins = [_read(env, a) for a in eqn.invars]
            outs = _inline(body, getattr(closed, "consts", ()), ins)
            env.update(zip(eqn.outvars, outs))
        else:
            _bind(eqn, env)
    return [_read(env, a) for a in jaxpr.outvars]


def _cone(jaxpr: Any, targets: Sequence[Any]) -> set[int]:
    """Positions of the equations that ``targets`` depend on (themselves included)."""
    producer = {v: i for i, e in enumerate(jaxpr.eqns) for v in e.outvars}
    needed: set[int] = set()
    stack = [producer[v] for v in targets]
    while stack:
        i = stack.pop()
        if i not in needed:
            needed.add(i)
            stack.extend(
                producer[a]
                for a in jaxpr.eqns[i].invars
                if not isinstance(a, jcore.Literal) and a in producer
            )
    return needed


def _bind(eqn: Any, env: dict[Any, Any]) -> None:
    outs = eqn.primitive.bind(*(_read(env, a) for a in eqn.invars), **eqn.params)
    env.update(zip(eqn.outvars, outs if eqn.primitive.multiple_results else [outs]))


def evaluate_once(
    fn: Callable[..., Any],
    *args: Any,
    min_fanout: int = 2,
    store: Callable[[Any], bool] = lambda aval: True,
) -> Any:
    """``fn(*args)``, its shared expensive values computed once and stored.

    ``fn``'s equations (nested calls inlined) are bound in two parts: first the
    stored values and what they depend on, then the conditional, then every
    equation but the stored ones, reading the conditional's results. The cheap
    equations of the first part run twice (multiplications among them: the local
    partials' evaluation, never the accumulation, whose products come after it).

    Args:
      fn: a function of arrays (traced here; call inside ``jax.jit``).
      *args: its arguments (a pytree of arrays each).
      min_fanout: store an expensive value when at least this many consumers
        would recompute it (see :func:`_fanout`).
      store: ``store(aval)`` says whether a value of this shape and dtype is
        worth storing (all are by default).

    Returns:
      What ``fn(*args)`` returns, equal value for value.
    """
    flat = jax.tree_util.tree_leaves(args)
    closed, out_shapes = jax.make_jaxpr(fn, return_shape=True)(*args)
    out_tree = jax.tree_util.tree_structure(out_shapes)
    closed = jax.make_jaxpr(lambda *xs: _inline(closed.jaxpr, closed.consts, xs))(*flat)
    jaxpr = closed.jaxpr
    fan = _fanout(jaxpr)
    stored = [
        e.outvars[0]
        for e in jaxpr.eqns
        if e.primitive.name in EXPENSIVE
        and len(e.outvars) == 1
        and fan[e.outvars[0]] >= min_fanout
        and store(e.outvars[0].aval)
    ]
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, flat))
    for i in sorted(_cone(jaxpr, stored)):
        _bind(jaxpr.eqns[i], env)
    stored_set = set(stored)
    values = [env[v] for v in stored]
    if values and values[0].size:
        first = values[0].reshape(-1)[0]
        values = lax.cond(
            first == first, lambda xs: xs, lambda xs: [x + 0 for x in xs], values
        )
        env.update(zip(stored, values))
    # Everything but the stored values is evaluated again after the conditional,
    # the cheap equations they depend on included: the values the blocks read are
    # then all downstream of the barrier. Reusing the first evaluation's cheap
    # values instead measured 2x slower (RobotArm_6DOF and g at batch 2048: XLA
    # fuses them, and what they depend on, into each consumer again).
    for eqn in jaxpr.eqns:
        if not set(eqn.outvars) & stored_set:
            _bind(eqn, env)
    outs = [_read(env, a) for a in jaxpr.outvars]
    return jax.tree_util.tree_unflatten(out_tree, outs)
