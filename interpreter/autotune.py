"""Never slower, by measurement: time candidate Jacobian kernels and keep the fastest.

Multiplications are the search's proxy; what a caller pays is the time of
``jax.jit(jax.vmap(kernel))`` on their batch sizes, dtype and device. :func:`fastest`
compiles every candidate — ccelim kernels for the given orders (by default also the
forward and reverse orders) and, as fallbacks, plain ``jax.jacfwd``/``jax.jacrev``
of the graph's own program in ccelim's output layout — on the caller's shapes at
each batch size, times them interleaved (medians), and returns the fastest with
every measured time. When a JAX fallback wins, the returned kernel is exactly what
JAX does, so the answer is never slower than JAX beyond measurement noise.

Example:
  >>> g = graphs.trace(lambda x: jnp.sin(x) * x, jnp.ones(3))
  >>> tuned = interpreter.fastest(g, {"searched": "reverse"}, batch_sizes=(256,))
  >>> tuned.winner in tuned.times, tuned.kernel(jnp.arange(3.0)).shape
  (True, (3, 3))
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from graphs.errors import GraphError
from graphs.ir import Graph
from interpreter.eliminate import STACK_GROUP
from interpreter.kernel import flatten_args, jacobian
from interpreter.plan import OrderSpec, make_plan
from interpreter.rules import evaluate

__all__ = [
    "FALLBACKS",
    "TuneResult",
    "device_key",
    "fastest",
    "jax_flat_blocks",
    "jax_jacobian",
]

#: The plain-JAX candidates, by name.
FALLBACKS: tuple[str, ...] = ("jacfwd", "jacrev")

#: For a graph with inputs or outputs split into elements, each given order is
#: timed with its element blocks stacked flat (candidate ``"<name>"``) and in
#: groups of this many (``"<name>/stack8"``; see
#: ``interpreter.eliminate.STACK_GROUP``, the default of ``interpreter.jacobian``).
GROUPED_STACK = 8


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """What :func:`fastest` measured and chose.

    Attributes:
      winner: the fastest candidate's name (an order's name, or ``"jacfwd"`` /
        ``"jacrev"`` when plain JAX won).
      kernel: the winner's per-example Jacobian function (jitted, ccelim's dense
        layout, composes with ``jax.vmap``).
      order: the winner's elimination order as ids, or ``None`` for a fallback.
      times: ``{candidate: {batch size: median seconds per call}}`` of
        ``jax.jit(jax.vmap(kernel))``.
      multiplications: ``{candidate: multiplications}`` of the ccelim candidates.
      batch_sizes: the batch sizes timed.
      dtype: the arguments' float dtype.
      device: backend and device kind the times were measured on.
      jax_version: ``jax.__version__`` at measurement.
      stack_group: the winner's ``stack_group`` (pass it to
        :func:`interpreter.jacobian` / :func:`interpreter.export` to rebuild the
        winner's kernel; ``None`` for a fallback).
    """

    winner: str
    kernel: Callable[..., Any]
    order: tuple[str, ...] | None
    times: dict[str, dict[int, float]]
    multiplications: dict[str, int]
    batch_sizes: tuple[int, ...]
    dtype: str
    device: str
    jax_version: str
    stack_group: int | None = None

    @property
    def fallback(self) -> bool:
        """Whether plain JAX won (the kernel is ``jax.jacfwd``/``jax.jacrev``)."""
        return self.winner in FALLBACKS

    def speedup(self, candidate: str | None = None) -> dict[int, float]:
        """Per batch size: min(jacfwd, jacrev) time / ``candidate``'s (the winner's)."""
        name = candidate or self.winner
        out = {}
        for b in self.batch_sizes:
            jax_t = [self.times[f][b] for f in FALLBACKS if f in self.times]
            if jax_t:
                out[b] = min(jax_t) / self.times[name][b]
        return out


def device_key() -> str:
    """``"<backend>:<device kind>"`` of the default device, e.g. ``"cpu:cpu"``."""
    device = jax.devices()[0]
    return f"{jax.default_backend()}:{getattr(device, 'device_kind', device.platform)}"


def jax_jacobian(graph: Graph, mode: str = "jacfwd") -> Callable[..., Any]:
    """Plain ``jax.jacfwd``/``jax.jacrev`` of the graph's program, in ccelim's layout.

    The program is the graph's own (``interpreter.evaluate``), so this is what JAX
    does on the traced function; the result has the layout of
    ``interpreter.jacobian(graph, order)``.

    Args:
      graph: a program graph.
      mode: ``"jacfwd"`` or ``"jacrev"``.

    Returns:
      A jitted function of the traced function's positional arguments.
    """
    if mode not in FALLBACKS:
        raise ValueError(f"mode must be one of {FALLBACKS}, got {mode!r}")
    plan = make_plan(graph, "forward", what="interpreter.jax_jacobian")

    def primal(*args):
        leaves, _ = flatten_args(plan, args)
        values = evaluate(graph, leaves)
        outs = tuple(values[o] for o in graph.outputs)
        return outs[0] if len(outs) == 1 else outs

    argnums = plan.diff_args[0] if len(plan.diff_args) == 1 else plan.diff_args
    return jax.jit(getattr(jax, mode)(primal, argnums=argnums))


def jax_flat_blocks(graph: Graph, mode: str = "jacfwd") -> Callable[..., Any]:
    """:func:`jax_jacobian` as a function of flat leaves returning flat blocks.

    The calling convention of ``interpreter.export``'s kernels: the leaves in
    ``plan.leaves`` order (a multi-leaf argument as a tuple) in, the dense blocks
    in ``plan.blocks`` order out; for exporting what JAX does in the same layout.
    """
    plan = make_plan(graph, "forward", what="interpreter.jax_flat_blocks")
    jac_fn = jax_jacobian(graph, mode)
    by_arg: dict[int, int] = {}
    for spec in plan.leaves:
        by_arg[spec.arg] = by_arg.get(spec.arg, 0) + 1

    def flat(*leaves):
        it = iter(leaves)
        args = []
        for arg in range(plan.num_args):
            n = by_arg.get(arg, 0)
            args.append(next(it) if n == 1 else tuple(next(it) for _ in range(n)))
        return tuple(jax.tree_util.tree_leaves(jac_fn(*args)))

    return flat


def _example_args(graph: Graph, args: Sequence[Any] | None) -> tuple[Any, ...]:
    if args is not None:
        return tuple(args)
    plan = make_plan(graph, "forward", what="interpreter.fastest")
    per_arg: dict[int, list[Any]] = {}
    for spec in plan.leaves:
        # Irregular values in (0.5, 1.5): away from 0 and from the usual poles.
        n = math.prod(spec.shape)
        values = 1.0 + 0.5 * np.sin(1.3 * np.arange(n) + spec.arg + 0.7 * spec.index)
        leaf = jnp.asarray(values.reshape(spec.shape), dtype=spec.dtype)
        per_arg.setdefault(spec.arg, []).append(leaf)
    return tuple(v[0] if len(v) == 1 else tuple(v) for _, v in sorted(per_arg.items()))


def _batched(args: Sequence[Any], batch: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(batch)

    def tile(x):
        x = np.asarray(x)
        noise = 1.0 + 1e-3 * rng.standard_normal((batch,) + x.shape)
        return jnp.asarray(x[None] * noise, dtype=x.dtype)

    return tuple(jax.tree_util.tree_map(tile, a) for a in args)


def calls_per_sample(fns: Mapping[str, Callable[..., Any]], args: Sequence[Any]) -> int:
    """The calls per timed sample for all of ``fns`` alike, once all are warm.

    About 0.2 ms of the fastest function's calls, at most about 2 ms of the
    slowest's (best of three probes each). One count for all: a sample ends with
    one ``block_until_ready``, whose latency weighs more per call with fewer calls
    (a 7 µs kernel: 11.0 µs per call at 1 call per sample, 8.2 at 5, 7.4 at 25),
    and one probe per function right after compiling gave two identical kernels
    8 and 23 calls per sample, the first timed 1.3x slower than the second.
    """
    for fn in fns.values():
        jax.block_until_ready(fn(*args))
        jax.block_until_ready(fn(*args))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(3):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            best[name] = min(best[name], time.perf_counter() - start)
    calls = min(2e-4 / max(min(best.values()), 1e-7), 2e-3 / max(best.values()))
    return max(1, int(calls))


def _measure(
    fns: Mapping[str, Callable[..., Any]], args: Sequence[Any], *, min_time: float
) -> dict[str, float]:
    """Median seconds per call, the functions' samples interleaved round by round,
    every function making :func:`calls_per_sample` calls per sample."""
    reps = dict.fromkeys(fns, calls_per_sample(fns, args))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    deadline = time.perf_counter() + min_time * len(fns)
    while time.perf_counter() < deadline or min(map(len, samples.values())) < 7:
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(reps[name]):
                result = fn(*args)
            jax.block_until_ready(result)
            samples[name].append((time.perf_counter() - start) / reps[name])
        if min(map(len, samples.values())) >= 500:
            break
    return {name: statistics.median(s) for name, s in samples.items()}


def fastest(
    graph: Graph,
    orders: Mapping[str, OrderSpec] | None = None,
    *,
    batch_sizes: Sequence[int] = (256,),
    dtype: str | None = None,
    args: Sequence[Any] | None = None,
    fallbacks: Sequence[str] = FALLBACKS,
    min_time: float = 0.1,
    margin: float = 0.02,
    search_budget_s: float = 1.0,
) -> TuneResult:
    """Times candidate Jacobian kernels on the caller's batch sizes; keeps the fastest.

    Candidates: a ccelim kernel per entry of ``orders`` (for a graph with
    vertices split into elements, stacked flat as ``"<name>"`` and in groups as
    ``"<name>/stack8"``) plus the ``"forward"`` and ``"reverse"`` orders (unless
    ``orders`` already names them), and the
    ``fallbacks`` (plain ``jax.jacfwd``/``jax.jacrev`` of the graph's program).
    Each is compiled as ``jax.jit(jax.vmap(kernel))`` per batch size and timed
    interleaved with the others; the winner has the smallest mean log-ratio of its
    time to the best time at each batch size (ties go to the earlier candidate),
    where a ccelim kernel must beat the best fallback by ``margin``. Without
    ``orders`` the one given order is ``"searched"``: ``search.optimize(graph,
    objective="time", batch_size=max(batch_sizes))``'s, the order the time model
    (``search.timemodel``) predicts fastest.

    Args:
      graph: a program graph.
      orders: ``{name: order}``, an order being intermediate ids or a baseline
        name; e.g. ``{"searched": search.optimize(graph, objective="time").order}``;
        ``None``: search one (``search_budget_s``).
      batch_sizes: the ``jax.vmap`` batch sizes to time at.
      dtype: the arguments' float dtype; must be the graph's (trace the function
        with arguments of the dtype you will call it with). ``None``: the graph's.
      args: one example's arguments (their values); default: deterministic values
        in (0.5, 1.5) of the graph's shapes and dtypes.
      fallbacks: the plain-JAX candidates to include (a subset of ``FALLBACKS``).
      min_time: seconds of timing per candidate and batch size.
      margin: a ccelim kernel must be faster than the best fallback by this
        fraction (of the mean log-ratio) to win; measurement noise then falls
        back to what JAX does rather than to a kernel that may be slower.
      search_budget_s: without ``orders``, the budget of the search for the
        ``"searched"`` candidate (objective ``"time"``).

    Returns:
      A :class:`TuneResult` with the winner's kernel and every measured time.

    Raises:
      GraphError: for a structure-only graph or an invalid order.
      ValueError: for a ``dtype`` other than the graph's, or an unknown fallback.
    """
    plan = make_plan(graph, "forward", what="interpreter.fastest")
    graph_dtype = str(np.dtype(plan.dtype))
    if dtype is not None and str(np.dtype(dtype)) != graph_dtype:
        raise ValueError(
            f"the graph was traced with {graph_dtype} arguments, got dtype={dtype!r}; "
            "trace the function with arguments of the dtype you will call it with"
        )
    unknown = sorted(set(fallbacks) - set(FALLBACKS))
    if unknown:
        raise ValueError(f"unknown fallbacks {unknown}; expected some of {FALLBACKS}")
    if not batch_sizes:
        raise ValueError("batch_sizes must name at least one batch size")
    if orders is None:
        from search.optimize import optimize  # interpreter does not need search

        found = optimize(
            graph,
            time_budget_s=search_budget_s,
            objective="time",
            batch_size=max(int(b) for b in batch_sizes),
        )
        orders = {"searched": list(found.order)}
    named: dict[str, OrderSpec] = dict(orders)
    for base in ("forward", "reverse"):
        if base not in named and not any(o == base for o in named.values()):
            named[base] = base
    kernels: dict[str, Callable[..., Any]] = {}
    order_ids: dict[str, tuple[str, ...]] = {}
    mults: dict[str, int] = {}
    groups: dict[str, int | None] = {}
    for name, order in named.items():
        kernel = jacobian(graph, order)
        p = kernel.plan
        order_ids[name] = tuple(p.elim.ids[v] for v in p.order)
        mults[name] = p.cost.multiplications
        groups[name] = STACK_GROUP
        if p.elim.split and name in orders:
            # Split vertices' blocks stacked flat and in groups fuse differently on
            # XLA: the given order is timed both ways (the default kernel is the
            # grouped one when the default stacking is GROUPED_STACK).
            grouped = f"{name}/stack{GROUPED_STACK}"
            kernels[grouped] = (
                kernel
                if STACK_GROUP == GROUPED_STACK
                else jacobian(graph, order, stack_group=GROUPED_STACK)
            )
            order_ids[grouped], mults[grouped] = order_ids[name], mults[name]
            groups[grouped] = GROUPED_STACK
            kernel = jacobian(graph, order, stack_group=None)
            groups[name] = None
        kernels[name] = kernel
    for mode in fallbacks:
        if mode in kernels:
            raise GraphError(f"an order may not be named {mode!r} (a fallback's name)")
        kernels[mode] = jax_jacobian(graph, mode)
    example = _example_args(graph, args)
    times: dict[str, dict[int, float]] = {name: {} for name in kernels}
    for batch in batch_sizes:
        batched = _batched(example, int(batch))
        compiled = {
            name: jax.jit(jax.vmap(k)).lower(*batched).compile()
            for name, k in kernels.items()
        }
        for name, t in _measure(compiled, batched, min_time=min_time).items():
            times[name][int(batch)] = t

    def score(name: str) -> float:
        return sum(
            math.log(times[name][b] / min(times[n][b] for n in times))
            for b in times[name]
        )

    winner = min(kernels, key=score)
    jax_best = min((n for n in kernels if n in FALLBACKS), key=score, default=None)
    if jax_best is not None and winner not in FALLBACKS:
        if score(winner) > score(jax_best) - len(batch_sizes) * math.log1p(margin):
            winner = jax_best
    return TuneResult(
        winner=winner,
        kernel=kernels[winner],
        order=order_ids.get(winner),
        times=times,
        multiplications=mults,
        batch_sizes=tuple(int(b) for b in batch_sizes),
        dtype=graph_dtype,
        device=device_key(),
        jax_version=jax.__version__,
        stack_group=groups.get(winner),
    )
