"""Training benchmark: self-play throughput, and what the trained network is worth.

1. Self-play throughput on Ray with 1 and 2 actors: games/s and simulations/s
   over a fixed wall-clock window after every actor has compiled (one warm-up
   batch each), with the shipped model's parameters and the training settings.
2. On the held-out validation graphs (never drawn in training): MCTS guided by
   the trained network vs MCTS with a uniform prior (zero values) at the same
   number of simulations per move (16 and 64); and the network's greedy policy
   alone (argmax of the logits, no search) vs Markowitz. Scores are
   ``cost / best-baseline cost`` (lower is better; 1 = the best classic
   heuristic), averaged over graphs and seeds.

Run:  .venv/bin/python benchmarks/training.py [--model PATH] [--graphs 24]
Writes benchmarks/results/training.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from graphs.baselines import baselines, best_baseline  # noqa: E402
from graphs.elimination import resolve_order  # noqa: E402
from search.episodes import Player  # noqa: E402
from search.exact import exact_optimum  # noqa: E402
from search.net import DEFAULT_MODEL_PATH, load_params  # noqa: E402
from search.training import corpus  # noqa: E402
from search.training.selfplay import evaluate_costs  # noqa: E402
from search.training.trainconfig import TrainConfig, config_from_dict  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "training.md"


def throughput(config: TrainConfig, params, num_workers: int, seconds: float) -> dict:
    """Games/s and simulations/s of ``num_workers`` self-play actors."""
    import ray

    from search.training.cluster import spawn_workers

    config = dataclasses.replace(config, num_workers=num_workers)
    workers = spawn_workers(ray, config, num_workers)
    params_ref = ray.put(params)  # one object for every call
    # warm-up: every actor compiles its search and plays one batch
    ray.get([w.play.options(num_returns=2).remote(params_ref, 0)[1] for w in workers])
    inflight = {}
    for index, worker in enumerate(workers):
        _, stats_ref = worker.play.options(num_returns=2).remote(params_ref, 0)
        inflight[stats_ref] = index
    games = sims = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        index = inflight.pop(ready[0])
        stats = ray.get(ready[0])
        games += stats["games"]
        sims += stats["simulations"]
        _, stats_ref = workers[index].play.options(num_returns=2).remote(params_ref, 0)
        inflight[stats_ref] = index
    elapsed = time.perf_counter() - start
    for worker in workers:
        ray.kill(worker)
    return {
        "games_per_s": games / elapsed,
        "sims_per_s": sims / elapsed,
        "games": games,
    }


def evaluate(config: TrainConfig, model, specs, seeds) -> dict[str, np.ndarray]:
    """``[graphs]`` cost ratios of each method, averaged over seeds."""
    best = np.array([corpus.best_cost(s) for s in specs], float)
    trained, uniform = Player(model.config), Player(None)
    kwargs = dict(
        batch_size=config.selfplay.games_per_batch,
        bucket=config.selfplay.bucket,
        max_num_considered_actions=16,
    )
    ratios: dict[str, np.ndarray] = {}
    for sims in (16, 64):
        for name, player, params in (
            ("trained", trained, model.params),
            ("uniform", uniform, None),
        ):
            runs = [
                evaluate_costs(
                    player, params, specs, num_simulations=sims, seed=seed, **kwargs
                )
                for seed in seeds
            ]
            ratios[f"{name}@{sims}"] = np.mean(runs, axis=0) / best
            print(f"  {name} MCTS {sims} sims: {ratios[f'{name}@{sims}'].mean():.4f}")
    greedy = evaluate_costs(trained, model.params, specs, num_simulations=0, **kwargs)
    ratios["greedy"] = np.asarray(greedy) / best
    marko = [baselines(corpus.elim_of(s))["markowitz"].cost for s in specs]
    ratios["markowitz"] = np.asarray(marko, float) / best
    exact = []
    for spec in specs:
        g = corpus.elim_of(spec)
        # start from the best baseline: an unfinished search still ends <= 1.0
        upper = resolve_order(g, list(best_baseline(g)[1].order))
        exact.append(exact_optimum(g, time_limit_s=10.0, upper_order=upper))
    ratios["exact"] = np.array([r.cost for r in exact], float) / best
    ratios["exact_proven"] = np.array([r.optimal for r in exact])
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--graphs", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    model = load_params(args.model)
    if model is None:
        raise SystemExit(f"no model at {args.model}; train one with `ccelim train`")
    meta = model.metadata
    config = TrainConfig(net=model.config)
    if "train_config" in meta:
        config = config_from_dict(TrainConfig, meta["train_config"])
    corpus_config = dataclasses.replace(
        config.selfplay.corpus, num_validation=args.graphs
    )
    specs = list(corpus.validation_specs(corpus_config))
    runs_text = (
        "; ".join(
            f"`{r['command']}` (steps {r['steps']}, {r['wall_s'] / 60:.1f} min)"
            for r in meta.get("training_runs", [])
        )
        or f"`{meta.get('command', '?')}`"
    )
    wall = meta.get("total_wall_s", meta.get("elapsed_s", 0.0))
    lines = [
        "# Training benchmark",
        "",
        f"Model: `{args.model.name}`, {meta.get('step')} learner steps, "
        f"{meta.get('total_games', meta.get('games', '?'))} self-play games, "
        f"{wall / 60:.1f} min of wall clock on "
        f"{meta.get('hardware', {}).get('cpu_count', '?')} CPU cores, no GPU: "
        f"{runs_text}. {meta.get('hardware_note', '')}",
        "",
        f"Machine now: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at start (shared with other jobs).",
        "",
    ]
    if not args.skip_throughput:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        runs: dict[int, list] = {1: [], 2: []}
        for workers in (1, 2) * args.repeats:  # alternate: load drifts
            load = os.getloadavg()[0]
            result = throughput(config, model.params, workers, args.seconds)
            runs[workers].append((result, load))
            print(f"{workers} workers: {result}")
        ray.shutdown()
        rows = [
            (
                workers,
                {
                    key: float(np.mean([r[key] for r, _ in found]))
                    for key in ("games_per_s", "sims_per_s")
                },
                float(np.mean([load for _, load in found])),
            )
            for workers, found in runs.items()
        ]
        base = rows[0][1]["games_per_s"]
        lines += [
            "## Self-play throughput (Ray actors)",
            "",
            f"{config.selfplay.games_per_batch} games per batch, "
            f"{config.selfplay.num_simulations} simulations per move, graphs of "
            f"{config.selfplay.corpus.min_size}-{config.selfplay.corpus.max_size} "
            f"ops padded to {config.selfplay.bucket} vertices; mean of "
            f"{args.repeats} alternating {args.seconds:.0f} s windows after warm-up.",
            "",
            "| workers | games/s | simulations/s | speed-up | load avg before |",
            "|---:|---:|---:|---:|---:|",
        ]
        for workers, result, load in rows:
            lines.append(
                f"| {workers} | {result['games_per_s']:.2f} | "
                f"{result['sims_per_s']:.0f} | "
                f"{result['games_per_s'] / base:.2f}x | {load:.1f} |"
            )
        lines.append("")

    seeds = list(range(args.seeds))
    print(f"validation: {len(specs)} graphs, seeds {seeds}")
    ratios = evaluate(config, model, specs, seeds)
    names = {
        "trained@16": "MCTS + trained net, 16 sims",
        "uniform@16": "MCTS + uniform prior, 16 sims",
        "trained@64": "MCTS + trained net, 64 sims",
        "uniform@64": "MCTS + uniform prior, 64 sims",
        "greedy": "trained policy alone (greedy, no search)",
        "markowitz": "Markowitz",
        "exact": "exact search (search.exact, 10 s, from the best baseline)",
    }
    lines += [
        f"## Held-out validation graphs ({len(specs)} graphs, {len(seeds)} seeds)",
        "",
        "Cost / best-baseline cost (lower is better; 1.000 = best of forward, "
        "reverse, Markowitz and relatives).",
        "",
        "| method | mean | median | best on graphs (< 1) |",
        "|---|---:|---:|---:|",
    ]
    for key, label in names.items():
        r = ratios[key]
        lines.append(
            f"| {label} | {r.mean():.4f} | {np.median(r):.4f} | {(r < 1).sum()} |"
        )
    lines.append(
        f"\nThe exact search proved the optimum on {int(ratios['exact_proven'].sum())}"
        f" of {len(specs)} graphs (elsewhere it reports the best order it found): "
        "on these small graphs the best baseline is often optimal already, which "
        "leaves little room below 1.000."
    )
    beats = ratios["trained@16"].mean() < ratios["uniform@64"].mean()
    greedy_wins = int((ratios["greedy"] < ratios["markowitz"]).sum())
    greedy_ties = int((ratios["greedy"] == ratios["markowitz"]).sum())
    lines += [
        "",
        "## Targets",
        "",
        f"- Trained net at 16 sims beats uniform prior at 64 sims: "
        f"**{'yes' if beats else 'no'}** ({ratios['trained@16'].mean():.4f} vs "
        f"{ratios['uniform@64'].mean():.4f}).",
        f"- Greedy policy beats Markowitz on at least half the graphs: "
        f"**{'yes' if greedy_wins * 2 >= len(specs) else 'no'}** (better on "
        f"{greedy_wins}, equal on {greedy_ties}, worse on "
        f"{len(specs) - greedy_wins - greedy_ties} of {len(specs)}).",
    ]
    if not args.skip_throughput:
        speedup = rows[1][1]["games_per_s"] / rows[0][1]["games_per_s"]
        lines.append(
            f"- 2 workers give at least 1.6x the games/s of 1: "
            f"**{'yes' if speedup >= 1.6 else 'no'}** ({speedup:.2f}x on this "
            "shared 2-core machine)."
        )
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
