"""The time model: hand-counted features, and optimize(objective="time")."""

import dataclasses
import time

import jax.numpy as jnp
import numpy as np
import pytest

import graphs
import interpreter
import search
from graphs import tasks
from graphs.baselines import order_positions
from graphs.elimination import build
from search.timemodel import (
    FEATURES,
    TimeModel,
    affordable,
    load_time_model,
    minimize_time,
    predicted_time_s,
    time_features,
    time_order,
)


def _chain(x):
    # x -> a = sin x -> b = cos a, c = exp a -> y = b * c: intermediates a, b, c.
    a = jnp.sin(x)
    return jnp.cos(a) * jnp.exp(a)


def _graph():
    return graphs.trace(_chain, np.asarray(0.3))


def _ids(graph):
    return list(build(graph).intermediate_ids)  # program order: a, b, c


def test_features_are_counted_from_the_elimination_forward():
    graph = _graph()
    feats = time_features(graph, "forward")
    # a: preds {x}, succs {b, c}: b<-x, c<-x, 2 products, 2 fill edges.
    # b: y<-x, 1 product, fill. c: y<-x exists: 1 product added onto it.
    assert feats.multiplications == 4 and feats.products == 4
    assert feats.additions == 1 and feats.accumulations == 1
    assert feats.fill == 3
    # Scalars: no product sums over an index or pre-sums a factor.
    assert (feats.contractions, feats.presums) == (0, 0)
    # Left: the one edge y<-x (a scalar core); 5 vertices, 5 scalar partials.
    assert (feats.final_edges, feats.final_core) == (1, 1)
    assert (feats.vertices, feats.partial_core) == (5, 5)
    assert (feats.output_blocks, feats.output_elements, feats.const) == (1, 1, 1)
    assert feats.multiplications == graphs.cost(graph, "forward").multiplications


def test_features_of_the_reverse_order():
    graph = _graph()
    feats = time_features(graph, "reverse")
    # c: y<-a (fill). b: y<-a exists (accumulate). a: y<-x (fill).
    assert feats.multiplications == 3 and feats.products == 3
    assert (feats.additions, feats.accumulations, feats.fill) == (1, 1, 2)


def test_features_of_a_vector_program_count_cores_not_elements():
    graph = graphs.trace(lambda x: jnp.sin(x) * jnp.cos(x), jnp.ones(3))
    feats = time_features(graph, "forward")
    # Diagonal partials of 3 entries: sin and cos each composed with mul's
    # partials (3 multiplications each), the second added onto the first.
    assert (feats.multiplications, feats.products) == (6, 2)
    assert (feats.additions, feats.accumulations, feats.fill) == (3, 1, 1)
    # The result y<-x is diagonal (3 core entries) of a 3x3 dense block; four
    # diagonal partials of 3 entries were evaluated.
    assert (feats.final_edges, feats.final_core) == (1, 3)
    assert (feats.partial_core, feats.output_blocks, feats.output_elements) == (
        12,
        1,
        9,
    )


A = np.arange(6.0).reshape(2, 3) / 7
B = np.array([[1.0, 2.0], [3.0, -1.0]])


def _matrix_chain(x):
    # x (3) -> u = A x (dense 2x3) -> v = sin u (diagonal) -> y = B v (dense 2x2)
    return B @ jnp.sin(A @ x)


def test_a_product_summing_over_the_eliminated_vertex_is_a_contraction():
    graph = graphs.trace(_matrix_chain, np.ones(3))
    fwd = time_features(graph, "forward")
    # u: diag(2) . (2x3): 6 products, 6 entries, no sum. v: (2x2) . (2x3) sums
    # over v's 2 entries: 12 multiplications for 6 entries: one contraction.
    assert (fwd.multiplications, fwd.products, fwd.contractions) == (18, 2, 1)
    rev = time_features(graph, "reverse")
    # v: (2x2) . diag(2) = 4 entries, 4 products. u: (2x2) . (2x3): 12, summed.
    assert (rev.multiplications, rev.products, rev.contractions) == (16, 2, 1)
    assert (rev.fill, rev.final_core, rev.output_elements) == (2, 6, 6)


def test_model_predicts_its_linear_formula():
    model = TimeModel({"const": 1e-5}, {"multiplications": 1e-9, "fill": 2e-9})
    feats = time_features(_graph(), "forward")
    # 1e-5 + 256 * (4 * 1e-9 + 3 * 2e-9)
    assert model.predict(feats, 256) == pytest.approx(1e-5 + 256 * 1e-8)
    assert predicted_time_s(_graph(), "forward", model=model, batch_size=2) == (
        pytest.approx(1e-5 + 2 * 1e-8)
    )


