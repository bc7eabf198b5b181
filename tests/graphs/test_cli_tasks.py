"""`ccelim tasks` and `ccelim graph`, with an independent |P|·|S| recount."""

import json

import pytest
from typer.testing import CliRunner

from graphs.tasks import SCALAR_TASKS
from service.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def table():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 9 and cells[1].isdigit():
            rows[cells[0]] = cells
    return rows


def test_tasks_prints_the_ten_rows(table):
    assert list(table) == [
        "RoeFlux_1d",
        "RoeFlux_3d",
        "RobotArm_6DOF",
        "HumanHeartDipole",
        "PropaneCombustion",
        "BlackScholes_Jacobian",
        "f",
        "g",
        "MLP",
        "Encoder",
    ]
    for cells in table.values():
        best = int(cells[8].split()[0])
        assert best <= min(int(cells[5]), int(cells[6]), int(cells[7]))


def _recount(doc):
    """Forward, reverse and Markowitz costs by the textbook rule, from plain JSON.

    An output that feeds later vertices gets a sink reached by a copy edge without
    value; a product with that edge costs nothing (README, "cost model").
    """
    order = [v["id"] for v in doc["vertices"]]
    position = {v: i for i, v in enumerate(order)}
    inputs, outputs = doc["inputs"], doc["outputs"]
    edges = {(src, dst): True for src, dst, *_ in doc["edges"]}
    succ = {}
    pred = {}
    for src, dst in edges:
        succ.setdefault(src, set()).add(dst)
        pred.setdefault(dst, set()).add(src)

    def closure(start, nxt):
        seen, stack = set(start), list(start)
        while stack:
            for w in nxt.get(stack.pop(), ()):
                if w not in seen:
                    seen.add(w)
                    stack.append(w)
        return seen

    live = closure(inputs, succ) & closure(outputs, pred)
    edges = {(a, b): val for (a, b), val in edges.items() if a in live and b in live}
    for out in dict.fromkeys(outputs):
        if out in live and out not in inputs and any(a == out for a, _ in edges):
            edges[(out, out + "#sink")] = False  # the value-less copy edge
    inter = [v for v in order if v in live and v not in inputs]
    inter = [v for v in inter if any(a == v for a, _ in edges)]

    def step(edges, v):
        ps = [(p, val) for (p, s), val in edges.items() if s == v]
        ss = [(s, val) for (p, s), val in edges.items() if p == v]
        cost = sum(1 for _, a in ps for _, b in ss if a and b)
        new = {k: val for k, val in edges.items() if v not in k}
        for p, a in ps:
            for s, b in ss:
                new[(p, s)] = True if (p, s) in new else (a or b)
        return new, cost

    def run(seq):
        e, total = dict(edges), 0
        for v in seq:
            e, c = step(e, v)
            total += c
        return total

    def markowitz():
        e, total, left = dict(edges), 0, list(inter)
        while left:
            costs = {v: step(e, v)[1] for v in left}
            v = min(left, key=lambda u: (costs[u], position[u]))
            e, c = step(e, v)
            total += c
            left.remove(v)
        return total

    return run(inter), run(inter[::-1]), markowitz()


@pytest.mark.parametrize("task", SCALAR_TASKS)
def test_scalar_task_costs_match_an_independent_recount(task, table):
    result = runner.invoke(app, ["graph", task, "--structure"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    forward, reverse, markowitz = _recount(doc)
    cells = table[task]
    assert (forward, reverse, markowitz) == (int(cells[5]), int(cells[6]), int(cells[7]))


def test_graph_prints_a_program_graph_that_loads():
    import graphs

    result = runner.invoke(app, ["graph", "MLP"])
    assert result.exit_code == 0
    g = graphs.load(result.output)
    assert g.is_program and len(g.inputs) == 8


def test_graph_with_an_unknown_task_fails_with_the_names():
    result = runner.invoke(app, ["graph", "NoSuchTask"])
    assert result.exit_code != 0
    assert "RoeFlux_1d" in result.output
