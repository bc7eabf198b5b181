"""The ten benchmark tasks of AlphaGrad (Lohoff and Neftci, 2024), from their math.

``TASKS`` maps each task's name to a :class:`Task`: the function, example
arguments inside its domain, and where its mathematics comes from. ``get(name)``
looks one up. The scalar tasks (RoeFlux_1d, RobotArm_6DOF, HumanHeartDipole,
PropaneCombustion, BlackScholes_Jacobian, g) use scalar arithmetic only, so their
graphs are all-scalar and follow the textbook |P|·|S| cost rule.

Example:
  >>> from graphs import tasks
  >>> task = tasks.get("RoeFlux_1d")
  >>> flux = task()  # the function on its example arguments
  >>> graph = task.graph()  # graphs.trace(task.fn, *task.args)
"""

from __future__ import annotations

import numpy as np

from graphs.errors import GraphError
from graphs.tasks.base import Task, scalars
from graphs.tasks.finance import black_scholes
from graphs.tasks.fluids import roe_flux_1d, roe_flux_3d
from graphs.tasks.minpack import human_heart_dipole, propane_combustion, propane_start
from graphs.tasks.networks import encoder, mlp
from graphs.tasks.random_tasks import F_ARGS, G_ARGS, f, g
from graphs.tasks.robotics import robot_arm_6dof
from graphs.tasks.vector import SUFFIX as VECTOR_SUFFIX
from graphs.tasks.vector import vector_tasks

__all__ = [
    "SCALAR_TASKS",
    "TASKS",
    "Task",
    "VECTOR_SUFFIX",
    "VECTOR_TASKS",
    "get",
    "names",
]


def _pattern(shape: tuple[int, ...], phase: float, scale: float = 0.5) -> np.ndarray:
    """Deterministic, irregular example values: ``scale·sin(1.3 k + phase)``."""
    size = int(np.prod(shape, dtype=np.int64))
    return scale * np.sin(1.3 * np.arange(size, dtype=np.float64) + phase).reshape(
        shape
    )


