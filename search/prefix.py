"""Reverse (or forward) mode after a greedy prefix: start orders for local search.

Eliminate a set ``A`` of intermediates first, in some order, and then all the
others, ``R``, in reverse program order. Each ``u`` in ``R`` is then eliminated
after all its intermediate descendants and before its intermediate ancestors,
so at that step its successors are exactly ``O(u)``, the non-intermediate
vertices (outputs) it reaches through intermediates, and its predecessors are
those it had after ``A`` (eliminating a descendant never gives ``u`` a
predecessor). The order therefore costs, on a scalar graph with a value on every
edge,

    cost(A) + Σ_{u ∈ R} |P_A(u)| · |O(u)|,

and moving one more vertex ``v`` from ``R`` to the end of ``A`` changes it by
exactly

    Δ(v) = |P(v)|·|S(v)| − |P(v)|·|O(v)|
           + Σ_{s ∈ S(v) ∩ R} (|P(v) \\ P(s)| − 1) · |O(s)|

(its own step now instead of in the reverse sweep, and the predecessors it
hands to each successor, which that successor's reverse step then pays for).
:func:`prefix_order` grows ``A`` greedily, always by the vertex of most negative
``Δ``, until none is negative: each step makes the order cheaper than the one
before, so the result never costs more than reverse mode (on graphs with
value-less edges, which this count treats as valued, it is only a heuristic).
Eliminating ``v`` changes ``Δ`` only for its neighbours and for the other
predecessors of its successors, which alone are re-scored (lazy heap).

Reverse mode is best when outputs are fewer than inputs, but on DAGs that are
not the project's own random DAGs it leaves much on the table, and
simulated annealing's short moves cannot move a vertex in front of its
consumers' whole sweep: on layered DAGs of 1,000 intermediates (benchmarks/
search_scale.py) reverse mode costs 19,390, Markowitz 36,507, annealing from
reverse reached 17,947 in 1 s; this order costs 16,668 before any annealing.
On the transposed graph the same rule improves forward mode.

**Hub.** Reverse mode pays, for each ``u``, once per output it reaches; when
fewer intermediates than outputs sit next to the outputs, those intermediates
``H`` (the *hub*, a vertex cut: every path to an output ends in one) can stand
in for the outputs: ``prefix_order(g, hub=True)`` keeps ``H`` out of the prefix
and the sweep (the count above, with ``H`` taken as outputs, is then exact for
them) and eliminates ``H`` last. Forward mode (``transpose``) has its hub next
to the inputs. On a net of width 11 with 19 inputs and 30 outputs
(``skip_net`` in benchmarks/search_unseen.py, 3,000 intermediates) forward
mode costs 134,355, the prefix order 117,144, and the prefix order before a hub
of the 11 vertices next to the inputs 69,588; annealing and insertions from the
plain prefix order reached 81,531 in 60 s.
"""

from __future__ import annotations

import heapq
import random
import time

from graphs.elimination import ElimGraph, gc_paused

#: Graphs whose intermediates times their non-intermediate vertices exceed this
#: get no prefix order: the reach bitsets ``O(u)`` could take that many bits.
MAX_REACH_BITS = 1 << 30


def _topological(nodes: set[int], pred: dict, succ: dict) -> list[int]:
    """``nodes`` in a topological order of the graph restricted to them."""
    indeg = {v: sum(1 for p in pred[v] if p in nodes) for v in nodes}
    ready = sorted(v for v, d in indeg.items() if d == 0)
    heapq.heapify(ready)
    out = []
    while ready:
        v = heapq.heappop(ready)
        out.append(v)
        for s in succ[v]:
            if s in nodes:
                indeg[s] -= 1
                if indeg[s] == 0:
                    heapq.heappush(ready, s)
    return out


def prefix_order(
    g: ElimGraph,
    *,
    transpose: bool = False,
    deadline: float | None = None,
    rng: random.Random | None = None,
    hub: bool = False,
) -> list[int] | None:
    """The greedy prefix followed by reverse mode (see the module docstring).

    Args:
      g: a scalar elimination graph.
      transpose: work on the transposed graph: the prefix is followed by
        forward mode instead.
      deadline: ``time.perf_counter()`` seconds; ``None`` is returned past it.
      rng: breaks ties of ``Δ`` at random (``None``: the earliest vertex).
      hub: sweep towards the hub (:func:`hub_vertices`) instead of the
        outputs (inputs with ``transpose``), and eliminate the hub last.

    Returns:
      An order (positions of ``g``), or ``None`` past ``deadline``, on a graph
      too big for the reach bitsets (:data:`MAX_REACH_BITS`), or with ``hub``
      where the hub is not smaller than the ends it would stand in for.

    Example:
      >>> order = prefix_order(graphs.build(graph))
      >>> graphs.cost(graph, [g.ids[v] for v in order]).multiplications
    """
    if deadline is not None and time.perf_counter() > deadline:
        return None
    last: list[int] = []
    if hub:
        found = hub_vertices(g, transpose=transpose)
        if found is None:
            return None
        last = found
    grown = _grow(g, transpose, deadline, rng, frozenset(last))
    return None if grown is None else grown[0] + last


