"""Learned constructive policy benchmark: the policy alone vs the baselines, and
``search.optimize`` at 1 s with and without it, side by side in one run.

Graphs are held out: ``graphs.random_programs.random_dag`` with seeds from
``search.training.corpus.VALIDATION_SEED_BASE`` on (training draws seeds below it), and a
layered DAG generator written here (not the project's; training never saw it).

1. Policy alone: the greedy policy order and the best of it and 3 sampled
   orders, against the best Markowitz-type greedy (``markowitz``,
   ``markowitz_latest``, ``relative_markowitz``, ``min_fill``, uncapped) and the
   best baseline of all (forward and reverse included); time per order.
2. ``search.optimize(g, time_budget_s=1)``: default methods (with the policy
   when the model is shipped and ``"policy"`` is a method) against
   ``methods=("baselines", "exact", "local")``; every order re-priced by the C
   core from scratch.

Run:  .venv/bin/python benchmarks/policy.py [--model PATH] [--seeds 3] [--budget 1]
Writes benchmarks/results/policy.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from graphs.baselines import GREEDY_RULES  # noqa: E402
from graphs.elimination import build  # noqa: E402
from graphs.ir import INPUT, NODE, Edge, Graph, Vertex  # noqa: E402
from graphs.random_programs import random_dag  # noqa: E402
from search.core import ScalarCore, greedy_order  # noqa: E402
from search.policy import load_policy_weights, policy_order  # noqa: E402
from search.training.corpus import VALIDATION_SEED_BASE  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "policy.md"
SIZES = (200, 500, 1000, 2000, 5000)
NUM_SAMPLES = 3


def layered_dag(seed: int, num_intermediates: int) -> Graph:
    """Layers of random width; operands from the two previous layers; every
    vertex without a consumer read by one of 1-3 outputs."""
    rng = random.Random(seed)
    inputs = [f"in{i}" for i in range(rng.randint(2, 8))]
    layers, edges, made = [inputs], [], 0
    while made < num_intermediates:
        width = min(num_intermediates - made, rng.randint(3, 30))
        pool = layers[-1] + (layers[-2] if len(layers) > 1 else [])
        layer = []
        for _ in range(width):
            vid = f"h{made}"
            made += 1
            for p in rng.sample(pool, min(len(pool), rng.randint(1, 4))):
                edges.append((p, vid))
            layer.append(vid)
        layers.append(layer)
    used = {p for p, _ in edges}
    sinks = [v for layer in layers[1:] for v in layer if v not in used]
    outputs = [f"out{j}" for j in range(rng.randint(1, 3))]
    for i, v in enumerate(sinks):
        edges.append((v, outputs[i % len(outputs)]))
    for y in outputs:
        if not any(d == y for _, d in edges):
            edges.append((layers[-1][0], y))
    inter = [v for layer in layers[1:] for v in layer]
    return Graph(
        vertices=tuple(
            [Vertex(x, INPUT) for x in inputs]
            + [Vertex(v, NODE) for v in inter + outputs]
        ),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        edges=tuple(Edge(s, d) for s, d in edges),
        name=f"layered_{seed}",
    )


def held_out(num_seeds: int) -> list[tuple[str, Graph]]:
    graphs = []
    for n in SIZES:
        for k in range(num_seeds):
            seed = VALIDATION_SEED_BASE + 1000 * n + k
            rng = np.random.default_rng(seed)
            graphs.append(
                (
                    f"random_dag n={n} #{k}",
                    random_dag(
                        seed,
                        num_intermediates=n,
                        num_inputs=int(rng.integers(2, 6)),
                        num_outputs=int(rng.integers(1, 4)),
                    ),
                )
            )
            graphs.append((f"layered n={n} #{k}", layered_dag(seed, n)))
    return graphs


def policy_alone(g, core: ScalarCore, weights) -> dict:
    inter = list(g.intermediates)
    greedy = {}
    for name, terms in GREEDY_RULES.items():
        greedy[name] = core.order_cost(greedy_order(core, terms))
    modes = {"forward": core.order_cost(inter), "reverse": core.order_cost(inter[::-1])}
    t, c = time.perf_counter(), time.process_time()
    order = policy_order(g, weights)
    t_greedy = time.perf_counter() - t
    cpu_greedy = time.process_time() - c
    cost = core.order_cost(order)
    best_sampled = cost
    t = time.perf_counter()
    for s in range(NUM_SAMPLES):
        sampled = policy_order(g, weights, sample=True, seed=s)
        best_sampled = min(best_sampled, core.order_cost(sampled))
    t_sample = (time.perf_counter() - t) / NUM_SAMPLES
    return {
        "policy": cost,
        "policy_best": best_sampled,
        "best_greedy": min(greedy.values()),
        "best_baseline": min(min(greedy.values()), *modes.values()),
        "t_greedy": t_greedy,
        "cpu_greedy": cpu_greedy,
        "t_sample": t_sample,
    }


def with_and_without(g, budget: float) -> dict:
    from search.optimize import METHODS, optimize

    core = ScalarCore(g)
    out = {}
    for label, methods in (
        ("with", None),
        ("without", ("baselines", "exact", "local")),
    ):
        r = optimize(g, time_budget_s=budget, methods=methods)
        index = {vid: i for i, vid in enumerate(g.ids)}
        out[label] = core.order_cost([index[v] for v in r.order])
        out[label + "_method"] = r.method
    out["policy_in_default"] = "policy" in METHODS
    return out


def inference_call_times(weights, path, num_rows: int = 3, calls: int = 2000) -> dict:
    """Seconds per scoring call of ``num_rows`` rows (a step rescores a few):
    numpy (what ``policy_order`` runs) vs the Haiku function under ``jax.jit``."""
    import jax
    import jax.numpy as jnp

    from search.net_policy import load_policy, policy_network
    from search.policy import DEFAULT_POLICY_PATH, NUM_DYNAMIC, NUM_FEATURES

    params, hidden, _ = load_policy(path or DEFAULT_POLICY_PATH, NUM_FEATURES)
    _, apply = policy_network(hidden)
    apply = jax.jit(apply)
    rows = np.random.default_rng(0).random((num_rows, NUM_FEATURES))
    split, first = weights.split_first(NUM_DYNAMIC, rows[:, NUM_DYNAMIC:])
    x = jnp.asarray(rows, jnp.float32)
    apply(params, x).block_until_ready()
    t = time.perf_counter()
    for _ in range(calls):
        split.scores(rows[:, :NUM_DYNAMIC], first)
    numpy_s = (time.perf_counter() - t) / calls
    t = time.perf_counter()
    for _ in range(calls):
        np.asarray(apply(params, jnp.asarray(rows, jnp.float32)))
    jax_s = (time.perf_counter() - t) / calls
    return {"numpy": numpy_s, "jax.jit": jax_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--no-optimize", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    weights = load_policy_weights(args.model)
    if weights is None:
        sys.exit("no policy model; train one with ccelim train-policy")
    calls = inference_call_times(weights, args.model)
    print(f"scoring call (3 rows): {calls}")
    rows = []
    for name, graph in held_out(args.seeds):
        g = build(graph)
        row = {"graph": name, "n": len(g.intermediates)}
        row.update(policy_alone(g, ScalarCore(g), weights))
        if not args.no_optimize:
            row.update(with_and_without(g, args.budget))
        rows.append(row)
        print(
            f"{name:24s} policy {row['policy']:>9} best4 {row['policy_best']:>9} "
            f"greedy {row['best_greedy']:>9} baseline {row['best_baseline']:>9} "
            f"t {row['t_greedy']:.3f}s"
            + (
                f"  opt with {row['with']} ({row['with_method']}) "
                f"without {row['without']} ({row['without_method']})"
                if "with" in row
                else ""
            ),
            flush=True,
        )
    write(rows, args, calls)


def _summary(rows, key, against, lo=500) -> str:
    sel = [r for r in rows if r["n"] >= lo]
    wins = sum(r[key] < r[against] for r in sel)
    ratio = np.mean([r[key] / r[against] for r in sel])
    return f"{wins}/{len(sel)} cheaper, mean ratio {ratio:.3f}"


def write(rows, args, calls) -> None:
    import platform

    meta = load_policy_weights(args.model).metadata
    lines = [
        "# Learned constructive policy (benchmarks/policy.py)",
        "",
        f"Command: `.venv/bin/python benchmarks/policy.py {' '.join(sys.argv[1:])}`  ",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
        "(shared machine: times are inflated)  ",
        f"Model: `{meta.get('command', '?')}`, labelling {meta.get('label_seconds')} s "
        f"+ learning {meta.get('learn_seconds')} s on "
        f"{meta.get('hardware', {}).get('cpu_count')} CPUs "
        f"{meta.get('hardware', {}).get('devices')}, load average "
        f"{(meta.get('hardware', {}).get('load_average') or ['?'])[0]}",
        "",
        "## Summary (graphs with >= 500 intermediates)",
        "",
        f"- policy greedy vs best Markowitz-type greedy: "
        f"{_summary(rows, 'policy', 'best_greedy')}",
        f"- policy greedy vs best baseline (forward/reverse too): "
        f"{_summary(rows, 'policy', 'best_baseline')}",
        f"- best of policy greedy + {NUM_SAMPLES} sampled vs best baseline: "
        f"{_summary(rows, 'policy_best', 'best_baseline')}",
    ]
    lines.append(
        f"- one scoring call of 3 rows (a step rescores a few): numpy "
        f"{calls['numpy'] * 1e6:.0f} us, jax.jit of the Haiku function "
        f"{calls['jax.jit'] * 1e6:.0f} us (so the policy runs numpy)"
    )
    big = [r for r in rows if r["n"] == max(SIZES)]
    if big:
        lines.append(
            f"- {max(SIZES)} intermediates: {np.mean([r['t_greedy'] for r in big]):.2f}"
            f" s wall, {np.mean([r['cpu_greedy'] for r in big]):.2f} s CPU per order"
        )
    if rows and "with" in rows[0]:
        lines.append(
            f"- optimize at {args.budget} s, default vs no network: "
            f"{_summary(rows, 'with', 'without')}"
        )
    lines += [
        "",
        "| graph | n | policy | best of 4 | best greedy | best baseline | "
        "s/order | CPU s/order | s/sample |"
        + (" opt default | opt no-net |" if "with" in rows[0] else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        + ("---:|---:|" if "with" in rows[0] else ""),
    ]
    for r in rows:
        line = (
            f"| {r['graph']} | {r['n']} | {r['policy']} | {r['policy_best']} | "
            f"{r['best_greedy']} | {r['best_baseline']} | {r['t_greedy']:.3f} | "
            f"{r['cpu_greedy']:.3f} | "
            f"{r['t_sample']:.3f} |"
        )
        if "with" in r:
            line += (
                f" {r['with']} ({r['with_method']}) | {r['without']} "
                f"({r['without_method']}) |"
            )
        lines.append(line)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
