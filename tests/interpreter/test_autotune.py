"""interpreter.fastest: timed candidates, an exact winner, and what was measured."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
import interpreter
from graphs import tasks

from .helpers import ATOL, RTOL


def _f(x, y):
    a = jnp.sin(x) * y[0]
    return a * jnp.exp(y[1]), jnp.sum(a * x) + y[2] * y[0]


X = np.array([0.3, -0.7, 1.1])
Y = np.array([0.5, 0.2, -0.4])


def _close(got, want):
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL), got, want
    )


def test_fastest_times_every_candidate_and_returns_an_exact_kernel():
    graph = graphs.trace(_f, X, Y)
    tuned = interpreter.fastest(
        graph, {"markowitz": "markowitz"}, batch_sizes=(1, 16), min_time=0.002
    )
    # y is read only as y[0], y[1], y[2]: split, so markowitz is also timed with
    # grouped stacking.
    assert set(tuned.times) == {
        "markowitz",
        "markowitz/stack8",
        "forward",
        "reverse",
        "jacfwd",
        "jacrev",
    }
    assert all(set(t) == {1, 16} for t in tuned.times.values())
    assert all(s > 0 for t in tuned.times.values() for s in t.values())
    assert tuned.winner in tuned.times
    assert tuned.fallback == (tuned.winner in ("jacfwd", "jacrev"))
    assert (tuned.order is None) == tuned.fallback
    assert tuned.batch_sizes == (1, 16) and tuned.dtype == "float64"
    assert tuned.device.startswith("cpu") and tuned.jax_version == jax.__version__
    want = jax.jacfwd(_f, argnums=(0, 1))(X, Y)
    _close(tuned.kernel(X, Y), want)
    batched = jax.vmap(tuned.kernel)(np.stack([X, 2 * X]), np.stack([Y, Y]))
    _close(
        jax.tree_util.tree_map(lambda a: a[1], batched),
        jax.jacfwd(_f, (0, 1))(2 * X, Y),
    )
    for name in ("markowitz", "forward", "reverse"):
        assert tuned.multiplications[name] == graphs.cost(graph, name).multiplications
    assert set(tuned.speedup()) == {1, 16}


def test_without_fallbacks_the_winner_is_an_order_with_its_ids():
    task = tasks.get("HumanHeartDipole/vec")
    graph = task.graph()
    _, best = graphs.best_baseline(graph)
    tuned = interpreter.fastest(
        graph,
        {"best": list(best.order)},
        batch_sizes=(4,),
        args=task.args,
        fallbacks=(),
        min_time=0.002,
    )
    # The vector form's input and output are split into elements, so the given
    # order is also timed with grouped stacking.
    assert set(tuned.times) == {"best", "best/stack8", "forward", "reverse"}
    assert not tuned.fallback
    assert set(tuned.order) == set(graph.vertex(v).id for v in best.order)
    assert (
        graphs.cost(graph, list(tuned.order)).multiplications
        == (tuned.multiplications[tuned.winner])
    )
    _close(tuned.kernel(*task.args), jax.jacfwd(task.fn)(*task.args))


@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
def test_jax_fallback_has_ccelims_layout_and_values(mode):
    graph = graphs.trace(_f, X, Y)
    got = interpreter.jax_jacobian(graph, mode)(X, Y)
    want = interpreter.jacobian(graph, "reverse")(X, Y)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    _close(got, want)


def test_fastest_refuses_another_dtype_and_unknown_fallbacks():
    graph = graphs.trace(_f, X, Y)
    with pytest.raises(ValueError, match="traced with float64.*dtype='float32'"):
        interpreter.fastest(graph, batch_sizes=(2,), dtype="float32")
    with pytest.raises(ValueError, match="unknown fallbacks"):
        interpreter.fastest(graph, batch_sizes=(2,), fallbacks=("hessian",))


def test_measure_gives_every_candidate_the_same_calls_per_sample():
    # Slow first calls (compilation, a cold cache) must not give one candidate
    # fewer calls per sample: each sample ends with one block_until_ready, whose
    # latency then weighs more per call on that candidate.
    import time

    from interpreter.autotune import _measure

    calls = {"cold": 0, "warm": 0}

    def counted(name, delay_first):
        def fn(x):
            calls[name] += 1
            if delay_first and calls[name] <= 2:
                time.sleep(0.01)
            return x + 1.0

        return fn

    x = jnp.ones(3)
    times = _measure(
        {"cold": counted("cold", True), "warm": counted("warm", False)},
        (x,),
        min_time=0.0,
    )
    assert set(times) == {"cold", "warm"}
    assert calls["cold"] == calls["warm"]
