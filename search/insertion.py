"""Best-insertion local search: move one vertex at a time to its cheapest place.

Annealing's moves rewrite short windows, and window DP re-orders consecutive
vertices; neither moves a vertex far. Here a vertex ``u`` is taken out of the
order and put back where the order costs least, over *all* ``n`` places at once:
``search.core.ScalarCore.best_insertion`` prices them in one elimination pass
over the order without ``u`` (``cc_best_insertion`` in ``_insertion.c``: a step's
cost changes with ``u`` eliminated before it only where it is adjacent to ``u``
then, and the graph after a set does not depend on the order within it).

Measured on 1,000-intermediate DAGs of three families written in
``benchmarks/search_unseen.py``: from the order annealing reaches after 1 s,
30,000 best insertions took layered_dag seed 0 from 14.5 % to 14.95 % below the
best of forward, reverse and Markowitz, where 30 s of annealing reach 14.6 %
(exact re-ordering of windows of 12-18 consecutive vertices found 0-7
multiplications there). ``search.optimize`` runs them beside annealing once
annealing is slow (see ``search.schedule.INSERT_STALL``).

:class:`InsertionSearch` moves the vertices of a seeded random sweep, keeping a
move that costs no more (equal-cost moves let the order drift across plateaus);
it is converged once a whole sweep found nothing cheaper, until a cheaper order
is offered. With ``kicks`` it goes on from there by ruin and recreate: a run of
:data:`KICK_SIZE` consecutive vertices is put back at random places and each is
then moved to its cheapest place, kept if the order costs no more, and a kick
that saves starts the sweeps again. On 1,000-intermediate DAGs at 10 s this
saved 0.02-0.2 points more (skip_net 2026: 10.33 -> 10.36 %, wide_skip 7:
10.25 -> 10.33 %, ``random_dag`` 0: 26.8 -> 27.0 %); where annealing and
insertions have converged (layered_dag 0, 16,491 multiplications after 10 s)
60 s of kicks alone found nothing, and from the 1 s order (16,528) kicks alone
reached 16,483 after 13 s, in one run.

With ``passes`` the search first moves vertices *earlier*, many at once:
``search.core.ScalarCore.earlier_moves`` prices, for every vertex, its cheapest
place at or before its own in one elimination pass (``cc_earlier_moves``:
eliminating ``u`` before a step changes that step only where it is adjacent to
``u``, and the cost it then has is read off ``u``'s and its sets without
eliminating ``u``, ``cc_cost_after``), and makes the moves whose spans are
disjoint, which save exactly the sum of their savings. Passes run until one
finds nothing, and again after every cheaper order; the random sweeps of best
insertions (which also move vertices later) then go on, after one pass of
moves later within :data:`LATER_REACH` places. A pass costs about two
best insertions and prices n of them in one direction: on 1,000-intermediate
DAGs at 1 s (350 chunks, seeds 0-2) layered_dag 0 went 16,532 -> 16,516 on
average (16,491 on two seeds of three, which the search without passes
reached after 10 s), skip_net 2026 17,714 -> 17,709; in the unseen-dags section
of ``benchmarks/search.py`` (with the later pass) layered_dag 0 16,521 -> 16,491
and the 3,000-intermediate rows 0.2-0.6 % cheaper. A function of the seed, the
orders offered and the steps made.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from search.core import ScalarCore

#: Vertices a kick moves: a run of this many consecutive vertices of the order.
KICK_SIZE = 6
#: With ``passes``, a pass of earlier moves counts as this many best
#: insertions of the work (1,000-intermediate DAGs of four families: 0.4-0.6 ms
#: a pass, 0.2-0.4 ms a best insertion).
PASS_TRIES = 2
#: Once a pass of earlier moves finds nothing, one pass of later moves
#: (``ScalarCore.later_moves``: every vertex's cheapest place at most this far
#: after its own) before the sweeps; where it saves, the passes start again. On
#: layered_dag 0 (1,000 intermediates) the moves that unlocked the large savings
#: of the earlier passes were best insertions 13-16 places later, which the
#: random sweeps found after ~0.5 s; with this pass, at 1 s and seeds 0-3,
#: 16,508 -> 16,492 mean (16,491-16,493 on every seed); 128 did no better.
LATER_REACH = 32
#: A pass of later moves counts as this many best insertions (~10 ms a pass at
#: 1,000 intermediates, 0.4 ms a best insertion).
LATER_TRIES = 25


class InsertionSearch:
    """Anytime best-insertion search on a scalar graph (see the module docstring).

    Args:
      core: the graph's :class:`search.core.ScalarCore` (its state is reset).
      order: the starting order (positions of all intermediates).
      cost: its multiplications.
      seed: random seed of the sweeps.
      kicks: go on with ruin and recreate once the sweeps have converged.
      passes: move vertices earlier by passes of :meth:`ScalarCore.earlier_moves`
        first, and after every cheaper order, then later by one pass of
        :meth:`ScalarCore.later_moves`.

    Attributes:
      order, cost: the current order (positions) and its multiplications.
      tries: vertices moved so far (by best insertions).
      kicks: kicks made so far.
      passes: passes of earlier moves made so far.
    """

    def __init__(
        self,
        core: ScalarCore,
        order: Sequence[int],
        cost: int,
        *,
        seed: int,
        kicks: bool = False,
        passes: bool = False,
    ):
        self.core = core
        self.cost = int(cost)
        self.tries = 0
        self.kicks = 0
        self._kicking = kicks
        self._rng = random.Random(seed)
        self._order = np.ascontiguousarray(np.asarray(order, dtype=np.intc))
        self._out = np.empty_like(self._order)
        self._passes = passes
        # With passes, the first pass prices the steps.
        self._steps = (
            np.zeros(len(self._order), dtype=np.int64)
            if passes
            else self._priced(self._order)
        )
        self._out_steps = np.empty_like(self._steps)
        self._pending: Sequence[int] | None = None
        self._sweep: list[int] = []
        self._since_gain = 0
        self.passes = 0
        self._descend = passes  # passes first, until one finds nothing
        self._later = passes

    def _priced(self, order: np.ndarray) -> np.ndarray:
        known = self.core.known_steps(order.tolist())
        if known is None:
            known = self.core.order_costs(order.tolist())
        return np.ascontiguousarray(np.asarray(known, dtype=np.int64))

    @property
    def order(self) -> list[int]:
        return (
            list(self._pending) if self._pending is not None else self._order.tolist()
        )

    @property
    def converged(self) -> bool:
        """Whether a whole sweep moved no vertex to a cheaper place (and, with
        kicks, there is nothing left to do: too few vertices to kick)."""
        n = len(self._order)
        if self._kicking and n > 2 * KICK_SIZE:
            return False
        return n < 2 or self._since_gain > n

    def _kick(self, deadline: float | None) -> int | None:
        """Ruin and recreate: ``KICK_SIZE`` consecutive vertices of the order
        are put back at random places, then each is moved to its cheapest
        place; returns the cost of the order left in ``_out`` (``None`` past
        the deadline). Several vertices moved at once can leave a basin that
        single best insertions, each never worse, cannot."""
        rng, n = self._rng, len(self._order)
        order = self._order.tolist()
        at = rng.randrange(n - KICK_SIZE + 1)
        block = order[at : at + KICK_SIZE]
        rest = order[:at] + order[at + KICK_SIZE :]
        for v in block:
            rest.insert(rng.randrange(len(rest) + 1), v)
        steps = self.core.order_costs(rest, deadline=deadline)
        if steps is None:
            return None
        cur = np.ascontiguousarray(np.asarray(rest, dtype=np.intc))
        cur_steps = np.ascontiguousarray(np.asarray(steps, dtype=np.int64))
        out, out_steps = np.empty_like(cur), np.empty_like(cur_steps)
        cost = None
        for v in block:
            cost = self.core.best_insertion(
                cur, cur_steps, v, out, out_steps, deadline=deadline
            )
            if cost is None:
                return None
            cur, out = out, cur
            cur_steps, out_steps = out_steps, cur_steps
        self._out, self._out_steps = cur, cur_steps
        return cost

    def offer(self, order: Sequence[int], cost: int) -> None:
        """Continues from ``order`` (true cost ``cost``) if it is cheaper.

        Its per-step costs are priced (a pass over the graph) only when the
        next step starts: annealing offers every improvement.
        """
        if cost < self.cost:
            self._pending = order
            self.cost = int(cost)
            self._since_gain = 0

    def step(self, num_tries: int, *, deadline: float | None = None) -> bool:
        """Moves ``num_tries`` vertices, or fewer if ``deadline`` (on
        ``search.core.scalar.now``'s clock) passes; returns whether the order
        got cheaper."""
        gained = False
        if self._pending is not None and num_tries > 0 and not self.converged:
            self._order = np.ascontiguousarray(np.asarray(self._pending, dtype=np.intc))
            self._pending = None
            self._descend = self._later = self._passes  # a pass prices the steps
            if not self._passes:
                self._steps = self._priced(self._order)
        done = 0
        while done < num_tries:
            if self.converged:
                break
            if self._descend:
                found = self.core.earlier_moves(
                    self._order, self._steps, self._out, deadline=deadline
                )
                if found is None:
                    break
                done += PASS_TRIES
                self.passes += 1
                total, saved = found
                if saved:
                    self._order, self._out = self._out, self._order
                    self.cost = total - saved
                    self._since_gain = 0
                    gained = True
                else:
                    self._descend = False  # and _steps are _order's
                continue
            if self._later and LATER_REACH:
                saved = self.core.later_moves(
                    self._order,
                    self._steps,
                    self._out,
                    reach=LATER_REACH,
                    deadline=deadline,
                )
                if saved is None:
                    break
                done += LATER_TRIES
                self._later = False
                if saved:
                    self._order, self._out = self._out, self._order
                    self.cost -= saved
                    self._since_gain = 0
                    self._descend = self._later = True
                    gained = True
                continue
            if self._since_gain > len(self._order):  # a sweep found nothing
                cost = self._kick(deadline)
                if cost is None:
                    break
                done += KICK_SIZE + 1  # a pricing pass and the insertions
                self.kicks += 1
                gained |= self._accept(cost)
                continue
            done += 1
            if not self._sweep:
                self._sweep = self._order.tolist()
                self._rng.shuffle(self._sweep)
            u = self._sweep[-1]
            cost = self.core.best_insertion(
                self._order,
                self._steps,
                u,
                self._out,
                self._out_steps,
                deadline=deadline,
            )
            if cost is None:  # past the deadline: u is tried again next time
                break
            self._sweep.pop()
            self.tries += 1
            self._since_gain += 1
            gained |= self._accept(cost)
        return gained

    def _accept(self, cost: int) -> bool:
        """Keeps the candidate in ``_out`` if it costs no more (equal cost
        moves on along the plateau); returns whether it is cheaper."""
        if cost > self.cost:
            return False
        cheaper = cost < self.cost
        if cheaper:
            self._since_gain = 0
            self._descend = self._later = self._passes
        self.cost = cost
        self._order, self._out = self._out, self._order
        self._steps, self._out_steps = self._out_steps, self._steps
        return cheaper
