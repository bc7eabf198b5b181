"""The order service on its own (service/orders.py), without HTTP."""

from __future__ import annotations

import asyncio

import pytest

import graphs
from search import OptimizeResult
from service.backends import ProcessBackend
from service.cache import Provenance, Versions, store
from service.db import open_engine
from service.deps import ServiceState
from service.health import HealthProbe
from service.intake import PreparedCache, prepare
from service.jobs import JobManager
from service.kernels import KernelService
from service.metrics import Metrics
from service.orders import find, find_or_search
from service.schemas import OrderRequest
from service.settings import Settings
from tests.service.servicekit import chain_graph, cycle_pair, renamed

V1 = Versions(ccelim="0.1.0", jax="0.10.2", cost_model="1")


@pytest.fixture
def state(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'orders.db'}")
    settings = Settings(database_url=str(engine.url), max_vertices=1000)
    metrics = Metrics.create()
    backend = ProcessBackend(1)  # starts no process unless a search runs
    kernels = KernelService(backend)
    jobs = JobManager(
        engine=engine,
        settings=settings,
        versions=V1,
        backend=backend,
        kernels=kernels,
        metrics=metrics,
    )
    yield ServiceState(
        settings=settings,
        engine=engine,
        metrics=metrics,
        versions=V1,
        backend=backend,
        kernels=kernels,
        jobs=jobs,
        prepared=PreparedCache(),
        health=HealthProbe(engine, "test"),
    )
    backend.close()
    engine.dispose()


def _store(state, document, order, cost):
    prepared = prepare(document, max_vertices=1000)
    result = OptimizeResult(
        order=tuple(order),
        cost=cost,
        method="test",
        baselines={"forward": cost + 1},
        lower_bound=None,
        elapsed_s=0.1,
        history=(),
    )
    provenance = Provenance(
        time_budget_s=1.0, seed=0, model_checkpoint=None, versions=V1
    )
    assert store(state.engine, prepared, result, provenance)
    return prepared


def test_a_renamed_graph_is_answered_from_the_cache_in_its_own_ids(state):
    document = chain_graph(6, prefix="a")
    order = [f"a{i}" for i in (4, 0, 2, 1, 3)]
    _store(state, document, order, 9)
    other = renamed(document, lambda v: "z_" + v)
    body = OrderRequest(graph=other, time_budget_s=1, include_kernel=False)
    answer = asyncio.run(find_or_search(state, body))
    assert answer.job is None
    assert answer.response["cached"] is True
    assert answer.response["order"] == ["z_" + v for v in order]
    # The translated order costs the same on the caller's graph.
    cost = graphs.cost(graphs.load(other), answer.response["order"]).multiplications
    assert cost == graphs.cost(graphs.load(document), order).multiplications


def test_a_weak_hash_twin_is_not_served_the_other_graphs_record(state):
    one, two = cycle_pair(400, False), cycle_pair(400, True)
    stored = _store(state, one, graphs.build(graphs.load(one)).intermediates, 1200)
    assert stored.form.is_weak
    mine = prepare(two, max_vertices=1000)
    assert mine.form.hash == stored.form.hash and mine.hash != stored.hash
    assert asyncio.run(find(state, mine)) is None
    assert asyncio.run(find(state, stored)).graph_hash == stored.hash
