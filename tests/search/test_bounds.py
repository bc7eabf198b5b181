"""search.bounds: the group lower bound never exceeds the optimum."""

from graphs import tasks
from graphs.elimination import build
from graphs.random_programs import random_dag
from search.bounds import CutBound, GroupBound, group_bound
from search.exact import exact_optimum
from search.fastcost import ScalarModel
from tests.search.searchgen import random_graph


def test_group_bound_never_exceeds_the_optimum():
    raised = 0
    for seed in range(60):
        if seed % 2:
            graph = random_graph(seed, num_nodes=6 + seed % 12, valueless=0.25)
        else:
            graph = random_dag(
                seed, num_intermediates=8 + seed % 12, num_inputs=2, num_outputs=2
            )
        g = build(graph)
        if not g.intermediates:
            continue
        model = ScalarModel(g)
        optimum = exact_optimum(g).cost  # the subset DP: at most 19 intermediates
        cut = CutBound(model)
        root = sum(cut(v, 0) for v in g.intermediates)  # per-vertex bound h1
        for size in (1, 3, 5):
            bound = group_bound(model, size=size)
            assert bound <= optimum
            if size == 1:  # groups of one vertex: the per-vertex root bound h1
                assert bound == root
        raised += group_bound(model, size=5) > root
    assert raised >= 5


def test_group_bound_on_robot_arm_rules_out_alphagrads_reduction():
    # RobotArm_6DOF: best baseline 562; no order can cost less than the bound,
    # so no order saves more than (562 - bound) / 562 < 19.8 % (AlphaGrad's).
    model = ScalarModel(build(tasks.get("RobotArm_6DOF").graph()))
    bound = GroupBound(model, size=8)
    while not bound.step():
        pass
    assert bound.value == 479
    assert (562 - bound.value) / 562 < 0.198
