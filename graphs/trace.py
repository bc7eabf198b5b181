"""Tracing a JAX function into a program Graph (via ``jax.make_jaxpr``).

Nested ``jit``/``pjit``, ``closed_call``, ``remat``, ``custom_jvp_call`` and
``custom_vjp_call`` are inlined (their primal bodies: what the function computes is
what gets differentiated, so ``relu``, ``softplus``, ``norm`` and ``softmax`` keep
their real derivatives); ``custom_linear_solve`` becomes its ``solve`` function.
``split`` becomes one ``slice`` per piece. A primitive with a structure rule in
``graphs.primitives`` becomes that vertex; every other one a generic vertex
(``graphs.generic``, added by ``graphs.trace_generic``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from graphs import params as _params
from graphs.control_flow import EXPANDERS
from graphs.errors import GraphError
from graphs.index_rules import fold_constant
from graphs.ir import INPUT, PARAMETER, Graph, Literal, Operand, Vertex
from graphs.primitives import RULES
from graphs.trace_generic import add_generic

#: Call-like primitives whose body is inlined, with the parameter holding the body.
_INLINE = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "remat": "jaxpr",
    "remat2": "jaxpr",
    "checkpoint": "jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "custom_vjp_call_jaxpr": "fun_jaxpr",
}


def _source_line(eqn: Any, fallback: str = "") -> str:
    """``file:line (function)`` of the user's code that made ``eqn``.

    JAX's own user-frame logic (frames outside JAX's source); an equation inside a
    library function's cached jaxpr (``jnp.linalg.solve``) may have none, and then
    the caller's line (``fallback``, the enclosing equation's) names it.
    """
    try:
        from jax._src import source_info_util

        frame = source_info_util.user_frame(eqn.source_info.traceback)
    except Exception:  # noqa: BLE001 - best effort, only for the message
        frame = None
    if frame is None:
        return fallback or "<unknown source line>"
    return f"{frame.file_name}:{frame.start_line} ({frame.function_name})"


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _literal(value: Any, aval: Any) -> Literal:
    # Nested tuples, not lists: a Literal (and so a Graph) must stay hashable.
    array = np.asarray(value)
    return Literal(_tuples(array.tolist()), tuple(array.shape), str(array.dtype))


class _Builder:
    def __init__(self) -> None:
        self.vertices: list[Vertex] = []
        self.count = 0

    def new_id(self) -> str:
        vid = f"v{self.count}"
        self.count += 1
        return vid

    def add(
        self, op: str, operands: Sequence[Operand], params: dict, aval: Any, where: str
    ) -> str:
        dtype = np.dtype(aval.dtype)
        if np.issubdtype(dtype, np.complexfloating) and self._reads_floats(operands):
            raise GraphError(
                f"{op} at {where} makes a complex value from real ones; ccelim "
                "differentiates real programs only: compute with real and imaginary "
                "parts (or jax.lax.stop_gradient a constant complex part)"
            )
        vid = self.new_id()
        self.vertices.append(
            Vertex(
                id=vid,
                op=op,
                operands=tuple(operands),
                params=_params.encode_all(params, where=f"{op} at {where}"),
                shape=tuple(int(d) for d in aval.shape),
                dtype=str(np.dtype(aval.dtype)),
            )
        )
        return vid

    def _reads_floats(self, operands: Sequence[Operand]) -> bool:
        ids = {o for o in operands if isinstance(o, str)}
        return any(
            v.id in ids
            and (v.dtype.startswith("float") or v.dtype.startswith("complex"))
            for v in self.vertices
        )

    def run(
        self,
        jaxpr: Any,
        consts: Sequence[Any],
        args: Sequence[Operand],
        where: str = "",
    ) -> list[Operand]:
        from jax.extend.core import Literal as JaxLiteral

        env: dict[Any, Operand] = {}
        for var, value in zip(jaxpr.constvars, consts):
            env[var] = (
                value if isinstance(value, str | Literal) else _literal(value, var.aval)
            )
        for var, value in zip(jaxpr.invars, args):
            env[var] = value

        def read(atom: Any) -> Operand:
            if isinstance(atom, JaxLiteral):
                return _literal(atom.val, atom.aval)
            return env[atom]

        for eqn in jaxpr.eqns:
            name = eqn.primitive.name
            operands = [read(a) for a in eqn.invars]
            line = _source_line(eqn, where)
            if name in _INLINE:
                body = eqn.params[_INLINE[name]]
                inner, inner_consts = (
                    (body.jaxpr, body.consts) if hasattr(body, "jaxpr") else (body, ())
                )
                outs = self.run(inner, inner_consts, operands, line)
            elif name == "custom_linear_solve":
                outs = self._linear_solve(eqn, operands, line)
            elif name == "split":
                outs = self._split(eqn, operands)
            elif (folded := fold_constant(eqn, operands)) is not None:
                outs = folded
            elif name in EXPANDERS:
                outs = EXPANDERS[name](self, eqn, operands)
            elif name not in RULES:
                outs = add_generic(self, eqn, operands, line)
            else:
                if len(eqn.outvars) != 1:
                    raise GraphError(
                        f"primitive {name!r} at {line} has "
                        f"{len(eqn.outvars)} results; only single-result primitives "
                        "are supported"
                    )
                outs = [
                    self.add(
                        name, operands, dict(eqn.params), eqn.outvars[0].aval, line
                    )
                ]
            for var, out in zip(eqn.outvars, outs):
                env[var] = out
        return [read(v) for v in jaxpr.outvars]

    def _linear_solve(
        self, eqn: Any, operands: list[Operand], where: str
    ) -> list[Operand]:
        """``lax.custom_linear_solve`` (``jnp.linalg.solve``) by its own functions.

        Its ``solve`` function sees the matrix only through ``stop_gradient`` (JAX
        differentiates the solve implicitly through ``matvec``), so the graph holds
        the same implicit form: ``x = x0 - solve(matvec(sg(x0)) - sg(matvec(sg(x0))))``
        with ``x0 = solve(b)``. The correction is zero in value; its derivative is
        ``-A⁻¹ (dA) x0``, and ``dx/db = A⁻¹`` comes from ``x0``.
        """
        lengths = list(eqn.params["const_lengths"])
        jaxprs = eqn.params["jaxprs"]
        bounds = np.cumsum([0] + lengths)
        matvec_consts = operands[bounds[0] : bounds[1]]
        solve_consts = operands[bounds[2] : bounds[3]]
        rhs = operands[bounds[4] :]
        avals = [v.aval for v in eqn.outvars]

        def call(body, args):
            return self.run(body.jaxpr, body.consts, list(args), where)

        def each(op, *columns):
            return [
                self.add(op, list(ops), {}, aval, where)
                for *ops, aval in zip(*columns, avals)
            ]

        x0 = call(jaxprs.solve, solve_consts + rhs)
        if not any(isinstance(c, str) for c in matvec_consts):
            return x0  # a constant matrix: only b is differentiated
        fixed = each("stop_gradient", x0)
        product = call(jaxprs.matvec, matvec_consts + fixed)
        zero = each("sub", product, each("stop_gradient", product))
        return each("sub", x0, call(jaxprs.solve, solve_consts + zero))

    def _split(self, eqn: Any, operands: list[Operand]) -> list[Operand]:
        axis = int(eqn.params["axis"])
        start = 0
        outs = []
        for var in eqn.outvars:
            shape = var.aval.shape
            width = int(shape[axis])
            starts = [0] * len(shape)
            limits = [int(d) for d in shape]
            starts[axis] = start
            limits[axis] = start + width
            params = {
                "start_indices": tuple(starts),
                "limit_indices": tuple(limits),
                "strides": None,
            }
            outs.append(
                self.add("slice", operands, params, var.aval, _source_line(eqn))
            )
            start += width
        return outs


def trace(
    f: Callable[..., Any],
    *example_args: Any,
    argnums: int | Sequence[int] | None = None,
    name: str = "",
) -> Graph:
    """Traces ``f`` at ``example_args`` into a program :class:`Graph`.

    Args:
      f: a JAX-traceable function.
      *example_args: arrays (or pytrees of arrays) fixing shapes and dtypes.
      argnums: the positional arguments to differentiate with respect to;
        ``None`` means all of them. The others become ``parameter`` vertices.
      name: a label stored in the graph.

    Returns:
      A program graph. Inputs are the flattened leaves of the differentiated
      arguments (ids ``x0, x1, …``), parameters ``p0, …``, other vertices ``v0,
      v1, …`` in program order; outputs are the flattened leaves of the result.

    Raises:
      GraphError: for an unsupported primitive, naming it, the user's source line
        and the supported primitives.

    Example:
      >>> g = graphs.trace(lambda x, y: jnp.sin(x) * y, 1.0, 2.0)
      >>> g.inputs
      ('x0', 'x1')
    """
    num_args = len(example_args)
    if argnums is None:
        diff = set(range(num_args))
    elif isinstance(argnums, int):
        diff = {argnums}
    else:
        diff = set(argnums)
    bad = sorted(a for a in diff if not 0 <= a < num_args)
    if bad:
        raise GraphError(f"argnums {bad} out of range for {num_args} arguments")
    closed = jax.make_jaxpr(f)(*example_args)
    builder = _Builder()
    leaves_per_arg = [len(jax.tree_util.tree_leaves(a)) for a in example_args]
    invars = list(closed.jaxpr.invars)
    inputs: list[str] = []
    signature: list[tuple[str, ...]] = []
    operands: list[Operand] = []
    pos = 0
    n_in = n_par = 0
    for argnum, count in enumerate(leaves_per_arg):
        ids = []
        for var in invars[pos : pos + count]:
            if argnum in diff:
                vid, op = f"x{n_in}", INPUT
                n_in += 1
                inputs.append(vid)
            else:
                vid, op = f"p{n_par}", PARAMETER
                n_par += 1
            aval = var.aval
            builder.vertices.append(
                Vertex(
                    vid,
                    op,
                    shape=tuple(int(d) for d in aval.shape),
                    dtype=str(np.dtype(aval.dtype)),
                )
            )
            ids.append(vid)
            operands.append(vid)
        signature.append(tuple(ids))
        pos += count
    outs = builder.run(closed.jaxpr, closed.consts, operands)
    outputs = []
    for out, var in zip(outs, closed.jaxpr.outvars):
        if isinstance(out, Literal):
            out = builder.add("copy", [out], {}, var.aval, "constant output")
        outputs.append(out)
    return Graph(
        vertices=tuple(builder.vertices),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        edges=None,
        name=name or getattr(f, "__name__", ""),
        signature=tuple(signature),
    )
