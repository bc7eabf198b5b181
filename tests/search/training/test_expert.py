"""search.training.expert: expert examples, packing, the loss and the learner.

The examples must line up with the expert's moves (a target taken from the
wrong step or row is the classic bug); the loss is checked against a numpy
cross-entropy; a few learner steps must lower it; the end-to-end run writes a
model file that the policy loads.
"""

import jax
import numpy as np

from graphs.elimination import build
from graphs.random_programs import random_dag
from search.policy import PolicyState, load_policy_weights, policy_order
from search.training.corpus import VALIDATION_SEED_BASE
from search.training.expert import (
    Example,
    ExpertConfig,
    examples_of,
    make_learner,
    make_loss,
    pack,
    train_policy,
    training_specs,
)


def _dag(seed: int, n: int):
    return build(random_dag(seed, num_intermediates=n, num_inputs=3, num_outputs=2))


def _check_examples(g, order, examples):
    """Each example's target row is the row of the vertex the order eliminates at
    the step its row count names, in the state before that step."""
    n = len(order)
    by_step = {n - len(ex.rows): ex for ex in examples}
    assert len(by_step) == len(examples)
    state = PolicyState(g)
    for t, v in enumerate(order):
        if t in by_step:
            ex = by_step[t]
            legal = np.flatnonzero(state.remaining)
            np.testing.assert_array_equal(ex.rows, state.rows(legal))
            np.testing.assert_array_equal(ex.rows[ex.target], state.rows([v])[0])
            assert legal[ex.target] == v
        state.eliminate(v)


def test_every_step_target_is_the_expert_move():
    g = _dag(0, 40)
    order = list(np.random.default_rng(1).permutation(g.intermediates))
    examples = examples_of(g, order, max_steps=100, rng=np.random.default_rng(0))
    assert len(examples) == len(order)
    assert [len(ex.rows) for ex in examples] == list(range(len(order), 0, -1))
    _check_examples(g, order, examples)


def test_sampled_steps_targets_line_up():
    g = _dag(2, 80)
    order = list(g.intermediates)[::-1]
    examples = examples_of(g, order, max_steps=9, rng=np.random.default_rng(3))
    assert len(examples) == 9
    _check_examples(g, order, examples)


def test_pack_puts_each_target_in_its_own_segment():
    rng = np.random.default_rng(0)
    examples = [
        Example(rng.normal(size=(m, 20)).astype(np.float32), t)
        for m, t in ((3, 2), (5, 0), (1, 0))
    ]
    batch = pack(examples, num_rows=16, num_steps=4)
    assert batch.target.tolist() == [2, 3, 8, 0]
    assert batch.weight.tolist() == [1, 1, 1, 0]
    for b, ex in enumerate(examples):
        assert batch.segment[batch.target[b]] == b
        np.testing.assert_array_equal(batch.rows[batch.target[b]], ex.rows[ex.target])
    assert (batch.segment[9:] == 4).all()  # padding rows: the dropped segment


def test_loss_is_the_mean_cross_entropy_over_legal_rows():
    config = ExpertConfig(hidden=(8,))
    init_fn, _, loss_fn = make_learner(config)
    state = init_fn(jax.random.key(0))
    rng = np.random.default_rng(1)
    examples = [
        Example(rng.normal(size=(m, 20)).astype(np.float32), t)
        for m, t in ((4, 1), (6, 5), (2, 0))
    ]
    batch = pack(examples, num_rows=32, num_steps=5)
    from search.net_policy import params_to_weights

    weights = params_to_weights(state.params)
    want = []
    for ex in examples:
        s = weights.scores(ex.rows.astype(np.float64))
        want.append(np.log(np.exp(s - s.max()).sum()) + s.max() - s[ex.target])
    got = float(make_loss(config.hidden)(state.params, batch))
    np.testing.assert_allclose(got, np.mean(want), rtol=1e-5)
    assert got == float(loss_fn(state.params, batch))


def test_a_few_learner_steps_lower_the_loss():
    g = _dag(4, 60)
    order = list(g.intermediates)[::-1]  # reverse mode: a learnable rule
    examples = examples_of(g, order, max_steps=60, rng=np.random.default_rng(0))
    config = ExpertConfig(learning_rate=3e-3, batch_steps=64)
    init_fn, train_step, loss_fn = make_learner(config)
    state = init_fn(jax.random.key(0))
    batch = pack(examples, num_rows=2048, num_steps=64)
    before = float(loss_fn(state.params, batch))
    step = jax.jit(train_step)
    for _ in range(60):
        state, metrics = step(state, batch)
    after = float(loss_fn(state.params, batch))
    assert after < 0.7 * before, (before, after)


def test_training_graphs_never_use_held_out_seeds():
    specs = training_specs(ExpertConfig(num_graphs=200))
    assert all(s.seed < VALIDATION_SEED_BASE for s in specs)
    assert {s.source for s in specs} == {"dag", "program"}


def test_train_policy_writes_a_model_the_policy_loads(tmp_path):
    config = ExpertConfig(
        num_graphs=3,
        max_size=40,
        program_fraction=0.0,
        expert_min_s=0.1,
        expert_s_per_1000=0.0,
        steps_per_graph=8,
        num_updates=5,
        batch_steps=4,
        rounds=2,
    )
    path = tmp_path / "p.msgpack"
    meta = train_policy(config, path, command="test", log_fn=lambda _: None)
    weights = load_policy_weights(path)
    assert weights.metadata["command"] == "test"
    assert meta["versions"]["jax"] == jax.__version__
    assert meta["num_examples"] > 0
    assert [r["round"] for r in meta["rounds"]] == [0, 1]
    assert {c["round"] for c in meta["corpus"]} == {0, 1}
    g = _dag(5, 30)
    assert sorted(policy_order(g, weights)) == sorted(g.intermediates)
