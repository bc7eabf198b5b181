"""Five realistic programs, written the way people write them.

``REALISTIC`` maps a name to ``(function, example_args)``: ``example_args()``
returns the positional arguments (float64 NumPy arrays for the differentiated
ones, int32 for index arrays), and ``DIFF_ARGNUMS[name]`` says which arguments are
differentiated (the others are parameters: neighbour lists, observations).

* ``rk4_lotka_volterra``: an RK4 integrator in ``lax.fori_loop`` (a scan, unrolled);
* ``cnn_layer``: ``conv_general_dilated`` + bias + ReLU + 2x2 average pooling;
* ``kalman_step``: predict and update of a Kalman filter with ``jnp.linalg.solve``;
* ``particles_lj``: soft Lennard-Jones energies over gather-based neighbour lists;
* ``topk_loss``: a ranking loss with ``jnp.sort`` and ``lax.top_k``.

Example:
  >>> fn, example_args = REALISTIC["kalman_step"]
  >>> graph = graphs.trace(fn, *example_args(), argnums=DIFF_ARGNUMS["kalman_step"])
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def rk4_lotka_volterra(y0, growth, interaction):
    """10 RK4 steps (dt 0.1) of a generalised Lotka-Volterra system
    ``dy/dt = y * (growth + interaction @ y)``; returns the final populations."""

    def rhs(y):
        return y * (growth + interaction @ y)

    dt = 0.1

    def step(_, y):
        k1 = rhs(y)
        k2 = rhs(y + 0.5 * dt * k1)
        k3 = rhs(y + 0.5 * dt * k2)
        k4 = rhs(y + dt * k3)
        return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    return lax.fori_loop(0, 10, step, y0)


def cnn_layer(image, kernel, bias):
    """One conv layer: 3x3 VALID convolution, bias, ReLU, 2x2 average pooling."""
    y = lax.conv_general_dilated(image, kernel, window_strides=(1, 1), padding="VALID")
    y = jax.nn.relu(y + bias[None, :, None, None])
    n, ch, h, w = y.shape
    pooled = y.reshape(n, ch, h // 2, 2, w // 2, 2).mean(axis=(3, 5))
    return pooled


def kalman_step(mean, cov, observation):
    """Predict with a constant-velocity model, then update with a position sensor."""
    dt = 0.1
    f = jnp.array(
        [
            [1.0, 0.0, dt, 0.0],
            [0.0, 1.0, 0.0, dt],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    q = 0.01 * jnp.eye(4)
    h = jnp.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    r = 0.1 * jnp.eye(2)
    mean = f @ mean
    cov = f @ cov @ f.T + q
    innovation = observation - h @ mean
    s = h @ cov @ h.T + r
    gain = jnp.linalg.solve(s, h @ cov).T
    mean = mean + gain @ innovation
    cov = cov - gain @ s @ gain.T
    return mean, cov


def particles_lj(positions, neighbours):
    """Per-particle soft Lennard-Jones energy over a fixed neighbour list."""
    delta = positions[neighbours] - positions[:, None, :]  # [N, K, 2]
    r2 = jnp.sum(delta**2, axis=-1) + 0.1
    inv6 = (1.0 / r2) ** 3
    return 0.5 * jnp.sum(4.0 * (inv6**2 - inv6), axis=1)


def topk_loss(scores, targets):
    """Squared error on the 3 largest scores plus a sorted-order (ranking) penalty."""
    top, _ = lax.top_k(scores, 3)
    ranked = jnp.sort(scores * targets)
    spread = jnp.diff(ranked)
    return jnp.mean((top - 1.0) ** 2) + 0.1 * jnp.sum(jax.nn.softplus(-spread))


def _rk4_args():
    interaction = np.array([[-0.5, -0.4, 0.1], [0.3, -0.6, -0.2], [0.2, 0.1, -0.7]])
    return (np.array([1.0, 0.5, 0.8]), np.array([1.1, -0.4, 0.3]), interaction)


def _cnn_args():
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(1, 1, 6, 6)),
        0.3 * rng.normal(size=(2, 1, 3, 3)),
        np.array([0.05, -0.02]),
    )


def _kalman_args():
    cov = np.diag([0.5, 0.4, 0.3, 0.2]) + 0.05
    return (np.array([0.0, 1.0, 0.5, -0.2]), cov, np.array([0.1, 0.9]))


def _particles_args():
    grid = np.stack(np.meshgrid(np.arange(3.0), np.arange(2.0), indexing="ij"), -1)
    positions = 1.2 * grid.reshape(-1, 2) + 0.05 * np.sin(np.arange(12.0)).reshape(6, 2)
    neighbours = np.array(
        [[1, 2, 3], [0, 2, 4], [0, 1, 5], [0, 4, 5], [1, 3, 5], [2, 3, 4]],
        dtype=np.int32,
    )
    return (positions, neighbours)


def _topk_args():
    return (
        np.array([0.3, 1.2, -0.4, 0.8, 0.1, 0.95]),
        np.array([1.0, 0.5, 0.2, 0.9, 0.3, 0.7]),
    )


#: name -> (function, example_args builder).
REALISTIC: dict[str, tuple[Callable, Callable[[], tuple]]] = {
    "rk4_lotka_volterra": (rk4_lotka_volterra, _rk4_args),
    "cnn_layer": (cnn_layer, _cnn_args),
    "kalman_step": (kalman_step, _kalman_args),
    "particles_lj": (particles_lj, _particles_args),
    "topk_loss": (topk_loss, _topk_args),
}

#: name -> the differentiated positional arguments.
DIFF_ARGNUMS: dict[str, tuple[int, ...]] = {
    "rk4_lotka_volterra": (0, 1, 2),
    "cnn_layer": (0, 1, 2),
    "kalman_step": (0, 1),
    "particles_lj": (0,),
    "topk_loss": (0,),
}
