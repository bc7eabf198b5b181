"""Service latency: cache hits under concurrent clients, and cold searches by budget.

Starts a real server (uvicorn, SQLite cache in a temporary folder, process-pool
search backend) on loopback, then

1. cache hits: ``--clients`` concurrent clients (one connection each, asyncio)
   send ``--requests`` requests in all, for graphs already cached; latency p50,
   p90, p99 and max per graph and request kind, plus throughput;
2. cold searches: for each requested budget, a fresh graph (never seen, so a
   search runs) posted synchronously; wall latency against the budget.

Client and server share the machine, so the numbers include the client's own CPU.

    .venv/bin/python benchmarks/service.py            # writes benchmarks/results/service.md
    .venv/bin/python benchmarks/service.py --robustness   # only the robustness section

The robustness section (``benchmarks/service_probes.py``) runs the probes of issue
15 against a real server and records the worst ``/healthz`` latency during each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from graphs import tasks

REPO = Path(__file__).resolve().parents[1]

MINIMAL = {
    "format": "ccelim.graph/1",
    "inputs": ["x0", "x1"],
    "outputs": ["y"],
    "edges": [["x0", "v"], ["x1", "v"], ["v", "y"]],
}


def random_dag(n: int, *, seed: int) -> dict:
    """A seeded random structure-only DAG: 4 inputs, n vertices, 3 outputs."""
    rng = random.Random(seed)
    names = [f"in{i}" for i in range(4)]
    edges = []
    for i in range(n):
        window = names[-12:]
        for src in rng.sample(window, k=min(len(window), rng.choice((2, 3)))):
            edges.append([src, f"v{i}"])
        names.append(f"v{i}")
    return {
        "format": "ccelim.graph/1",
        "inputs": names[:4],
        "outputs": names[-3:],
        "edges": edges,
    }


def start_server(data_dir: Path, sync_budget_s: float) -> tuple[subprocess.Popen, str]:
    from service_probes import launch

    env = {
        "CCELIM_DATABASE_URL": f"sqlite:///{data_dir / 'bench.db'}",
        "CCELIM_SYNC_BUDGET_S": str(sync_budget_s),
        "CCELIM_MAX_BUDGET_S": "600",
    }
    return launch(env, "--timeout-keep-alive", "30")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def hammer(
    url: str, make_request, *, clients: int, requests: int, rate: float | None
) -> tuple[list[float], float, int]:
    """Latencies (s) of ``requests`` requests from ``clients`` concurrent clients,
    the wall time, and the number of non-2xx answers.

    ``rate``: total offered requests per second, spread evenly over the clients
    (each waits for its next slot: an open-loop load); ``None``: every client sends
    its next request as soon as the last is answered (closed loop, saturation).
    """
    latencies: list[float] = []
    errors = 0
    per_client = [
        requests // clients + (i < requests % clients) for i in range(clients)
    ]
    interval = clients / rate if rate else 0.0

    async def client(k: int, count: int) -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            await http.get("/healthz")  # open the connection outside the timing
            begin = time.perf_counter() + interval * k / clients
            for i in range(count):
                if interval:
                    await asyncio.sleep(
                        max(0.0, begin + i * interval - time.perf_counter())
                    )
                start = time.perf_counter()
                try:
                    response = await make_request(http)
                    errors += response.status_code >= 300
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client(k, n) for k, n in enumerate(per_client)))
    return latencies, time.perf_counter() - start, errors


def schedstat(pid: int) -> tuple[float, float]:
    """(CPU seconds, seconds spent runnable but waiting for a CPU) of a process,
    from Linux's /proc/PID/schedstat; zeros elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text().split()
    except OSError:
        return 0.0, 0.0
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


