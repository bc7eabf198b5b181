"""Seeded local search over elimination orders: simulated annealing with restarts.

Scalar graphs anneal in C (``search.core.ScalarAnnealer``: a cursor sweeps the
order and moves rewrite short windows at the cursor, priced by eliminating and
undoing them on the graph). Tensor graphs anneal here, in Python, as follows.
Moves: swap two neighbours, move one vertex a short distance (insert), or swap two
vertices a short distance apart. A move rewrites a window ``order[lo:hi+1]`` and is
priced by re-evaluating that window only (``search.fastcost``: scalar steps cost a
memoised bitset path sum each). Runs cool geometrically from a temperature scaled
by the typical uphill move; they alternate between restarting from the best order
so far and from a fresh greedy-randomised Markowitz construction.

Everything is a function of ``seed`` and the number of moves made: the state is
carried across :meth:`LocalSearch.step` calls, so ``step(a); step(b)`` equals
``step(a + b)``, and the best cost never increases.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Sequence

from graphs.elimination import ElimGraph, elimination_cost
from search.core import ScalarAnnealer, ScalarCore
from search.fastcost import (
    OrderEvaluator,
    ScalarModel,
    bits,
    eliminate_step,
    evaluator,
    neighbours_through,
)

#: Scalar graphs up to this many intermediates restart every other annealing run
#: from a greedy-randomised order (a whole greedy: too long for one work chunk
#: on bigger graphs, which always restart from the best order).
NATIVE_GREEDY_RESTARTS_MAX = 5000


def _native_distance(n: int) -> float:
    """Mean move distance of the C annealer: ``2 + n/32`` on small graphs (RobotArm,
    212 intermediates, 1 s: 511 at 8.6, 521 at 3), 3 from 300 intermediates on
    (a random 1,000-vertex DAG, 2 s: 23.8 % below the best baseline at 3, 16.8 %
    at 12: a move costs an elimination per vertex it spans)."""
    return 2 + n / 32 if n <= 300 else 3.0


@dataclasses.dataclass(frozen=True)
class LocalResult:
    """The outcome of a local search.

    Attributes:
      order: best order found, as positions of the elimination graph.
      cost: its multiplications.
      moves: moves tried in total.
      history: ``(moves, cost)`` at every improvement of the best.
    """

    order: tuple[int, ...]
    cost: int
    moves: int
    history: tuple[tuple[int, int], ...]


def greedy_randomized(
    g: ElimGraph,
    rng: random.Random,
    *,
    noise: float = 0.3,
    model: ScalarModel | None = None,
) -> list[int]:
    """A Markowitz order with random tie-breaking and multiplicative score noise.

    Args:
      g: the elimination graph.
      rng: the random source.
      noise: each score is scaled by ``1 + noise * U(0, 1)``; 0 gives Markowitz
        with random tie-breaks.
      model: a :class:`ScalarModel` of ``g`` to reuse (scalar graphs only).

    Returns:
      An order (positions).
    """
    remaining = set(g.intermediates)
    order: list[int] = []
    if g.is_scalar:
        model = model or ScalarModel(g)
        x = 0
        cost = {v: model.vertex_cost(v, 0) for v in remaining}
        while remaining:
            v = min(
                remaining,
                key=lambda u: (cost[u] * (1 + noise * rng.random()), rng.random()),
            )
            # Only v's neighbours get new edges, so only their costs change.
            touched = neighbours_through(v, x, model.pred)
            touched |= neighbours_through(v, x, model.succ)
            order.append(v)
            remaining.discard(v)
            x |= 1 << v
            for u in bits(touched & model.inter_mask):
                if u in remaining:
                    cost[u] = model.vertex_cost(u, x)
        return order
    state = g
    cost = {v: elimination_cost(state, v)[0] for v in remaining}
    while remaining:
        v = min(
            remaining,
            key=lambda u: (cost[u] * (1 + noise * rng.random()), rng.random()),
        )
        touched = (
            state.pred.get(v, frozenset()) | state.succ.get(v, frozenset())
        ) & remaining
        state, _ = eliminate_step(state, v)
        order.append(v)
        remaining.discard(v)
        for u in touched:
            cost[u] = elimination_cost(state, u)[0]
    return order


class LocalSearch:
    """Anytime simulated annealing; call :meth:`step` as often as time allows.

    Args:
      g: the elimination graph.
      seed: random seed; with the number of moves it fixes the result.
      init_orders: starting orders (positions), best first; the cheapest is used.
      run_moves: moves per annealing run (default ``max(4000, 300·n)``).
      temperature: start and end temperature of a run, in units of the mean
        uphill move from the start order.
      mean_distance: mean distance of non-neighbour moves (default ``2 + n/32``).
      long_moves: fraction of non-neighbour moves with a uniform distance.
      kick: restarts from the best order first make ``kick·n`` random moves.
      core: the scalar graph's :class:`search.core.ScalarCore` to reuse.
      init_costs: the multiplications of ``init_orders``, if known (they are
        then not priced again).
      greedy_restarts: whether every other annealing run of a scalar graph
        restarts from a greedy-randomised Markowitz order (default: on graphs
        of at most :data:`NATIVE_GREEDY_RESTARTS_MAX` intermediates).
      deadline: on ``time.perf_counter``'s clock; tensor graphs calibrate the
        temperature on fewer moves once it has passed (``None``: the same
        number always, so that the seed fixes the result).

    On scalar graphs the moves run in C (:class:`search.core.ScalarAnnealer`,
    whose moves start at a sweeping cursor); ``long_moves`` and ``kick`` apply to
    the Python annealer of tensor graphs only.
    """

    def __init__(
        self,
        g: ElimGraph,
        *,
        seed: int = 0,
        init_orders: Sequence[Sequence[int]] = (),
        run_moves: int | None = None,
        temperature: tuple[float, float] = (0.3, 0.002),
        mean_distance: float | None = None,
        long_moves: float = 0.0,
        kick: float = 0.0,
        core: ScalarCore | None = None,
        init_costs: Sequence[int] | None = None,
        greedy_restarts: bool | None = None,
        deadline: float | None = None,
    ):
        self.graph = g
        self.n = n = len(g.intermediates)
        self.moves = 0
        self._native = self._native_args = None
        if g.is_scalar:
            self._init_native(
                core or ScalarCore(g),
                seed,
                init_orders,
                init_costs,
                run_moves,
                temperature,
                mean_distance,
                n <= NATIVE_GREEDY_RESTARTS_MAX
                if greedy_restarts is None
                else greedy_restarts,
            )
            return
        self.rng = random.Random(seed)
        self.ev: OrderEvaluator = evaluator(g)
        self.model = getattr(self.ev, "model", None)
        starts = [list(o) for o in init_orders] or [list(g.intermediates)]
        if init_costs is not None and len(init_costs) == len(starts):
            # Known costs: a reset is a pass of structured eliminations (0.2 s
            # at 1,500 intermediates); calibration starts from the last start.
            priced = list(zip((int(c) for c in init_costs), starts))
            self.ev.reset(starts[-1])
        else:
            priced = []
            for order in starts:
                self.ev.reset(order)
                priced.append((self.ev.total, order))
        best_cost, best = min(priced, key=lambda t: t[0])
        self.best_order = list(best)
        self.best_cost = best_cost
        self.moves = 0
        self.history: list[tuple[int, int]] = [(0, best_cost)]
        self.run_moves = run_moves or max(4000, 300 * n)
        self.max_dist = mean_distance or max(2, min(n - 1, 2 + n // 32))
        self._hot, self._cold = temperature
        self.long_moves, self.kick = long_moves, kick
        self._run = 0
        self._t = self.run_moves  # forces a new run on the first move
        self._scale = self._calibrate(deadline) if n >= 2 else 1.0
        self.ev.reset(self.best_order)

    def _init_native(
        self, core, seed, init_orders, init_costs, run_moves, temperature, dist, greedy
    ):
        n = self.n
        starts = [list(o) for o in init_orders] or [list(self.graph.intermediates)]
        if init_costs is None or len(init_costs) != len(starts):
            init_costs = [core.order_cost(order) for order in starts]
        priced = [(int(c), k) for k, c in enumerate(init_costs)]
        best_cost, k = min(priced)
        self.best_order, self.best_cost = starts[k], best_cost
        self.history = [(0, best_cost)]
        # Built on the first step: pricing its start order is a pass over the
        # graph that a run out of budget should not pay for.
        self._native_args = (
            core,
            dict(
                seed=seed,
                run_moves=run_moves or max(4000, min(300 * n, 2_000_000)),
                temperature=temperature,
                mean_distance=dist or _native_distance(n),
                greedy_restarts=greedy,
            ),
        )

    @property
    def result(self) -> LocalResult:
        if self._native is not None and self._native.best_cost < self.best_cost:
            self.best_cost = self._native.best_cost
            self.best_order = self._native.best_order
        return LocalResult(
            tuple(self.best_order), self.best_cost, self.moves, tuple(self.history)
        )

    # ---------------------------------------------------------------- moves

    def _propose(self) -> tuple[int, list[int]]:
        rng, n, order = self.rng, self.n, self.ev.order
        r = rng.random()
        if r < 0.35:
            i = rng.randrange(n - 1)
            return i, [order[i + 1], order[i]]
        if rng.random() < self.long_moves:
            d = rng.randrange(1, n)
        else:
            d = min(n - 1, 1 + int(rng.expovariate(1.0 / self.max_dist)))
        i = rng.randrange(n - d)
        j = i + d
        if r < 0.6:  # move order[i] forward to j
            return i, order[i + 1 : j + 1] + [order[i]]
        if r < 0.85:  # move order[j] back to i
            return i, [order[j]] + order[i:j]
        seg = order[i : j + 1]
        seg[0], seg[-1] = seg[-1], seg[0]
        return i, seg

    def _calibrate(self, deadline: float | None = None) -> float:
        """Mean uphill delta of random moves from the starting order (fewer
        moves once ``deadline``, on ``time.perf_counter``'s clock, has passed:
        on big tensor graphs a move takes milliseconds)."""
        ups = []
        for k in range(min(300, 20 * self.n)):
            if deadline is not None and k and time.perf_counter() > deadline:
                break
            lo, seg = self._propose()
            delta = self.ev.try_window(lo, seg)
            if delta > 0:
                ups.append(delta)
        return (sum(ups) / len(ups)) if ups else 1.0

    def _start_run(self) -> None:
        self._run += 1
        if self._run % 2 == 0 and self._run > 0:
            start = greedy_randomized(self.graph, self.rng, noise=0.5, model=self.model)
            self._t_hi = self._hot * self._scale
        else:
            start = self.best_order
            self._t_hi = (1.0 if self._run == 1 else 0.33) * self._hot * self._scale
        self._t_lo = self._cold * self._scale
        self.ev.reset(start)
        if self._run > 1 and start is self.best_order:
            for _ in range(int(self.kick * self.n)):
                self.ev.try_window(*self._propose())
                self.ev.commit()
        self._t = 0
        self._note()

    def offer(self, order: Sequence[int], cost: int) -> None:
        """Takes ``order`` (positions, true cost ``cost``) as the best if cheaper.

        The current run goes on; the next restart from the best starts from it.
        """
        if cost < self.best_cost:
            self.best_cost = cost
            self.best_order = list(order)
            self.history.append((self.moves, cost))
            if self._native is not None:
                self._native.offer(order, cost)

    def _note(self) -> None:
        if self.ev.total < self.best_cost:
            self.best_cost = self.ev.total
            self.best_order = list(self.ev.order)
            self.history.append((self.moves, self.best_cost))

    def step(self, num_moves: int) -> LocalResult:
        """Makes ``num_moves`` more moves; returns the best so far."""
        if self._native_args is not None:
            if self._native is None:
                core, kwargs = self._native_args
                self._native = ScalarAnnealer(core, self.best_order, **kwargs)
            cost = self._native.step(num_moves)
            self.moves += num_moves
            if cost < self.best_cost:
                self.best_cost, self.best_order = cost, self._native.best_order
                self.history.append((self.moves, cost))
            return self.result
        if self.n < 2:
            self.moves += num_moves
            return self.result
        ev, rng = self.ev, self.rng
        log_ratio = math.log(self._t_lo / self._t_hi) if self._t < self.run_moves else 0
        for _ in range(num_moves):
            if self._t >= self.run_moves:
                self._start_run()
                log_ratio = math.log(self._t_lo / self._t_hi)
            temp = self._t_hi * math.exp(log_ratio * self._t / self.run_moves)
            self._t += 1
            self.moves += 1
            lo, seg = self._propose()
            delta = ev.try_window(lo, seg)
            if delta <= 0 or rng.random() < math.exp(-delta / temp):
                ev.commit()
                if delta < 0 and ev.total < self.best_cost:
                    self._note()
        return self.result


def anneal(
    g: ElimGraph,
    *,
    num_moves: int,
    seed: int = 0,
    init_orders: Sequence[Sequence[int]] = (),
) -> LocalResult:
    """Simulated annealing for ``num_moves`` moves (see :class:`LocalSearch`).

    Example:
      >>> g = graphs.build(graph)
      >>> anneal(g, num_moves=50_000, seed=0).cost
    """
    return LocalSearch(g, seed=seed, init_orders=init_orders).step(num_moves)
