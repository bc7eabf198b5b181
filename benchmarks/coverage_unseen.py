"""Issue 11's check: functions from JAX's public libraries that no test uses.

Each function below is traced with ``graphs.trace`` and its kernel for the order
that ``search.optimize(graph, time_budget_s=0.5)`` finds is compared with
``jax.jacfwd`` in float64 (rtol 1e-9). None of them appears in the repository's
tests. Writes ``benchmarks/results/coverage_unseen.md``.

Usage::

    python benchmarks/coverage_unseen.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The repository's packages, not benchmarks/search.py, are "search".
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.scipy as jsp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import graphs  # noqa: E402
import interpreter  # noqa: E402
import search  # noqa: E402

X = jnp.asarray([0.3, 0.75, 0.2, 0.55])
Y = jnp.asarray([0.9, 0.4, 0.65, 0.15])


def _mat(x):
    return jnp.eye(3) * 2 + 0.1 * jnp.outer(x[:3], x[1:])


FUNCTIONS = {
    "jnp.arcsinh": lambda x: jnp.arcsinh(x) * x,
    "jnp.logaddexp2": lambda x: jnp.logaddexp2(x, x[::-1]),
    "jnp.median": jnp.median,
    "jnp.percentile": lambda x: jnp.percentile(x, 30.0),
    "jnp.linalg.pinv": lambda x: jnp.linalg.pinv(_mat(x)),
    "jnp.linalg.matrix_power": lambda x: jnp.linalg.matrix_power(_mat(x), 3),
    "jnp.vander": lambda x: jnp.vander(x, 3),
    "jnp.trapezoid": lambda x: jnp.trapezoid(x**2, dx=0.1),
    "jnp.correlate": lambda x: jnp.correlate(x, x[:2], mode="full"),
    "jax.nn.glu": jax.nn.glu,
    "jax.nn.celu": jax.nn.celu,
    "jax.nn.hard_tanh": lambda x: jax.nn.hard_tanh(3 * x - 1),
    "special.logsumexp(b=)": lambda x: jsp.special.logsumexp(x, b=Y),
    "stats.t.logpdf": lambda x: jsp.stats.t.logpdf(x, 3.0),
    "stats.beta.logpdf": lambda x: jsp.stats.beta.logpdf(x, 2.0, 3.0),
    "linalg.lu_solve": lambda x: jsp.linalg.lu_solve(
        jsp.linalg.lu_factor(_mat(x)), x[:3]
    ),
    "lax.associative_scan": lambda x: lax.associative_scan(jnp.add, x * x),
    "lax.fori_loop (100 steps)": lambda x: lax.fori_loop(
        0, 100, lambda i, c: jnp.sin(c) * x, x
    ),
    "x[jnp.argsort(...)]": lambda x: x[jnp.argsort(x * Y)] * Y,
    "x.at[i].min": lambda x: x.at[jnp.array([0, 2])].min(x[:2] ** 2),
}


def main() -> None:
    rows, exact = [], 0
    for name, f in FUNCTIONS.items():
        start = time.perf_counter()
        try:
            graph = graphs.trace(f, X)
            result = search.optimize(graph, time_budget_s=0.5, seed=0)
            got = interpreter.jacobian(graph, result.order)(X)
            np.testing.assert_allclose(got, jax.jacfwd(f)(X), rtol=1e-9, atol=1e-12)
            exact += 1
            verdict = "exact"
            detail = f"{len(graph.vertices)} vertices, cost {result.cost}"
        except Exception as err:  # noqa: BLE001 - the table reports every failure
            verdict, detail = "FAIL", f"{type(err).__name__}: {str(err)[:120]}"
        seconds = time.perf_counter() - start
        rows.append(f"| `{name}` | {verdict} | {detail} | {seconds:.1f} |")
        print(rows[-1], flush=True)
    lines = [
        "# Unseen JAX library functions (issue 11's check)",
        "",
        "`python benchmarks/coverage_unseen.py`: trace, `search.optimize(graph, "
        "time_budget_s=0.5)`, kernel vs `jax.jacfwd` in float64 at rtol 1e-9.",
        "",
        f"**{exact} of {len(FUNCTIONS)} exact.**",
        "",
        "| function | result | graph, searched cost | seconds |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    out = Path(__file__).parent / "results" / "coverage_unseen.md"
    out.write_text("\n".join(lines))
    print(f"{exact}/{len(FUNCTIONS)} exact; wrote {out}")


if __name__ == "__main__":
    main()
