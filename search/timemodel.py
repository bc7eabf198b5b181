"""A time model: predicted run time of an order's kernel, and a search that minimises it.

Multiplications are what an order costs on paper; what a caller pays is the run
time of ``jax.jit(jax.vmap(kernel))``. Orders with equal or fewer
multiplications can run slower: every product is one einsum in the kernel (XLA
fuses some, not all), a product added onto an existing edge is one more add,
every fill-in edge is one more buffer. :func:`time_features` counts these for a
(graph, order) by running the same symbolic elimination the kernel runs
(``graphs.elimination.eliminate`` and ``graphs.algebra.compose``, memoised), so
no second cost definition exists. A :class:`TimeModel` is linear in them::

    predicted_s(batch) = sum_i (fixed_s[i] + batch * per_example_s[i]) * feature[i]

Its coefficients are fitted (non-negative least squares on relative error) to
measured kernel times of many orders of the benchmark programs and checked on
held-out programs by ``benchmarks/timemodel.py``, which writes them to
``search/models/timemodel.json`` (shipped) and its report to
``benchmarks/results/timemodel.md``.

:func:`minimize_time` is what ``search.optimize(..., objective="time")`` runs
after the portfolio: it scores every order the portfolio produced and then
improves the best one by local moves on the predicted time. What the features
cannot see (XLA's fusion and dispatch decisions) is left to measurement:
``interpreter.fastest``.

Example:
  >>> g = graphs.trace(lambda x: jnp.sin(x) * jnp.cos(x), jnp.ones(3))
  >>> feats = time_features(g, "reverse")
  >>> feats.multiplications, load_time_model().predict(feats, 256) > 0
  (6, True)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from graphs import algebra
from graphs.baselines import order_positions
from graphs.elimination import ElimGraph, build, eliminate
from graphs.ir import Graph

__all__ = [
    "DEFAULT_BATCH",
    "affordable",
    "FEATURES",
    "MODEL_PATH",
    "TimeChoice",
    "TimeFeatures",
    "TimeModel",
    "load_time_model",
    "minimize_time",
    "predicted_time_s",
    "time_features",
    "time_order",
]

#: The batch size ``predicted_time_s`` and ``optimize(objective="time")`` assume.
DEFAULT_BATCH = 256
#: The shipped coefficients (written by ``python benchmarks/timemodel.py``).
MODEL_PATH = Path(__file__).resolve().parent / "models" / "timemodel.json"


class TimeFeatures(NamedTuple):
    """What a kernel's run time depends on, for one (graph, order).

    Order-dependent: ``multiplications``, ``additions``, ``products`` (compositions
    with values: one einsum each), ``accumulations`` (products added onto an
    existing edge with values: one add each), ``contractions`` (products that sum
    over an index of the eliminated vertex: more multiplications than result
    entries, a reduction or ``dot_general``), ``presums`` (products that first sum
    a factor over an axis only it has), ``fill`` (edges created),
    ``final_edges``/``final_core`` (input-output edges with values left after the
    elimination, and their core entries: what the kernel densifies into the
    output). Order-independent (they set the level across programs):
    ``const`` (1), ``vertices``, ``partial_core`` (entries of the local-partial
    cores evaluated), ``output_blocks`` (output x input pieces assembled, element
    pieces of split vertices counted one each) and ``output_elements`` (dense
    entries of the result).
    """

    const: int
    multiplications: int
    additions: int
    products: int
    accumulations: int
    contractions: int
    presums: int
    fill: int
    final_edges: int
    final_core: int
    vertices: int
    partial_core: int
    output_blocks: int
    output_elements: int


FEATURES: tuple[str, ...] = TimeFeatures._fields
NUM_STEP_FEATURES = 7  # multiplications .. fill: summed over the elimination steps


def _core_size(partial) -> int:
    if not getattr(partial, "has_values", False):
        return 0
    return math.prod(partial.core_shape or ())


def _step(g: ElimGraph, v: int) -> tuple[ElimGraph, tuple[int, ...]]:
    """Eliminates ``v``; its (multiplications, additions, products, accumulations,
    contractions, presums, fill)."""
    products = accumulations = contractions = presums = fill = 0
    preds = g.preds(v)
    for s in g.succs(v):
        a = g.edges[(s, v)]
        for p in preds:
            product = algebra.compose(a, g.edges[(v, p)])  # memoised: eliminate's own
            valued = product.partial.has_values
            products += valued
            contractions += product.multiplications > _core_size(product.partial)
            presums += product.additions > 0
            old = g.edges.get((s, p))
            if old is None:
                fill += 1
            elif valued and old.has_values:
                accumulations += 1
    g, mults, adds, _ = eliminate(g, v)
    return g, (mults, adds, products, accumulations, contractions, presums, fill)


def _static(g: ElimGraph) -> tuple[int, int, int, int]:
    """(vertices, partial_core, output_blocks, output_elements) of ``g``."""
    sizes = [math.prod(s) for s in g.shapes]
    outs = set(g.outputs.values())
    return (
        len(g.ids),
        sum(_core_size(p) for p in g.edges.values()),
        len(outs) * len(g.inputs),
        sum(sizes[o] for o in outs) * sum(sizes[i] for i in g.inputs),
    )


def _finish(g: ElimGraph, totals: Sequence[int], static) -> TimeFeatures:
    """The features of an eliminated ``g`` given the per-step ``totals``."""
    final = [p for p in g.edges.values() if getattr(p, "has_values", False)]
    vertices, partial_core, blocks, elements = static
    return TimeFeatures(
        1, *totals, len(final), sum(map(_core_size, final)),
        vertices, partial_core, blocks, elements,
    )  # fmt: skip


def _run(g: ElimGraph, positions: Sequence[int], totals, static) -> TimeFeatures:
    """Eliminates ``positions`` from ``g``, adding their counts onto ``totals``."""
    for v in positions:
        g, counts = _step(g, v)
        totals = [t + c for t, c in zip(totals, counts)]
    return _finish(g, totals, static)


def _features(g: ElimGraph, positions: Sequence[int]) -> TimeFeatures:
    return _run(g, positions, [0] * NUM_STEP_FEATURES, _static(g))


def time_features(graph: Graph | ElimGraph, order: str | Sequence[str]) -> TimeFeatures:
    """The :class:`TimeFeatures` of eliminating ``order`` from ``graph``.

    Args:
      graph: a program or structure-only graph, or its elimination graph.
      order: intermediate ids, ``"forward"``, ``"reverse"`` or a baseline name.

    Returns:
      The features; ``multiplications`` equals ``graphs.cost(graph, order)``'s.

    Example:
      >>> time_features(graphs.trace(jnp.sin, jnp.ones(3)), "forward").products
      0
    """
    g = graph if isinstance(graph, ElimGraph) else build(graph)
    return _features(g, order_positions(g, order))


@dataclasses.dataclass(frozen=True)
class TimeModel:
    """Linear run-time model: seconds = sum (fixed + batch * per_example) * feature.

    Attributes:
      fixed_s: seconds per unit of each feature per call, independent of batch.
      per_example_s: seconds per unit of each feature per batch element.
      source: how the coefficients were obtained (command, machine, load).
    """

    fixed_s: dict[str, float]
    per_example_s: dict[str, float]
    source: str = ""

    def predict(self, features: TimeFeatures, batch_size: int = DEFAULT_BATCH) -> float:
        """Predicted seconds per call of ``jax.jit(jax.vmap(kernel))`` at ``batch_size``."""
        values = features._asdict()
        return sum(
            (self.fixed_s.get(k, 0.0) + batch_size * self.per_example_s.get(k, 0.0))
            * values[k]
            for k in FEATURES
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True) + "\n"


#: Used when no fitted model is shipped: time proportional to multiplications.
MULTIPLICATIONS_ONLY = TimeModel({}, {"multiplications": 1e-9}, "fallback")


@functools.lru_cache(maxsize=4)
def load_time_model(path: str | None = None) -> TimeModel:
    """The shipped (or ``path``'s) model; without one, time ∝ multiplications."""
    file = Path(path) if path else MODEL_PATH
    if not file.exists():
        return MULTIPLICATIONS_ONLY
    data = json.loads(file.read_text())
    unknown = sorted(
        (set(data["fixed_s"]) | set(data["per_example_s"])) - set(FEATURES)
    )
    if unknown:
        raise ValueError(
            f"{file}: unknown time-model features {unknown}; expected some of "
            f"{list(FEATURES)}; refit with python benchmarks/timemodel.py"
        )
    return TimeModel(data["fixed_s"], data["per_example_s"], data.get("source", ""))


def predicted_time_s(
    graph: Graph | ElimGraph,
    order: str | Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    model: TimeModel | None = None,
) -> float:
    """Predicted seconds per call of the order's batched kernel (see :class:`TimeModel`)."""
    model = model or load_time_model()
    return model.predict(time_features(graph, order), batch_size)


#: Seconds of one pricing pass per multiplication of the order priced (about one
#: memoised ``compose`` per product; 23 µs measured on 1,000- and 100-intermediate
#: graphs of 2 shared cores). Tensor orders have fewer products than
#: multiplications, so this overestimates them.
PRICE_S_PER_MULT = 25e-6


def affordable(multiplications: int, deadline: float | None) -> bool:
    """Whether pricing an order of ``multiplications`` ends before ``deadline``."""
    if deadline is None:
        return True
    return time.perf_counter() + multiplications * PRICE_S_PER_MULT <= deadline


class TimeChoice(NamedTuple):
    """The order :func:`minimize_time` chose.

    Attributes:
      order: positions in the elimination graph.
      multiplications: its multiplications.
      predicted_s: its predicted seconds per call.
      source: the candidate's name, or ``"time:local"`` if local moves improved it.
      evaluations: orders priced.
    """

    order: tuple[int, ...]
    multiplications: int
    predicted_s: float
    source: str
    evaluations: int


#: Local moves (one vertex moved to another position) tried by default.
TIME_MOVES = 300
#: Bigger graphs get no local moves (each keeps a copy of the graph per prefix).
LOCAL_MAX = 600


def minimize_time(
    g: ElimGraph,
    candidates: Sequence[tuple[Sequence[int], str]],
    *,
    model: TimeModel | None = None,
    batch_size: int = DEFAULT_BATCH,
    seed: int = 0,
    deadline: float | None = None,
    max_moves: int = TIME_MOVES,
) -> TimeChoice:
    """The candidate with the lowest predicted time, then improved by local moves.

    The candidates are priced in turn (duplicates once; the first always, the
    others while time is left before ``deadline``); the best (ties: fewer
    multiplications, then the earlier candidate) is the start of a first-improvement
    local search: move one vertex to another position, keep the order if its
    predicted time is lower. The moves re-eliminate only the suffix that changed.

    Args:
      g: the elimination graph.
      candidates: ``(positions, name)`` pairs, e.g. the portfolio's orders.
      model: the time model (default: the shipped one).
      batch_size: the batch size to predict at.
      seed: seed of the moves.
      deadline: ``time.perf_counter()`` value: a candidate or move is priced only
        if a pass as long as the longest so far still ends before it (``None``:
        only ``max_moves`` bounds them; the result depends on the seed only).
      max_moves: most local moves tried (none on graphs of more than
        :data:`LOCAL_MAX` intermediates).

    Returns:
      A :class:`TimeChoice`.
    """
    model = model or load_time_model()
    static = _static(g)
    seen: dict[tuple[int, ...], TimeFeatures] = {}
    pass_s = 0.0  # the longest pricing pass so far: the next must fit too
    best: tuple | None = None
    for order, name in candidates:
        key = tuple(order)
        if key in seen:
            continue
        if best is not None and not _fits(pass_s, deadline):
            break
        began = time.perf_counter()
        seen[key] = feats = _features(g, key)
        pass_s = max(pass_s, time.perf_counter() - began)
        score = (model.predict(feats, batch_size), feats.multiplications)
        if best is None or score < best[0]:
            best = (score, key, name)
    if best is None:
        raise ValueError("minimize_time needs at least one candidate order")
    (pred, mults), order, name = best
    prefix = _Prefix(g, order, static)
    rng = random.Random(seed)
    n = len(order)
    moves = 0
    while 2 <= n <= LOCAL_MAX and moves < max_moves:
        if not _fits(pass_s, deadline):
            break
        moves += 1
        i, j = rng.randrange(n), rng.randrange(n)
        if i == j:
            continue
        new = list(order)
        new.insert(j, new.pop(i))
        feats = prefix.features(new, min(i, j))
        p = model.predict(feats, batch_size)
        if p < pred:
            order, pred, name = tuple(new), p, "time:local"
            mults = feats.multiplications
            prefix = _Prefix(g, order, static)
    return TimeChoice(order, int(mults), float(pred), name, len(seen) + moves)


def _fits(seconds: float, deadline: float | None) -> bool:
    return deadline is None or time.perf_counter() + seconds <= deadline


class _Prefix:
    """The graph and feature totals after each prefix of an order (for suffix re-pricing)."""

    def __init__(self, g: ElimGraph, order: Sequence[int], static):
        self.static = static
        self.graphs = [g]
        self.totals = [(0,) * NUM_STEP_FEATURES]
        for v in order:
            g, counts = _step(g, v)
            self.graphs.append(g)
            self.totals.append(tuple(t + c for t, c in zip(self.totals[-1], counts)))

    def features(self, order: Sequence[int], k: int) -> TimeFeatures:
        """Features of ``order``, which agrees with the stored order before ``k``."""
        return _run(self.graphs[k], order[k:], self.totals[k], self.static)


def time_order(
    graph: Graph | ElimGraph,
    order: str | Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    model: TimeModel | None = None,
    seed: int = 0,
    max_moves: int = TIME_MOVES,
) -> list[str]:
    """The order the time model predicts fastest, starting from ``order``.

    :func:`minimize_time` over ``order``, the forward and the reverse order, with
    ``max_moves`` local moves (no clock: the result depends on the seed only).
    For a kernel maker that already has a searched order (the service's tuning).

    Args:
      graph: a program or structure-only graph, or its elimination graph.
      order: intermediate ids, ``"forward"``, ``"reverse"`` or a baseline name.
      batch_size: the batch size to predict at.
      model: the time model (default: the shipped one).
      seed: seed of the moves.
      max_moves: local moves tried.

    Returns:
      The chosen order as intermediate ids.
    """
    g = graph if isinstance(graph, ElimGraph) else build(graph)
    named = (("given", order), ("forward", "forward"), ("reverse", "reverse"))
    candidates = [(order_positions(g, o), name) for name, o in named]
    kw = dict(model=model, batch_size=batch_size, seed=seed, max_moves=max_moves)
    return [g.ids[v] for v in minimize_time(g, candidates, **kw).order]