def server_buckets(url: str, route: str, method: str) -> dict[float, float]:
    """Cumulative counts of the server's latency histogram for one route (status
    200), by bucket upper bound in seconds."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[float, float] = {}
    text = httpx.get(url + "/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        if family.name != "ccelim_http_request_duration_seconds":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name.endswith("_bucket")
                and labels.get("route") == route
                and labels.get("method") == method
                and labels.get("status") == "200"
            ):
                counts[float(labels["le"])] = sample.value
    return counts


def bucket_percentile(before: dict, after: dict, q: float) -> float:
    """The smallest bucket bound holding ``q`` % of the requests between the two
    snapshots (so "p99 <= 10 ms" reads as 10)."""
    bounds = sorted(after)
    total = after[bounds[-1]] - before.get(bounds[-1], 0.0)
    for bound in bounds:
        if after[bound] - before.get(bound, 0.0) >= q / 100 * total:
            return bound
    return float("inf")


def post(body: dict):
    async def request(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post("/v1/orders", json=body)

    return request


def get(path: str):
    async def request(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get(path)

    return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[20.0, 50.0, 100.0],
        help="offered requests per second of the paced rows (all clients together)",
    )
    parser.add_argument(
        "--budgets", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0, 4.0]
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "service.md"
    )
    parser.add_argument(
        "--robustness",
        action="store_true",
        help="only the robustness section (benchmarks/service_probes.py): /healthz "
        "while each probe runs, and --clients x --hits-per-client cache hits",
    )
    parser.add_argument("--hits-per-client", type=int, default=1000)
    args = parser.parse_args()
    from service_probes import stop

    if args.robustness:
        import service_probes

        lines = service_probes.run(
            clients=args.clients, hits_per_client=args.hits_per_client
        )
        service_probes.write_section(args.out, lines)
        print(f"wrote {args.out}")
        return

    roe = tasks.get("RoeFlux_1d").graph()
    roe_program = roe.to_dict()
    roe_structure = roe.to_structure().to_dict()
    data_dir = Path(tempfile.mkdtemp(prefix="ccelim-bench-"))
    proc, url = start_server(data_dir, sync_budget_s=max(args.budgets))
    hit_rows, cold_rows = [], []
    try:
        seeds = {
            "minimal (1 intermediate)": MINIMAL,
            f"RoeFlux_1d program ({len(roe.vertices)} vertices)": roe_program,
            "RoeFlux_1d structure-only": roe_structure,
        }
        hashes = {}
        for name, document in seeds.items():
            body = {"graph": document, "time_budget_s": 1.0, "include_kernel": False}
            answer = httpx.post(url + "/v1/orders", json=body, timeout=300).json()
            hashes[name] = answer["graph_hash"]
            # Warm the server's per-document memo and the connection path.
            httpx.post(url + "/v1/orders", json=body, timeout=60)
        time.sleep(5)  # let the workers' start-up (imports, compiles) finish
        kinds = [
            (f"POST {name}", post({"graph": doc, "include_kernel": False}))
            for name, doc in seeds.items()
        ]
        program = f"RoeFlux_1d program ({len(roe.vertices)} vertices)"
        with_kernel = {"graph": roe_program, "include_kernel": True}
        answer = httpx.post(url + "/v1/orders", json=with_kernel, timeout=300).json()
        kernel_kb = len(json.dumps(answer)) / 1024
        kinds.append(
            (f"POST {program} + kernel ({kernel_kb:.0f} KiB)", post(with_kernel))
        )
        key = hashes[program]
        kinds.append(("GET /v1/orders/{hash} RoeFlux_1d", get(f"/v1/orders/{key}")))
        # An unreported warm-up row: connection paths, memo, worker start-up.
        asyncio.run(
            hammer(url, kinds[0][1], clients=args.clients, requests=300, rate=50.0)
        )
        runs = [(kinds[0][0], kinds[0][1], rate) for rate in args.rates]
        runs += [(label, make, args.rates[0]) for label, make in kinds[1:]]
        runs += [(label, make, None) for label, make in kinds[:2]]
        # GET rows are labelled by their route in the server histogram.
        for label, make_request, rate in runs:
            method, route = (
                ("GET", "/v1/orders/{graph_hash}")
                if label.startswith("GET")
                else ("POST", "/v1/orders")
            )
            before = server_buckets(url, route, method)
            cpu0, wait0 = schedstat(proc.pid)
            # Paced rows last about 15 s; saturated rows send --requests.
            count = min(args.requests, int(rate * 15)) if rate else args.requests
            latencies, wall, errors = asyncio.run(
                hammer(
                    url,
                    make_request,
                    clients=args.clients,
                    requests=max(count, args.clients),
                    rate=rate,
                )
            )
            row = {
                "kind": label,
                "load": f"{rate:g} req/s offered" if rate else "saturated",
                "n": len(latencies),
                "errors": errors,
                "p50": percentile(latencies, 50) * 1e3,
                "p90": percentile(latencies, 90) * 1e3,
                "p99": percentile(latencies, 99) * 1e3,
                "max": max(latencies) * 1e3,
                "rps": len(latencies) / wall,
            }
            after = server_buckets(url, route, method)
            cpu1, wait1 = schedstat(proc.pid)
            row["cpu_ms"] = (cpu1 - cpu0) / len(latencies) * 1e3
            row["wait_ms"] = (wait1 - wait0) / len(latencies) * 1e3
            row["server_p50"] = bucket_percentile(before, after, 50) * 1e3
            row["server_p99"] = bucket_percentile(before, after, 99) * 1e3
            hit_rows.append(row)
            print(
                f"{label:42s} {row['load']:>20s}  p50 {row['p50']:7.1f} ms  "
                f"p99 {row['p99']:7.1f} ms (server p99 <= {row['server_p99']:g} ms, "
                f"cpu {row['cpu_ms']:.2f} ms, wait {row['wait_ms']:.2f} ms /req)  "
                f"{row['rps']:5.0f} req/s  errors {errors}"
            )

        for k, budget in enumerate(args.budgets):
            document = random_dag(60, seed=1000 + k)
            body = {"graph": document, "time_budget_s": budget, "include_kernel": False}
            start = time.perf_counter()
            response = httpx.post(url + "/v1/orders", json=body, timeout=budget + 120)
            wall = time.perf_counter() - start
            answer = response.json()
            best = min(answer["baselines"].values())
            row = {
                "budget": budget,
                "status": response.status_code,
                "latency": wall,
                "overhead": wall - budget,
                "search": answer["elapsed_s"],
                "cost": answer["cost"],
                "best_baseline": best,
            }
            cold_rows.append(row)
            print(
                f"cold budget {budget:5.2f} s: {wall:6.2f} s wall "
                f"(+{wall - budget:5.2f} s), cost {answer['cost']} vs baseline {best}"
            )
    finally:
        stop(proc)

    lines = [
        "# Service latency",
        "",
        f"`benchmarks/service.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, JAX CPU; one uvicorn process with its "
        "default process-pool backend and a SQLite cache; client and server on the "
        f"same machine. Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"load average at the end: {os.getloadavg()[0]:.1f}.",
        "",
        f"## Cache hits: {args.clients} concurrent clients",
        "",
        "| request | load | n | errors | p50 ms | p90 ms | p99 ms | max ms | req/s "
        "| server p50 ms | server p99 ms | server CPU ms/req | server run-queue "
        "wait ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in hit_rows:
        lines.append(
            f"| {r['kind']} | {r['load']} | {r['n']} | {r['errors']} | {r['p50']:.1f} | "
            f"{r['p90']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {r['rps']:.0f} | "
            f"<= {r['server_p50']:g} | <= {r['server_p99']:g} | {r['cpu_ms']:.2f} | "
            f"{r['wait_ms']:.2f} |"
        )
    lines += [
        "",
        "Target: cache-hit p99 under 20 ms on a 2-core machine. *Offered* rows: the "
        "clients together send the given rate, each waiting for its next slot "
        "(open loop), so latency is the service time plus real queueing. "
        "*Saturated* rows: each client sends its next request as soon as it has "
        "an answer, so latency is (clients / throughput): queueing by construction. "
        "Hits do no search: the server parses the request, finds the document in "
        "its memo of prepared graphs (or parses and canonically hashes it), reads "
        "SQLite and answers. Requests ask for no kernel (`include_kernel: false`), "
        "except the *+ kernel* row, whose kernels come from the server's memory "
        "of recently exported kernels. "
        "*Server* columns come from the server's own Prometheus histogram (time "
        "inside the app, bucket upper bounds), so they leave out the client's CPU "
        "and the sockets. *CPU* and *run-queue wait* per request come from the "
        "server process's /proc/PID/schedstat: time it ran, and time it was ready "
        "but waited for a core (other processes on the machine).",
        "",
        "## Cold searches: latency against the requested budget",
        "",
        "Each row posts a fresh random structure-only DAG (60 vertices, seeded) "
        "synchronously.",
        "",
        "| budget s | status | latency s | over budget s | search s | cost | "
        "best baseline |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cold_rows:
        lines.append(
            f"| {r['budget']:.2f} | {r['status']} | {r['latency']:.2f} | "
            f"{r['overhead']:.2f} | {r['search']:.2f} | {r['cost']} | "
            f"{r['best_baseline']} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    old = args.out.read_text() if args.out.exists() else ""
    args.out.write_text("\n".join(lines) + "\n")
    import service_probes

    if service_probes.SECTION in old:  # keep the robustness section of a last run
        kept = service_probes.SECTION + old.split(service_probes.SECTION, 1)[1]
        service_probes.write_section(args.out, kept.rstrip().split("\n"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
