"""A program graph with a loop and traced indices posted to /v1/orders gets an exact kernel."""

from __future__ import annotations

import base64
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import graphs

X = np.array([0.4, -0.3, 0.8, 0.1])
IDX = jnp.asarray([3, 0, 2], dtype=jnp.int32)


def _simulate(x, idx):
    def step(i, c):
        return jnp.sin(c) * x + 0.1 * c[idx[i % 3]]

    return lax.fori_loop(0, 4, step, x)[idx]


def test_loop_graph_gets_an_exact_stablehlo_kernel(http):
    graph = graphs.trace(_simulate, X, IDX, argnums=0)
    assert any(v.op == "gather" for v in graph.vertices)
    body = {"graph": json.loads(graph.to_json()), "time_budget_s": 0.3}
    reply = http.post("/v1/orders", json=body)
    deadline = time.monotonic() + 120
    while reply.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)  # a busy machine: the search outlasted the synchronous wait
        job = http.get(reply.json()["location"]).json()
        if job["state"] in ("done", "failed"):
            reply = http.post("/v1/orders", json=body)
    assert reply.status_code == 200, reply.text
    kernel = reply.json()["kernel"]
    exported = jax.export.deserialize(
        bytearray(base64.b64decode(kernel["stablehlo_b64"]))
    )
    (block,) = exported.call(X, IDX)
    want = jax.jacfwd(_simulate)(X, IDX)
    np.testing.assert_allclose(block, want, rtol=1e-10, atol=1e-12)
    namespace: dict = {}
    exec(kernel["python_source"], namespace)  # the scatter-add is written out too
    (block,) = namespace["jacobian"](X, IDX)
    np.testing.assert_allclose(block, want, rtol=1e-10, atol=1e-12)
