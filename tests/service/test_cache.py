"""The order cache: better-only, atomic, renaming-proof, version-aware."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from search import OptimizeResult
from service.cache import (
    Provenance,
    Versions,
    get_record,
    list_records,
    lookup,
)
from service.cache import store as store_result
from service.db import GraphRow, OrderRow, open_engine
from service.intake import prepare
from tests.service.servicekit import MINIMAL, chain_graph, renamed

V1 = Versions(ccelim="0.1.0", jax="0.10.2", cost_model="1")


@pytest.fixture
def engine(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    yield engine
    engine.dispose()


def _outcome(order, cost, method="test") -> OptimizeResult:
    return OptimizeResult(
        order=tuple(order),
        cost=cost,
        method=method,
        baselines={"forward": 40, "reverse": 30},
        lower_bound=None,
        elapsed_s=0.1,
        history=(),
    )


def store(engine, prepared, result, *, versions) -> bool:
    provenance = Provenance(
        time_budget_s=1.0, seed=0, model_checkpoint=None, versions=versions
    )
    return store_result(engine, prepared, result, provenance)


def test_a_better_order_replaces_a_worse_one_never_the_reverse(engine):
    prepared = prepare(chain_graph(5), max_vertices=100)
    order = list(reversed([f"v{i}" for i in range(4)]))
    assert store(engine, prepared, _outcome(order, 20, "first"), versions=V1)
    assert not store(engine, prepared, _outcome(order, 25, "worse"), versions=V1)
    assert not store(engine, prepared, _outcome(order, 20, "tie"), versions=V1)
    assert lookup(engine, prepared, cost_model="1").result.method == "first"
    assert store(engine, prepared, _outcome(order, 12, "better"), versions=V1)
    hit = lookup(engine, prepared, cost_model="1")
    assert (hit.result.cost, hit.result.method) == (12, "better")
    assert hit.provenance.created_at <= hit.provenance.updated_at


def test_concurrent_writers_keep_the_minimum(engine):
    prepared = prepare(chain_graph(5), max_vertices=100)
    order = [f"v{i}" for i in range(4)]
    costs = [50, 31, 44, 17, 29, 23, 61, 18, 17, 40] * 3
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda c: store(engine, prepared, _outcome(order, c), versions=V1),
                costs,
            )
        )
    assert lookup(engine, prepared, cost_model="1").result.cost == 17
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OrderRow)).scalar() == 1


def test_hit_is_served_in_the_callers_vertex_names(engine):
    document = chain_graph(6, prefix="a")
    first = prepare(document, max_vertices=100)
    order = [f"a{i}" for i in (2, 0, 1, 4, 3)]
    store(engine, first, _outcome(order, 9), versions=V1)
    other = prepare(renamed(document, lambda v: v.upper() + "_"), max_vertices=100)
    assert other.hash == first.hash and other.document != first.document
    hit = lookup(engine, other, cost_model="1")
    assert hit.result.order == tuple(v.upper() + "_" for v in order)
    # A better order found under the other names is stored in the stored names.
    better = [v.upper() + "_" for v in reversed(order)]
    assert store(engine, other, _outcome(better, 7), versions=V1)
    assert lookup(engine, first, cost_model="1").result.order == tuple(reversed(order))


def test_records_of_another_cost_model_are_ignored_and_replaced(engine):
    prepared = prepare(MINIMAL, max_vertices=100)
    old = Versions(ccelim="0.0.1", jax="0.4", cost_model="0")
    store(engine, prepared, _outcome(["v"], 1), versions=old)
    assert lookup(engine, prepared, cost_model="1") is None
    assert store(engine, prepared, _outcome(["v"], 2), versions=V1)
    assert lookup(engine, prepared, cost_model="1").provenance.versions == V1


def test_a_failed_write_leaves_no_half_record(engine):
    prepared = prepare(MINIMAL, max_vertices=100)
    broken = _outcome(["v"], 2)
    broken = dataclasses.replace(broken, baselines={"forward": object()})
    with pytest.raises(TypeError):
        store(engine, prepared, broken, versions=V1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(GraphRow)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(OrderRow)).scalar() == 0


def test_listing_and_record_lookup(engine):
    prepared = prepare(MINIMAL, max_vertices=100)
    store(engine, prepared, _outcome(["v"], 2), versions=V1)
    [summary] = list_records(engine)
    assert (summary.graph_hash, summary.cost, summary.num_intermediates) == (
        prepared.hash,
        2,
        1,
    )
    stored = get_record(engine, prepared.hash)
    assert json.loads(stored.record["order_json"]) == ["v"]
    assert get_record(engine, "g1-unknown") is None


def test_the_cache_survives_reopening(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    prepared = prepare(MINIMAL, max_vertices=100)
    first = open_engine(url)
    store(first, prepared, _outcome(["v"], 2), versions=V1)
    first.dispose()
    second = open_engine(url)
    assert lookup(second, prepared, cost_model="1").result.cost == 2
    second.dispose()
