"""Exported kernels run in a fresh Python process that cannot import ccelim."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphs
import interpreter
from tests.interpreter.helpers import diff_argnums, reference_blocks

# Runs in `python -I` (no cwd, no PYTHONPATH); the editable install's finder is
# refused too, so an import of any ccelim package fails loudly.
CHILD = textwrap.dedent(
    """
    import sys
    CCELIM = {"graphs", "interpreter", "search", "service"}

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in CCELIM:
                raise ImportError("ccelim must not be imported here: " + name)
            return None

    sys.meta_path.insert(0, Refuse())
    import json
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    work = sys.argv[1]
    meta = json.load(open(work + "/meta.json"))
    data = np.load(work + "/data.npz")
    args = [jnp.asarray(data[f"arg{i}"]) for i in range(meta["num_args"])]
    want = [data[f"want{i}"] for i in range(meta["num_blocks"])]
    exported = jax.export.deserialize(bytearray(open(work + "/kernel.bin", "rb").read()))
    got_hlo = exported.call(*args)
    namespace = {}
    exec(compile(open(work + "/kernel.py").read(), "kernel.py", "exec"), namespace)
    fn = namespace["jacobian_batched"] if meta["batched"] else namespace["jacobian"]
    got_src = jax.jit(fn)(*args)
    for got in (got_hlo, got_src):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-10, atol=1e-12)
    assert not CCELIM & {m.split(".")[0] for m in sys.modules}
    print("OK", len(want))
    """
)


def _run_child(tmp_path, artifact, args, want, *, batched):
    (tmp_path / "kernel.bin").write_bytes(artifact.stablehlo)
    (tmp_path / "kernel.py").write_text(artifact.python_source)
    arrays = {f"arg{i}": np.asarray(a) for i, a in enumerate(args)}
    arrays.update({f"want{i}": np.asarray(w) for i, w in enumerate(want)})
    np.savez(tmp_path / "data.npz", **arrays)
    meta = {"num_args": len(args), "num_blocks": len(want), "batched": batched}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    result = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("OK")


def _heat(u, alpha):
    left = jnp.concatenate([u[:1], u[:-1]])
    right = jnp.concatenate([u[1:], u[-1:]])
    return u + alpha * (left - 2.0 * u + right), jnp.max(u) * jnp.sum(u[::2])


def _cases():
    cases = [("heat", _heat, (jnp.sin(jnp.linspace(0, 3, 6)), jnp.asarray(0.2)))]
    tasks = pytest.importorskip("graphs.tasks")
    for name in ("RoeFlux_1d", "Encoder"):
        task = tasks.TASKS[name]
        cases.append((name, task.fn, tuple(jnp.asarray(a) for a in task.args)))
    return cases


@pytest.mark.parametrize("batch", [None, 3, "b"])
def test_exported_kernel_runs_without_ccelim(tmp_path, batch):
    for name, f, args in _cases():
        if batch is not None and name != "heat" and batch != "b":
            continue
        graph = graphs.trace(f, *args)
        artifact = interpreter.export(graph, "markowitz", batch=batch)
        assert (
            artifact.multiplications == graphs.cost(graph, "markowitz").multiplications
        )
        assert "ccelim" not in artifact.python_source.split('"""', 2)[2]
        assert [s.vertex for s in artifact.input_specs] == [
            v for ids in graph.signature for v in ids
        ]
        want = reference_blocks(f, args, diff_argnums(graph))
        lead = () if batch is None else (batch,)
        assert [b.shape for b in artifact.output_layout] == [
            lead + w.shape for w in want
        ]
        if batch is None:
            call_args = args
        else:
            scale = jnp.asarray([1.0, 1.0 + 1e-3, 1.0 - 1e-3])
            call_args = tuple(
                a[None] * scale.reshape((3,) + (1,) * a.ndim) for a in args
            )
            want = [
                jnp.stack(blocks)
                for blocks in zip(
                    *[
                        reference_blocks(
                            f, [a[i] for a in call_args], diff_argnums(graph)
                        )
                        for i in range(3)
                    ]
                )
            ]
        sub = tmp_path / name
        sub.mkdir()
        _run_child(sub, artifact, call_args, want, batched=batch is not None)


def test_artifact_describes_inputs_and_blocks():
    f = lambda x, w: jnp.tanh(w @ x)  # noqa: E731
    graph = graphs.trace(f, jnp.ones(3), jnp.ones((2, 3)), argnums=0)
    art = interpreter.export(graph, "reverse", batch=4)
    assert [(s.vertex, s.shape, s.differentiated) for s in art.input_specs] == [
        ("x0", (4, 3), True),
        ("p0", (4, 2, 3), False),
    ]
    assert [(b.out_vertex, b.in_vertex, b.shape) for b in art.output_layout] == [
        (graph.outputs[0], "x0", (4, 2, 3))
    ]
    assert (
        art.cost == art.multiplications == graphs.cost(graph, "reverse").multiplications
    )
    exported = jax.export.deserialize(art.stablehlo)
    (block,) = exported.call(jnp.ones((4, 3)), jnp.ones((4, 2, 3)))
    np.testing.assert_allclose(
        block[0], jax.jacfwd(f)(jnp.ones(3), jnp.ones((2, 3))), rtol=1e-12
    )
