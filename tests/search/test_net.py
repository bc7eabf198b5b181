"""The policy/value network: masking, padding invariance, message direction, files."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import msgpack
import numpy as np
import pytest

from graphs.elimination import build
from graphs.ir import Edge, Graph, Vertex
from search import game, net
from tests.search.gamegen import scalar_dag, tensor_dag

CONFIG = net.NetConfig(hidden_size=16, num_layers=2, head_size=16)


@pytest.fixture(scope="module")
def network():
    init_fn, apply_fn = net.make_network(CONFIG)
    state = game.encode(build(scalar_dag(0, 3, 9)), bucket=16)
    params = jax.jit(init_fn)(jax.random.key(0), state)
    return params, jax.jit(apply_fn)


def test_logits_of_illegal_actions_are_masked_and_value_is_a_scalar(network):
    params, apply_fn = network
    g = build(scalar_dag(0, 3, 9))
    state = game.encode(g, bucket=16)
    logits, value = apply_fn(params, state)
    assert logits.shape == (16,) and value.shape == ()
    legal = np.asarray(game.legal_mask(state))
    low = np.finfo(np.asarray(logits).dtype).min
    assert np.all(np.asarray(logits)[~legal] == low)  # inputs, outputs, padding
    assert np.all(np.asarray(logits)[legal] > -1e3)
    assert legal.sum() == len(g.intermediates) == 8  # 9 nodes, one an output
    batch = game.stack([state, game.encode(build(scalar_dag(1, 2, 10)), bucket=16)])
    logits_b, value_b = apply_fn(params, batch)
    assert logits_b.shape == (2, 16) and value_b.shape == (2,)
    np.testing.assert_allclose(logits_b[0], logits, rtol=1e-5)


def test_terminal_state_has_zero_value_and_finite_uniform_logits(network):
    params, apply_fn = network
    g = build(scalar_dag(2, 2, 5))
    state, _ = game.replay(game.encode(g, bucket=16), jnp.array(g.intermediates))
    assert bool(game.is_terminal(state))
    logits, value = apply_fn(params, state)
    assert float(value) == 0.0
    assert np.all(np.asarray(logits) == 0.0)


def test_padding_does_not_change_the_outputs(network):
    params, apply_fn = network
    g = build(scalar_dag(3, 3, 9))
    small, large = game.encode(g, bucket=16), game.encode(g, bucket=64)
    logits_s, value_s = apply_fn(params, small)
    logits_l, value_l = apply_fn(params, large)
    n = len(g.ids)
    np.testing.assert_allclose(logits_l[:n], logits_s[:n], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(value_l, value_s, rtol=1e-4, atol=1e-5)


def test_messages_flow_from_predecessors_and_successors_the_right_way():
    # Edge x -> v -> y is adjacency[v, x] = adjacency[y, v] = 1 ([dst, src]).
    adjacency = jnp.zeros((3, 3)).at[1, 0].set(1.0).at[2, 1].set(1.0)
    h = jnp.array([[1.0, 0.0], [0.0, 10.0], [100.0, 0.0]])  # x, v, y
    from_preds, from_succs = net._aggregate(h, adjacency)
    np.testing.assert_array_equal(from_preds, [[0, 0], [1, 0], [0, 10]])
    np.testing.assert_array_equal(from_succs, [[0, 10], [100, 0], [0, 0]])


def test_features_see_degrees_markowitz_and_shapes():
    x = Vertex("x", "input", shape=(3,))
    v = Vertex("v", "node", shape=(3,))
    y1, y2 = Vertex("y1", "node", shape=(2,)), Vertex("y2", "node", shape=())
    edges = (Edge("x", "v"), Edge("v", "y1"), Edge("v", "y2"))
    g = build(Graph((x, v, y1, y2), ("x",), ("y1", "y2"), edges))
    features = np.asarray(jax.jit(net.vertex_features)(game.encode(g, bucket=8)))
    assert features.shape == (8, net.NUM_FEATURES)
    vi = g.ids.index("v")
    assert features[vi, 5] == 1.0  # legal
    assert features[vi, 6] == pytest.approx(np.log1p(1) / 4)  # one predecessor
    assert features[vi, 7] == pytest.approx(np.log1p(2) / 4)  # two successors
    # Markowitz: J[y1,x] = 2*3*3 = 18 plus J[y2,x] = 3*3 = 9 multiplications.
    assert features[vi, 12] == pytest.approx(np.log1p(27) / 4)
    assert features[vi, 14] == pytest.approx(np.log(3) / 8)  # a 3-vector
    assert np.all(features[len(g.ids) :] == 0.0)  # padding rows are empty


def test_tensor_graphs_run_and_mask_too(network):
    params, _ = network
    _, apply_fn = net.make_network(CONFIG)
    g = build(tensor_dag(7, 10))
    state = game.encode(g, bucket=16)
    logits, value = jax.jit(apply_fn)(params, state)
    legal = np.asarray(game.legal_mask(state))
    assert np.all(np.isfinite(np.asarray(logits)[legal]))
    assert np.isfinite(float(value))


def test_params_round_trip_and_reject_another_config(tmp_path, network):
    params, apply_fn = network
    path = net.save_params(tmp_path / "m.msgpack", params, CONFIG, metadata={"step": 3})
    loaded = net.load_params(path)
    assert loaded.config == CONFIG and loaded.metadata == {"step": 3}
    state = game.encode(build(scalar_dag(0, 3, 9)), bucket=16)
    np.testing.assert_array_equal(
        apply_fn(loaded.params, state)[0], apply_fn(params, state)[0]
    )
    assert net.load_params(path, config=CONFIG).config == CONFIG
    with pytest.raises(ValueError, match="different config.*hidden_size"):
        net.load_params(path, config=net.NetConfig(hidden_size=32))
    with pytest.raises(FileNotFoundError):
        net.load_params(tmp_path / "missing.msgpack")
    (tmp_path / "other.msgpack").write_bytes(msgpack.packb({"format": "x"}))
    with pytest.raises(ValueError, match="not a ccelim network file"):
        net.load_params(tmp_path / "other.msgpack")


def test_arrays_that_do_not_fit_the_stored_config_are_rejected(tmp_path, network):
    params, _ = network
    wrong = net.NetConfig(hidden_size=16, num_layers=3, head_size=16)
    path = net.save_params(tmp_path / "m.msgpack", params, wrong)
    with pytest.raises(ValueError, match="do not fit config"):
        net.load_params(path)


def test_missing_default_model_gives_none(tmp_path, monkeypatch):
    monkeypatch.setattr(net, "DEFAULT_MODEL_PATH", tmp_path / "default.msgpack")
    assert net.load_params() is None
    assert net.DEFAULT_MODEL_PATH.name == "default.msgpack"


@pytest.mark.slow
def test_runs_on_a_2000_vertex_graph_in_the_2048_bucket():
    g = build(scalar_dag(11, 20, 1980))
    assert 2000 <= len(g.ids) <= 2048
    state = game.encode(g, scale=1.0)
    assert state.present.shape == (2048, 2048)
    init_fn, apply_fn = net.make_network(net.NetConfig(hidden_size=32, num_layers=2))
    params = jax.jit(init_fn)(jax.random.key(0), state)
    logits, value = jax.jit(apply_fn)(params, state)
    legal = np.asarray(game.legal_mask(state))
    assert np.all(np.isfinite(np.asarray(logits)[legal])) and np.isfinite(float(value))
