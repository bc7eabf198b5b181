"""The two random programs of AlphaGrad's benchmark, written out: f and g.

AlphaGrad drew ``f`` (array-valued) and ``g`` (scalar) from a random program
generator. Here both were drawn once from a fixed seed and are written out in
full, so they never change when a generator, numpy or JAX changes. Every
operation stays inside its domain (``log1p`` of squares, division by ``1 + b²``,
``sqrt`` of ``1 + d²``), so values and Jacobians are finite everywhere.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def f(x, y, z, w):
    """A random mix of elementwise, matmul and reduction ops (80 primitives).

    Args:
      x: shape (4,); y: shape (2, 3); z: shape (4, 4); w: shape (4, 1).

    Returns:
      Three arrays of shapes (4,), () and (2, 2).
    """
    zx = z @ x  # (4,)
    a = jnp.sin(zx) * jnp.cos(x)
    b = jnp.tanh(z * w)  # (4, 4)
    c = b @ a + jnp.exp(-a * a)
    d = jnp.log1p(c * c) - x
    e = jnp.sum(b * b, axis=0) / (1.0 + d * d)
    yy = y @ y.T  # (2, 2)
    yt = jnp.tanh(y)  # (2, 3)
    s = jnp.sum(yt, axis=1)  # (2,)
    u = jnp.concatenate([s, yy.reshape(-1)[:2]])  # (4,)
    v = jax.nn.softplus(u * e) + jnp.sqrt(1.0 + d * d)
    m = jnp.outer(v, a) + z.T  # (4, 4)
    n = jax.nn.relu(m) @ w  # (4, 1)
    p = jnp.max(m, axis=1) * jnp.mean(jnp.sin(yy))
    q = jnp.cos(n[:, 0] - p) * v
    r = jnp.sum(q * q) + jnp.sum(jnp.cosh(yt[0] * 0.5))
    t = jnp.where(q > e, q * e, jnp.sin(q + e))
    o1 = t / (1.0 + r)
    o2 = jnp.tanh(m @ o1 + n[:, 0])
    return o1, jnp.log1p(jnp.sum(o2 * o2)), yy * r


#: Example arguments of ``f``.
F_ARGS: tuple[np.ndarray, ...] = (
    np.array([0.274, -0.46, -0.918, -0.967]),
    np.array([[0.627, 0.826, 0.213], [0.459, 0.087, 0.87]]),
    np.array(
        [
            [0.632, -0.995, 0.715, -0.933],
            [0.459, -0.649, 0.726, 0.083],
            [-0.401, -0.155, -0.943, -0.751],
            [0.341, 0.294, 0.231, -0.233],
        ]
    ),
    np.array([[0.994], [0.962], [0.371], [0.301]]),
)


def g(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14):
    """A random scalar program: 15 scalars in, 20 scalars out, 99 primitives.

    Only scalar elementwise arithmetic, so its graph is all-scalar.
    """
    v0 = jnp.sin(x10)
    v1 = jnp.sin(x4)
    v2 = x8 - x0
    v3 = x1 * x10
    v4 = jnp.tanh(v3)
    v5 = x9 - v2
    v6 = jnp.exp(-x14 * x14)
    v7 = jnp.maximum(x2, x14)
    v8 = jnp.exp(-x3 * x3)
    v9 = jnp.tanh(x6)
    v10 = v6 * v6
    v11 = x5 + v2
    v12 = jnp.maximum(v0, x7)
    v13 = jnp.log1p(x11 * x11)
    v14 = v6 - v12
    v15 = jnp.cos(x12)
    v16 = v7 + v10
    v17 = jnp.tanh(v15)
    v18 = v15 * v7
    v19 = v11 - x13
    v20 = jnp.sin(v1)
    v21 = v13 - v4
    v22 = v5 - v8
    v23 = jnp.maximum(v19, v12)
    v24 = jnp.exp(-v15 * v15)
    v25 = v9 - v14
    v26 = v16 * v17
    v27 = jnp.cos(v21)
    v28 = v18 + v26
    v29 = v27 / (1.0 + v17 * v17)
    v30 = v25 * v20
    v31 = jnp.exp(-v29 * v29)
    v32 = jnp.exp(-v31 * v31)
    v33 = v22 - v28
    v34 = jnp.log1p(v23 * v23)
    v35 = v30 - v34
    v36 = v24 + v29
    v37 = v31 + v34
    v38 = v35 / (1.0 + v34 * v34)
    v39 = v32 / (1.0 + v28 * v28)
    v40 = v33 * v36
    v41 = v30 / (1.0 + v37 * v37)
    v42 = jnp.tanh(v41)
    v43 = jnp.sin(v36)
    v44 = v42 * v39
    v45 = v38 - v40
    v46 = jnp.cos(v44)
    v47 = jnp.maximum(v46, v43)
    v48 = v44 * v44
    v49 = jnp.cos(v45)
    y0 = jnp.cos(v48)
    y1 = jnp.sin(v44)
    y2 = jnp.maximum(v49, y0)
    y3 = v47 - y2
    y4 = y2 * v44
    y5 = y3 + v44
    y6 = v46 - y1
    y7 = jnp.sin(y3)
    y8 = y1 - v47
    y9 = jnp.exp(-v48 * v48)
    y10 = v49 - y4
    y11 = jnp.maximum(y3, y6)
    y12 = jnp.exp(-y4 * y4)
    y13 = y9 / (1.0 + y8 * y8)
    y14 = y7 + y5
    y15 = jnp.log1p(y12 * y12)
    y16 = y10 * y11
    y17 = y13 / (1.0 + y14 * y14)
    y18 = y8 * y7
    y19 = jnp.sin(y17)
    # fmt: off
    return (y0, y1, y2, y3, y4, y5, y6, y7, y8, y9, y10, y11, y12, y13, y14, y15,
            y16, y17, y18, y19)
    # fmt: on


#: Example arguments of ``g``: ``0.9 sin(1.7 i + 0.3)`` rounded, for i = 0 … 14.
# fmt: off
G_ARGS: tuple[float, ...] = (
    0.266, 0.818, -0.477, -0.695, 0.656, 0.526, -0.792, -0.322,
    0.875, 0.097, -0.9, 0.135, 0.865, -0.358, -0.773,
)
# fmt: on
