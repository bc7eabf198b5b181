"""The learned constructive policy: orders from per-vertex scores, rescored locally.

A vertex's feature row (:data:`NUM_FEATURES` columns) has two parts:

* dynamic (:data:`NUM_DYNAMIC`), from the vertex's current adjacency only:
  ``log1p`` of |preds|, |succs|, Markowitz cost |preds|·|succs|, |preds|+|succs|
  (the edges its elimination removes), preds that are graph inputs, succs that
  are not intermediates;
* static, fixed for the graph: ``log1p`` of its original in/out degree, its
  depth and height (longest paths from the inputs / to the outputs, divided by
  the longest path), its program rank among the intermediates (0..1), whether it
  feeds a non-intermediate; and one message-passing pass: the means of the
  degree/depth/height columns over its original predecessors and successors.

Eliminating ``v`` changes only the adjacency of ``v``'s neighbours, so only
their rows are recomputed and rescored (:meth:`PolicyState.eliminate` returns
them); :func:`policy_order` keeps the scores in a lazy heap. An order of 5,000
intermediates takes a fraction of a second (``benchmarks/policy.py``).

The adjacency ignores value-less edges (copies): features count edges; every
order is priced exactly by the graph's cost core.
"""

from __future__ import annotations

import functools
import heapq
import json
import re
import time
from pathlib import Path

import msgpack
import numpy as np

from graphs.elimination import ElimGraph
from search.codec import decode_array
from search.net_policy import (
    DEFAULT_POLICY_PATH,
    FORMAT,
    PolicyWeights,
    load_policy,
    params_to_weights,
)

NUM_DYNAMIC = 6
NUM_STATIC = 14
NUM_FEATURES = NUM_DYNAMIC + NUM_STATIC


class PolicyState:
    """The elimination state the policy walks, with every vertex's feature row.

    Attributes:
      remaining: ``[N]`` bool, intermediates not yet eliminated.
      static: ``[N, NUM_STATIC]`` float64, fixed for the graph.
      dynamic: ``[N, NUM_DYNAMIC]`` float64, kept current for the remaining
        intermediates.
    """

    def __init__(self, g: ElimGraph):
        n = len(g.ids)
        self.pred: list[set[int]] = [set() for _ in range(n)]
        self.succ: list[set[int]] = [set() for _ in range(n)]
        for s, p in g.edges:
            self.pred[s].add(p)
            self.succ[p].add(s)
        self.intermediates = tuple(g.intermediates)
        self.is_inter = np.zeros(n, bool)
        self.is_inter[list(self.intermediates)] = True
        self.is_input = np.zeros(n, bool)
        self.is_input[list(g.inputs)] = True
        self.remaining = self.is_inter.copy()
        self.static = static_features(self.pred, self.succ, self.intermediates)
        self._inputs = frozenset(g.inputs)
        self._others = frozenset(np.flatnonzero(~self.is_inter).tolist())
        self.dynamic = np.zeros((n, NUM_DYNAMIC))
        if self.intermediates:
            self.dynamic[list(self.intermediates)] = self.counts(self.intermediates)

    def counts(self, vertices) -> np.ndarray:
        """``[len(vertices), NUM_DYNAMIC]`` dynamic features now (``log1p`` of
        the counts in the module docstring)."""
        pred, succ, inputs, others = self.pred, self.succ, self._inputs, self._others
        rows = []
        for v in vertices:
            p, s = len(pred[v]), len(succ[v])
            rows.append(
                (p, s, p * s, p + s, len(pred[v] & inputs), len(succ[v] & others))
            )
        return np.log1p(np.array(rows, dtype=np.float64).reshape(-1, NUM_DYNAMIC))

    def eliminate(self, v: int) -> list[int]:
        """Eliminates ``v``; returns the remaining intermediates it touched
        (their dynamic rows are updated)."""
        preds, succs = self.pred[v], self.succ[v]
        for s in succs:
            ps = self.pred[s]
            ps.discard(v)
            ps |= preds
        for p in preds:
            ss = self.succ[p]
            ss.discard(v)
            ss |= succs
        touched = sorted(u for u in preds | succs if self.remaining[u])
        self.pred[v], self.succ[v] = set(), set()
        self.remaining[v] = False
        if touched:
            self.dynamic[touched] = self.counts(touched)
        return touched

    def rows(self, vertices) -> np.ndarray:
        """``[len(vertices), NUM_FEATURES]`` float32 feature rows."""
        idx = np.asarray(vertices, dtype=np.int64)
        return np.concatenate([self.dynamic[idx], self.static[idx]], 1).astype(
            np.float32
        )


