"""``ccelim trace`` and ``ccelim kernel`` end to end: a user's own function in a
temporary folder, its graph, its order and kernel files, checked against
jax.jacfwd in float64."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs

CCELIM = str(Path(sys.executable).parent / "ccelim")

pytestmark = pytest.mark.slow  # subprocesses that import JAX and search: ~1 min

MODULE = """
import jax.numpy as jnp


def f(x, y):
    return jnp.sin(x) * y + x**2, jnp.sum(x * y)
"""

X = np.array([1.0, 2.0, 3.0])
Y = np.array([0.5, -1.0, 2.0])


def _f(x, y):
    return jnp.sin(x) * y + x**2, jnp.sum(x * y)


def _ccelim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [CCELIM, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def _jacfwd_blocks(x, y):
    """jax.jacfwd's blocks, output-major like the kernel's output layout."""
    jac = jax.jacfwd(_f, argnums=(0, 1))(x, y)
    return [jac[0][0], jac[0][1], jac[1][0], jac[1][1]]


def _check(blocks, x, y):
    want = _jacfwd_blocks(x, y)
    assert len(blocks) == len(want)
    for got, expected in zip(blocks, want, strict=True):
        assert np.asarray(got).dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """``ccelim trace mymodel:f`` then ``ccelim kernel`` in a fresh folder."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "mymodel.py").write_text(MODULE)
    traced = _ccelim(
        "trace", "mymodel:f", "--arg", "f64[3]", "--arg", "[0.5, -1.0, 2.0]",
        "-o", "f.json", cwd=folder,
    )  # fmt: skip
    assert traced.stderr.startswith("wrote f.json: program graph of mymodel:f")
    made = _ccelim("kernel", "f.json", "--budget", "0.3", "-o", "k", cwd=folder)
    assert "wrote k/order.json" in made.stdout
    return folder


def test_trace_writes_the_program_graph_of_the_function(kernel_dir):
    graph = graphs.load((kernel_dir / "f.json").read_text())
    assert graph.is_program and graph.name == "f"
    assert graphs.canonical_hash(graph) == graphs.canonical_hash(graphs.trace(_f, X, Y))


def test_kernel_writes_an_order_that_costs_what_it_says(kernel_dir):
    graph = graphs.load((kernel_dir / "f.json").read_text())
    order = json.loads((kernel_dir / "k" / "order.json").read_text())
    assert order["cost"] == graphs.cost(graph, order["order"]).multiplications
    assert order["cost"] <= min(order["baselines"].values())
    layout = json.loads((kernel_dir / "k" / "kernel.json").read_text())
    assert layout["multiplications"] == order["cost"]
    assert [tuple(b["shape"]) for b in layout["output_layout"]] == [
        (3, 3),
        (3, 3),
        (3,),
        (3,),
    ]


def test_the_stablehlo_kernel_is_the_exact_jacobian(kernel_dir):
    exported = jax.export.deserialize(
        bytearray((kernel_dir / "k" / "kernel.stablehlo").read_bytes())
    )
    _check(exported.call(X, Y), X, Y)
    _check(exported.call(X * 0.3 - 1, Y + 2), X * 0.3 - 1, Y + 2)


def test_the_python_source_kernel_is_the_exact_jacobian(kernel_dir):
    namespace: dict = {}
    source = (kernel_dir / "k" / "kernel.py").read_text()
    exec(compile(source, "kernel.py", "exec"), namespace)
    _check(namespace["jacobian"](X, Y), X, Y)


def test_a_file_path_and_an_npz_argument_file_trace_the_same_graph(
    kernel_dir, tmp_path
):
    np.savez(tmp_path / "args.npz", X, Y)
    _ccelim(
        "trace", f"{kernel_dir / 'mymodel.py'}:f", "--args-file", "args.npz",
        "-o", "g.json", cwd=tmp_path,
    )  # fmt: skip
    first = graphs.load((kernel_dir / "f.json").read_text())
    second = graphs.load((tmp_path / "g.json").read_text())
    assert graphs.canonical_hash(first) == graphs.canonical_hash(second)


def test_mistakes_are_one_line_each(kernel_dir, tmp_path):
    def error(*args: str) -> str:
        done = subprocess.run(
            [CCELIM, *args], cwd=kernel_dir, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
        return done.stderr.strip()

    assert error("trace", "mymodel", "--arg", "f64[3]").startswith(
        "error: expected MODULE:FUNCTION or FILE.py:FUNCTION, got 'mymodel'"
    )
    assert error("trace", "nosuchmodule:f", "--arg", "f64[3]").startswith(
        "error: cannot import 'nosuchmodule'"
    )
    assert error("trace", "mymodel:g", "--arg", "f64[3]") == (
        "error: mymodel has no 'g'; check the function's name"
    )
    assert error("trace", "mymodel:f", "--arg", "f64[3").startswith(
        "error: cannot read argument 'f64[3'"
    )
    structure = {
        "format": "ccelim.graph/1",
        "inputs": ["x"],
        "outputs": ["y"],
        "edges": [["x", "v"], ["v", "y"]],
    }
    (tmp_path / "s.json").write_text(json.dumps(structure))
    assert "is a structure-only graph" in error("kernel", str(tmp_path / "s.json"))
