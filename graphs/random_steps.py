"""The operations random programs are made of, and drawing one bounded step.

The tables map each operation to its JAX function and, for elementwise math, to
a bound on its value from its operands' bounds; per program kind they weight the
array operations (reductions, dot/matmul, transposes, reshapes, slices,
concatenations, broadcasts). :class:`ValuePool` tracks the values drawn so far
(shapes, bounds, which are unused) and :func:`draw_step` draws the next
operation on them, squashing (``tanh``, ``sin``, ``x / (1 + x²)``, …) a result
whose bound would pass a limit, so that values and Jacobians stay finite.
``graphs.random_programs.random_program`` strings these steps into a program.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "OP_FNS",
    "RECENT_WINDOW",
    "ProgramStep",
    "Shape",
    "ValuePool",
    "draw_step",
    "input_shapes",
    "step_result",
]

_LIMIT = 4.0  # a value whose bound would pass this is squashed instead
_DIMS = (2, 3, 4)  # matrix dimensions and the common vector lengths
_MAX_LEN = 16  # the longest vector that a concatenation or reshape makes
#: Operands (and DAG predecessors) come mostly from this many most recent values,
#: which makes programs deep.
RECENT_WINDOW = 12

Shape = tuple[int, ...]


class ProgramStep(NamedTuple):
    """One operation of a program: ``OP_FNS[op](*operand values, *params)``."""

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
OP_FNS: dict[str, Callable] = {
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


class ValuePool:
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
        recent = range(max(0, len(self.shapes) - RECENT_WINDOW), len(self.shapes))
        near = [i for i in recent if ok(self.shapes[i])]
        if near and rng.random() < 0.85:
            return near[rng.integers(len(near))]
        every = [i for i in range(len(self.shapes)) if ok(self.shapes[i])]
        return every[rng.integers(len(every))] if every else None


#: The ranks that a kind's arguments are drawn from.
_RANKS = {"scalar": (0,), "vector": (0, 1, 1), "matrix": (1, 2, 2), "mixed": (0, 1, 2)}


def input_shapes(rng: np.random.Generator, kind: str, num_inputs: int) -> list[Shape]:
    """Shapes of ``num_inputs`` arguments of a ``kind`` program (ranks per kind)."""
    shapes = []
    for _ in range(num_inputs):
        rank = int(rng.choice(_RANKS[kind]))
        shapes.append(tuple(int(rng.choice(_DIMS)) for _ in range(rank)))
    return shapes


def _array_step(rng, kind: str, pool: ValuePool) -> ProgramStep | None:
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
        return ProgramStep(op, (x,), (axis,))
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
        return None if b is None else ProgramStep(op, (a, b))
    if op == "matmul":
        a = pool.pick(rng, lambda s: len(s) == 2)
        if a is None:
            return None
        k = shapes[a][1]
        b = pool.pick(rng, lambda s: len(s) in (1, 2) and s[0] == k)
        return None if b is None else ProgramStep(op, (a, b))
    if op == "transpose":
        x = pool.pick(rng, lambda s: len(s) == 2)
        return None if x is None else ProgramStep(op, (x,))
    if op == "slice":
        x = pool.pick(rng, lambda s: len(s) >= 1 and s[0] >= 2)
        if x is None:
            return None
        n = shapes[x][0]
        start = int(rng.integers(n - 1))
        return ProgramStep(op, (x,), (start, int(rng.integers(start + 1, n + 1))))
    if op == "broadcast":
        x = pool.pick(rng, lambda s: len(s) <= (1 if kind != "vector" else 0))
        if x is None:
            return None
        shape = (int(rng.choice(_DIMS)),) + shapes[x]
        return ProgramStep(op, (x,), (shape,))
    # reshape: a matrix into a vector, or a vector of composite length into a matrix.
    x = pool.pick(rng, lambda s: len(s) == 2 or (len(s) == 1 and s[0] in (4, 6, 8, 9)))
    if x is None:
        return None
    shape = shapes[x]
    if len(shape) == 2:
        return ProgramStep(op, (x,), ((shape[0] * shape[1],),))
    n = shape[0]
    rows = next(d for d in (2, 3) if n % d == 0)
    return ProgramStep(op, (x,), ((rows, n // rows),))


@functools.lru_cache(maxsize=4096)
def _out_shape(op: str, shapes: tuple[Shape, ...], params: tuple) -> Shape:
    avals = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
    return tuple(jax.eval_shape(lambda *xs: OP_FNS[op](*xs, *params), *avals).shape)


def step_result(step: ProgramStep, pool: ValuePool) -> tuple[Shape, float]:
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


def draw_step(rng: np.random.Generator, kind: str, pool: ValuePool) -> ProgramStep:
    """The next operation of a ``kind`` program on the values in ``pool``.

    About 30% array operations (when the kind has any), 35% elementwise binary
    math and otherwise unary math or a scaling; a step whose result bound would
    pass the limit is replaced by a squashing function of its first operand.
    """
    roll = rng.random()
    step = None
    if roll < 0.3 and _ARRAY_OPS[kind]:
        step = _array_step(rng, kind, pool)
    elif roll < 0.65:
        a = pool.pick(rng, lambda s: True)
        shape = pool.shapes[a]
        b = pool.pick(rng, lambda s: s == shape or s == ())
        op = list(_BINARY)[rng.integers(len(_BINARY))]
        step = ProgramStep(op, (a, b))
    if step is None:
        a = pool.pick(rng, lambda s: True)
        if rng.random() < 0.15:
            step = ProgramStep(
                "scale", (a,), (float(np.round(rng.uniform(-1.5, 1.5), 3)),)
            )
        else:
            step = ProgramStep(list(_UNARY)[rng.integers(len(_UNARY))], (a,))
    if step_result(step, pool)[1] > _LIMIT:
        step = ProgramStep(_SQUASH[rng.integers(len(_SQUASH))], (step.operands[0],))
    return step
