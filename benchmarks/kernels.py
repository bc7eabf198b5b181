"""Kernel benchmark: ccelim Jacobian kernels next to jax.jacfwd and jax.jacrev.

For every benchmark task and batch size, times (median of many calls, after
warm-up, ``block_until_ready``) three functions in the same process on the same
inputs:

* ``jax.jit(jax.vmap(interpreter.jacobian(graph, order)))`` — ccelim, with the
  best baseline order (or the order in ``--order-file``);
* ``jax.jit(jax.vmap(jax.jacfwd(f, argnums)))`` and the same with ``jacrev``;

plus each one's compile time (lower + compile). Writes a Markdown table with the
speed-up over the better of jacfwd/jacrev to ``benchmarks/results/kernels.md``.

Usage::

    python benchmarks/kernels.py [--tasks RoeFlux_1d,MLP] [--batches 1,16,256,2048]
        [--order-file orders.json | --search-budget 10] [--min-time 0.2]
        [--out benchmarks/results/kernels.md]

``--order-file`` is JSON ``{task name: [intermediate ids…]}`` (e.g. orders found by
``search.optimize``); ``--search-budget S`` runs ``search.optimize`` for S seconds
per task instead; otherwise every task uses its best baseline order.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graphs  # noqa: E402
import interpreter  # noqa: E402
from graphs import tasks as task_registry  # noqa: E402
from graphs.tasks import TASKS, VECTOR_TASKS  # noqa: E402
from interpreter.autotune import calls_per_sample  # noqa: E402

DEFAULT_BATCHES = (1, 16, 256, 2048)
RESULTS = Path(__file__).resolve().parent / "results" / "kernels.md"


class Timing(NamedTuple):
    """Median seconds per call and the compile time of one jitted function."""

    median_s: float
    compile_s: float
    calls: int


class Row(NamedTuple):
    task: str
    batch: int
    dtype: str
    order: str
    cost: int
    ccelim: Timing
    jacfwd: Timing
    jacrev: Timing
    floor: Timing
    tuned: Timing | None = None
    winner: str = ""

    @property
    def speedup(self) -> float:
        return min(self.jacfwd.median_s, self.jacrev.median_s) / self.ccelim.median_s

    @property
    def tuned_speedup(self) -> float:
        """min(jacfwd, jacrev) / the autotuned kernel (``interpreter.fastest``)."""
        best = min(self.jacfwd.median_s, self.jacrev.median_s)
        return best / self.tuned.median_s if self.tuned else float("nan")

    @property
    def ceiling(self) -> float:
        """The speed-up a kernel that took only the output floor's time would have."""
        return min(self.jacfwd.median_s, self.jacrev.median_s) / self.floor.median_s


