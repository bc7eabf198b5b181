"""Two MINPACK-2 nonlinear systems: HumanHeartDipole and PropaneCombustion.

Both are residuals ``F: R^n -> R^n`` from the MINPACK-2 test problem collection
(Averick, Carter, Moré, Xue, *The MINPACK-2 test problem collection*, ANL/MCS-P153,
1992), written from the published equations in scalar arithmetic.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

#: The measured sums of problem version DHHD1 (Nelson and Hodgkin's data).
HHD_SUMS = {
    "mx": 0.485,
    "my": -0.0019,
    "a": -0.0581,
    "b": 0.015,
    "c": 0.105,
    "d": 0.0406,
    "e": 0.167,
    "f": -0.399,
}


def human_heart_dipole(a, b, c, d, t, u, v, w):
    """MINPACK-2 ``dhhd`` residual (Dennis, Gay and Vu's heart dipole, version 1).

    Args:
      a, b, c, d, t, u, v, w: the eight unknowns (scalars).

    Returns:
      The eight residuals, a tuple of scalars.
    """
    s = HHD_SUMS
    tt, vv, uu, ww = t * t, v * v, u * u, w * w
    tv, uw = t * v, u * w
    t2_v2 = tt - vv
    u2_w2 = uu - ww
    t2_3v2 = tt - 3.0 * vv
    v2_3t2 = vv - 3.0 * tt
    u2_3w2 = uu - 3.0 * ww
    w2_3u2 = ww - 3.0 * uu
    return (
        a + b - s["mx"],
        c + d - s["my"],
        t * a + u * b - v * c - w * d - s["a"],
        v * a + w * b + t * c + u * d - s["b"],
        a * t2_v2 - 2.0 * c * tv + b * u2_w2 - 2.0 * d * uw - s["c"],
        c * t2_v2 + 2.0 * a * tv + d * u2_w2 + 2.0 * b * uw - s["d"],
        a * t * t2_3v2 + c * v * v2_3t2 + b * u * u2_3w2 + d * w * w2_3u2 - s["e"],
        c * t * t2_3v2 - a * v * v2_3t2 + d * u * u2_3w2 - b * w * w2_3u2 - s["f"],
    )


#: Equilibrium constants K5 … K10 of the full propane formulation.
PROPANE_K = (1.930e-1, 2.597e-3, 3.448e-3, 1.799e-5, 2.155e-4, 3.846e-5)
#: Pressure (atm) and the air-to-fuel ratio R.
PROPANE_P = 40.0
PROPANE_R = 10.0


def propane_combustion(x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11):
    """MINPACK-2 ``cpf`` residual: combustion of propane, full formulation.

    Meintjes and Morgan's chemical equilibrium of propane in air: four mass
    balances, six equilibrium conditions and the total mole count. The unknowns
    are mole numbers and must be positive (square roots of them appear).

    Args:
      x1 … x11: the eleven unknowns (positive scalars); ``x11`` is the total.

    Returns:
      The eleven residuals, a tuple of scalars.
    """
    k5, k6, k7, k8, k9, k10 = PROPANE_K
    p, r = PROPANE_P, PROPANE_R
    p_x11 = p / x11
    sqrt_p_x11 = jnp.sqrt(p_x11)
    total = x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
    return (
        x1 + x4 - 3.0,
        2.0 * x1 + x2 + x4 + x7 + x8 + x9 + 2.0 * x10 - r,
        2.0 * x2 + 2.0 * x5 + x6 + x7 - 8.0,
        2.0 * x3 + x9 - 4.0 * r,
        k5 * x2 * x4 - x1 * x5,
        k6 * jnp.sqrt(x2 * x4) - jnp.sqrt(x1) * x6 * sqrt_p_x11,
        k7 * jnp.sqrt(x1 * x2) - jnp.sqrt(x4) * x7 * sqrt_p_x11,
        k8 * x1 - x4 * x8 * p_x11,
        k9 * x1 * jnp.sqrt(x3) - x4 * x9 * sqrt_p_x11,
        k10 * x1 * x1 - x4 * x4 * x10 * p_x11,
        x11 - total,
    )


def propane_start() -> tuple[float, ...]:
    """MINPACK-2's standard starting point of the propane problem."""
    k5, k6, k7, k8, k9, k10 = PROPANE_K
    p = PROPANE_P
    sqrt_p = math.sqrt(p)
    return (
        5.0,
        2.5,
        5.0,
        0.1,
        0.05 * k5,
        k6 / sqrt_p,
        50.0 * k7 / sqrt_p,
        1.0e3 * k8 / p,
        5.0e2 * k9 / sqrt_p,
        5.0e4 * k10 / p,
        20.0,
    )