def static_features(pred, succ, intermediates) -> np.ndarray:
    """``[N, NUM_STATIC]`` static features (see the module docstring)."""
    n = len(pred)
    indeg = np.array([len(p) for p in pred], float)
    outdeg = np.array([len(s) for s in succ], float)
    topo = _topological(pred, succ)
    depth = np.zeros(n)
    for v in topo:
        if pred[v]:
            depth[v] = 1 + max(depth[u] for u in pred[v])
    height = np.zeros(n)
    for v in reversed(topo):
        if succ[v]:
            height[v] = 1 + max(height[u] for u in succ[v])
    longest = max(float(depth.max(initial=0)), 1.0)
    rank = np.zeros(n)
    if intermediates:
        rank[list(intermediates)] = np.arange(len(intermediates)) / max(
            len(intermediates) - 1, 1
        )
    is_inter = np.zeros(n, bool)
    is_inter[list(intermediates)] = True
    feeds_out = np.array([any(not is_inter[u] for u in s) for s in succ], float)
    base = np.stack(
        [np.log1p(indeg), np.log1p(outdeg), depth / longest, height / longest], 1
    )
    agg_p = _neighbour_mean(base, pred)
    agg_s = _neighbour_mean(base, succ)
    return np.concatenate(
        [base, rank[:, None], feeds_out[:, None], agg_p, agg_s], 1
    ).reshape(n, NUM_STATIC)


def _neighbour_mean(base: np.ndarray, adjacency) -> np.ndarray:
    """``[N, C]`` mean of ``base``'s rows over each vertex's ``adjacency`` (or 0)."""
    counts = np.array([len(a) for a in adjacency])
    dst = np.repeat(np.arange(len(adjacency)), counts)
    src = np.fromiter((u for a in adjacency for u in a), np.int64, int(counts.sum()))
    total = np.zeros_like(base)
    np.add.at(total, dst, base[src])
    return total / np.maximum(counts, 1)[:, None]


def _topological(pred, succ) -> list[int]:
    waiting = [len(p) for p in pred]
    ready = [v for v, k in enumerate(waiting) if k == 0]
    out = []
    while ready:
        v = ready.pop()
        out.append(v)
        for s in succ[v]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    return out


def policy_order(
    g: ElimGraph,
    weights: PolicyWeights,
    *,
    sample: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
    deadline: float | None = None,
) -> list[int] | None:
    """An order of ``g``'s intermediates (positions) built by the policy.

    Greedy: eliminates the remaining intermediate of highest score (ties: lowest
    position). Sampled (a proposal for annealing restarts): each score, whenever
    it is (re)computed, is divided by ``temperature`` and gets fresh Gumbel noise,
    so the order is a perturbed greedy, not an exact per-step softmax draw.

    Args:
      g: the elimination graph.
      weights: the network (:func:`load_policy_weights`).
      sample: perturb the scores (see above).
      temperature: scale of the scores before the noise.
      seed: noise seed.
      deadline: ``time.perf_counter()`` seconds; past it the order is dropped.

    Returns:
      A permutation of ``g.intermediates`` (``None`` past ``deadline``).

    Example:
      >>> order = policy_order(g, load_policy_weights())
    """
    state = PolicyState(g)
    inter = list(state.intermediates)
    if not inter:
        return []
    split, first = weights.split_first(NUM_DYNAMIC, state.static)
    rng = np.random.default_rng(seed) if sample else None

    def score(vertices: list[int]) -> np.ndarray:
        s = split.scores(state.dynamic[vertices], first[vertices])
        if rng is not None:
            s = s / temperature + rng.gumbel(size=len(s))
        return s

    version = np.zeros(len(g.ids), np.int64)
    heap = [(-float(s), v, 0) for s, v in zip(score(inter), inter, strict=True)]
    heapq.heapify(heap)
    order = []
    remaining = state.remaining
    while heap:
        _, v, seen = heapq.heappop(heap)
        if not remaining[v] or seen != version[v]:
            continue
        order.append(v)
        if deadline is not None and not len(order) % 64:
            if time.perf_counter() > deadline:
                return None
        touched = state.eliminate(v)
        if touched:
            for u, s in zip(touched, score(touched), strict=True):
                version[u] += 1
                heapq.heappush(heap, (-float(s), u, int(version[u])))
    return order


def load_policy_weights(path: str | Path | None = None) -> PolicyWeights | None:
    """The policy in ``path`` (default: the shipped model), ``None`` if absent."""
    path = Path(path) if path is not None else DEFAULT_POLICY_PATH
    if not path.exists():
        return None
    return _load(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> PolicyWeights:
    """Reads the arrays straight from the records (``search.net_policy``'s
    ``load_policy`` checks them against the Haiku network, which means tracing
    it: 0.7 s on a loaded machine, too much for a 1 s search)."""
    document = msgpack.unpackb(Path(path).read_bytes(), raw=False)
    if document.get("format") != FORMAT:
        params, _, metadata = load_policy(path, NUM_FEATURES)  # its error message
        return params_to_weights(params, metadata)
    params: dict = {}
    for record in document["arrays"]:
        module, name = _PATH.fullmatch(record["path"]).groups()
        params.setdefault(module, {})[name] = decode_array(record)
    weights = params_to_weights(params, json.loads(document["metadata"]))
    width = weights.layers[0][0].shape[0]
    if width != NUM_FEATURES:
        raise ValueError(
            f"{path}: the policy reads {width} features, this code makes "
            f"{NUM_FEATURES}; retrain it with ccelim train-policy"
        )
    return weights


_PATH = re.compile(r"\['([^']+)'\]\['([^']+)'\]")