def output_floor(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """A function returning the kernel's output pytree, each block one cheap fill.

    Every block is ``sum(first leaf of every argument)`` broadcast to the block's
    shape: no derivative work at all, only what producing this output layout costs
    (one output buffer and one fused loop per block on XLA CPU). No kernel in the
    same layout can be faster, so it bounds the reachable speed-up.
    """

    def floor(*args):
        out = jax.eval_shape(kernel, *args)
        leaves = jax.tree_util.tree_leaves(args)
        seed = sum(jax.numpy.ravel(x)[0] for x in leaves)
        return jax.tree_util.tree_map(
            lambda s: jax.numpy.broadcast_to(seed.astype(s.dtype), s.shape), out
        )

    return floor


def batched_args(
    task: Any, batch: int, seed: int, dtype: str = "float64"
) -> tuple[jax.Array, ...]:
    """``batch`` copies of the task's example arguments, each perturbed by 1e-3 relative."""
    rng = np.random.default_rng(seed)
    out = []
    for a in task.args:
        a = np.asarray(a)
        if not np.issubdtype(a.dtype, np.floating):  # index arrays: copies
            out.append(jax.numpy.asarray(np.broadcast_to(a, (batch,) + a.shape)))
            continue
        noise = 1.0 + 1e-3 * rng.standard_normal((batch,) + a.shape)
        out.append(jax.numpy.asarray(a[None] * noise, dtype=dtype))
    return tuple(out)


def _cast(a: Any, dtype: str) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a


def realistic_tasks() -> dict[str, Any]:
    """The coverage issue's realistic programs as tasks (``graphs.tasks.realistic``)."""
    from graphs.tasks.base import Task
    from graphs.tasks.realistic import DIFF_ARGNUMS, REALISTIC

    return {
        name: Task(name, fn, tuple(args()), argnums=DIFF_ARGNUMS[name])
        for name, (fn, args) in REALISTIC.items()
    }


def task_graph(task: Any, dtype: str) -> graphs.Graph:
    """The task's program graph traced with arguments of ``dtype``."""
    args = tuple(_cast(a, dtype) for a in task.args)
    graph = graphs.trace(task.fn, *args, argnums=task.argnums)
    return dataclasses.replace(graph, name=task.name)


def compile_fn(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, float]:
    """The compiled function and the seconds that ``lower().compile()`` took."""
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    return compiled, time.perf_counter() - start


def time_all(
    compiled: dict[str, tuple[Callable[..., Any], float]],
    args: Sequence[Any],
    *,
    min_time: float,
) -> dict[str, Timing]:
    """Medians of repeated timed calls, the functions interleaved round by round.

    Interleaving makes a busy machine slow every function alike instead of
    whichever happened to run during a spike. Every function makes the same number
    of calls per sample (``interpreter.autotune.calls_per_sample``, which says why).
    Each round runs the functions in a new order (a fixed seed): in a fixed order
    the function timed right after jacfwd read faster than identical executables
    elsewhere in the round (three compiled copies of SCARA's jacrev at batch 2048,
    float64: 70.6 / 70.3 µs, and 54.8 µs for the copy after jacfwd).
    """
    fns = {name: fn for name, (fn, _) in compiled.items()}
    calls = calls_per_sample(fns, args)
    samples: dict[str, list[float]] = {name: [] for name in compiled}
    total = 0.0
    names = list(compiled)
    shuffle = random.Random(0).shuffle
    while total < min_time * len(compiled) or min(map(len, samples.values())) < 15:
        shuffle(names)
        for name in names:
            fn = compiled[name][0]
            start = time.perf_counter()
            for _ in range(calls):
                result = fn(*args)
            jax.block_until_ready(result)
            elapsed = time.perf_counter() - start
            samples[name].append(elapsed / calls)
            total += elapsed
        if len(samples[name]) >= 3000:
            break
    return {
        name: Timing(
            statistics.median(samples[name]),
            compiled[name][1],
            len(samples[name]) * calls,
        )
        for name in compiled
    }


def task_order(
    task_name: str,
    graph: graphs.Graph,
    orders: dict[str, list[str]],
    search_budget_s: float = 0.0,
):
    """The order to benchmark: from the order file, a search, or the best baseline."""
    if task_name in orders:
        order = list(orders[task_name])
        return order, "file", graphs.cost(graph, order).multiplications
    if search_budget_s > 0:
        import search

        result = search.optimize(graph, time_budget_s=search_budget_s, seed=0)
        return list(result.order), f"search:{result.method}", result.cost
    name, base = graphs.best_baseline(graph)
    return list(base.order), name, base.cost


def check_close(got: Any, want: Any, dtype: str) -> None:
    """Asserts the kernel's Jacobian equals jacfwd's (tolerance by dtype)."""
    rtol, atol = (1e-9, 1e-12) if dtype == "float64" else (2e-4, 1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        scale = max(1.0, float(np.abs(b).max())) if np.size(b) else 1.0
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale)


def run(
    task_names: Sequence[str],
    batches: Sequence[int],
    *,
    orders: dict[str, list[str]],
    min_time: float,
    check: bool = True,
    search_budget_s: float = 0.0,
    dtypes: Sequence[str] = ("float64",),
    tune: bool = False,
) -> list[Row]:
    rows = []
    extra = realistic_tasks()
    for name in task_names:
        task = extra[name] if name in extra else task_registry.get(name)
        num_args = len(task.args)
        argnums = task.argnums if task.argnums is not None else tuple(range(num_args))
        argnums = argnums[0] if len(argnums) == 1 else tuple(argnums)
        for dtype in dtypes:
            graph = task_graph(task, dtype)
            order, order_name, cost = task_order(name, graph, orders, search_budget_s)
            kernel = interpreter.jacobian(graph, order)
            fns = {
                "ccelim": jax.jit(jax.vmap(kernel)),
                "jacfwd": jax.jit(jax.vmap(jax.jacfwd(task.fn, argnums=argnums))),
                "jacrev": jax.jit(jax.vmap(jax.jacrev(task.fn, argnums=argnums))),
                "floor": jax.jit(jax.vmap(output_floor(kernel))),
            }
            for batch in batches:
                args = batched_args(task, batch, seed=batch, dtype=dtype)
                compiled = {k: compile_fn(fn, args) for k, fn in fns.items()}
                if check:
                    got = compiled["ccelim"][0](*args)
                    want = compiled["jacfwd"][0](*args)
                    check_close(got, want, dtype)
                same_as, winner = None, ""
                if tune:
                    example = tuple(_cast(a, dtype) for a in task.args)
                    tuned = interpreter.fastest(
                        graph,
                        {order_name: order},
                        batch_sizes=(batch,),
                        args=example,
                        min_time=min_time / 3,
                    )
                    winner = tuned.winner
                    same_as = {order_name: "ccelim"}.get(winner, winner)
                    if same_as not in compiled:
                        fn = jax.jit(jax.vmap(tuned.kernel))
                        compiled["tuned"] = compile_fn(fn, args)
                        same_as = "tuned"
                timings = time_all(compiled, args, min_time=min_time)
                tuned_t = timings.pop("tuned", None) or timings.get(same_as)
                row = Row(
                    name,
                    batch,
                    dtype,
                    order_name,
                    cost,
                    **timings,
                    tuned=tuned_t,
                    winner=winner,
                )
                rows.append(row)
                print(format_row(row), flush=True)
    return rows


HEADER = (
    "| task | batch | dtype | order (mults) | ccelim µs | jacfwd µs | jacrev µs "
    "| speed-up | tuned: winner, speed-up | floor µs (ceiling) "
    "| compile s (ccelim / fwd / rev) |\n"
    "|---|---:|---|---|---:|---:|---:|---:|---|---:|---|"
)


def format_row(row: Row) -> str:
    us = lambda t: f"{t.median_s * 1e6:,.1f}"  # noqa: E731
    return (
        f"| {row.task} | {row.batch} | {row.dtype} | {row.order} ({row.cost}) "
        f"| {us(row.ccelim)} | {us(row.jacfwd)} | {us(row.jacrev)} "
        f"| {row.speedup:.2f}x "
        + (f"| {row.winner}, {row.tuned_speedup:.2f}x " if row.tuned else "| – ")
        + f"| {us(row.floor)} ({row.ceiling:.1f}x) "
        f"| {row.ccelim.compile_s:.2f} / {row.jacfwd.compile_s:.2f} / "
        f"{row.jacrev.compile_s:.2f} |"
    )


def _geomean(values: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def report(rows: Sequence[Row], *, min_time: float, load_start: float) -> str:
    scalar = set(task_registry.SCALAR_TASKS)
    scalar |= {n + task_registry.VECTOR_SUFFIX for n in scalar}
    slower = [r for r in rows if r.speedup < 1.0]
    large = [r for r in rows if r.task in scalar and r.batch >= 256]
    dtypes = ", ".join(sorted({r.dtype for r in rows}))
    lines = [
        "# Kernel benchmark: ccelim vs jax.jacfwd / jax.jacrev",
        "",
        "Generated by `python benchmarks/kernels.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__} ({jax.default_backend()}), {dtypes}.",
        "",
        "Each entry is the median time per call of `jax.jit(jax.vmap(J))` on a batch "
        "(every function the same number of calls per sample, about 0.2 ms of the "
        f"fastest one's; at least {min_time:.2f} s per function, after "
        "warm-up, `block_until_ready`); all four (ccelim, jacfwd, jacrev, floor) run "
        "in one process on the same inputs, their samples interleaved round by round, "
        "in a new order each round. "
        "Tasks named `<task>/vec` are the vector forms (`graphs/tasks/vector.py`: one "
        "array argument read by indexing, one stacked array output, so jacfwd returns "
        "one dense array). The order column names the order's source (a baseline, "
        "`file`, or `search:<method>`) and its multiplications. Speed-up = "
        "min(jacfwd, jacrev) / ccelim; > 1 means ccelim is faster. Compile time is "
        "`lower().compile()` of the jitted batched function. Floor: a function with "
        "the same output pytree whose every block is one broadcast scalar (no "
        "derivative work), timed alongside; ceiling = min(jacfwd, jacrev) / floor. "
        "The machine is shared: 1-min load average "
        f"{load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end, on "
        f"{os.cpu_count()} cores.",
        "",
        HEADER,
        *[format_row(r) for r in rows],
        "",
        "## Targets",
        "",
        "- Faster than the better of jacfwd/jacrev on every entry: "
        + (
            "**met**."
            if not slower
            else f"**not met** on {len(slower)} of {len(rows)} "
            "entries: "
            + ", ".join(
                f"{r.task}@{r.batch}/{r.dtype} ({r.speedup:.2f}x)" for r in slower
            )
            + "."
        ),
    ]
    tuned = [r for r in rows if r.tuned is not None]
    if tuned:
        slow_tuned = [r for r in tuned if r.tuned_speedup < 1.0]
        lines.append(
            "- The autotuned kernel (`interpreter.fastest` per batch size: the order "
            "above, forward, reverse, jacfwd, jacrev) at least as fast as the better "
            "of jacfwd/jacrev: "
            + (
                "**met** on all entries."
                if not slow_tuned
                else f"below 1.0x on {len(slow_tuned)} of {len(tuned)} entries: "
                + ", ".join(
                    f"{r.task}@{r.batch}/{r.dtype} ({r.winner}, {r.tuned_speedup:.2f}x)"
                    for r in slow_tuned
                )
                + " (within noise when the winner is jacfwd/jacrev: the same "
                "function as that column, timed as another sample)."
            )
        )
    if large:
        lines.append(
            "- Geometric mean of the speed-up over the scalar scientific tasks "
            f"(scalar and vector forms present here) at batch >= 256: "
            f"{_geomean([r.speedup for r in large]):.2f}x over {len(large)} entries "
            "(target 1.5x)."
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks",
        default=",".join(TASKS),
        help="task names (a vector form is '<name>/vec'), or 'scalar' / 'vector' / "
        "'realistic' (graphs/tasks/realistic.py)",
    )
    parser.add_argument("--batches", default=",".join(map(str, DEFAULT_BATCHES)))
    parser.add_argument("--dtypes", default="float64", help="e.g. float32,float64")
    parser.add_argument("--order-file", default=None)
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument(
        "--search-budget",
        type=float,
        default=0.0,
        help="seconds of search.optimize per task (0: best baseline order)",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="also time interpreter.fastest's kernel, tuned per batch size",
    )
    ns = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    orders = json.loads(Path(ns.order_file).read_text()) if ns.order_file else {}
    groups = {
        "scalar": list(TASKS),
        "vector": list(VECTOR_TASKS),
        "realistic": list(realistic_tasks()),
    }
    names = [n for t in ns.tasks.split(",") if t for n in groups.get(t, [t])]
    batches = [int(b) for b in ns.batches.split(",") if b]
    print(HEADER)
    rows = run(
        names,
        batches,
        orders=orders,
        min_time=ns.min_time,
        check=not ns.no_check,
        search_budget_s=ns.search_budget,
        dtypes=[d for d in ns.dtypes.split(",") if d],
        tune=ns.tune,
    )
    text = report(rows, min_time=ns.min_time, load_start=load_start)
    Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.out).write_text(text)
    print(f"\nwrote {ns.out}")


if __name__ == "__main__":
    main()
