"""The portfolio's schedule: every search method behind one interface, one table.

``search.optimize`` prices the baselines and builds the methods that suit the
graph (which ones, and their starting orders, is its business); this module runs
them. Each method is a *slot* with the same small interface:

* ``step(run)`` — its share of one cycle of the schedule: a few work chunks, or
  none (a slot decides from the :class:`Run` — the cycle, the clock, which other
  slots are still live — how much it does, and checks the budget itself);
  returns ``None``, :data:`RESTART` (start the cycle again: something the other
  slots depend on changed) or :data:`STOP` (the run is over: an order was
  proven optimal, or nothing is left to do);
* ``offer(order, cost)`` — a cheaper order found by another slot, to continue
  from (the local searches exchange their best orders this way);
* ``done`` — the slot has nothing more to do and leaves the schedule;
* ``keeps_alive`` — whether the run goes on for this slot alone (exact search,
  bounds, annealing and MCTS do; windows and insertions only refine what
  annealing finds).

Lower bounds are reported into the run (``Run.lower_bound``), which stops once
the incumbent reaches them. :func:`run_schedule` walks :data:`SCHEDULE` once per
cycle until the budget or ``max_chunks`` is spent, nothing keeps the run alive,
or the incumbent is proven optimal. The table's order is the order within a
cycle; the per-slot rules below are the whole schedule, and they depend on the
work done only (never on the clock, except where a slot is skipped for lack of
time), so a seed and an amount of work fix the result.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

from graphs.elimination import ElimGraph, cost_of
from search.core.scalar import now

#: Annealing gets two chunks a cycle for this many cycles while exact search
#: works on the graph; then one chunk every four cycles (annealing converges fast
#: on graphs small enough for exact search, so most time goes to the proof).
LOCAL_FIRST_CYCLES = 20
WINDOWS_PER_CHUNK = 4  # a window of 12 takes a few ms, an annealing chunk ~30 ms
EXACT_MAX_OPEN = 1_500_000  # open states before exact search gives up (memory)
#: Best insertions run while annealing is slow: checked every INSERT_STALL * n
#: annealing moves, they run until the next check if annealing's own
#: improvements since the last check saved less than INSERT_RATE of the best
#: cost; they then get about INSERT_WORK annealing chunks' worth of elimination
#: work a cycle (a best insertion eliminates about n vertices, an annealing move
#: about one on big graphs, most moves being free exchanges). Where annealing
#: still improves, insertions only take its time (10,000 intermediates at 10 s:
#: 22.2 % -> 20.2 % with insertions all along); where it has converged they go
#: further (1,000-intermediate layered_dag / skip_net / random_dag at 1 s: 14.5
#: / 9.9 / 26.3 % annealing alone, 14.9 / 10.2 / 26.7 % with insertions all
#: along at INSERT_WORK 8; 4 and 16 did no better).
INSERT_STALL = 30
INSERT_RATE = 0.002
INSERT_WORK = 8.0
MCTS_FIRST_CYCLE = 40
MCTS_EVERY = 40
MCTS_MIN_REMAINING_S = 30.0  # a batch of games, jit compile included
MCTS_MARGIN_S = 10.0

#: ``step`` results: start the cycle again / end the run.
RESTART = "restart"
STOP = "stop"

#: ``progress_fn(elapsed_s, best_cost, method)``, called on every improvement.
ProgressFn = Callable[[float, int, str], None]


class Incumbent:
    """The best order so far and its history (the run's only record of orders)."""

    def __init__(
        self, start: float, progress_fn: ProgressFn | None, keep_all: bool = False
    ):
        self.start = start
        self.progress_fn = progress_fn
        self.keep_all = keep_all  # objective="time" prices every improvement
        self.order: tuple[int, ...] = ()
        self.cost: float = float("inf")
        self.method = ""
        self.history: list[tuple[float, int, str]] = []
        self.offered: list[tuple[tuple[int, ...], str]] = []  # with keep_all

    def offer(self, order: Sequence[int], cost: int, method: str) -> bool:
        if cost >= self.cost:
            return False
        self.order, self.cost, self.method = tuple(order), cost, method
        if self.keep_all:  # an order a step: 0.8 MB each at 100,000 vertices
            self.offered.append((self.order, method))
        elapsed = time.perf_counter() - self.start
        self.history.append((elapsed, int(cost), method))
        if self.progress_fn is not None:
            self.progress_fn(elapsed, int(cost), method)
        return True


def core_clock(deadline: float | None) -> float | None:
    """A ``time.perf_counter()`` deadline on the C core's clock."""
    return None if deadline is None else now() + deadline - time.perf_counter()


#: The local searches, which hand each other their improvements.
EXCHANGE = ("window", "local", "insertion")


@dataclasses.dataclass(eq=False)
class Run:
    """What the slots share: the graph, the clock, the incumbent, the bound, the
    work counters and notes, and the live slots by name."""

    graph: ElimGraph
    best: Incumbent
    deadline: float
    max_chunks: int | None
    work: dict[str, int]
    notes: list[str]
    lower_bound: int | None = None
    floor: int = 0  # the group bound, once computed
    cycle: int = 0
    slots: dict[str, Any] = dataclasses.field(default_factory=dict)

    def more(self) -> bool:
        limit = self.max_chunks if self.max_chunks is not None else 1 << 62
        return time.perf_counter() < self.deadline and self.work["chunks"] < limit

    def limit_time(self) -> float | None:
        """The deadline a chunk may stop at (none with ``max_chunks``: then the
        result depends on the seed only)."""
        return None if self.max_chunks is not None else self.deadline

    def proven(self) -> bool:
        return self.lower_bound is not None and self.best.cost <= self.lower_bound

    def live(self, name: str) -> bool:
        return name in self.slots

    def improved(self, order, cost: int, method: str, source) -> None:
        """Records a cheaper order from one local search and hands it to the
        others, which continue from it."""
        self.best.offer(order, cost, method)
        for name in EXCHANGE:
            other = self.slots.get(name)
            if other is not None and other is not source:
                other.offer(order, cost)


class _Slot:
    done = False
    keeps_alive = True

    def offer(self, order: Sequence[int], cost: int) -> None:
        """Only the local searches continue from others' orders."""


class GroupBoundSlot(_Slot):
    """``search.bounds.GroupBound``: one group's DP a chunk; once done, its
    value is the floor of every later bound, and the cycle starts again."""

    def __init__(self, bound):
        self.bound = bound

    def step(self, run: Run) -> str | None:
        self.bound.step()
        run.work["chunks"] += 1
        if not self.bound.done:
            return None
        run.floor = self.bound.value
        run.lower_bound = max(run.floor, run.lower_bound or 0)
        run.notes.append(f"bounds: group lower bound {run.floor}")
        self.done = True
        return RESTART


class SubsetDPSlot(_Slot):
    """``search.subsetdp``: one block of subsets or one layer a chunk; its
    answer is optimal and ends the run."""

    def __init__(self, dp):
        self.dp = dp

    def step(self, run: Run) -> str | None:
        self.dp.step()
        run.work["chunks"] += 1
        run.work["exact_dp_steps"] = self.dp.units
        if not self.dp.done:
            return None
        run.best.offer(self.dp.order, self.dp.cost, "exact")
        run.lower_bound = int(run.best.cost)
        return STOP


class ExactSlot(_Slot):
    """A* over eliminated sets (``search.exact``), fed the incumbent as its
    upper bound; a proof ends the run, too many open states end the slot."""

    def __init__(self, exact, chunk: int):
        self.exact = exact
        self.chunk = chunk

    def step(self, run: Run) -> str | None:
        exact = self.exact
        exact.offer(run.best.order, int(run.best.cost))
        exact.step(self.chunk)
        run.work["chunks"] += 1
        run.work["exact_expansions"] = exact.expanded
        run.lower_bound = max(exact.lower_bound, run.floor)
        run.best.offer(exact.best_order, exact.best_cost, "exact")
        if exact.done:
            run.lower_bound = int(run.best.cost)
            return STOP
        if exact.open_states > EXACT_MAX_OPEN:
            run.notes.append(
                f"exact: stopped after {exact.expanded} expansions "
                f"({exact.open_states} open states)"
            )
            self.done = True
        return None


class WindowSlot(_Slot):
    """``search.window``: :data:`WINDOWS_PER_CHUNK` windows a cycle until two
    sweeps find nothing (an offered cheaper order starts it again)."""

    keeps_alive = False

    def __init__(self, window):
        self.window = window

    def offer(self, order: Sequence[int], cost: int) -> None:
        self.window.offer(order, cost)

    def step(self, run: Run) -> str | None:
        window = self.window
        if not run.more() or run.proven() or window.converged:
            return None
        for _ in range(WINDOWS_PER_CHUNK):
            window.step()
        run.work["chunks"] += 1
        run.work["windows"] = window.windows
        if window.cost < run.best.cost:
            run.improved(window.order, window.cost, "local:window", self)
        return None


class AnnealSlot(_Slot):
    """Simulated annealing (``search.local``): two chunks a cycle, or, once
    :data:`LOCAL_FIRST_CYCLES` cycles have passed while exact search works on
    the graph, one every four cycles. Every ``INSERT_STALL * n`` moves it
    checks whether its own savings since the last check were under
    :data:`INSERT_RATE` of the best cost (``slow``: insertions then run)."""

    def __init__(self, local, chunk: int):
        self.local = local
        self.chunk = chunk
        self.chunks_now = 0  # chunks this cycle's rule gave it
        self.slow = False
        self._checked_at = 0  # moves at the last check
        self._gain = 0  # its own savings since then

    def offer(self, order: Sequence[int], cost: int) -> None:
        self.local.offer(order, cost)

    def step(self, run: Run) -> str | None:
        exact_live = run.live("exact") or run.live("dp")
        if not exact_live or run.cycle < LOCAL_FIRST_CYCLES:
            self.chunks_now = 2
        else:
            self.chunks_now = 1 if run.cycle % 4 == 0 else 0
        for _ in range(self.chunks_now):
            if not run.more() or run.proven():
                break
            result = self.local.step(self.chunk)
            run.work["chunks"] += 1
            run.work["local_moves"] = result.moves
            if result.cost < run.best.cost:
                cost = result.cost
                if not run.graph.is_scalar:  # tensor windows assume order-free sets
                    cost = cost_of(run.graph, result.order).multiplications
                self._gain += run.best.cost - cost
                run.improved(result.order, cost, "local", self)
        n = len(run.graph.intermediates)
        if run.work["local_moves"] - self._checked_at >= INSERT_STALL * n:
            self.slow = self._gain < INSERT_RATE * run.best.cost
            self._checked_at, self._gain = run.work["local_moves"], 0
        return None


class InsertionSlot(_Slot):
    """Best insertions (``search.insertion``) while annealing is slow: about
    :data:`INSERT_WORK` annealing chunks' worth of elimination work in each
    cycle annealing works in, until a sweep finds nothing (kicks and passes are
    the search's own)."""

    keeps_alive = False

    def __init__(self, insertion):
        self.insertion = insertion
        self._credit = 0.0

    def offer(self, order: Sequence[int], cost: int) -> None:
        self.insertion.offer(order, cost)

    def step(self, run: Run) -> str | None:
        anneal = run.slots["local"]
        insertion = self.insertion
        if not (anneal.chunks_now and anneal.slow and not insertion.converged):
            return None
        # Elimination work like INSERT_WORK annealing chunks, whatever the
        # clock: a best insertion eliminates about n vertices.
        n = len(run.graph.intermediates)
        self._credit += INSERT_WORK * anneal.chunk
        tries = int(self._credit // n)
        if tries and run.more() and not run.proven():
            self._credit -= tries * n
            gained = insertion.step(tries, deadline=core_clock(run.limit_time()))
            run.work["chunks"] += 1
            run.work["insertions"] = insertion.tries
            run.work["kicks"] = insertion.kicks
            run.work["insert_passes"] = insertion.passes
            if gained and insertion.cost < run.best.cost:
                run.improved(insertion.order, insertion.cost, "local:insert", self)
        return None


class MCTSSlot(_Slot):
    """``search.mcts.run_mcts``, one batch of games from cycle
    :data:`MCTS_FIRST_CYCLE` on, every :data:`MCTS_EVERY` cycles (every cycle
    once it is the only slot left), while :data:`MCTS_MIN_REMAINING_S` remain."""

    def __init__(self, run_mcts, params, seed: int):
        self.run_mcts = run_mcts
        self.params = params
        self.seed = seed

    def step(self, run: Run) -> str | None:
        alone = not any(run.live(k) for k in ("exact", "local", "dp", "bounds"))
        if run.deadline - time.perf_counter() < MCTS_MIN_REMAINING_S:
            if alone:
                run.notes.append("mcts: too little time left for another batch")
                return STOP
            return None
        due = run.cycle >= MCTS_FIRST_CYCLE and (
            (run.cycle - MCTS_FIRST_CYCLE) % MCTS_EVERY == 0
        )
        if not (run.more() and (alone or due)):
            return None
        try:
            found = self.run_mcts(
                run.graph,
                seed=self.seed * 1_000_003 + run.cycle,
                params=self.params,
                num_episodes=4,
                time_budget_s=run.deadline - time.perf_counter() - MCTS_MARGIN_S,
            )
        except Exception as err:  # a failing method must not lose the result
            run.notes.append(f"mcts: stopped ({type(err).__name__}: {err})")
            self.done = True
            return None
        run.work["chunks"] += 1
        run.work["mcts_episodes"] += found.episodes
        run.best.offer(found.order, found.cost, "mcts")
        return None


#: One cycle, in order: the bounds and exact methods first (a proof ends the
#: run early), then the local searches, then MCTS.
SCHEDULE = ("bounds", "dp", "exact", "window", "local", "insertion", "mcts")


def run_schedule(run: Run) -> None:
    """Walks :data:`SCHEDULE` cycle by cycle over ``run.slots`` (keyed by the
    table's names) until the budget or ``max_chunks`` is spent, no live slot
    keeps the run alive, the incumbent is proven optimal, or a slot stops it."""
    unknown = set(run.slots) - set(SCHEDULE)
    if unknown:
        raise ValueError(f"slots {sorted(unknown)} are not in the schedule {SCHEDULE}")
    while (
        run.more()
        and any(slot.keeps_alive for slot in run.slots.values())
        and not run.proven()
    ):
        for name in SCHEDULE:
            slot = run.slots.get(name)
            if slot is None:
                continue
            signal = slot.step(run)
            if slot.done:
                del run.slots[name]
            if signal == STOP:
                return
            if signal == RESTART:
                break
        else:
            run.cycle += 1
