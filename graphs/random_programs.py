"""Random JAX programs and random structure-only DAGs: the corpus generators.

``random_program`` draws a program of a given number of primitives from a seed:
elementwise unary and binary math, ``jnp.where``, ``relu`` and ``softplus`` and,
for the array kinds, matmul/dot, reductions, broadcasts, transposes, reshapes,
slices and concatenations. Every operation is written to stay in its domain
(``log`` only of ``softplus`` or ``1 + x²``, ``sqrt`` of ``1 + x²``, division by
``1 + b²``), and the generator tracks a bound on every value and squashes a value
(``tanh``, ``sin``, ``x / (1 + x²)``, …) before it can grow, so values and
Jacobians stay finite. ``random_dag`` draws a connected structure-only scalar DAG.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from graphs.ir import INPUT, NODE, Edge, Graph, Vertex

__all__ = ["KINDS", "random_dag", "random_program"]

#: The program kinds: which shapes and which operations a program uses.
KINDS = ("scalar", "vector", "matrix", "mixed")

_LIMIT = 4.0  # a value whose bound would pass this is squashed instead
_DIMS = (2, 3, 4)  # matrix dimensions and the common vector lengths
_MAX_LEN = 16  # the longest vector that a concatenation or reshape makes
_WINDOW = 12  # operands come mostly from the most recent values (deep programs)

Shape = tuple[int, ...]


class _Step(NamedTuple):
    op: str
    operands: tuple[int, ...]  # indices into the program's value list
    params: tuple[Any, ...] = ()


#: name -> (function, value bound from the operands' bounds and the params).
_UNARY: dict[str, tuple[Callable, Callable]] = {
    "sin": (jnp.sin, lambda b: min(b, 1.0)),
    "cos": (jnp.cos, lambda b: 1.0),
    "tanh": (jnp.tanh, lambda b: min(b, 1.0)),
    "sigmoid": (jax.nn.sigmoid, lambda b: 1.0),
    "arctan": (jnp.arctan, lambda b: min(b, math.pi / 2)),
    "gauss": (lambda x: jnp.exp(-x * x), lambda b: 1.0),
    "rational": (lambda x: x / (1.0 + x * x), lambda b: 0.5),
    "relu": (jax.nn.relu, lambda b: b),
    "softplus": (jax.nn.softplus, lambda b: b + 0.7),
    "log1p_sq": (lambda x: jnp.log1p(x * x), lambda b: math.log1p(b * b)),
    "log_softplus": (lambda x: jnp.log(jax.nn.softplus(x)), lambda b: b + 0.7),
    "sqrt1p_sq": (lambda x: jnp.sqrt(1.0 + x * x), lambda b: math.sqrt(1 + b * b)),
    "square": (lambda x: x * x, lambda b: b * b),
}
_SQUASH = ("sin", "tanh", "arctan", "rational", "gauss", "sigmoid")
_BINARY: dict[str, tuple[Callable, Callable]] = {
    "add": (jnp.add, lambda a, b: a + b),
    "sub": (jnp.subtract, lambda a, b: a + b),
    "mul": (jnp.multiply, lambda a, b: a * b),
    "div": (lambda a, b: a / (1.0 + b * b), lambda a, b: a),
    "max": (jnp.maximum, max),
    "min": (jnp.minimum, max),
    "where": (lambda a, b: jnp.where(a > 0.0, a * b, b), lambda a, b: max(a * b, b)),
}
_OTHER: dict[str, Callable] = {
    "scale": lambda x, c: x * c,
    "mean": lambda x, axis: jnp.mean(x, axis=axis),
    "max_reduce": lambda x, axis: jnp.max(x, axis=axis),
    # Products are divided by the contracted length to keep values in bounds.
    "dot": lambda a, b: jnp.dot(a, b) * (1.0 / a.shape[0]),
    "matmul": lambda a, b: (a @ b) * (1.0 / a.shape[-1]),
    "outer": jnp.outer,
    "transpose": jnp.transpose,
    "slice": lambda x, start, stop: x[start:stop],
    "concat": lambda a, b: jnp.concatenate([a, b]),
    "broadcast": jnp.broadcast_to,
    "reshape": jnp.reshape,
}
_FNS: dict[str, Callable] = {
    **{k: f for k, (f, _) in _UNARY.items()},
    **{k: f for k, (f, _) in _BINARY.items()},
    **_OTHER,
}
#: Array operations allowed per kind, with their relative weights.
_ARRAY_OPS: dict[str, dict[str, int]] = {
    "scalar": {},
    "vector": dict(mean=2, max_reduce=1, dot=2, slice=2, concat=2, broadcast=1),
    "matrix": dict(
        mean=2,
        max_reduce=1,
        matmul=4,
        transpose=1,
        outer=1,
        broadcast=1,
        reshape=1,
        slice=1,
    ),
    "mixed": dict(
        mean=2,
        max_reduce=1,
        dot=1,
        matmul=3,
        transpose=1,
        outer=1,
        slice=2,
        concat=2,
        broadcast=1,
        reshape=1,
    ),
}


def count_primitives(jaxpr: Any) -> int:
    """Primitive equations of a jaxpr, call wrappers (jit, custom_jvp) inlined."""
    total = 0
    for eqn in jaxpr.eqns:
        bodies = [
            p.jaxpr if hasattr(p, "jaxpr") else p
            for p in eqn.params.values()
            if hasattr(p, "jaxpr") or hasattr(p, "eqns")
        ]
        total += sum(count_primitives(b) for b in bodies) if bodies else 1
    return total


@functools.lru_cache(maxsize=4096)
def _num_primitives(op: str, shapes: tuple[Shape, ...], params: tuple) -> int:
    """Primitives that one step emits, call wrappers (jit, custom_jvp) inlined."""

    avals = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
    fn = _FNS[op]
    return count_primitives(jax.make_jaxpr(lambda *xs: fn(*xs, *params))(*avals).jaxpr)


class _Pool:
    """The values drawn so far: shapes, bounds and which are not used yet."""

    def __init__(self, shapes: list[Shape]):
        self.shapes = list(shapes)
        self.bounds = [1.0] * len(shapes)
        self.unused = list(range(len(shapes)))

    def add(self, shape: Shape, bound: float) -> None:
        self.unused.append(len(self.shapes))
        self.shapes.append(shape)
        self.bounds.append(bound)

    def use(self, index: int) -> None:
        if index in self.unused:
            self.unused.remove(index)

    def pick(self, rng: np.random.Generator, ok: Callable[[Shape], bool]) -> int | None:
        """An operand whose shape passes ``ok``: unused first, else mostly recent."""
        fresh = [i for i in self.unused if ok(self.shapes[i])]
        if fresh and rng.random() < 0.6:
            return fresh[0] if rng.random() < 0.5 else fresh[rng.integers(len(fresh))]
        recent = range(max(0, len(self.shapes) - _WINDOW), len(self.shapes))
        near = [i for i in recent if ok(self.shapes[i])]
        if near and rng.random() < 0.85:
            return near[rng.integers(len(near))]
        every = [i for i in range(len(self.shapes)) if ok(self.shapes[i])]
        return every[rng.integers(len(every))] if every else None


#: The ranks that a kind's arguments are drawn from.
_RANKS = {"scalar": (0,), "vector": (0, 1, 1), "matrix": (1, 2, 2), "mixed": (0, 1, 2)}


def _input_shapes(rng: np.random.Generator, kind: str, num_inputs: int) -> list[Shape]:
    shapes = []
    for _ in range(num_inputs):
        rank = int(rng.choice(_RANKS[kind]))
        shapes.append(tuple(int(rng.choice(_DIMS)) for _ in range(rank)))
    return shapes


def _array_step(rng, kind: str, pool: _Pool) -> _Step | None:
    """One array operation of ``kind``, or ``None`` when no operand fits."""
    ops = _ARRAY_OPS[kind]
    names = list(ops)
    op = names[
        rng.choice(len(names), p=np.array(list(ops.values())) / sum(ops.values()))
    ]
    shapes = pool.shapes
    if op in ("mean", "max_reduce"):
        x = pool.pick(rng, lambda s: len(s) >= 1)
        if x is None:
            return None
        ndim = len(shapes[x])
        axis = None if ndim == 1 or rng.random() < 0.3 else int(rng.integers(ndim))
        return _Step(op, (x,), (axis,))
    if op in ("dot", "outer", "concat"):
        a = pool.pick(rng, lambda s: len(s) == 1)
        if a is None:
            return None
        n = shapes[a][0]
        fits = {
            "dot": lambda s: s == (n,),
            "outer": lambda s: len(s) == 1 and s[0] <= 4 and n <= 4,
            "concat": lambda s: len(s) == 1 and s[0] + n <= _MAX_LEN,
        }[op]
        b = pool.pick(rng, fits)
        return None if b is None else _Step(op, (a, b))
    if op == "matmul":
        a = pool.pick(rng, lambda s: len(s) == 2)
        if a is None:
            return None
        k = shapes[a][1]
        b = pool.pick(rng, lambda s: len(s) in (1, 2) and s[0] == k)
        return None if b is None else _Step(op, (a, b))
    if op == "transpose":
        x = pool.pick(rng, lambda s: len(s) == 2)
        return None if x is None else _Step(op, (x,))
    if op == "slice":
        x = pool.pick(rng, lambda s: len(s) >= 1 and s[0] >= 2)
        if x is None:
            return None
        n = shapes[x][0]
        start = int(rng.integers(n - 1))
        return _Step(op, (x,), (start, int(rng.integers(start + 1, n + 1))))
    if op == "broadcast":
        x = pool.pick(rng, lambda s: len(s) <= (1 if kind != "vector" else 0))
        if x is None:
            return None
        shape = (int(rng.choice(_DIMS)),) + shapes[x]
        return _Step(op, (x,), (shape,))
    # reshape: a matrix into a vector, or a vector of composite length into a matrix.
    x = pool.pick(rng, lambda s: len(s) == 2 or (len(s) == 1 and s[0] in (4, 6, 8, 9)))
    if x is None:
        return None
    shape = shapes[x]
    if len(shape) == 2:
        return _Step(op, (x,), ((shape[0] * shape[1],),))
    n = shape[0]
    rows = next(d for d in (2, 3) if n % d == 0)
    return _Step(op, (x,), ((rows, n // rows),))


@functools.lru_cache(maxsize=4096)
def _out_shape(op: str, shapes: tuple[Shape, ...], params: tuple) -> Shape:
    avals = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
    return tuple(jax.eval_shape(lambda *xs: _FNS[op](*xs, *params), *avals).shape)


def _result(step: _Step, pool: _Pool) -> tuple[Shape, float]:
    """Shape and value bound of a step's result."""
    shapes = [pool.shapes[i] for i in step.operands]
    bounds = [pool.bounds[i] for i in step.operands]
    if step.op in _UNARY:
        return shapes[0], _UNARY[step.op][1](bounds[0])
    if step.op in _BINARY:
        shape = max(shapes, key=len)
        return shape, _BINARY[step.op][1](*bounds)
    if step.op == "scale":
        return shapes[0], abs(step.params[0]) * bounds[0]
    shape = _out_shape(step.op, tuple(shapes), step.params)
    multiplies = step.op in ("dot", "matmul", "outer")
    return shape, bounds[0] * bounds[1] if multiplies else max(bounds)


