"""RobotArm_6DOF: forward kinematics of a 6-joint arm (Denavit–Hartenberg).

Each joint contributes the standard DH transform ``Rz(theta) Tz(d) Tx(a) Rx(alpha)``

    [[c, -s ca,  s sa, a c],
     [s,  c ca, -c sa, a s],
     [0,    sa,    ca,   d]]   (bottom row 0 0 0 1)

with ``c, s = cos(theta), sin(theta)``. The arm's DH table is the PUMA 560's
(Corke, *Robotics, Vision and Control*). The DH table is data, as in a generic
kinematics routine: ``cos(alpha)`` and ``sin(alpha)`` are computed numerically, and
only products with an exact zero (a zero length or offset, and the zeros of the
homogeneous form) are skipped. The six transforms are multiplied entry by entry in
scalar arithmetic.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

#: (a, d, alpha) per joint, lengths in metres: the PUMA 560's standard DH table.
PUMA560_DH: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, math.pi / 2),
    (0.4318, 0.0, 0.0),
    (0.0203, 0.15005, -math.pi / 2),
    (0.0, 0.4318, math.pi / 2),
    (0.0, 0.0, -math.pi / 2),
    (0.0, 0.0, 0.0),
)


def _is_zero(x) -> bool:
    return isinstance(x, int | float) and x == 0.0


def _mul(x, y):
    """``x * y``, skipped when either factor is an exact constant zero."""
    return 0.0 if _is_zero(x) or _is_zero(y) else x * y


def _add(x, y):
    """``x + y``, skipped when either term is an exact constant zero."""
    if _is_zero(x):
        return y
    return x if _is_zero(y) else x + y


def _dh(theta, a: float, d: float, alpha: float):
    """The top three rows of one joint's DH transform, entries scalars or constants."""
    ca, sa = math.cos(alpha), math.sin(alpha)
    c, s = jnp.cos(theta), jnp.sin(theta)
    return [
        [c, _mul(-s, ca), _mul(s, sa), _mul(a, c)],
        [s, _mul(c, ca), _mul(-c, sa), _mul(a, s)],
        [0.0, sa, ca, d],
    ]


def _compose(t, m):
    """The top rows of ``T @ M`` for two rigid transforms given by their top rows."""
    out = []
    for i in range(3):
        row = []
        for j in range(4):
            acc = 0.0 if j < 3 else t[i][3]
            for k in range(3):
                acc = _add(acc, _mul(t[i][k], m[k][j]))
            row.append(acc)
        out.append(row)
    return out


def robot_arm_6dof(theta1, theta2, theta3, theta4, theta5, theta6):
    """Pose of the PUMA 560's end effector for six joint angles.

    Args:
      theta1 … theta6: joint angles in radians (scalars).

    Returns:
      ``(x, y, z, yaw, pitch, roll)``: position in metres and Z-Y-X Euler angles
      of the tool frame (``yaw = atan2(r21, r11)``,
      ``pitch = atan2(-r31, sqrt(r11² + r21²))``, ``roll = atan2(r32, r33)``).
    """
    thetas = (theta1, theta2, theta3, theta4, theta5, theta6)
    t = None
    for theta, (a, d, alpha) in zip(thetas, PUMA560_DH, strict=True):
        m = _dh(theta, a, d, alpha)
        t = m if t is None else _compose(t, m)
    r11, r21, r31 = t[0][0], t[1][0], t[2][0]
    yaw = jnp.arctan2(r21, r11)
    pitch = jnp.arctan2(-r31, jnp.sqrt(r11 * r11 + r21 * r21))
    roll = jnp.arctan2(t[2][1], t[2][2])
    return t[0][3], t[1][3], t[2][3], yaw, pitch, roll
