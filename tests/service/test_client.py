"""service.Client and the CLI against a real server: orders, costs, kernels."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import graphs
from service import Client, ServiceError
from service.cli import app
from tests.service.servicekit import MINIMAL


def f(x, y):
    return jnp.sin(x) * y + x**2, jnp.sum(x * y)


X = jnp.arange(1.0, 4.0)
Y = jnp.array([0.5, -1.0, 2.0])


def _blocks_of_jacfwd(x, y):
    """jax.jacfwd's blocks, output-major like the kernel's output layout."""
    jac = jax.jacfwd(f, argnums=(0, 1))(x, y)
    return [jac[0][0], jac[0][1], jac[1][0], jac[1][1]]


@pytest.fixture
def client(server):
    with Client(server.url) as c:
        yield c


def test_optimize_a_function_returns_a_runnable_exact_kernel(client):
    found = client.optimize(f, X, Y, time_budget_s=0.5)
    graph = graphs.trace(f, X, Y)
    assert found.graph_hash == graphs.canonical_hash(graph)
    assert found.cost == graphs.cost(graph, list(found.order)).multiplications
    assert found.cost <= min(found.baselines.values())
    assert found.kernel is not None, found.kernel_unavailable
    assert "def jacobian" in found.python_source
    got = found.kernel(X, Y)
    for block, layout, want in zip(
        got, found.kernel.output_layout, _blocks_of_jacfwd(X, Y), strict=True
    ):
        assert tuple(layout["shape"]) == want.shape
        np.testing.assert_allclose(block, want, rtol=1e-10, atol=1e-12)
    # Other example values: the kernel is a function, not a table.
    x2, y2 = X * 0.3 - 1, Y + 2
    for block, want in zip(
        found.kernel(x2, y2), _blocks_of_jacfwd(x2, y2), strict=True
    ):
        np.testing.assert_allclose(block, want, rtol=1e-10, atol=1e-12)


def test_cache_hit_still_brings_the_kernel(client):
    client.optimize(f, X, Y, time_budget_s=0.5)
    again = client.optimize(f, X, Y, time_budget_s=0.5)
    assert again.cached
    assert again.kernel is not None
    np.testing.assert_allclose(again.kernel(X, Y)[1], _blocks_of_jacfwd(X, Y)[1])


def test_fetch_by_hash_can_bring_the_kernel(client):
    found = client.optimize(f, X, Y, time_budget_s=0.5, include_kernel=False)
    assert found.kernel is None and found.kernel_unavailable is None
    fetched = client.fetch(found.graph_hash, include_kernel=True)
    assert fetched.cost == found.cost
    for block, want in zip(fetched.kernel(X, Y), _blocks_of_jacfwd(X, Y), strict=True):
        np.testing.assert_allclose(block, want, rtol=1e-10, atol=1e-12)


def test_kernel_rejects_wrong_arguments_with_the_expected_list(client):
    found = client.optimize(f, X, Y, time_budget_s=0.5)
    with pytest.raises(TypeError, match="expected 2 array arguments"):
        found.kernel(X)


def test_structure_only_graph_has_no_kernel_and_says_why(client):
    found = client.optimize(MINIMAL, time_budget_s=0.3)
    assert found.order == ("v",) and found.cost == 2
    assert found.kernel is None
    assert "program graph" in found.kernel_unavailable


def test_long_budget_is_polled_to_completion(client, server):
    budget = float(server.env["CCELIM_SYNC_BUDGET_S"]) + 0.5
    found = client.optimize(
        lambda x: jnp.tanh(x) * jnp.exp(x), X, time_budget_s=budget, seed=7
    )
    assert found.kernel is not None
    np.testing.assert_allclose(
        found.kernel(X)[0], jax.jacfwd(lambda x: jnp.tanh(x) * jnp.exp(x))(X)
    )


def test_fetch_and_errors(client):
    found = client.optimize(MINIMAL, time_budget_s=0.3)
    fetched = client.fetch(found.graph_hash)
    assert (fetched.order, fetched.cost) == (found.order, found.cost)
    with pytest.raises(ServiceError) as err:
        client.fetch("g1-unknown")
    assert (err.value.status, err.value.code) == (404, "not_found")
    with pytest.raises(ServiceError) as err:
        client.optimize(MINIMAL | {"format": "ccelim.graph/2"})
    assert (err.value.status, err.value.field) == (422, "graph.format")


def test_cli_submit_and_fetch(server, tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(MINIMAL))
    out = tmp_path / "answer.json"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["submit", str(path), "--budget", "0.3", "--url", server.url, "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(out.read_text())
    assert answer["order"] == ["v"] and answer["cost"] == 2
    fetched = runner.invoke(
        app, ["fetch", answer["graph_hash"], "--json", "--url", server.url]
    )
    assert fetched.exit_code == 0, fetched.output
    assert json.loads(fetched.output)["cost"] == 2
    missing = runner.invoke(app, ["fetch", "g1-unknown", "--url", server.url])
    assert missing.exit_code == 1
    assert "not_found" in missing.output