def _draw_step(rng: np.random.Generator, kind: str, pool: _Pool) -> _Step:
    roll = rng.random()
    step = None
    if roll < 0.3 and _ARRAY_OPS[kind]:
        step = _array_step(rng, kind, pool)
    elif roll < 0.65:
        a = pool.pick(rng, lambda s: True)
        shape = pool.shapes[a]
        b = pool.pick(rng, lambda s: s == shape or s == ())
        op = list(_BINARY)[rng.integers(len(_BINARY))]
        step = _Step(op, (a, b))
    if step is None:
        a = pool.pick(rng, lambda s: True)
        if rng.random() < 0.15:
            step = _Step("scale", (a,), (float(np.round(rng.uniform(-1.5, 1.5), 3)),))
        else:
            step = _Step(list(_UNARY)[rng.integers(len(_UNARY))], (a,))
    if _result(step, pool)[1] > _LIMIT:
        step = _Step(_SQUASH[rng.integers(len(_SQUASH))], (step.operands[0],))
    return step


def random_program(
    seed: int, *, num_ops: int, kind: str = "mixed", num_inputs: int | None = None
) -> tuple[Callable[..., tuple[jax.Array, ...]], tuple[np.ndarray, ...]]:
    """A random JAX program of about ``num_ops`` primitives, and arguments for it.

    Args:
      seed: a non-negative integer; the program and its arguments are a pure
        function of ``(seed, num_ops, kind, num_inputs)`` for a given JAX version
        (sizes are counted in JAX's primitives, which a new version may split).
      num_ops: primitives to draw (inlined, as ``graphs.trace`` counts them); the
        program has between ``num_ops`` and ``num_ops + 10``. From 1 up; the
        corpus uses 10 to 2,000.
      kind: ``"scalar"`` (scalars only: its graph is all-scalar with a value on
        every edge), ``"vector"`` (vectors and scalars: dot, reductions, slices,
        concatenations, broadcasts), ``"matrix"`` (matrices and vectors: matmul,
        transposes, reductions along an axis, outer products, reshapes) or
        ``"mixed"`` (all of them).
      num_inputs: number of arguments; by default 2 to 16 scalars for
        ``"scalar"`` (growing with ``num_ops``) and 2 to 4 arrays otherwise.

    Returns:
      ``(fn, args)``: ``fn(*args)`` returns a tuple of arrays (the values that
      nothing else uses); ``args`` are float64 numpy arrays in ``[-1, 1]``.

    Example:
      >>> fn, args = random_program(0, num_ops=50, kind="scalar")
      >>> graph = graphs.trace(fn, *args)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if num_ops < 1:
        raise ValueError(f"num_ops must be at least 1, got {num_ops}")
    rng = np.random.default_rng([seed, KINDS.index(kind), num_ops])
    if num_inputs is None:
        if kind == "scalar":
            num_inputs = int(np.clip(num_ops // 8, 2, 16))
        else:
            num_inputs = int(rng.integers(2, 5))
    if num_inputs < 1:
        raise ValueError(f"num_inputs must be at least 1, got {num_inputs}")
    shapes = _input_shapes(rng, kind, num_inputs)
    args = tuple(
        np.asarray(rng.uniform(-1.0, 1.0, s), dtype=np.float64) for s in shapes
    )
    pool = _Pool(shapes)
    steps: list[_Step] = []
    emitted = 0
    while emitted < num_ops:
        step = _draw_step(rng, kind, pool)
        shape, bound = _result(step, pool)
        op_shapes = tuple(pool.shapes[i] for i in step.operands)
        # The scale factor does not change the count: one cache entry serves all.
        key = (1.0,) if step.op == "scale" else step.params
        emitted += _num_primitives(step.op, op_shapes, key)
        for i in step.operands:
            pool.use(i)
        pool.add(shape, bound)
        steps.append(step)
    outputs = tuple(i for i in pool.unused if i >= num_inputs)
    return _make_fn(tuple(steps), outputs, f"random_{kind}_{seed}_{num_ops}"), args


def _make_fn(steps: tuple[_Step, ...], outputs: tuple[int, ...], name: str) -> Callable:
    def program(*args):
        values = list(args)
        for step in steps:
            operands = [values[i] for i in step.operands]
            values.append(_FNS[step.op](*operands, *step.params))
        return tuple(values[i] for i in outputs)

    program.__name__ = program.__qualname__ = name
    return program


def random_dag(
    seed: int,
    *,
    num_intermediates: int,
    num_inputs: int,
    num_outputs: int,
    max_preds: int = 3,
) -> Graph:
    """A random connected structure-only scalar DAG.

    Inputs are ``x0 …`` (``op="input"``), intermediates ``v0 …`` and outputs
    ``y0 …`` (``op="node"``), listed in topological order with explicit edges.
    Each intermediate has 1 to ``max_preds`` predecessors: first the oldest
    vertex that has no successor yet, then mostly recent ones (so the DAG is
    deep). Each output takes a share of the vertices still without a successor
    (possibly more than ``max_preds``), so every vertex lies on some input→output
    path.

    Args:
      seed: the DAG is a pure function of the seed and the sizes.
      num_intermediates: vertices between inputs and outputs (0 or more).
      num_inputs, num_outputs: at least 1 each.
      max_preds: the most predecessors an intermediate has (at least 1).

    Returns:
      A structure-only :class:`graphs.Graph` with dense scalar edges.

    Example:
      >>> graph = random_dag(0, num_intermediates=30, num_inputs=4, num_outputs=2)
    """
    for name, value, least in (
        ("num_intermediates", num_intermediates, 0),
        ("num_inputs", num_inputs, 1),
        ("num_outputs", num_outputs, 1),
        ("max_preds", max_preds, 1),
    ):
        if value < least:
            raise ValueError(f"{name} must be at least {least}, got {value}")
    rng = np.random.default_rng([seed, 1 << 20, num_intermediates, num_inputs])
    order = [f"x{i}" for i in range(num_inputs)]
    waiting = list(order)  # vertices without a successor yet, oldest first
    edges: list[tuple[str, str]] = []
    for k in range(num_intermediates):
        vid = f"v{k}"
        want = min(int(rng.integers(1, max_preds + 1)), len(order))
        preds = [waiting.pop(0)] if waiting else []
        while len(preds) < want:
            pool = order[-_WINDOW:] if rng.random() < 0.7 else order
            candidate = pool[rng.integers(len(pool))]
            if candidate not in preds:
                preds.append(candidate)
        for p in preds:
            if p in waiting:
                waiting.remove(p)
        edges.extend((p, vid) for p in preds)
        order.append(vid)
        waiting.append(vid)
    outputs = [f"y{j}" for j in range(num_outputs)]
    shares: list[list[str]] = [[] for _ in outputs]
    for i, vid in enumerate(waiting):
        shares[i % num_outputs].append(vid)
    candidates = order[num_inputs:] or order
    for share in shares:
        if not share:
            share.append(candidates[rng.integers(len(candidates))])
    edges.extend(
        (p, y) for y, share in zip(outputs, shares, strict=True) for p in share
    )
    vertices = [Vertex(x, INPUT) for x in order[:num_inputs]]
    vertices += [Vertex(v, NODE) for v in order[num_inputs:] + outputs]
    return Graph(
        vertices=tuple(vertices),
        inputs=tuple(order[:num_inputs]),
        outputs=tuple(outputs),
        edges=tuple(Edge(src, dst) for src, dst in edges),
        name=f"random_dag_{seed}",
    )