def test_minimize_time_follows_the_model_not_the_multiplications():
    graph = _graph()
    g = build(graph)
    cands = [(order_positions(g, o), o) for o in ("reverse", "forward")]
    fewer = TimeModel({}, {"multiplications": 1e-9})
    # A model under which more multiplications run faster picks forward (4).
    more = TimeModel({}, {"multiplications": -1e-9})
    assert minimize_time(g, cands, model=fewer, max_moves=0).source == "reverse"
    chosen = minimize_time(g, cands, model=more, max_moves=0)
    assert (chosen.source, chosen.multiplications) == ("forward", 4)
    assert chosen.predicted_s == pytest.approx(-4 * 256e-9)


def test_local_moves_reach_the_fewest_fill_order():
    g = build(_graph())
    a, b, c = g.intermediates
    model = TimeModel({}, {"fill": 1.0})
    chosen = minimize_time(g, [((a, b, c), "forward")], model=model, seed=1)
    # Eliminating a first creates 3 fill edges; every order ending in a, 2.
    assert chosen.source == "time:local" and chosen.order[-1] == a
    assert chosen.predicted_s == pytest.approx(2 * 256)


def test_optimize_time_objective_reports_both_and_is_no_slower_predicted():
    graph = tasks.get("RoeFlux_1d").graph()
    kw = dict(time_budget_s=60, max_chunks=30, seed=0)
    by_mults = search.optimize(graph, **kw)
    by_time = search.optimize(graph, objective="time", **kw)
    assert by_mults.objective == "mults" and by_mults.predicted_time_s is None
    assert by_time.objective == "time"
    # Every order the portfolio produced was a candidate, the mults optimum too.
    assert by_time.predicted_time_s <= predicted_time_s(graph, by_mults.order)
    assert by_time.predicted_time_s == pytest.approx(
        predicted_time_s(graph, by_time.order)
    )
    assert by_time.cost == graphs.cost(graph, list(by_time.order)).multiplications


def test_optimize_refuses_an_unknown_objective():
    with pytest.raises(ValueError, match="objective must be one of"):
        search.optimize(_graph(), objective="seconds")


def test_time_order_is_a_permutation_no_slower_predicted_than_its_start():
    graph = tasks.get("HumanHeartDipole/vec").graph()
    _, best = graphs.best_baseline(graph)
    order = time_order(graph, list(best.order), batch_size=2048, max_moves=50)
    assert sorted(order) == sorted(_ids(graph))
    assert predicted_time_s(graph, order, batch_size=2048) <= predicted_time_s(
        graph, list(best.order), batch_size=2048
    )


def test_shipped_model_names_only_known_features():
    model = load_time_model()
    assert set(model.fixed_s) | set(model.per_example_s) <= set(FEATURES)
    assert all(v >= 0 for v in (*model.fixed_s.values(), *model.per_example_s.values()))


def test_a_model_file_with_unknown_features_is_refused(tmp_path):
    bad = dataclasses.replace(load_time_model(), fixed_s={"flops": 1.0})
    path = tmp_path / "model.json"
    path.write_text(bad.to_json())
    with pytest.raises(ValueError, match="unknown time-model features.*flops"):
        load_time_model(str(path))


def test_fastest_without_orders_searches_for_time():
    graph = _graph()
    tuned = interpreter.fastest(
        graph, batch_sizes=(2,), min_time=0.002, search_budget_s=0.2, fallbacks=()
    )
    assert {"searched", "forward", "reverse"} <= set(tuned.times)
    assert tuned.multiplications["searched"] == 3  # the optimum of the chain


def test_pricing_is_skipped_when_one_pass_would_overrun_the_budget():
    # ~25 µs per multiplication: 10**9 never fits a second, 10 always does.
    assert not affordable(10**9, time.perf_counter() + 1.0)
    assert affordable(10, time.perf_counter() + 1.0) and affordable(10**9, None)
    g = graphs.random_dag(0, num_intermediates=1000, num_inputs=20, num_outputs=20)
    # The portfolio takes 80 % of 0.3 s; pricing ~17,000 multiplications would
    # take ~0.4 s more, so the fewest-multiplications order comes back, noted.
    result = search.optimize(g, time_budget_s=0.3, objective="time")
    assert result.predicted_time_s is None and result.objective == "time"
    assert any(n.startswith("time: not priced") for n in result.notes)
    assert result.cost == graphs.cost(g, list(result.order)).multiplications
