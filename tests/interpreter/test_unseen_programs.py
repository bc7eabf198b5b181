"""Programs the tests never saw before: integrators, kinematics, cells, stencils, losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tests.interpreter.helpers import check_program


def lorenz(y, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    return jnp.stack(
        [sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]]
    )


def rk4_step(y, dt):
    k1 = lorenz(y)
    k2 = lorenz(y + dt / 2 * k1)
    k3 = lorenz(y + dt / 2 * k2)
    k4 = lorenz(y + dt * k3)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def test_rk4_integrator_step():
    check_program(rk4_step, jnp.asarray([1.0, 1.5, 20.0]), jnp.asarray(0.01))


def test_two_link_planar_arm():
    def arm(t1, t2, l1, l2):
        elbow = jnp.stack([l1 * jnp.cos(t1), l1 * jnp.sin(t1)])
        hand = elbow + jnp.stack([l2 * jnp.cos(t1 + t2), l2 * jnp.sin(t1 + t2)])
        return hand, jnp.arctan2(hand[1], hand[0])

    check_program(arm, 0.3, -0.8, 1.2, 0.7)


def test_gru_cell():
    def gru(x, h, wz, uz, wr, ur, wh, uh):
        z = jax.nn.sigmoid(wz @ x + uz @ h)
        r = jax.nn.sigmoid(wr @ x + ur @ h)
        hh = jnp.tanh(wh @ x + uh @ (r * h))
        return (1 - z) * h + z * hh

    rng = np.random.default_rng(0)
    mats = [jnp.asarray(rng.normal(size=s)) * 0.5 for s in [(4, 3), (4, 4)] * 3]
    check_program(
        gru, jnp.asarray([0.1, -0.4, 0.9]), jnp.asarray([0.2, 0.0, -0.3, 0.5]), *mats
    )


def test_lstm_cell():
    def lstm(x, h, c, w, b):
        gates = w @ jnp.concatenate([x, h]) + b
        i, f, g, o = jnp.split(gates, 4)
        c2 = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c2), c2

    rng = np.random.default_rng(1)
    check_program(
        lstm,
        jnp.asarray([0.3, -0.2]),
        jnp.asarray([0.1, 0.4, -0.5]),
        jnp.asarray([0.0, 0.2, -0.1]),
        jnp.asarray(rng.normal(size=(12, 5)) * 0.4),
        jnp.asarray(rng.normal(size=(12,)) * 0.1),
    )


def test_heat_equation_stencil_with_slices_and_concatenate():
    def heat(u, alpha):
        for _ in range(3):
            left = jnp.concatenate([u[:1], u[:-1]])
            right = jnp.concatenate([u[1:], u[-1:]])
            u = u + alpha * (left - 2.0 * u + right)
        return u

    check_program(heat, jnp.sin(jnp.linspace(0.0, 3.0, 8)), 0.2)


def test_loss_with_where_and_nested_jit():
    @jax.jit
    def huber(r):
        return jnp.where(jnp.abs(r) < 1.0, 0.5 * r**2, jnp.abs(r) - 0.5)

    def loss(w, x, y):
        pred = jnp.tanh(x @ w)
        return jnp.mean(huber(pred - y)) + 1e-3 * jnp.sum(w**2)

    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(5, 3)))
    y = jnp.asarray([1.5, -1.2, 0.1, 0.0, 0.3])
    check_program(loss, jnp.asarray([0.4, -0.3, 0.9]), x, y, argnums=0)


def test_softmax_and_logsumexp():
    def f(z):
        return jax.nn.softmax(z), jax.scipy.special.logsumexp(z), jax.nn.log_softmax(z)

    check_program(f, jnp.asarray([0.5, -1.0, 2.0, 0.1]))


def test_norms():
    def f(v, m):
        return (
            jnp.linalg.norm(v),
            jnp.sum(jnp.abs(v)),
            jnp.max(jnp.abs(v)),
            jnp.linalg.norm(m),
            jnp.sqrt(jnp.sum(m * m, axis=0)),
        )

    check_program(
        f, jnp.asarray([0.5, -1.0, 2.0]), jnp.asarray([[1.0, -2.0], [0.5, 3.0]])
    )
