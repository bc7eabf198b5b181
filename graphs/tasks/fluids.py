"""Roe's approximate Riemann solver for the Euler equations: RoeFlux_1d, RoeFlux_3d.

Roe (1981) linearises the flux difference at a cell face around the Roe-averaged
state (density-weighted with ``sqrt(rho)``) and upwinds each characteristic wave:

    F = 1/2 (F(U_L) + F(U_R)) - 1/2 sum_k |lambda_k| alpha_k r_k

with eigenvalues ``u - c``, ``u`` (and the shear waves in 3-D) and ``u + c``, wave
strengths ``alpha_k`` from the jumps in density, velocity and pressure, and right
eigenvectors ``r_k``. Ideal gas with ``gamma = 1.4``; conserved variables are
density, momentum and total energy per volume.
"""

from __future__ import annotations

import jax.numpy as jnp

GAMMA = 1.4


def _wave_speed(lam, entropy_fix: float):
    """``|lam|``, with Harten's entropy fix for ``|lam| < entropy_fix`` if positive."""
    speed = jnp.abs(lam)
    if entropy_fix <= 0.0:
        return speed
    smooth = (lam * lam + entropy_fix * entropy_fix) * (0.5 / entropy_fix)
    return jnp.where(speed < entropy_fix, smooth, speed)


def _primitive_1d(rho, m, e):
    """Velocity, pressure and total enthalpy of one 1-D state."""
    u = m / rho
    p = (GAMMA - 1.0) * (e - 0.5 * m * u)
    h = (e + p) / rho
    return u, p, h


def roe_flux_1d(rho_l, m_l, e_l, rho_r, m_r, e_r, *, entropy_fix: float = 0.0):
    """Roe flux of the 1-D Euler equations between a left and a right state.

    Written in scalar arithmetic only, so its graph is all-scalar.

    Args:
      rho_l, m_l, e_l: left density, momentum and total energy (scalars).
      rho_r, m_r, e_r: the same for the right state.
      entropy_fix: Harten's threshold; ``0`` (the default) turns the fix off.

    Returns:
      The face flux of mass, momentum and energy: a tuple of three scalars.
    """
    u_l, p_l, h_l = _primitive_1d(rho_l, m_l, e_l)
    u_r, p_r, h_r = _primitive_1d(rho_r, m_r, e_r)

    # Roe averages.
    s_l = jnp.sqrt(rho_l)
    s_r = jnp.sqrt(rho_r)
    inv = 1.0 / (s_l + s_r)
    u = (s_l * u_l + s_r * u_r) * inv
    h = (s_l * h_l + s_r * h_r) * inv
    rho = s_l * s_r
    c2 = (GAMMA - 1.0) * (h - 0.5 * u * u)
    c = jnp.sqrt(c2)

    # Wave strengths from the jumps.
    d_rho = rho_r - rho_l
    d_u = u_r - u_l
    d_p = p_r - p_l
    rho_c_du = rho * c * d_u
    inv_2c2 = 0.5 / c2
    a1 = (d_p - rho_c_du) * inv_2c2
    a2 = d_rho - d_p / c2
    a3 = (d_p + rho_c_du) * inv_2c2

    # Upwinded wave contributions |lambda_k| alpha_k.
    w1 = _wave_speed(u - c, entropy_fix) * a1
    w2 = _wave_speed(u, entropy_fix) * a2
    w3 = _wave_speed(u + c, entropy_fix) * a3
    uc = u * c
    diss_mass = w1 + w2 + w3
    diss_mom = w1 * (u - c) + w2 * u + w3 * (u + c)
    diss_energy = w1 * (h - uc) + w2 * (0.5 * u * u) + w3 * (h + uc)

    flux_mass = 0.5 * (m_l + m_r) - 0.5 * diss_mass
    flux_mom = 0.5 * (m_l * u_l + p_l + m_r * u_r + p_r) - 0.5 * diss_mom
    flux_energy = 0.5 * (u_l * (e_l + p_l) + u_r * (e_r + p_r)) - 0.5 * diss_energy
    return flux_mass, flux_mom, flux_energy


def _primitive_3d(rho, m, e):
    """Velocity (3,), pressure (1,) and total enthalpy (1,) of one 3-D state."""
    vel = m / rho
    p = (GAMMA - 1.0) * (e - 0.5 * jnp.sum(m * vel, keepdims=True))
    h = (e + p) / rho
    return vel, p, h


def roe_flux_3d(rho_l, m_l, e_l, rho_r, m_r, e_r):
    """Roe flux of the 3-D Euler equations through a face with normal ``e_x``.

    Args:
      rho_l: left density, shape (1,).
      m_l: left momentum, shape (3,).
      e_l: left total energy, shape (1,).
      rho_r, m_r, e_r: the same for the right state.

    Returns:
      ``(mass flux (1,), momentum flux (3,), energy flux (1,))``.
    """
    vel_l, p_l, h_l = _primitive_3d(rho_l, m_l, e_l)
    vel_r, p_r, h_r = _primitive_3d(rho_r, m_r, e_r)

    s_l = jnp.sqrt(rho_l)
    s_r = jnp.sqrt(rho_r)
    inv = 1.0 / (s_l + s_r)
    vel = (s_l * vel_l + s_r * vel_r) * inv  # (3,)
    h = (s_l * h_l + s_r * h_r) * inv  # (1,)
    rho = s_l * s_r  # (1,)
    half_q2 = 0.5 * jnp.sum(vel * vel, keepdims=True)  # (1,)
    c2 = (GAMMA - 1.0) * (h - half_q2)
    c = jnp.sqrt(c2)
    u_n = vel[0:1]  # normal velocity
    vel_t = vel[1:3]  # tangential velocity

    d_rho = rho_r - rho_l
    d_p = p_r - p_l
    d_vel = vel_r - vel_l
    d_un = d_vel[0:1]
    d_vt = d_vel[1:3]
    rho_c_dun = rho * c * d_un
    inv_2c2 = 0.5 / c2
    a1 = (d_p - rho_c_dun) * inv_2c2
    a2 = d_rho - d_p / c2
    a3 = (d_p + rho_c_dun) * inv_2c2
    shear = rho * d_vt  # strengths of the two shear waves

    w1 = jnp.abs(u_n - c) * a1
    l2 = jnp.abs(u_n)
    w2 = l2 * a2
    w3 = jnp.abs(u_n + c) * a3
    diss_mass = w1 + w2 + w3
    diss_mom_n = w1 * (u_n - c) + w2 * u_n + w3 * (u_n + c)
    diss_mom_t = diss_mass * vel_t + l2 * shear
    diss_mom = jnp.concatenate([diss_mom_n, diss_mom_t])
    uc = u_n * c
    diss_energy = (
        w1 * (h - uc)
        + w2 * half_q2
        + w3 * (h + uc)
        + l2 * jnp.sum(vel_t * shear, keepdims=True)
    )

    def physical(m_s, e_s, vel_s, p_s):
        u_s = vel_s[0:1]
        mom = jnp.concatenate([m_s[0:1] * u_s + p_s, m_s[1:3] * u_s])
        return m_s[0:1], mom, u_s * (e_s + p_s)

    fl = physical(m_l, e_l, vel_l, p_l)
    fr = physical(m_r, e_r, vel_r, p_r)
    flux_mass = 0.5 * (fl[0] + fr[0]) - 0.5 * diss_mass
    flux_mom = 0.5 * (fl[1] + fr[1]) - 0.5 * diss_mom
    flux_energy = 0.5 * (fl[2] + fr[2]) - 0.5 * diss_energy
    return flux_mass, flux_mom, flux_energy