def hub_vertices(g: ElimGraph, *, transpose: bool = False) -> list[int] | None:
    """The intermediates with an output among their successors (an input among
    their predecessors with ``transpose``), in reverse program order (program
    order with ``transpose``), or ``None`` if they are not fewer than those
    outputs (inputs): then reverse (forward) mode's own ends are the narrower
    cut."""
    inter = set(g.intermediates)
    side = g.pred if transpose else g.succ
    hub, ends = [], set()
    for v in g.intermediates:
        outside = [s for s in side.get(v, ()) if s not in inter]
        if outside:
            hub.append(v)
            ends.update(outside)
    if not hub or len(hub) >= len(ends):
        return None
    return hub if transpose else hub[::-1]


def grow_prefix(
    g: ElimGraph,
    *,
    transpose: bool = False,
    deadline: float | None = None,
    rng: random.Random | None = None,
) -> tuple[list[int], int] | None:
    """:func:`prefix_order` and ``-Σ Δ``, the multiplications it saves against
    reverse mode (forward with ``transpose``) by the count of the module
    docstring; exact when every edge has a value."""
    return _grow(g, transpose, deadline, rng, frozenset())


@gc_paused()  # per-vertex sets: 0.4 s of collections at 100,000 vertices
def _grow(
    g: ElimGraph,
    transpose: bool,
    deadline: float | None,
    rng: random.Random | None,
    frozen: frozenset[int],
) -> tuple[list[int], int] | None:
    """:func:`grow_prefix` with the intermediates ``frozen`` taken as outputs
    (inputs with ``transpose``): neither in the prefix nor in the sweep."""
    if deadline is not None and time.perf_counter() > deadline:
        return None
    inter = set(g.intermediates) - frozen
    if len(inter) * (len(g.ids) - len(inter)) > MAX_REACH_BITS:
        return None
    pred = {v: set(g.pred.get(v, ())) for v in range(len(g.ids))}
    succ = {v: set(g.succ.get(v, ())) for v in range(len(g.ids))}
    if transpose:
        pred, succ = succ, pred
    if deadline is not None and time.perf_counter() > deadline:
        return None
    topo = _topological(inter, pred, succ)
    if deadline is not None and time.perf_counter() > deadline:
        return None
    # O(u): bitsets of the non-intermediate vertices u reaches through intermediates.
    bit: dict[int, int] = {}
    reach: dict[int, int] = {}
    for k, u in enumerate(reversed(topo)):
        if k % 4096 == 0 and deadline is not None and time.perf_counter() > deadline:
            return None  # 100,000 vertices: this loop alone takes ~0.3 s
        b = 0
        for s in succ[u]:
            if s in inter:
                b |= reach[s]
            else:
                b |= bit.setdefault(s, 1 << len(bit))
        reach[u] = b
    outs = {u: b.bit_count() for u, b in reach.items()}
    rest = set(inter)
    if deadline is not None and time.perf_counter() > deadline:
        return None

    def delta(v: int) -> int:
        ps, ss = pred[v], succ[v]
        k = len(ps)
        d = k * (len(ss) - outs[v])
        for s in ss:
            if s in rest:
                other = pred[s]
                d += ((k if ps.isdisjoint(other) else len(ps - other)) - 1) * outs[s]
        return d

    tie = {v: rng.random() for v in topo} if rng else dict.fromkeys(topo, 0.0)
    version = dict.fromkeys(inter, 0)
    heap = [(delta(v), tie[v], v, 0) for v in topo]
    heapq.heapify(heap)
    prefix, saved = [], 0
    while heap:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        d, _, v, seen = heapq.heappop(heap)
        if v not in rest or seen != version[v]:
            continue
        if d >= 0:
            break
        ps, ss = pred.pop(v), succ.pop(v)
        touched = ps | ss
        for s in ss:
            touched |= pred[s]
            pred[s].discard(v)
            pred[s] |= ps
        for p in ps:
            succ[p].discard(v)
            succ[p] |= ss
        rest.discard(v)
        prefix.append(v)
        saved -= d
        for u in touched:
            if u in rest:
                version[u] += 1
                heapq.heappush(heap, (delta(u), tie[u], u, version[u]))
    return prefix + [v for v in reversed(topo) if v in rest], saved
