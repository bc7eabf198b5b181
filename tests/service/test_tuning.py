"""Requests naming batch sizes: measured candidates, stored, and JAX's kernel when it wins."""

from __future__ import annotations

import base64
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

import graphs
from service.tuning import _export_fallback, _export_winner, time_candidates, tune_task
from tests.service.servicekit import MINIMAL


def _f(x, y):
    return jnp.sin(x) * y[0] + jnp.exp(x * y[1])


X = np.array([0.2, -0.5, 0.9])
Y = np.array([1.5, 0.3])


def _program() -> dict:
    return json.loads(graphs.trace(_f, X, Y).to_json())


def test_tune_task_times_every_candidate_on_the_batch_sizes():
    graph = graphs.trace(_f, X, Y)
    order = list(graphs.best_baseline(graph)[1].order)
    reply = tune_task(graph.to_json(), order, [2, 8], True)
    assert reply["ok"], reply
    result = reply["result"]
    # y is read element by element (y[0], y[1]), so its vertex is split into
    # elements and the searched order is also timed with grouped stacking.
    candidates = {"searched", "searched/stack8", "forward", "reverse"}
    candidates |= {"jacfwd", "jacrev"}
    # Kernels are chosen for time: where the time model predicts another order
    # faster (search.timemodel.time_order), it is timed too.
    if "searched:time" in time_candidates(graph, order, [2, 8]):
        candidates |= {"searched:time", "searched:time/stack8"}
    assert set(result["times_s"]) == candidates
    assert all(set(t) == {"2", "8"} for t in result["times_s"].values())
    assert result["winner"] in result["times_s"]
    assert result["fallback"] == (result["winner"] in ("jacfwd", "jacrev"))
    # A kernel comes back when another candidate than the searched order won.
    assert (result["kernel"] is not None) == (result["winner"] != "searched")
    assert result["batch_sizes"] == [2, 8] and result["dtype"] == "float64"
    assert result["device"].startswith("cpu")


def test_fallback_kernel_runs_what_jax_does_in_ccelims_layout():
    graph = graphs.trace(_f, X, Y)
    order = list(graphs.best_baseline(graph)[1].order)
    kernel = _export_fallback(graph, "jacrev", order)
    exported = jax.export.deserialize(
        bytearray(base64.b64decode(kernel["stablehlo_b64"]))
    )
    blocks = exported.call(X, Y)
    want = jax.jacfwd(_f, argnums=(0, 1))(X, Y)
    assert [b["shape"] for b in kernel["output_layout"]] == [[3, 3], [3, 2]]
    for got, ref in zip(blocks, want):
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_order_request_with_batch_sizes_answers_and_stores_a_tuning(http):
    body = {"graph": _program(), "time_budget_s": 0.3, "batch_sizes": [4, 16]}
    searched = http.post("/v1/orders", json=body | {"batch_sizes": None})
    deadline = time.monotonic() + 120
    while searched.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)  # a busy machine: the search outlasted the synchronous wait
        job = http.get(searched.json()["location"]).json()
        if job["state"] in ("done", "failed"):
            searched = http.post("/v1/orders", json=body | {"batch_sizes": None})
    assert searched.status_code == 200, searched.text
    first = http.post("/v1/orders", json=body)  # a cache hit, tuned now
    assert first.status_code == 200, first.text
    tuning = first.json()["tuning"]
    assert tuning["cached"] is False
    assert tuning["winner"] in tuning["times_s"]
    assert set(tuning["times_s"]["jacfwd"]) == {"4", "16"}
    assert tuning["winner"] in tuning["message"] or "jax." in tuning["message"]
    assert first.json()["kernel"] is not None
    second = http.post("/v1/orders", json=body).json()
    assert second["tuning"]["cached"] is True
    assert second["tuning"]["times_s"] == tuning["times_s"]


def test_tuning_is_absent_without_batch_sizes_and_explained_for_structure_only(http):
    plain = http.post("/v1/orders", json={"graph": MINIMAL, "time_budget_s": 0.3})
    assert plain.json()["tuning"] is None
    structure = http.post(
        "/v1/orders",
        json={"graph": MINIMAL, "time_budget_s": 0.3, "batch_sizes": [8]},
    ).json()
    assert "structure-only" in structure["tuning"]["unavailable"]


def test_batch_sizes_are_validated(http):
    for bad in ([0], [1, 2, 3, 4, 5], ["8"], []):
        response = http.post("/v1/orders", json={"graph": MINIMAL, "batch_sizes": bad})
        assert response.status_code == 422, (bad, response.text)


def test_a_winning_order_other_than_the_searched_one_is_the_kernel_returned():
    import dataclasses

    import interpreter

    graph = graphs.trace(_f, X, Y)
    tuned = interpreter.fastest(
        graph, {"searched": "markowitz"}, batch_sizes=[2], min_time=0.01
    )
    # Whatever won on this machine, pretend the grouped stacking of the reverse
    # order did: that order's kernel, stacked in groups of 8, is exported.
    reverse = interpreter.make_plan(graph, "reverse")
    order = tuple(reverse.elim.ids[v] for v in reverse.order)
    won = dataclasses.replace(
        tuned, winner="reverse/stack8", order=order, stack_group=8
    )
    kernel = _export_winner(graph, won)
    exported = jax.export.deserialize(
        bytearray(base64.b64decode(kernel["stablehlo_b64"]))
    )
    want = jax.jacfwd(_f, argnums=(0, 1))(X, Y)
    for got, ref in zip(exported.call(X, Y), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert (
        f"({reverse.cost.multiplications} multiplications)" in (kernel["python_source"])
    )
    # The tuner reports the stacking its winner was timed with: plain JAX and
    # the given order timed flat have none, grouped candidates 8.
    if tuned.winner in interpreter.autotune.FALLBACKS:
        assert tuned.stack_group is None
    elif tuned.winner.endswith(f"/stack{interpreter.autotune.GROUPED_STACK}"):
        assert tuned.stack_group == interpreter.autotune.GROUPED_STACK
    else:
        assert tuned.stack_group in (None, interpreter.eliminate.STACK_GROUP)
