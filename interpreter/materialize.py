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

Cheap shared values (``shared=``): when the output is assembled in one fused loop
(a Jacobian block stacked from its elements, ``interpreter.eliminate.STACK_GROUP``),
XLA evaluates each element's whole expression in that loop, so a product that
twenty elements share is computed twenty times per example. :func:`evaluate_once`
then also stores the values where such sharing begins (a value with two or more
consumers) when ``shared(aval, fanout, cost)`` says the recomputation it saves,
``(fanout - 1) * cost`` per example, is worth a buffer; ``cost`` is the value's
cone of equations above the values already stored (:func:`recompute_cost`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core as jcore

__all__ = [
    "EXPENSIVE",
    "EXPENSIVE_WEIGHT",
    "evaluate_once",
    "recompute_cost",
    "stores_any",
]

#: Primitives worth evaluating once (transcendentals, division, powers).
EXPENSIVE = frozenset(
    {
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh",
        "asinh", "acosh", "atanh", "exp", "exp2", "expm1", "log", "log1p", "tanh",
        "logistic", "sqrt", "rsqrt", "cbrt", "pow", "div", "erf", "erfc",
        "erf_inv", "lgamma", "digamma",
    }
)  # fmt: skip

#: What an expensive equation costs to recompute, in cheap operations (a
#: multiply or add counts 1). Vectorised float64 on x86: a division or square root
#: costs about 8-20 multiplies' time, exp/log/sin 20-40.
EXPENSIVE_WEIGHT = 16

#: Equations that cost nothing in a fused loop (index arithmetic or a bit copy).
FREE = frozenset(
    {
        "slice", "squeeze", "reshape", "broadcast_in_dim", "expand_dims",
        "transpose", "convert_element_type", "copy", "copy_p", "stack",
        "concatenate", "pad", "rev",
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


def _cone(jaxpr: Any, targets: Sequence[Any], stop: Any = ()) -> set[int]:
    """Positions of the equations that ``targets`` depend on (themselves included).

    The search stops at variables in ``stop`` (values already computed), except
    at the targets themselves.
    """
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
                if not isinstance(a, jcore.Literal) and a in producer and a not in stop
            )
    return needed


def _levels(jaxpr: Any, stored: Sequence[Any]) -> list[list[Any]]:
    """``stored`` grouped by level: level 0 depends on no other stored value."""
    chosen = set(stored)
    depth: dict[Any, int] = {}  # levels of stored values a variable depends on
    level: dict[Any, int] = {}
    for eqn in jaxpr.eqns:
        d = max(
            (depth.get(a, 0) for a in eqn.invars if not isinstance(a, jcore.Literal)),
            default=0,
        )
        for var in eqn.outvars:
            if var in chosen:
                level[var] = d
                depth[var] = d + 1
            else:
                depth[var] = d
    groups: dict[int, list[Any]] = {}
    for var in stored:
        groups.setdefault(level[var], []).append(var)
    return [groups[k] for k in sorted(groups)]


def _bind(eqn: Any, env: dict[Any, Any]) -> None:
    outs = eqn.primitive.bind(*(_read(env, a) for a in eqn.invars), **eqn.params)
    env.update(zip(eqn.outvars, outs if eqn.primitive.multiple_results else [outs]))


def recompute_cost(jaxpr: Any, stored: set[Any]) -> dict[Any, int]:
    """``{var: weighted equations evaluated to recompute it}``, stopping at ``stored``.

    The weight of an equation is 0 for index maps and copies (:data:`FREE`),
    :data:`EXPENSIVE_WEIGHT` for :data:`EXPENSIVE` ones and 1 otherwise; an
    equation in the cone of several operands counts once (the cone is a set).
    """
    cheap = expensive = 0
    cone: dict[Any, int] = {}
    cost: dict[Any, int] = {}
    for i, eqn in enumerate(jaxpr.eqns):
        name = eqn.primitive.name
        bit = 1 << i
        if name in EXPENSIVE:
            expensive |= bit
        elif name not in FREE:
            cheap |= bit
        bits = bit
        for atom in eqn.invars:
            if not isinstance(atom, jcore.Literal):
                bits |= cone.get(atom, 0)
        for var in eqn.outvars:
            cone[var] = 0 if var in stored else bits
            cost[var] = (bits & cheap).bit_count() + EXPENSIVE_WEIGHT * (
                bits & expensive
            ).bit_count()
    return cost


#: ``shared(aval, fanout, cost) -> store``: whether a cheap value shared by
#: ``fanout`` consumers that costs ``cost`` to recompute is stored.
SharedFn = Callable[[Any, int, int], bool]


def _select(
    jaxpr: Any,
    min_fanout: int,
    store: Callable[[Any], bool],
    shared: SharedFn | None,
    expensive: SharedFn | None = None,
) -> list[Any]:
    """The variables to store, in program order (see :func:`evaluate_once`)."""
    fan = _fanout(jaxpr)
    stored = [
        e.outvars[0]
        for e in jaxpr.eqns
        if e.primitive.name in EXPENSIVE
        and len(e.outvars) == 1
        and fan[e.outvars[0]] >= min_fanout
        and store(e.outvars[0].aval)
    ]
    if expensive is not None and stored:
        # The barrier is opened for all of them or for none: once it exists, one
        # more stored value costs a loop and a buffer, while a value left out is
        # evaluated both before it (for a stored value that depends on it) and
        # in every element that reads it.
        cost = recompute_cost(jaxpr, set())
        if not any(expensive(v.aval, fan[v], cost[v]) for v in stored):
            stored = []
    if shared is None:
        return stored
    uses: dict[Any, int] = {}
    for eqn in jaxpr.eqns:
        for atom in eqn.invars:
            if not isinstance(atom, jcore.Literal):
                uses[atom] = uses.get(atom, 0) + 1
    chosen = set(stored)
    # In program order, so that a value's cost counts only what lies above the
    # values already chosen; only where sharing begins (two or more direct uses):
    # a value with one cheap consumer is stored with it, not instead of it.
    cost = recompute_cost(jaxpr, chosen)
    for eqn in jaxpr.eqns:
        if len(eqn.outvars) != 1 or eqn.primitive.name in FREE:
            continue
        var = eqn.outvars[0]
        if var in chosen or uses.get(var, 0) < 2 or fan[var] < 2:
            continue
        if shared(var.aval, fan[var], cost[var]):
            chosen.add(var)
            cost = recompute_cost(jaxpr, chosen)
    return [e.outvars[0] for e in jaxpr.eqns if e.outvars and e.outvars[0] in chosen]


#: Sine and cosine of one operand, both stored, may cross the barrier as one
#: array ``[..., 2]`` (``evaluate_once(pair_sincos=True)``): XLA computes one
#: array in one loop, and there LLVM (x86-64, glibc) turns the two calls on one
#: argument into one ``sincos`` call, as it does in jax.jacfwd's fused loop;
#: stored apart they are two loops of one call each (double_pendulum: 8 calls
#: per example in 8 loops -> 4 ``sincos`` in 4 loops, float64 at batch 2048
#: 186 -> 157 µs). Only where the consumers read one scalar per example (blocks
#: assembled in one fused loop): a loop vectorised over the batch reads half of
#: a pair with a shuffle per vector (g/vec, 300 element loops: 1,738
#: ``shufflevector``, 5 % slower at batch 256).
_SINCOS = ("sin", "cos")


def _same_computation(eqn: Any) -> Any:
    """A key equal for equations that compute the same value, or ``None``."""
    try:
        key = (eqn.primitive, tuple(sorted(eqn.params.items())), tuple(eqn.invars))
        hash(key)
    except TypeError:
        return None
    return key


def _pack(
    jaxpr: Any, level: Sequence[Any], env: dict[Any, Any], *, pair_sincos: bool
) -> tuple[list[Any], dict[Any, tuple[int, int | None]]]:
    """The arrays that carry ``level``'s values through a barrier, and where each is.

    One array per value; with ``pair_sincos``, one array per distinct value (an
    equation repeated on the same operands, as the program and a partial's rule
    both write ``sin(d)``, is stored once: its copies would otherwise each be
    paired or not) and one ``[..., 2]`` array for the sine and the cosine of one
    operand. Without it, repeated values keep their own outputs of the
    conditional: XLA computes them once anyway (g/vec, batch 256, storing each
    once: 969 / 993 / 1012 / 1133 µs against 968 / 993 / 1018 / 1095).

    Returns:
      The arrays, and ``{var: (array index, component or None)}``: a value is
      ``arrays[i]`` or ``arrays[i][..., component]``.
    """
    if not pair_sincos:
        return [env[v] for v in level], {v: (i, None) for i, v in enumerate(level)}
    producer = {v: e for e in jaxpr.eqns for v in e.outvars}
    same: dict[Any, Any] = {}
    alias: dict[Any, Any] = {}
    for var in level:
        key = _same_computation(producer[var])
        alias[var] = same.setdefault(key, var) if key is not None else var
    distinct = [var for var in level if alias[var] is var]
    trig: dict[Any, dict[str, Any]] = {}
    for var in distinct:
        eqn = producer[var]
        if (
            pair_sincos
            and eqn.primitive.name in _SINCOS
            and not isinstance(eqn.invars[0], jcore.Literal)
        ):
            trig.setdefault(eqn.invars[0], {})[eqn.primitive.name] = var
    arrays: list[Any] = []
    reads: dict[Any, tuple[int, int | None]] = {}
    for var in distinct:
        if var in reads:
            continue
        operand = producer[var].invars[0] if producer[var].invars else None
        pair = None if isinstance(operand, jcore.Literal) else trig.get(operand)
        if pair is not None and len(pair) == 2 and var in pair.values():
            sin, cos = env[pair["sin"]], env[pair["cos"]]
            which = lax.broadcasted_iota(np.int32, sin.shape + (2,), sin.ndim)
            arrays.append(jnp.where(which == 0, sin[..., None], cos[..., None]))
            reads[pair["sin"]] = (len(arrays) - 1, 0)
            reads[pair["cos"]] = (len(arrays) - 1, 1)
        else:
            arrays.append(env[var])
            reads[var] = (len(arrays) - 1, None)
    return arrays, {var: reads[alias[var]] for var in level}


def _flat_jaxpr(fn: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
    """``fn``'s closed jaxpr with nested calls inlined, and its output treedef."""
    flat = jax.tree_util.tree_leaves(args)
    closed, out_shapes = jax.make_jaxpr(fn, return_shape=True)(*args)
    out_tree = jax.tree_util.tree_structure(out_shapes)
    closed = jax.make_jaxpr(lambda *xs: _inline(closed.jaxpr, closed.consts, xs))(*flat)
    return closed, out_tree


def stores_any(
    fn: Callable[..., Any],
    *args: Any,
    min_fanout: int = 2,
    store: Callable[[Any], bool] = lambda aval: True,
    shared: SharedFn | None = None,
    expensive: SharedFn | None = None,
) -> bool:
    """Whether :func:`evaluate_once` with these arguments stores any value."""
    closed, _ = _flat_jaxpr(fn, *args)
    return bool(_select(closed.jaxpr, min_fanout, store, shared, expensive))


def evaluate_once(
    fn: Callable[..., Any],
    *args: Any,
    min_fanout: int = 2,
    store: Callable[[Any], bool] = lambda aval: True,
    shared: SharedFn | None = None,
    expensive: SharedFn | None = None,
    pair_sincos: bool = False,
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
      shared: also store cheap values where sharing begins when
        ``shared(aval, fanout, cost)`` is true (see the module docstring);
        ``None``: only expensive ones.
      expensive: the expensive values that pass ``min_fanout`` and ``store``
        are stored only if ``expensive(aval, fanout, cost)`` holds for at least
        one of them (``cost`` from :func:`recompute_cost` with nothing stored),
        and then all of them; ``None``: always.
      pair_sincos: pass the stored sine and cosine of one operand through the
        barrier as one ``[..., 2]`` array (see :data:`_SINCOS`), and a value
        computed twice once; for kernels whose consumers read one scalar per
        example, not for loops vectorised over the batch.

    Returns:
      What ``fn(*args)`` returns, equal value for value.
    """
    flat = jax.tree_util.tree_leaves(args)
    closed, out_tree = _flat_jaxpr(fn, *args)
    jaxpr = closed.jaxpr
    stored = _select(jaxpr, min_fanout, store, shared, expensive)
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, flat))
    # With shared cheap values stored, one barrier per level (a stored value's
    # level is one more than that of the stored values it depends on): XLA
    # otherwise fuses a stored value's producers, other stored values and
    # transcendentals included, into each stored value's loop before the barrier
    # (double_pendulum at batch 2048: 17 transcendentals per example with one
    # barrier for all, 11 with levels, 12 without storing).
    levels = _levels(jaxpr, stored) if shared is not None else [stored]
    done: set[Any] = set()
    for level in filter(None, levels):
        for i in sorted(_cone(jaxpr, level, stop=done)):
            _bind(jaxpr.eqns[i], env)
        arrays, reads = _pack(jaxpr, level, env, pair_sincos=pair_sincos)
        if arrays[0].size:
            first = arrays[0].reshape(-1)[0]
            arrays = lax.cond(
                first == first, lambda xs: xs, lambda xs: [x + 0 for x in xs], arrays
            )
        for var in level:
            index, part = reads[var]
            env[var] = arrays[index] if part is None else arrays[index][..., part]
        done.update(level)
    stored_set = set(stored)
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
