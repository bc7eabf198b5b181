"""Random JAX programs and random structure-only DAGs: the corpus generators.

``random_program`` draws a program of a given number of primitives from a seed:
elementwise unary and binary math, ``jnp.where``, ``relu`` and ``softplus`` and,
for the array kinds, matmul/dot, reductions, broadcasts, transposes, reshapes,
slices and concatenations (the steps of :mod:`graphs.random_steps`). Every
operation is written to stay in its domain (``log`` only of ``softplus`` or
``1 + x²``, ``sqrt`` of ``1 + x²``, division by ``1 + b²``), and the generator
tracks a bound on every value and squashes a value (``tanh``, ``sin``,
``x / (1 + x²)``, …) before it can grow, so values and Jacobians stay finite.
``random_dag`` draws a connected structure-only scalar DAG.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from graphs.ir import INPUT, NODE, Edge, Graph, Vertex
from graphs.random_steps import (
    OP_FNS,
    RECENT_WINDOW,
    ProgramStep,
    Shape,
    ValuePool,
    draw_step,
    input_shapes,
    step_result,
)

__all__ = ["KINDS", "random_dag", "random_program"]

#: The program kinds: which shapes and which operations a program uses.
KINDS = ("scalar", "vector", "matrix", "mixed")


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
    fn = OP_FNS[op]
    return count_primitives(jax.make_jaxpr(lambda *xs: fn(*xs, *params))(*avals).jaxpr)


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
    shapes = input_shapes(rng, kind, num_inputs)
    args = tuple(
        np.asarray(rng.uniform(-1.0, 1.0, s), dtype=np.float64) for s in shapes
    )
    pool = ValuePool(shapes)
    steps: list[ProgramStep] = []
    emitted = 0
    while emitted < num_ops:
        step = draw_step(rng, kind, pool)
        shape, bound = step_result(step, pool)
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


def _make_fn(
    steps: tuple[ProgramStep, ...], outputs: tuple[int, ...], name: str
) -> Callable:
    def program(*args):
        values = list(args)
        for step in steps:
            operands = [values[i] for i in step.operands]
            values.append(OP_FNS[step.op](*operands, *step.params))
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
            pool = order[-RECENT_WINDOW:] if rng.random() < 0.7 else order
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
