"""search.policy: the learned constructive policy and its incremental rescoring.

The policy keeps every vertex's feature row current as vertices are eliminated
and rescores only the eliminated vertex's neighbours. These tests check the
rows and scores against a recomputation from the reference elimination
(``graphs.elimination.eliminate``), the lazy-heap greedy against a naive greedy
that rescores everything every step, and the model file's round trip.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from graphs.elimination import build, cost_of, eliminate
from graphs.random_programs import random_dag
from search.core import core_for
from search.net_policy import (
    load_policy,
    params_to_weights,
    policy_network,
    save_policy,
)
from search.policy import (
    NUM_DYNAMIC,
    NUM_FEATURES,
    PolicyState,
    load_policy_weights,
    policy_order,
)


def _weights(seed: int = 0):
    init, _ = policy_network((16, 16))
    params = init(jax.random.key(seed), jnp.zeros((1, NUM_FEATURES), jnp.float32))
    return params, params_to_weights(params)


def _dag(seed: int, n: int):
    return build(random_dag(seed, num_intermediates=n, num_inputs=3, num_outputs=2))


@pytest.mark.parametrize("sample", [False, True])
def test_orders_are_permutations_of_the_intermediates(sample):
    _, weights = _weights()
    g = _dag(1, 120)
    order = policy_order(g, weights, sample=sample, seed=3)
    assert sorted(order) == sorted(g.intermediates)
    # Priced by the reference and by the C core alike.
    assert cost_of(g, order).multiplications == core_for(g).order_cost(order)


def test_sampled_orders_depend_on_the_seed_only():
    _, weights = _weights()
    g = _dag(2, 80)
    a = policy_order(g, weights, sample=True, seed=5)
    assert a == policy_order(g, weights, sample=True, seed=5)
    assert a != policy_order(g, weights, sample=True, seed=6)


def test_incremental_rows_and_scores_equal_a_full_recompute():
    _, weights = _weights(1)
    g = _dag(3, 60)
    state = PolicyState(g)
    rng = np.random.default_rng(0)
    ref, gone = g, set()
    for _ in range(25):
        v = int(rng.choice(np.flatnonzero(state.remaining)))
        state.eliminate(v)
        ref = eliminate(ref, v)[0]
        gone.add(v)
    fresh = PolicyState(ref)  # adjacency rebuilt from the reference elimination
    remaining = np.flatnonzero(state.remaining)
    assert set(remaining.tolist()) == set(g.intermediates) - gone
    assert np.array_equal(state.dynamic[remaining], fresh.dynamic[remaining])
    # Scores: incremental rows through the split first layer vs whole rows.
    split, first = weights.split_first(NUM_DYNAMIC, state.static)
    incremental = split.scores(state.dynamic[remaining], first[remaining])
    full_rows = np.concatenate([fresh.dynamic[remaining], state.static[remaining]], 1)
    np.testing.assert_allclose(
        incremental, weights.scores(full_rows), rtol=1e-12, atol=1e-12
    )


def test_lazy_heap_greedy_equals_rescoring_every_vertex_every_step():
    _, weights = _weights(2)
    g = _dag(4, 70)
    state = PolicyState(g)
    naive = []
    while state.remaining.any():
        legal = np.flatnonzero(state.remaining)
        rows = state.rows(legal).astype(np.float64)
        scores = weights.scores(rows)
        v = int(legal[np.flatnonzero(scores == scores.max())[0]])  # ties: lowest
        naive.append(v)
        state.eliminate(v)
    assert policy_order(g, weights) == naive


def test_the_haiku_network_and_numpy_inference_agree():
    params, weights = _weights(3)
    _, apply = policy_network((16, 16))
    rows = PolicyState(_dag(5, 40)).rows(range(10))
    np.testing.assert_allclose(
        np.asarray(apply(params, rows)),
        weights.scores(rows.astype(np.float64)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_model_file_round_trips(tmp_path):
    params, weights = _weights(4)
    path = tmp_path / "policy.msgpack"
    save_policy(path, params, hidden=(16, 16), metadata={"command": "test", "n": 3})
    loaded, hidden, metadata = load_policy(path, NUM_FEATURES)
    assert hidden == (16, 16)
    assert metadata == {"command": "test", "n": 3}
    for a, b in zip(
        jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(loaded)
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    again = load_policy_weights(path)  # read without the Haiku template
    assert again.markowitz_weight == weights.markowitz_weight
    for (w1, b1), (w2, b2) in zip(again.layers, weights.layers, strict=True):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    g = _dag(6, 50)
    assert policy_order(g, again) == policy_order(g, weights)


def test_shipped_policy_loads_and_orders():
    weights = load_policy_weights()
    if weights is None:
        pytest.skip("no shipped policy model")
    assert weights.metadata["command"].startswith("ccelim train-policy")
    g = _dag(7, 200)
    assert sorted(policy_order(g, weights)) == sorted(g.intermediates)


def test_optimize_offers_the_policy_order_and_names_it():
    from search.optimize import optimize

    _, weights = _weights(5)
    g = _dag(8, 320)
    order = policy_order(g, weights)
    policy_cost = cost_of(g, order).multiplications
    result = optimize(g, methods=("baselines", "policy"), policy=weights, max_chunks=0)
    assert result.cost == min(policy_cost, min(result.baselines.values()))
    assert (result.method == "policy") == (policy_cost < min(result.baselines.values()))
    assert any(m == "policy" for _, _, m in result.history) == (
        result.method == "policy"
    )


def test_optimize_without_the_policy_method_never_runs_it():
    from search.optimize import optimize

    _, weights = _weights(6)
    g = _dag(9, 320)
    kwargs = dict(time_budget_s=60, seed=2, max_chunks=4)
    no_net = optimize(g, methods=("baselines", "exact", "local"), **kwargs)
    given = optimize(
        g, methods=("baselines", "exact", "local"), policy=weights, **kwargs
    )
    assert no_net.order == given.order and no_net.cost == given.cost
    assert all(m != "policy" for _, _, m in given.history)
    assert not any(note.startswith("policy") for note in given.notes)
    # With the policy: never worse than its order nor the best baseline.
    with_net = optimize(
        g, methods=("baselines", "exact", "local", "policy"), policy=weights, **kwargs
    )
    order = policy_order(g, weights)
    assert with_net.cost <= cost_of(g, order).multiplications
    assert with_net.cost <= min(with_net.baselines.values())
