"""The ten benchmark tasks: domains, math against hand values, and their graphs."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
from graphs import tasks
from graphs.elimination import SINK_SUFFIX
from graphs.random_programs import count_primitives
from graphs.tasks.fluids import GAMMA, roe_flux_1d, roe_flux_3d

NAMES = [
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


@functools.cache
def _elim(name: str) -> graphs.ElimGraph:
    return graphs.build(tasks.get(name).graph())


def _maybe_jit(task, fn):
    # Array programs run faster compiled; XLA takes long to compile the
    # scalar ones (g: ~45 s), which run fast enough eagerly.
    return jax.jit(fn) if any(np.ndim(a) for a in task.args) else fn


def _jacobian(task):
    argnums = task.argnums or tuple(range(len(task.args)))
    return _maybe_jit(task, jax.jacfwd(task.fn, argnums=argnums))(*task.args)


def test_tasks_are_the_ten_alphagrad_tasks_in_order():
    assert list(tasks.TASKS) == NAMES
    assert tasks.names() == NAMES
    assert set(tasks.SCALAR_TASKS) < set(NAMES)


def test_get_unknown_task_names_the_known_ones():
    with pytest.raises(graphs.GraphError, match="unknown task 'Roe'.*RoeFlux_1d"):
        tasks.get("Roe")


def test_argument_shapes_are_as_specified():
    shapes = {name: [np.shape(a) for a in tasks.get(name).args] for name in NAMES}
    assert shapes["RoeFlux_1d"] == [()] * 6
    assert shapes["RoeFlux_3d"] == [(1,), (3,), (1,)] * 2
    assert shapes["RobotArm_6DOF"] == [()] * 6
    assert shapes["HumanHeartDipole"] == [()] * 8
    assert shapes["PropaneCombustion"] == [()] * 11
    assert shapes["BlackScholes_Jacobian"] == [()] * 5
    assert shapes["f"] == [(4,), (2, 3), (4, 4), (4, 1)]
    assert shapes["g"] == [()] * 15
    assert shapes["MLP"] == [(4,), (4,), (8, 4), (8,), (4, 8), (4,), (8,), (8,)]
    assert (
        shapes["Encoder"]
        == [(4, 4), (2, 4)]
        + [(4, 4)] * 7
        + [
            (4,),
            (2, 4),
            (2, 1),
        ]
        + [(4,)] * 4
    )


@pytest.mark.parametrize("name", NAMES)
def test_values_and_jacobian_are_finite_at_the_example_args(name):
    task = tasks.get(name)
    values = jax.tree.leaves(_maybe_jit(task, task.fn)(*task.args))
    jac = jax.tree.leaves(_jacobian(task))
    assert all(np.asarray(x).dtype == np.float64 for x in values + jac)
    assert all(np.all(np.isfinite(x)) for x in values + jac)
    # Every output depends on some argument: no all-zero Jacobian block rows.
    assert sum(float(np.abs(x).sum()) for x in jac) > 0


@pytest.mark.parametrize("name", tasks.SCALAR_TASKS)
def test_scalar_tasks_trace_to_all_scalar_graphs_with_valued_edges(name):
    elim = _elim(name)
    assert elim.is_scalar
    for (dst, src), partial in elim.edges.items():
        # The only value-less edges are the free copies into split-output sinks.
        if not elim.ids[dst].endswith(SINK_SUFFIX):
            assert partial.has_values, (elim.ids[src], elim.ids[dst])


@pytest.mark.parametrize(
    "name, low, high",
    [
        ("RoeFlux_1d", 60, 100),  # 88
        ("RoeFlux_3d", 80, 160),  # 118
        ("RobotArm_6DOF", 200, 260),  # 212
        ("HumanHeartDipole", 60, 110),  # 72
        ("PropaneCombustion", 50, 100),  # 55
        ("BlackScholes_Jacobian", 30, 100),  # 35
        ("f", 60, 100),  # 76
        ("g", 80, 120),  # 95
        ("MLP", 15, 40),  # 21
        ("Encoder", 50, 120),  # 74
    ],
)
def test_graph_sizes_are_in_the_expected_ranges(name, low, high):
    elim = _elim(name)
    assert low <= len(elim.intermediates) <= high
    inputs = sum(np.size(a) > 0 for a in tasks.get(name).args)
    assert len(elim.inputs) == inputs


def test_f_has_70_to_90_primitives_and_g_about_100():
    f, g = tasks.get("f"), tasks.get("g")
    assert count_primitives(jax.make_jaxpr(f.fn)(*f.args).jaxpr) == 80
    assert count_primitives(jax.make_jaxpr(g.fn)(*g.args).jaxpr) == 99
    assert len(g()) == 20


def test_black_scholes_matches_hulls_worked_example():
    # Hull, Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5 gives c = 4.76,
    # d1 = 0.7693, d2 = 0.6278.
    call, delta, *_ = tasks.get("BlackScholes_Jacobian").fn(
        *map(np.float64, (42.0, 40.0, 0.1, 0.2, 0.5))
    )
    assert call == pytest.approx(4.7594, abs=1e-4)
    assert delta == pytest.approx(
        0.5 * (1 + math.erf(0.769263 / math.sqrt(2))), abs=1e-6
    )


def test_black_scholes_greeks_are_the_derivatives_of_the_price():
    task = tasks.get("BlackScholes_Jacobian")

    def price(*args):
        return task.fn(*args)[0]

    d_s, _, d_r, d_sigma, d_t = jax.grad(price, argnums=(0, 1, 2, 3, 4))(*task.args)
    _, delta, vega, theta, rho = task()
    np.testing.assert_allclose(delta, d_s, rtol=1e-12)
    np.testing.assert_allclose(vega, d_sigma, rtol=1e-12)
    np.testing.assert_allclose(theta, -d_t, rtol=1e-12)
    np.testing.assert_allclose(rho, d_r, rtol=1e-12)


def _dh_numpy(thetas, table):
    """The full 4x4 DH product, written independently with numpy."""
    total = np.eye(4)
    for theta, (a, d, alpha) in zip(thetas, table, strict=True):
        ct, st, ca, sa = np.cos(theta), np.sin(theta), np.cos(alpha), np.sin(alpha)
        total = total @ np.array(
            [
                [ct, -st * ca, st * sa, a * ct],
                [st, ct * ca, -ct * sa, a * st],
                [0.0, sa, ca, d],
                [0.0, 0.0, 0.0, 1.0],
            ]
        )
    return total


def test_robot_arm_at_zero_angles_is_the_hand_computed_pose():
    # At theta = 0 each DH transform is Tz(d) Tx(a) Rx(alpha). The twists
    # +90, 0, -90, +90, -90, 0 cancel, so the tool frame is the base frame
    # (yaw = pitch = roll = 0). Position: joint 2 adds (a2, 0, 0) = (0.4318, 0, 0)
    # after Rx(90) (x unchanged); joint 3 adds Rx(90) (a3, 0, d3) =
    # (0.0203, -0.15005, 0); joint 4 adds Rx(0) (0, 0, d4) = (0, 0, 0.4318).
    pose = tasks.get("RobotArm_6DOF").fn(*[np.float64(0.0)] * 6)
    np.testing.assert_allclose(
        np.array(pose), [0.4521, -0.15005, 0.4318, 0.0, 0.0, 0.0], atol=1e-12
    )


def test_robot_arm_matches_a_numpy_dh_product():
    from graphs.tasks.robotics import PUMA560_DH

    task = tasks.get("RobotArm_6DOF")
    thetas = [float(a) for a in task.args]
    t = _dh_numpy(thetas, PUMA560_DH)
    yaw = math.atan2(t[1, 0], t[0, 0])
    pitch = math.atan2(-t[2, 0], math.hypot(t[0, 0], t[1, 0]))
    roll = math.atan2(t[2, 1], t[2, 2])
    expected = [t[0, 3], t[1, 3], t[2, 3], yaw, pitch, roll]
    np.testing.assert_allclose(np.array(task()), expected, atol=1e-12)


def _euler_flux(rho, u, p):
    e = p / (GAMMA - 1) + 0.5 * rho * u * u
    return rho * u, rho * u * u + p, u * (e + p), e


def test_roe_flux_of_equal_states_is_the_physical_flux():
    # rho = 1, u = 0.5, p = 1: E = 2.5 + 0.125 = 2.625, so
    # F = (rho u, rho u² + p, u (E + p)) = (0.5, 1.25, 1.8125).
    state = (1.0, 0.5, 2.625)
    flux = roe_flux_1d(*map(np.float64, state + state))
    np.testing.assert_allclose(np.array(flux), [0.5, 1.25, 1.8125], rtol=1e-14)


def test_roe_flux_of_supersonic_flow_is_the_upwind_flux():
    # u = 3 > c = sqrt(1.4) on both sides: every wave moves right, F = F(U_L).
    *f_left, e_left = _euler_flux(1.0, 3.0, 1.0)
    *_, e_right = _euler_flux(0.5, 3.2, 0.8)
    args = (1.0, 3.0, e_left, 0.5, 1.6, e_right)
    flux = roe_flux_1d(*map(np.float64, args))
    np.testing.assert_allclose(np.array(flux), f_left, rtol=1e-13)


def test_roe_flux_3d_reduces_to_1d_without_transverse_flow():
    left, right = (1.0, 0.3, 2.545), (0.125, 0.0125, 0.250625)
    flux_1d = np.array(roe_flux_1d(*map(np.float64, left + right)))
    mass, mom, energy = roe_flux_3d(
        jnp.array([left[0]]),
        jnp.array([left[1], 0.0, 0.0]),
        jnp.array([left[2]]),
        jnp.array([right[0]]),
        jnp.array([right[1], 0.0, 0.0]),
        jnp.array([right[2]]),
    )
    np.testing.assert_allclose(mass, flux_1d[:1], rtol=1e-13)
    np.testing.assert_allclose(mom, [flux_1d[1], 0.0, 0.0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(energy, flux_1d[2:], rtol=1e-13)


def test_roe_entropy_fix_only_changes_slow_waves():
    task = tasks.get("RoeFlux_1d")
    plain = np.array(roe_flux_1d(*task.args))
    tiny_fix = np.array(roe_flux_1d(*task.args, entropy_fix=1e-6))
    big_fix = np.array(roe_flux_1d(*task.args, entropy_fix=5.0))
    np.testing.assert_allclose(tiny_fix, plain, rtol=1e-14)
    assert np.all(np.isfinite(big_fix)) and not np.allclose(big_fix, plain)


def test_heart_dipole_residual_and_jacobian_rows_match_minpack():
    task = tasks.get("HumanHeartDipole")
    # At x = 0 every residual is minus its measured sum.
    zero = task.fn(*[np.float64(0.0)] * 8)
    sums = [0.485, -0.0019, -0.0581, 0.015, 0.105, 0.0406, 0.167, -0.399]
    np.testing.assert_allclose(np.array(zero), -np.array(sums), rtol=1e-15)
    # MINPACK-2's hand-written Jacobian rows 3 and 4.
    a, b, c, d, t, u, v, w = (float(x) for x in task.args)
    jac = np.array(_jacobian(task))
    np.testing.assert_allclose(jac[2], [t, u, -v, -w, a, b, -c, -d], rtol=1e-14)
    np.testing.assert_allclose(jac[3], [v, w, t, u, c, d, a, b], rtol=1e-14)


def test_propane_residual_at_the_standard_start():
    task = tasks.get("PropaneCombustion")
    x = [float(a) for a in task.args]
    res = np.array(task())
    assert res[0] == pytest.approx(5.0 + 0.1 - 3.0)  # x1 + x4 - 3
    assert res[3] == pytest.approx(2 * 5.0 + x[8] - 40.0)  # 2 x3 + x9 - 4 R
    assert res[10] == pytest.approx(20.0 - sum(x[:10]))
    jac = np.array(_jacobian(task))
    # d f8 / d x11 = x4 x8 p / x11² (MINPACK-2's hand-written entry).
    assert jac[7, 10] == pytest.approx(x[3] * x[7] * 40.0 / x[10] ** 2, rel=1e-12)


def test_task_graph_is_named_after_the_task():
    assert tasks.get("MLP").graph().name == "MLP"
