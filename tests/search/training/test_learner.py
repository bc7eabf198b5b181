"""The learner's losses, train_step and checkpoints (resume is exact)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from graphs.ir import Edge, Graph, Vertex
from search import game
from search.net import NetConfig, network_fns
from search.training import checkpoint
from search.training.learner import (
    Batch,
    LearnerConfig,
    init_state,
    losses,
    make_optimizer,
    make_train_step,
)

SMALL = NetConfig(hidden_size=8, num_layers=1, head_size=8)


def diamond() -> Graph:
    """x -> a, x -> b, a -> c, b -> c, c -> y: intermediates a, b, c (scalar)."""
    ids = ["x", "a", "b", "c", "y"]
    vertices = [Vertex("x", "input")] + [Vertex(v, "node") for v in ids[1:]]
    pairs = [("x", "a"), ("x", "b"), ("a", "c"), ("b", "c"), ("c", "y")]
    return Graph(
        vertices=tuple(vertices),
        inputs=("x",),
        outputs=("y",),
        edges=tuple(Edge(s, d) for s, d in pairs),
        name="diamond",
    )


def chain(n: int) -> Graph:
    """x -> v0 -> ... -> v{n-1} -> y (scalar)."""
    ids = ["x"] + [f"v{i}" for i in range(n)] + ["y"]
    vertices = [Vertex("x", "input")] + [Vertex(v, "node") for v in ids[1:]]
    edges = tuple(Edge(a, b) for a, b in zip(ids, ids[1:], strict=False))
    return Graph(tuple(vertices), ("x",), ("y",), edges=edges, name=f"chain{n}")


@pytest.fixture(scope="module")
def trainer():
    """One compiled train_step shared by the tests (compiling is the slow part)."""
    init_params, apply_fn = network_fns(SMALL)
    optimizer = make_optimizer(LearnerConfig(learning_rate=3e-2))
    return (
        init_params,
        jax.jit(apply_fn),
        optimizer,
        make_train_step(apply_fn, optimizer),
    )


def legal_batch(bucket: int = 8) -> Batch:
    """The diamond before any move (target a) and after eliminating b (target c)."""
    state = game.encode(diamond(), bucket=bucket)
    after_b, _ = game.step(state, jnp.int32(2))
    obs = game.stack([state, after_b])
    target = np.zeros((2, bucket), np.float32)
    target[0, 1] = 1.0
    target[1, 3] = 1.0
    return Batch(obs, jnp.asarray(target), jnp.asarray([-1.0, -0.5], jnp.float32))


def test_policy_loss_is_cross_entropy_over_legal_actions_only():
    batch = legal_batch()
    legal = np.asarray(jax.vmap(game.legal_mask)(batch.observation))
    assert legal[0].nonzero()[0].tolist() == [1, 2, 3]  # a, b, c
    first = jax.tree.map(lambda x: jnp.concatenate([x[:1], x[:1]]), batch.observation)
    batch = batch._replace(observation=first)
    # Legal logits (0, 0, log 2) -> p = (1/4, 1/4, 1/2); a huge logit on the
    # input x (position 0, illegal) and on padding must not matter.
    logits = np.full((2, 8), 50.0, np.float32)
    logits[:, 1:4] = [0.0, 0.0, math.log(2.0)]
    target = np.zeros((2, 8), np.float32)
    target[:, 1] = 0.5  # half on a (p = 1/4), half on c (p = 1/2)
    target[:, 3] = 0.5
    target[:, 0] = 7.0  # on an illegal action: ignored
    batch = batch._replace(policy_target=jnp.asarray(target))
    out = losses(jnp.asarray(logits), jnp.asarray([-1.0, -0.5]), batch)
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.5))  # 1.0397...
    assert float(out["policy_loss"]) == pytest.approx(expected, rel=1e-6)
    entropy = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))  # 1.0397 too
    assert float(out["entropy"]) == pytest.approx(entropy, rel=1e-6)
    # KL(target || p) = CE - H(target) = 1.0397 - ln 2.
    assert float(out["kl"]) == pytest.approx(expected - math.log(2.0), rel=1e-6)
    assert float(out["value_loss"]) == pytest.approx(0.0)


def test_value_loss_is_mean_squared_error():
    batch = legal_batch()
    logits = jnp.zeros((2, 8))
    out = losses(logits, jnp.asarray([-0.5, 0.0]), batch)
    # targets (-1, -0.5): errors 0.5 and 0.5 -> MSE 0.25.
    assert float(out["value_loss"]) == pytest.approx(0.25)


def test_train_step_fits_a_fixed_batch(trainer):
    init_params, apply_fn, optimizer, train_step = trainer
    state = init_state(init_params(0), optimizer)
    batch = legal_batch()
    first = None
    for _ in range(60):
        state, metrics = train_step(state, batch)
        first = first or {k: float(v) for k, v in metrics.items()}
    assert int(state.step) == 60
    assert float(metrics["policy_loss"]) < 0.4 * first["policy_loss"]
    assert float(metrics["value_loss"]) < 0.1 * first["value_loss"]
    # the fitted policy puts its mass where the targets are
    logits, value = apply_fn(state.params, batch.observation)
    assert np.asarray(jnp.argmax(logits, -1)).tolist() == [1, 3]
    np.testing.assert_allclose(np.asarray(value), [-1.0, -0.5], atol=0.1)


def test_train_step_compiles_once_per_bucket(trainer):
    init_params, _, optimizer, train_step = trainer
    state = init_state(init_params(0), optimizer)
    for _ in range(3):
        state, _ = train_step(state, legal_batch())
    assert train_step._cache_size() == 1


def test_padding_to_a_larger_bucket_leaves_logits_and_value_unchanged():
    # An inverted or missing padding mask would let padding vertices change the
    # real vertices' messages and the pooled value.
    init_params, apply_fn = network_fns(NetConfig(hidden_size=8, num_layers=2))
    params, apply_fn = init_params(1), jax.jit(apply_fn)
    small = apply_fn(params, game.encode(chain(4), bucket=8))
    large = apply_fn(params, game.encode(chain(4), bucket=32))
    np.testing.assert_allclose(large[0][:6], small[0][:6], rtol=1e-5, atol=1e-5)
    assert float(large[1]) == pytest.approx(float(small[1]), rel=1e-5, abs=1e-6)
    legal = np.asarray(game.legal_mask(game.encode(chain(4), bucket=32)))
    probs = np.asarray(jax.nn.softmax(large[0]))
    assert probs[~legal].sum() == pytest.approx(0.0, abs=1e-12)


def test_resume_from_checkpoint_continues_exactly(tmp_path, trainer):
    init_params, _, optimizer, train_step = trainer
    batch = legal_batch()
    state = init_state(init_params(0), optimizer)
    for _ in range(3):
        state, _ = train_step(state, batch)
    path = checkpoint.save(tmp_path, state, net_config=SMALL, metadata={"x": 1})
    assert path.name == "ckpt_00000003.msgpack"
    for _ in range(2):
        state, _ = train_step(state, batch)

    template = init_state(init_params(99), optimizer)
    resumed, meta = checkpoint.load(path, template, net_config=SMALL)
    assert int(resumed.step) == 3 and meta["step"] == 3 and meta["x"] == 1
    assert meta["versions"]["jax"] == jax.__version__
    for _ in range(2):
        resumed, _ = train_step(resumed, batch)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, state.params)
    assert int(resumed.step) == 5


def test_checkpoint_with_another_network_config_is_rejected(tmp_path):
    init_params, _ = network_fns(SMALL)
    optimizer = make_optimizer(LearnerConfig())
    path = checkpoint.save(
        tmp_path, init_state(init_params(0), optimizer), net_config=SMALL
    )
    other = NetConfig(hidden_size=16, num_layers=1, head_size=8)
    init_other, _ = network_fns(other)
    template = init_state(init_other(0), optimizer)
    with pytest.raises(checkpoint.CheckpointError, match="hidden_size: checkpoint 8"):
        checkpoint.load(path, template, net_config=other)
    bogus = tmp_path / "ckpt_00000009.msgpack"
    bogus.write_bytes(b"\x93\x01\x02\x03")
    with pytest.raises(checkpoint.CheckpointError, match="expected a"):
        checkpoint.read(bogus)


def test_checkpoints_keep_only_the_newest(tmp_path):
    init_params, _ = network_fns(SMALL)
    state = init_state(init_params(0), make_optimizer(LearnerConfig()))
    for step in (5, 10, 15, 20):
        checkpoint.save(tmp_path, state._replace(step=step), net_config=SMALL, keep=2)
    names = [p.name for p in checkpoint.list_checkpoints(tmp_path)]
    assert names == ["ckpt_00000015.msgpack", "ckpt_00000020.msgpack"]
    assert checkpoint.latest(tmp_path).name == "ckpt_00000020.msgpack"