def _vec(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _tasks() -> dict[str, Task]:
    roe = "Roe, J. Comput. Phys. 43 (1981) 357-372; Toro, Riemann Solvers, ch. 11."
    minpack = (
        "Averick, Carter, Moré, Xue: The MINPACK-2 test problem collection (1992)."
    )
    alphagrad = "Lohoff and Neftci, AlphaGrad (2024): benchmark task of the same name."
    layer_norm = (_pattern((4,), 0.3, 0.2) + 1.0, _pattern((4,), 1.1, 0.1))
    task_list = [
        Task(
            "RoeFlux_1d",
            roe_flux_1d,
            scalars(1.0, 0.3, 2.545, 0.125, 0.0125, 0.250625),
            description="Roe's approximate Riemann flux of the 1-D Euler equations "
            "(left/right density, momentum, energy -> 3 face fluxes).",
            reference=roe,
        ),
        Task(
            "RoeFlux_3d",
            roe_flux_3d,
            (
                _vec(1.0),
                _vec(0.3, 0.1, -0.2),
                _vec(2.57),
                _vec(0.125),
                _vec(0.0125, -0.01, 0.005),
                _vec(0.252),
            ),
            description="Roe flux of the 3-D Euler equations through an x-face "
            "(density (1,), momentum (3,), energy (1,) per side -> 3 flux parts).",
            reference=roe,
        ),
        Task(
            "RobotArm_6DOF",
            robot_arm_6dof,
            scalars(0.3, -0.5, 0.7, 0.2, -0.4, 0.6),
            description="Forward kinematics of a PUMA 560 by Denavit–Hartenberg "
            "transforms (6 joint angles -> position and Z-Y-X Euler angles).",
            reference="Denavit and Hartenberg (1955); PUMA 560 DH table from Corke, "
            "Robotics, Vision and Control (2017).",
        ),
        Task(
            "HumanHeartDipole",
            human_heart_dipole,
            scalars(0.299, 0.186, -0.0273, 0.0254, -0.474, 0.474, -0.0892, 0.0892),
            description="MINPACK-2 dhhd residual, version 1, at its standard start "
            "(8 -> 8).",
            reference=minpack + " Dennis, Gay and Vu (1985).",
        ),
        Task(
            "PropaneCombustion",
            propane_combustion,
            scalars(*propane_start()),
            description="MINPACK-2 combustion of propane, full formulation, at its "
            "standard start (11 -> 11).",
            reference=minpack + " Meintjes and Morgan, ACM TOMS 16 (1990).",
        ),
        Task(
            "BlackScholes_Jacobian",
            black_scholes,
            scalars(100.0, 95.0, 0.05, 0.2, 0.75),
            description="European call price and its Greeks delta, vega, theta, rho "
            "(spot, strike, rate, volatility, maturity -> 5).",
            reference="Black and Scholes (1973); Hull, Options, Futures, and Other "
            "Derivatives, ch. 19.",
        ),
        Task(
            "f",
            f,
            F_ARGS,
            description="Random array program: elementwise, matmul and reductions, "
            "80 primitives, inputs (4,), (2,3), (4,4), (4,1).",
            reference=alphagrad + " Drawn once from a fixed seed, written out.",
        ),
        Task(
            "g",
            g,
            scalars(*G_ARGS),
            description="Random scalar program: 15 -> 20 scalars, 99 primitives.",
            reference=alphagrad + " Drawn once from a fixed seed, written out.",
        ),
        Task(
            "MLP",
            mlp,
            (
                _pattern((4,), 0.0, 1.0),
                _pattern((4,), 0.7),
                _pattern((8, 4), 0.2),
                _pattern((8,), 0.9, 0.1),
                _pattern((4, 8), 1.7),
                _pattern((4,), 2.3, 0.1),
                _pattern((8,), 0.3, 0.2) + 1.0,
                _pattern((8,), 1.1, 0.1),
            ),
            description="Two-layer perceptron with layer norm and tanh, squared-error "
            "loss of all arguments (-> scalar).",
            reference=alphagrad,
        ),
        Task(
            "Encoder",
            encoder,
            (
                _pattern((4, 4), 0.0, 1.0),
                np.array([[0.8, 0.3, 0.6, 0.1], [0.2, 0.7, 0.4, 0.9]]),
                *(_pattern((4, 4), 0.5 + k) for k in range(6)),
                _pattern((4, 4), 6.5),
                _pattern((4,), 7.1, 0.1),
                _pattern((2, 4), 8.3),
                _pattern((2, 1), 9.7, 0.1),
                *layer_norm,
                *layer_norm,
            ),
            description="One transformer encoder block (two attention heads, layer "
            "norms, ReLU feed-forward) with a cross-entropy loss (-> scalar).",
            reference=alphagrad + " Vaswani et al. (2017).",
        ),
    ]
    return {task.name: task for task in task_list}


#: Every benchmark task by name, in AlphaGrad's order.
TASKS: dict[str, Task] = _tasks()

#: The tasks whose graphs are all-scalar with a value on every edge.
SCALAR_TASKS: tuple[str, ...] = (
    "RoeFlux_1d",
    "RobotArm_6DOF",
    "HumanHeartDipole",
    "PropaneCombustion",
    "BlackScholes_Jacobian",
    "g",
)


#: The vector form of every task (one array in, one array out), keyed
#: ``name + VECTOR_SUFFIX``; see :mod:`graphs.tasks.vector`.
VECTOR_TASKS: dict[str, Task] = vector_tasks(TASKS)


def names() -> list[str]:
    """The task names, in order."""
    return list(TASKS)


def get(name: str) -> Task:
    """The task called ``name`` (a vector form by ``name + VECTOR_SUFFIX``).

    Raises:
      GraphError: no such task; the message lists the known names.
    """
    try:
        return TASKS[name] if name in TASKS else VECTOR_TASKS[name]
    except KeyError:
        raise GraphError(
            f"unknown task {name!r}; expected one of: {', '.join(TASKS)}"
        ) from None
