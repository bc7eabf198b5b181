"""The anytime portfolio: baselines, exact search, local search and MCTS in one budget.

``optimize`` first prices the baselines, cheapest to compute first, on the graph's
cost core (``search.core``: C for scalar graphs); those that would run past
:data:`BASELINE_SHARE` of the budget are skipped and named in ``notes`` (the first,
Markowitz, always runs; the result is never worse than the best baseline
priced). Then it builds the methods that suit the graph and hands them to
``search.schedule``, which runs them as slots of one table in a fixed,
budget-independent schedule of small work chunks:

* ``exact`` — on scalar graphs of at most ``search.subsetdp.MAX_SET``
  intermediates the vectorised DP over all subsets (``search.subsetdp``, one
  block of subsets or one layer a chunk); otherwise A* over eliminated sets
  (``search.exact``) on graphs small enough
  (scalar: at most :data:`EXACT_MAX_SCALAR` intermediates, tensor:
  :data:`EXACT_MAX_TENSOR`); it is fed the best order found so far as its upper
  bound, and when it proves optimality the run stops early with
  ``lower_bound == cost``. Larger scalar graphs (up to :data:`ROOT_BOUND_MAX`
  intermediates) get its root lower bound only; the run also stops once an order
  reaches it;
* ``bounds`` — on the other scalar graphs up to :data:`ROOT_BOUND_MAX`
  intermediates, the group lower bound of ``search.bounds`` (one group's DP a
  chunk); it only raises the reported lower bound and can stop the run early;
* ``local`` — on scalar graphs first the two orders of ``search.prefix``
  (reverse and forward mode after a greedy prefix that each step makes cheaper;
  within :data:`PREFIX_SHARES` of the budget), which join the baselines as
  annealing's starts; then one window a cycle of ``search.window``
  (each window of :data:`WINDOW_WIDTH` consecutive vertices of the best order
  re-ordered optimally by the subset DP) until its sweeps find nothing, the
  two exchanging their best orders; and simulated annealing
  (``search.local``), started from the baselines:
  two chunks a cycle, or, once ``schedule.LOCAL_FIRST_CYCLES`` cycles have passed on a
  graph that exact search is working on, one chunk every four cycles; and on
  scalar graphs of :data:`INSERT_MIN` to :data:`INSERT_MAX` intermediates, while
  annealing saves little (``schedule.INSERT_STALL``), best insertions
  (``search.insertion``: one vertex of the best order moved to its cheapest
  place), about as much elimination work a cycle as ``schedule.INSERT_WORK`` annealing
  chunks, until a whole sweep finds nothing (from :data:`KICK_MIN`
  intermediates on, kicks then go on in that share: ruin and recreate of a
  few consecutive vertices; from :data:`PASSES_MIN` on, passes that move
  many vertices earlier at once come first), the three exchanging their best
  orders;
* ``policy`` — the learned constructive policy (``search.policy``, the shipped
  ``search/models/policy.msgpack`` or ``policy=``) on graphs of at least
  :data:`POLICY_MIN` intermediates and budgets of at least
  :data:`POLICY_MIN_BUDGET_S`, once, right after the baselines, within
  :data:`POLICY_SHARE` of the budget: its greedy
  order is offered (method ``"policy"``) and seeds annealing beside the
  baselines. Past the deadline it is dropped (noted); with ``max_chunks`` it
  always completes, so the result still depends on the seed only;
* ``mcts`` — ``search.mcts.run_mcts`` one batch of games at a time, from cycle
  ``schedule.MCTS_FIRST_CYCLE`` on, every ``schedule.MCTS_EVERY`` cycles, while at least
  ``schedule.MCTS_MIN_REMAINING_S`` remain (its jit compile is only worth it for long
  budgets), if that module can be imported. It is in the default portfolio only
  with trained ``params``: with a uniform prior it rarely beats annealing.

With ``objective="time"`` the portfolio gets all but :data:`TIME_SHARE` of the
budget; then every order it produced (the baselines, the policy's, each
improvement) is priced by the time model (``search.timemodel``) and the one with
the lowest predicted kernel time is improved by local moves on that prediction
(``search.timemodel.minimize_time``). ``objective="mults"`` (the default here)
returns the order with the fewest multiplications; the kernel makers
(``interpreter.fastest``'s searched candidate, the service's kernel tuning) ask
for ``"time"``.

The budget only decides *how many* chunks of the schedule run, so for a seed the
run with budget ``B`` is a prefix of the run with any ``B' > B`` (on an equally
loaded machine), and since the best only improves, a larger budget never returns a
worse order. The work done is reported in ``OptimizeResult.work``; the same seed
and the same amount of work give the same order.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

from graphs.elimination import ElimGraph, build, cost_of
from graphs.ir import Graph
from search.bounds import GroupBound
from search.core import ScalarCore, core_for, price_baselines
from search.exact import ExactSearch, subset_dp
from search.fastcost import ScalarModel
from search.insertion import InsertionSearch
from search.local import LocalSearch
from search.prefix import prefix_order
from search.schedule import (
    AnnealSlot,
    ExactSlot,
    GroupBoundSlot,
    Incumbent,
    InsertionSlot,
    MCTSSlot,
    ProgressFn,
    Run,
    SubsetDPSlot,
    WindowSlot,
    core_clock,
    run_schedule,
)
from search.timemodel import DEFAULT_BATCH, affordable, minimize_time
from search.window import WindowSearch

METHODS = ("baselines", "exact", "local", "policy", "mcts")
POLICY_MIN = 300  # smaller graphs: exact, windows and annealing do better alone
POLICY_SHARE = 0.5  # the policy's order is dropped if not done by then
#: Shorter budgets skip the policy. Its first call used to trace the Haiku
#: network to load the model (1,000 intermediates at 1 s returned after 2.1 s);
#: ``search.policy`` now reads the arrays directly (1.01 s there, load ~13).
POLICY_MIN_BUDGET_S = 0.5
EXACT_MAX_SCALAR = 40
EXACT_MAX_TENSOR = 14
ROOT_BOUND_MAX = 600  # larger scalar graphs get no lower bound (it takes seconds)
BASELINE_SHARE = 0.25  # baselines not priced by then are skipped
PREFIX_MIN = 3  # smaller graphs: the prefix orders are baselines or exact's
#: Annealing restarts every other run from a noisy Markowitz order only if a
#: Markowitz-type baseline costs at most this times the best start (on DAGs
#: where Markowitz costs 2-4x the prefix orders, those runs never caught up:
#: 2.4 M moves on four 1,000-intermediate DAG families saved 0.01-0.16 points
#: more without them, in 20-35 % less time; the six scalar tasks are all
#: within 1.23).
GREEDY_RESTARTS_WITHIN = 1.25
MARKOWITZ_TYPE = ("markowitz", "markowitz_latest", "relative_markowitz")
#: The second prefix order is skipped when its mode costs more than this times
#: the other mode (never the better one on the tasks and DAG families measured;
#: on 10,000 intermediates it takes 0.2 s, on 100,000 2.8-5.1 s).
PREFIX_OTHER_MODE = 2.0
#: The first and the second prefix order are skipped if not priced by these
#: shares of the budget. They run before the policy, whose order is dropped past
#: POLICY_SHARE (10,000 intermediates at 1 s: the baselines end after ~0.3 s, a
#: prefix order takes 0.2 s and saves 38 % on a random DAG where annealing from
#: reverse mode saves 24 % in the whole second; one stopped at 0.5 s gave 20 %).
PREFIX_SHARES = (0.75, 0.5)
WINDOW_MAX = 600  # windows work on Python-int bitsets: not on bigger graphs
#: A tensor graph's annealing set-up (two resets that keep every prefix state,
#: and calibration) costs about this many whole-order pricing passes; it is
#: skipped where it would pass the deadline.
TENSOR_SETUP_PASSES = 6
VERIFY_MAX = 300  # bigger scalar graphs are re-priced by the C core, not graphs.cost
WINDOW_MIN = 8  # scalar graphs with at least this many intermediates get windows
WINDOW_WIDTH = 12
INSERT_MIN = 8  # smaller graphs: exact DP
#: Bigger graphs get no insertions: a pass there costs as much as 10^5 or more
#: annealing moves (at 10,000 intermediates, 388 insertions in 60 s left 1.6 M
#: moves where annealing alone made 12 M, and 567,474 multiplications where it
#: found 567,090).
INSERT_MAX = 5000
#: From this many intermediates on, insertions that have converged go on with
#: kicks (``search.insertion``: a run of consecutive vertices put back at
#: random places, each then moved to its cheapest place) in the same share of
#: the work. Smaller graphs have exact windows, and the scalar tasks (at most
#: 212 intermediates) keep their schedule.
KICK_MIN = 300
#: From this many intermediates on, insertions start with passes of earlier
#: moves (``search.insertion``: every vertex's cheapest earlier place priced in
#: one elimination pass, the disjoint moves made at once), and make them again
#: after every cheaper order: 1,000-intermediate DAGs at 1 s reach in one
#: second what they reached in ten without (layered_dag 0: 16,491, where the
#: unseen-dags benchmark without them gave 16,521). The scalar tasks (at most
#: 212 intermediates) keep their schedule.
PASSES_MIN = 300
OBJECTIVES = ("mults", "time")
TIME_SHARE = 0.2  # objective="time": the time model's share of the budget


@dataclasses.dataclass(frozen=True)
class OptimizeResult:
    """The best order found within the budget.

    Attributes:
      order: the order, as the graph's own intermediate vertex ids.
      cost: its multiplications (as ``graphs.cost`` counts them).
      method: what found it: ``"baseline:<name>"``, ``"exact"``, ``"local"``
        (annealing), ``"local:window"`` (exact window re-ordering), ``"local:insert"``
        (``search.insertion``: best insertions),
        ``"local:prefix"`` (``search.prefix``: a greedy prefix, then reverse or
        forward mode), ``"policy"``
        (the learned policy's order) or ``"mcts"``; with ``objective="time"``
        also ``"time:local"`` (local moves on the predicted time).
      baselines: every baseline's cost, by name.
      lower_bound: a proven lower bound on the optimum (``== cost`` when proven
        optimal), or ``None`` where no exact search ran.
      elapsed_s: wall-clock seconds spent.
      history: ``(elapsed_s, cost, method)`` at every improvement, first the best
        baseline.
      work: work done per method (``local_moves``, ``exact_expansions``,
        ``exact_dp_steps``, ``windows``, ``insertions``, ``kicks``,
        ``insert_passes``, ``mcts_episodes``,
        ``chunks``); it
        fixes the result for a seed.
      notes: methods skipped or stopped, and why.
      objective: what was minimised: ``"mults"`` or ``"time"``.
      predicted_time_s: with ``objective="time"``, the time model's predicted
        seconds per call of the order's batched kernel (``None`` otherwise).
    """

    order: tuple[str, ...]
    cost: int
    method: str
    baselines: dict[str, int]
    lower_bound: int | None
    elapsed_s: float
    history: tuple[tuple[float, int, str], ...]
    work: dict[str, int] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    objective: str = "mults"
    predicted_time_s: float | None = None

    @property
    def optimal(self) -> bool:
        """Whether the order is proven optimal."""
        return self.lower_bound is not None and self.lower_bound >= self.cost

    @property
    def best_baseline(self) -> int:
        return min(self.baselines.values()) if self.baselines else self.cost

    @property
    def improvement(self) -> float:
        """Fraction saved against the best baseline (0.12 = 12 % fewer)."""
        base = self.best_baseline
        return (base - self.cost) / base if base else 0.0


def _policy_order(g, core, weights, deadline, notes) -> tuple[list[int], int] | None:
    """The learned policy's greedy order and its cost (``None``: no model, or
    past ``deadline``, noted)."""
    from search.policy import load_policy_weights, policy_order

    weights = weights if weights is not None else load_policy_weights()
    if weights is None:
        notes.append("policy: no model shipped")
        return None
    order = policy_order(g, weights, deadline=deadline)
    if order is None:
        notes.append("policy: skipped, past the deadline")
        return None
    return order, int(sum(core.order_costs(order)))


def _prefix_orders(
    g, core, mode_costs: dict[str, float | None], floor: int, deadlines, notes
) -> list[tuple[str, tuple[list[int], int]]]:
    """``search.prefix`` orders with their costs: after reverse and forward mode
    (``mode_costs``: their costs, ``inf`` if known to cost more than the best
    baseline, ``None`` if not priced), the cheaper mode's first, the other's only
    if that mode costs at most :data:`PREFIX_OTHER_MODE` times as much; each by
    its deadline of ``deadlines`` (those not done are noted). Each mode's hub
    variant (``prefix_order(..., hub=True)``, whatever the mode costs: the hub
    changes the sweep's price) is kept only where it is the cheapest start so
    far, below ``floor`` too (more starts would change annealing's restarts)."""
    found: list[tuple[str, tuple[list[int], int]]] = []
    fwd, rev = mode_costs["forward"], mode_costs["reverse"]
    modes = [("prefix_reverse", False, rev, fwd), ("prefix_forward", True, fwd, rev)]
    if fwd is not None and (rev is None or fwd < rev):
        modes.reverse()

    def priced(order, deadline) -> int | None:
        costs = core.order_costs(order, deadline=core_clock(deadline))
        return None if costs is None else int(sum(costs))

    for k, (name, transpose, mode, other) in enumerate(modes):
        deadline = deadlines[k]
        dear = k and mode is not None and other is not None
        if not (dear and mode > PREFIX_OTHER_MODE * other):
            order = prefix_order(g, transpose=transpose, deadline=deadline)
            cost = None if order is None else priced(order, deadline)
            if cost is None:
                late = deadline is not None and time.perf_counter() > deadline
                why = "past the deadline" if late else "too many reach bits"
                notes.append(f"local: {name} skipped, {why}")
            else:
                found.append((name, (order, cost)))
        hub = prefix_order(g, transpose=transpose, deadline=deadline, hub=True)
        cost = None if hub is None else priced(hub, deadline)
        if cost is not None and cost < min([floor, *(c for _, (_, c) in found)]):
            found.append((f"{name}_hub", (hub, cost)))
    return found


def optimize(
    graph: Graph | ElimGraph,
    *,
    time_budget_s: float = 10.0,
    seed: int = 0,
    methods: Sequence[str] | None = None,
    params: Any = None,
    progress_fn: ProgressFn | None = None,
    max_chunks: int | None = None,
    policy: Any = None,
    objective: str = "mults",
    batch_size: int = DEFAULT_BATCH,
) -> OptimizeResult:
    """The cheapest elimination order the portfolio finds within ``time_budget_s``.

    Args:
      graph: a program graph, a structure-only graph, or an elimination graph.
      time_budget_s: wall-clock budget in seconds (the baselines always run).
      seed: random seed of the local search and MCTS.
      methods: a subset of ``("baselines", "exact", "local", "policy",
        "mcts")``; default all, MCTS only with ``params``. The baselines are
        always priced, as the floor of the result; only ``"policy"`` and
        ``"mcts"`` run a network.
      params: trained network parameters for MCTS (``None``: uniform prior).
      progress_fn: ``progress_fn(elapsed_s, best_cost, method)`` on improvements.
      max_chunks: stop after this many work chunks even if time is left; with it
        the result depends on the seed only, not on the machine's speed.
      policy: ``search.policy.PolicyWeights`` for the ``"policy"`` method
        (``None``: the shipped model; none shipped: the method is skipped).
      objective: ``"mults"`` (default): fewest multiplications; ``"time"``: the
        lowest run time the time model (``search.timemodel``) predicts for the
        order's kernel, reported in ``predicted_time_s`` (``cost`` stays the
        order's multiplications).
      batch_size: with ``objective="time"``, the batch size to predict at.

    Returns:
      An :class:`OptimizeResult` whose order is in the graph's own vertex ids.

    Example:
      >>> result = optimize(graphs.tasks.get("RoeFlux_1d").graph(), time_budget_s=5)
      >>> result.cost, result.method, result.improvement
    """
    start = time.perf_counter()
    if methods is None:  # MCTS with a uniform prior rarely beats annealing
        methods = METHODS if params is not None else METHODS[:4]
    chosen = tuple(methods)
    unknown = sorted(set(chosen) - set(METHODS))
    if unknown:
        raise ValueError(
            f"unknown methods {unknown}; expected a subset of {list(METHODS)}"
        )
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    g = graph if isinstance(graph, ElimGraph) else build(graph)
    share = 1.0 - TIME_SHARE if objective == "time" else 1.0
    deadline = start + share * time_budget_s
    best = Incumbent(start, progress_fn, keep_all=objective == "time")
    notes: list[str] = []
    work = {
        "chunks": 0,
        "local_moves": 0,
        "exact_expansions": 0,
        "exact_dp_steps": 0,
        "windows": 0,
        "insertions": 0,
        "kicks": 0,
        "insert_passes": 0,
        "mcts_episodes": 0,
    }

    n = len(g.intermediates)
    core = core_for(g)
    # The same orders and costs as graphs.baselines, cheapest to compute first.
    found, skipped = price_baselines(
        core, deadline=start + BASELINE_SHARE * time_budget_s
    )
    for why in sorted(set(skipped.values())):
        names = ", ".join(k for k, v in skipped.items() if v == why)
        notes.append(f"baselines: not priced ({why}): {names}")
    model = (
        ScalarModel(g) if g.is_scalar and n <= max(ROOT_BOUND_MAX, WINDOW_MAX) else None
    )
    base_costs = {name: cost for name, (_, cost) in found.items()}
    # sorted() is stable: equal costs keep the baselines' own order.
    ranked = sorted(found.items(), key=lambda kv: kv[1][1])
    inits = [order for _, (order, _) in ranked]
    name0, (_, cost0) = ranked[0]
    best.offer(inits[0], cost0, f"baseline:{name0}")
    if "local" in chosen and g.is_scalar and n >= PREFIX_MIN:
        # Reverse and forward mode after a greedy prefix: never worse than the
        # mode itself, and far better starts for annealing on DAGs unlike ours.
        limits = [
            None if max_chunks is not None else start + share * time_budget_s
            for share in PREFIX_SHARES
        ]
        mode_costs = {
            mode: base_costs.get(
                mode, math.inf if skipped.get(mode, "").startswith("costs") else None
            )
            for mode in ("forward", "reverse")
        }
        prefixed = _prefix_orders(g, core, mode_costs, cost0, limits, notes)
        for name, (order, cost) in prefixed:
            best.offer(order, cost, "local:prefix")
            ranked.append((name, (order, cost)))
        ranked.sort(key=lambda kv: kv[1][1])
        inits = [order for _, (order, _) in ranked]
    policy_deadline = start + POLICY_SHARE * time_budget_s
    if "policy" in chosen and n >= POLICY_MIN and time_budget_s >= POLICY_MIN_BUDGET_S:
        # At most POLICY_SHARE of the budget: on big graphs a network pass per
        # step can take all of it (10,000 intermediates at 10 s did), and then
        # annealing, which finds the most there, gets nothing. Its setup alone
        # takes seconds there (1.8 s at 100,000), so it does not start late.
        found_policy = None
        if max_chunks is None and time.perf_counter() > policy_deadline:
            notes.append("policy: skipped, past the deadline")
        else:
            found_policy = _policy_order(
                g,
                core,
                policy,
                None if max_chunks is not None else policy_deadline,
                notes,
            )
        if found_policy is not None:
            best.offer(*found_policy, "policy")
            ranked = sorted(
                [*ranked, ("policy", found_policy)], key=lambda kv: kv[1][1]
            )
            inits = [order for _, (order, _) in ranked]

    lower_bound = None
    if n == 0:
        lower_bound = 0
    exact = dp = groups = None
    if n and "exact" in chosen:
        limit = EXACT_MAX_SCALAR if g.is_scalar else EXACT_MAX_TENSOR
        dp = subset_dp(g)
        if dp is not None:
            notes.append(f"exact: DP over all {2**n} subsets")
            # The A* root bound takes milliseconds here and often already
            # proves the best baseline (or annealing's first order) optimal.
            lower_bound = ExactSearch(
                g, upper_order=inits[0], group_tables=False
            ).lower_bound
        elif n <= limit:
            exact = ExactSearch(g, upper_order=inits[0])
        elif g.is_scalar and n <= ROOT_BOUND_MAX:
            # Too big to search, but the admissible bound at the root is cheap
            # and sometimes already proves a baseline optimal.
            lower_bound = ExactSearch(
                g, upper_order=inits[0], group_tables=False
            ).lower_bound
            notes.append(f"exact: {n} intermediates > {limit}, root lower bound only")
        else:
            notes.append(f"exact: skipped, {n} intermediates > {limit}")
        # (A*'s own bound includes the same group tables.)
        if model is not None and dp is None and exact is None and n <= ROOT_BOUND_MAX:
            groups = GroupBound(model, size=10 if n <= 150 else 8)
    run = Run(
        graph=g,
        best=best,
        deadline=deadline,
        max_chunks=max_chunks,
        work=work,
        notes=notes,
        lower_bound=lower_bound,
    )
    if exact is not None:
        run.slots["exact"] = ExactSlot(exact, chunk=100 if g.is_scalar else 10)
    if dp is not None:
        run.slots["dp"] = SubsetDPSlot(dp)
    if groups is not None:
        run.slots["bounds"] = GroupBoundSlot(groups)
    # A tensor graph's annealer prices its start twice and calibrates before
    # its first move (1,500 intermediates: 0.76 s where a pricing pass takes
    # 0.12 s); where that cannot fit, it does not start (at 1 s such a graph
    # returned after 4.3 s).
    setup_s = 0.0 if g.is_scalar else TENSOR_SETUP_PASSES * core.pricing_s
    late = (
        not g.is_scalar
        and max_chunks is None
        and time.perf_counter() + setup_s > deadline
    )
    if n >= 2 and "local" in chosen and late:
        notes.append(
            f"local: skipped, its set-up (~{setup_s:.2f} s) does not fit in the budget"
        )
    if n >= 2 and "local" in chosen and not late:
        markowitz = [base_costs[k] for k in MARKOWITZ_TYPE if k in base_costs]
        local = LocalSearch(
            g,
            seed=seed,
            init_orders=inits,
            init_costs=[cost for _, (_, cost) in ranked],
            core=core if isinstance(core, ScalarCore) else None,
            # Noisy Markowitz restarts only pay where Markowitz is competitive.
            greedy_restarts=None
            if markowitz and min(markowitz) <= GREEDY_RESTARTS_WITHIN * ranked[0][1][1]
            else False,
            deadline=None if max_chunks is not None else deadline,
        )
        # Chunks shrink on big graphs (a move costs more there) so that the
        # budget is checked often; they depend on the graph only, never on the
        # clock. Scalar: C moves, a few microseconds each, more with more edges.
        if g.is_scalar:
            chunk = max(64, min(4096, 4_000_000 // max(len(g.edges), 1)))
        else:
            chunk = max(20, min(200, 40_000 // max(n, 1)))
        run.slots["local"] = AnnealSlot(local, chunk)
        if model is not None and WINDOW_MIN <= n <= WINDOW_MAX:
            window = WindowSearch(model, inits[0], width=WINDOW_WIDTH)
            run.slots["window"] = WindowSlot(window)
        if isinstance(core, ScalarCore) and INSERT_MIN <= n <= INSERT_MAX:
            insertion = InsertionSearch(
                core,
                inits[0],
                ranked[0][1][1],
                seed=seed,
                kicks=n >= KICK_MIN,
                passes=n >= PASSES_MIN,
            )
            run.slots["insertion"] = InsertionSlot(insertion)
    if n and "mcts" in chosen:
        try:
            from search.mcts import run_mcts
        except ImportError as err:
            notes.append(f"mcts: unavailable ({err})")
        else:
            run.slots["mcts"] = MCTSSlot(run_mcts, params, seed)
    run_schedule(run)
    lower_bound = run.lower_bound

    order = best.order
    if g.is_scalar and n > VERIFY_MAX:  # graphs.cost is quadratic in the graph
        # A baseline was priced by this same pass; the other orders come from
        # annealing's bookkeeping, which this re-prices from scratch.
        checked = best.cost if best.method.startswith("baseline:") else None
        slack = max(0.2, 0.1 * time_budget_s)
        # Twice the estimate by half the slack: a pass's time varies with the
        # load (100,000 intermediates at 10 s returned after 11.08 s when the
        # pass was planned to end at the limit, deadline + slack).
        seconds = 2 * core.seconds_to_price(int(best.cost))
        if checked is None and time.perf_counter() + seconds > deadline + slack / 2:
            # Re-pricing would overrun the budget (a pass costs the order's
            # multiplications); the C bookkeeping is checked by the tests.
            notes.append("verify: order not re-priced (no time left)")
            checked = best.cost
        checked = checked if checked is not None else core.order_cost(order)
    else:
        checked = cost_of(g, order).multiplications
    if checked != best.cost:
        raise AssertionError(
            f"internal cost {best.cost} != re-priced cost {checked} "
            f"for the order found by {best.method}; please report this graph"
        )
    if lower_bound is not None:
        lower_bound = min(int(lower_bound), int(best.cost))
    cost, method, predicted = int(best.cost), best.method, None
    # With max_chunks the result depends on the seed only: no clock.
    time_deadline = None if max_chunks is not None else start + time_budget_s
    if objective == "time" and not affordable(int(best.cost), time_deadline):
        notes.append("time: not priced (too little time left for one pricing pass)")
    elif objective == "time":
        # The incumbent first (always priced), then every other order produced.
        candidates = [(best.order, best.method), *best.offered]
        candidates += [(o, f"baseline:{k}") for k, (o, _) in found.items()]
        timed = minimize_time(
            g, candidates, batch_size=batch_size, seed=seed, deadline=time_deadline
        )
        order, cost, predicted = timed.order, timed.multiplications, timed.predicted_s
        method = timed.source
    return OptimizeResult(
        order=tuple(g.ids[v] for v in order),
        cost=cost,
        method=method,
        baselines=base_costs,
        lower_bound=lower_bound,
        elapsed_s=time.perf_counter() - start,
        history=tuple(best.history),
        work=work,
        notes=tuple(notes),
        objective=objective,
        predicted_time_s=predicted,
    )
