"""search.schedule: the table walker and the slots' rules, on real searches and on
recording slots that stand in for a method to show the walk itself."""

import time

import pytest

from graphs.elimination import build, cost_of
from search.exact import ExactSearch
from search.local import LocalSearch
from search.schedule import (
    LOCAL_FIRST_CYCLES,
    RESTART,
    SCHEDULE,
    STOP,
    AnnealSlot,
    ExactSlot,
    Incumbent,
    Run,
    run_schedule,
)
from tests.search.searchgen import random_graph


def _run(g=None, *, max_chunks=None, budget_s=60.0):
    work = {k: 0 for k in ("chunks", "local_moves", "exact_expansions", "windows")}
    return Run(
        graph=g,
        best=Incumbent(time.perf_counter(), None),
        deadline=time.perf_counter() + budget_s,
        max_chunks=max_chunks,
        work=work,
        notes=[],
    )


class Recorder:
    """A slot that logs (cycle, name) and does what it is told at given cycles."""

    def __init__(self, name, log, *, keeps_alive=True, signals=None, done_at=None):
        self.name, self.log = name, log
        self.keeps_alive = keeps_alive
        self.signals = signals or {}
        self.done_at = done_at
        self.done = False
        self.calls = 0

    def offer(self, order, cost):
        pass

    def step(self, run):
        self.log.append((run.cycle, self.name))
        self.calls += 1
        run.work["chunks"] += 1
        if self.done_at is not None and run.cycle >= self.done_at:
            self.done = True
        return self.signals.get((run.cycle, self.calls))


def test_one_cycle_walks_the_table_in_order_and_max_chunks_ends_the_run():
    log = []
    run = _run(max_chunks=7)
    for name in ("mcts", "local", "exact", "bounds"):  # any insertion order
        run.slots[name] = Recorder(name, log)
    run_schedule(run)
    # The table's order within a cycle, whatever order the slots were added in;
    # the budget is checked between cycles: the 7th chunk's cycle completes.
    assert log == [
        (0, "bounds"), (0, "exact"), (0, "local"), (0, "mcts"),
        (1, "bounds"), (1, "exact"), (1, "local"), (1, "mcts"),
    ]  # fmt: skip
    assert run.cycle == 2 and run.work["chunks"] == 8


def test_restart_starts_the_cycle_again_without_counting_it():
    log = []
    run = _run(max_chunks=5)
    run.slots["bounds"] = Recorder("bounds", log, signals={(1, 2): RESTART})
    run.slots["local"] = Recorder("local", log)
    run_schedule(run)
    # bounds' second call (cycle 1) restarts cycle 1 before local's turn.
    assert log == [
        (0, "bounds"), (0, "local"),
        (1, "bounds"), (1, "bounds"), (1, "local"),
    ]  # fmt: skip
    assert run.cycle == 2


def test_stop_ends_the_run_and_done_slots_leave_the_table():
    log = []
    run = _run(max_chunks=100)
    run.slots["exact"] = Recorder("exact", log, done_at=1)
    run.slots["local"] = Recorder("local", log, signals={(3, 4): STOP})
    run.slots["mcts"] = Recorder("mcts", log)
    run_schedule(run)
    # exact leaves after its step in cycle 1; local's 4th call (cycle 3) stops
    # the run before mcts gets that cycle.
    assert [name for c, name in log if name == "exact"] == ["exact", "exact"]
    assert log[-1] == (3, "local") and "exact" not in run.slots


def test_only_refining_slots_left_end_the_run():
    log = []
    run = _run(max_chunks=100)
    run.slots["window"] = Recorder("window", log, keeps_alive=False)
    run.slots["insertion"] = Recorder("insertion", log, keeps_alive=False)
    run_schedule(run)
    assert log == []  # windows and insertions only refine what annealing finds
    run.slots["local"] = Recorder("local", log, done_at=2)
    run_schedule(run)
    assert [name for _, name in log] == ["window", "local", "insertion"] * 3


def test_unknown_slot_names_are_refused():
    run = _run()
    run.slots["annealing"] = Recorder("annealing", [])
    with pytest.raises(ValueError, match="not in the schedule"):
        run_schedule(run)
    assert "local" in SCHEDULE and "annealing" not in SCHEDULE


def test_annealing_backs_off_while_exact_search_works_and_its_orders_are_priced():
    # A DAG of 28 intermediates whose A* root bound (46) is below the best
    # order annealing finds (57), so nothing is proven early; A* gets one
    # expansion a chunk, so it is still working after LOCAL_FIRST_CYCLES
    # cycles. Then annealing gets one chunk every 4 cycles.
    graph = random_graph(12, num_inputs=4, num_nodes=30, num_outputs=3, valueless=0.1)
    g = build(graph)
    start = list(g.intermediates)
    local = LocalSearch(g, seed=0, init_orders=[start])
    chunk = 64
    extra_cycles = 8
    exact_chunks = LOCAL_FIRST_CYCLES + extra_cycles
    local_chunks = 2 * LOCAL_FIRST_CYCLES + extra_cycles // 4
    run = _run(g, max_chunks=exact_chunks + local_chunks)
    run.best.offer(start, cost_of(g, start).multiplications, "start")
    run.slots["exact"] = ExactSlot(ExactSearch(g, upper_order=start), chunk=1)
    run.slots["local"] = AnnealSlot(local, chunk)
    run_schedule(run)
    assert "exact" in run.slots and not run.proven()
    assert run.cycle == exact_chunks
    assert run.work["exact_expansions"] == exact_chunks
    assert run.work["local_moves"] == local_chunks * chunk
    # Every improvement annealing handed in is priced by the reference.
    assert cost_of(g, list(run.best.order)).multiplications == run.best.cost
