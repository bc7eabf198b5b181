"""50 clients, 1,000 requests at once: no errors, one answer per graph."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import bindparam, create_engine, func, select, text

import graphs
from tests.service.servicekit import chain_graph, renamed


@pytest.mark.slow
def test_fifty_concurrent_clients_get_consistent_answers(server):
    base = [chain_graph(n, prefix=f"c{n}_") for n in (4, 6, 9, 12)]
    variants = []  # (graph index, document): each graph under two namings
    for k, document in enumerate(base):
        variants.append((k, document))
        variants.append((k, renamed(document, lambda v, k=k: f"z{k}_{v}")))
    rng = random.Random(0)
    plan = [rng.randrange(len(variants)) for _ in range(1000)]
    chunks = [plan[i::50] for i in range(50)]

    def client(indices):
        answers = []
        with httpx.Client(base_url=server.url, timeout=120) as http:
            for i in indices:
                k, document = variants[i]
                response = http.post(
                    "/v1/orders", json={"graph": document, "time_budget_s": 0.5}
                )
                answers.append((i, response.status_code, response.json()))
        return answers

    with ThreadPoolExecutor(50) as pool:
        results = [a for chunk in pool.map(client, chunks) for a in chunk]
    # Concurrent cold requests for one graph (under either naming) share a search.
    keys = [graphs.canonical_hash(graphs.load(document)) for document in base]
    engine = create_engine(server.database_url)
    with engine.connect() as conn:
        jobs = conn.execute(
            select(func.count())
            .select_from(text("jobs"))
            .where(
                text("graph_hash IN :keys").bindparams(
                    bindparam("keys", expanding=True)
                )
            ),
            {"keys": keys},
        ).scalar_one()
    engine.dispose()
    assert jobs == len(base)
    assert len(results) == 1000
    assert all(status == 200 for _, status, _ in results), {
        status for _, status, _ in results
    }
    costs: dict[int, set[int]] = {}
    for i, _, body in results:
        k, document = variants[i]
        costs.setdefault(k, set()).add(body["cost"])
        # Every answer is a valid order of the caller's own graph at that cost.
        report = graphs.cost(graphs.load(document), body["order"])
        assert report.multiplications == body["cost"]
    assert all(len(found) == 1 for found in costs.values()), costs
