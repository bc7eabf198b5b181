"""Issue 12's check on vector programs that are not in the repository.

Each program below is written the way a user writes a right-hand side or a
residual: one state vector in, ``u[i]`` indexing, one stacked vector out (the
last, a loss, returns a scalar). None of them is a benchmark task; the first four
were the ones the kernels' stacking layout was examined on, the last four were
written after that layout choice was fixed, to check that it generalises (two
later fixes looked at two of them: robertson's HLO showed the transpose that
``jnp.stack`` adds under ``jax.vmap``, commit 18e06e4, and scara_pose's shared
sines were among the values that set ``interpreter.batching.STORE_EXPENSIVE_MIN``,
commit 20f5e8d; and double_pendulum, one of the first four, chose
``interpreter.batching.FUSED_STORE_MIN_FANOUT``, commit 8fc0639; scara_pose's
HLO showed XLA splitting its padded block over two threads, which set where the
constant elements are added, commit 734e859, and double_pendulum's the separate
sine and cosine loops that the barrier now stores as pairs, commit 5abecdc). For
each, the kernel of ``interpreter.jacobian(graph, search.optimize(graph,
time_budget_s=5).order)`` is timed against ``jax.jacfwd``/``jax.jacrev`` under
``jax.jit(jax.vmap(·))`` at batch 256 and 2048 (interleaved medians, one
process, the same inputs), without any fallback, and so is
``interpreter.fastest``'s kernel.

Usage::

    python benchmarks/kernels_unseen.py [--dtypes float64] [--batches 256,2048]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))  # after the packages

from kernels import batched_args, check_close, compile_fn, time_all  # noqa: E402

import graphs  # noqa: E402
import interpreter  # noqa: E402
import search  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "kernels_unseen.md"


def lorenz96(u):
    """Lorenz-96 right-hand side, 8 states, forcing 8."""
    n = 8
    return jnp.stack(
        [(u[(i + 1) % n] - u[i - 2]) * u[i - 1] - u[i] + 8.0 for i in range(n)]
    )


def double_pendulum(u):
    """Double pendulum (unit masses and lengths): (θ1, θ2, ω1, ω2) -> derivatives."""
    t1, t2, w1, w2 = u[0], u[1], u[2], u[3]
    g = 9.81
    d = t1 - t2
    den = 3.0 - jnp.cos(2.0 * d)
    a1 = (
        -3.0 * g * jnp.sin(t1)
        - g * jnp.sin(t1 - 2.0 * t2)
        - 2.0 * jnp.sin(d) * (w2 * w2 + w1 * w1 * jnp.cos(d))
    ) / den
    a2 = (
        2.0
        * jnp.sin(d)
        * (2.0 * w1 * w1 + 2.0 * g * jnp.cos(t1) + w2 * w2 * jnp.cos(d))
    ) / den
    return jnp.stack([w1, w2, a1, a2])


def arrhenius_network(u):
    """Five species, four reversible Arrhenius reactions, temperature u[5]."""
    a, b, c, d, e, temp = u[0], u[1], u[2], u[3], u[4], u[5]
    k1 = 2.0 * jnp.exp(-1.5 / temp)
    k2 = 0.7 * jnp.exp(-0.8 / temp)
    k3 = 1.3 * jnp.exp(-2.1 / temp)
    k4 = 0.4 * jnp.exp(-0.5 / temp)
    r1 = k1 * a * b - 0.1 * k1 * c
    r2 = k2 * c - 0.3 * k2 * d * e
    r3 = k3 * a * d - 0.2 * k3 * e
    r4 = k4 * e * e - 0.05 * k4 * b
    heat = 1.5 * r1 - 0.4 * r2 + 2.2 * r3 - 0.9 * r4
    return jnp.stack([-r1 - r3, -r1 + r4, r1 - r2, r2 - r3, r2 + r3 - 2 * r4, heat])


def planar_arm_residual(u):
    """Inverse-kinematics residual of a 3-link planar arm towards a fixed target."""
    q1, q2, q3 = u[0], u[1], u[2]
    lengths = (1.0, 0.8, 0.5)
    c1, c12, c123 = jnp.cos(q1), jnp.cos(q1 + q2), jnp.cos(q1 + q2 + q3)
    s1, s12, s123 = jnp.sin(q1), jnp.sin(q1 + q2), jnp.sin(q1 + q2 + q3)
    x = lengths[0] * c1 + lengths[1] * c12 + lengths[2] * c123
    y = lengths[0] * s1 + lengths[1] * s12 + lengths[2] * s123
    phi = q1 + q2 + q3
    return jnp.stack([x - 1.2, y - 0.9, phi - 0.4, q2 * q2 * 0.01 + q3 * 0.02])


# Written after the kernel's layout choice was fixed (commit aea98ab), to check
# that it generalises (see the module docstring for the two later fixes that
# looked at robertson and scara_pose).


def robertson(u):
    """Robertson's stiff chemical kinetics, three species."""
    a, b, c = u[0], u[1], u[2]
    r1 = 0.04 * a
    r2 = 1.0e4 * b * c
    r3 = 3.0e7 * b * b
    return jnp.stack([-r1 + r2, r1 - r2 - r3, r3])


def bratu_residual(u):
    """Finite-difference residual of the 1-D Bratu problem on 7 interior points."""
    n, lam = 7, 2.0
    h2 = (1.0 / (n + 1)) ** 2
    out = []
    for i in range(n):
        left = u[i - 1] if i > 0 else 0.0
        right = u[i + 1] if i < n - 1 else 0.0
        out.append((left - 2.0 * u[i] + right) / h2 + lam * jnp.exp(u[i]))
    return jnp.stack(out)


def scara_pose(u):
    """Forward kinematics of a SCARA arm: (θ1, θ2, d3, θ4) -> (x, y, z, yaw)."""
    t1, t2, d3, t4 = u[0], u[1], u[2], u[3]
    l1, l2, h = 0.45, 0.35, 0.6
    x = l1 * jnp.cos(t1) + l2 * jnp.cos(t1 + t2)
    y = l1 * jnp.sin(t1) + l2 * jnp.sin(t1 + t2)
    return jnp.stack([x, y, h - d3, t1 + t2 - t4])


def logistic_loss(u):
    """Logistic-regression loss of 5 weights (bias first) on 6 fixed samples."""
    xs = [
        (0.5, -1.2, 0.3, 2.0),
        (-0.7, 0.4, 1.1, -0.5),
        (1.5, 0.2, -0.8, 0.9),
        (0.1, -0.3, 0.6, -1.4),
        (-1.1, 1.3, 0.2, 0.4),
        (0.8, 0.9, -1.5, 0.1),
    ]
    ys = (1.0, -1.0, 1.0, -1.0, 1.0, -1.0)
    loss = 0.0
    for x, y in zip(xs, ys):
        margin = y * (u[0] + u[1] * x[0] + u[2] * x[1] + u[3] * x[2] + u[4] * x[3])
        loss = loss + jnp.log1p(jnp.exp(-margin))
    return loss / len(xs) + 0.01 * (u[1] * u[1] + u[2] * u[2] + u[3] * u[3])


PROGRAMS = {
    "lorenz96": (lorenz96, np.linspace(0.5, 1.9, 8)),
    "double_pendulum": (double_pendulum, np.array([0.4, -0.3, 0.8, 0.2])),
    "arrhenius_network": (
        arrhenius_network,
        np.array([1.0, 0.6, 0.3, 0.2, 0.1, 1.4]),
    ),
    "planar_arm_residual": (planar_arm_residual, np.array([0.3, 0.5, -0.2])),
    "robertson": (robertson, np.array([0.9, 3.0e-5, 0.1])),
    "bratu_residual": (bratu_residual, np.linspace(0.1, 0.4, 7)),
    "scara_pose": (scara_pose, np.array([0.4, -0.6, 0.1, 0.3])),
    "logistic_loss": (logistic_loss, np.array([0.1, -0.2, 0.3, 0.05, -0.1])),
}


class _Task:
    def __init__(self, fn, x):
        self.fn, self.args, self.argnums = fn, (x,), None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float64")
    parser.add_argument("--batches", default="256,2048")
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--out", default=str(RESULTS))
    ns = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    header = (
        "| program | batch | dtype | searched (mults) | ccelim µs | jacfwd µs "
        "| jacrev µs | speed-up | fastest: winner, speed-up |\n"
        "|---|---:|---|---|---:|---:|---:|---:|---|"
    )
    print(header)
    rows = []
    for name, (fn, x) in PROGRAMS.items():
        for dtype in ns.dtypes.split(","):
            example = np.asarray(x, dtype=dtype)
            graph = graphs.trace(fn, example)
            found = search.optimize(graph, time_budget_s=5, seed=0)
            kernel = interpreter.jacobian(graph, list(found.order))
            task = _Task(fn, example)
            for batch in [int(b) for b in ns.batches.split(",")]:
                tuned = interpreter.fastest(
                    graph,
                    {"searched": list(found.order)},
                    batch_sizes=(batch,),
                    args=(example,),
                )
                fns = {
                    "ccelim": jax.jit(jax.vmap(kernel)),
                    "jacfwd": jax.jit(jax.vmap(jax.jacfwd(fn))),
                    "jacrev": jax.jit(jax.vmap(jax.jacrev(fn))),
                    "tuned": jax.jit(jax.vmap(tuned.kernel)),
                }
                args = batched_args(task, batch, seed=batch, dtype=dtype)
                compiled = {k: compile_fn(f, args) for k, f in fns.items()}
                check_close(
                    compiled["ccelim"][0](*args), compiled["jacfwd"][0](*args), dtype
                )
                t = time_all(compiled, args, min_time=ns.min_time)
                best = min(t["jacfwd"].median_s, t["jacrev"].median_s)
                row = (
                    f"| {name} | {batch} | {dtype} | {found.method} ({found.cost}) "
                    f"| {t['ccelim'].median_s * 1e6:,.1f} "
                    f"| {t['jacfwd'].median_s * 1e6:,.1f} "
                    f"| {t['jacrev'].median_s * 1e6:,.1f} "
                    f"| {best / t['ccelim'].median_s:.2f}x "
                    f"| {tuned.winner}, {best / t['tuned'].median_s:.2f}x |"
                )
                rows.append(row)
                print(row, flush=True)
    text = "\n".join(
        [
            "# Kernels on vector programs that are not in the repository",
            "",
            f"Generated by `python benchmarks/kernels_unseen.py` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; jax "
            f"{jax.__version__} ({jax.default_backend()}), {os.cpu_count()} cores, "
            f"1-min load {load_start:.1f} at the start and "
            f"{os.getloadavg()[0]:.1f} at the end (shared machine).",
            "",
            "ccelim: `interpreter.jacobian(graph, search.optimize(graph, "
            "time_budget_s=5).order)`, no fallback. fastest: `interpreter.fastest` "
            "tuned at that batch size (may return plain JAX). Speed-up = "
            "min(jacfwd, jacrev) / time; medians of interleaved samples (a new "
            "order each round), the same number of calls per sample for every "
            "function.",
            "",
            header,
            *rows,
            "",
        ]
    )
    Path(ns.out).write_text(text)
    print(f"\nwrote {ns.out}")


if __name__ == "__main__":
    main()
