"""Python source from a jaxpr: a straight-line function that needs only JAX.

Every equation becomes ``lax.<primitive>_p.bind(...)`` with its parameters
written out; nested ``jit`` calls are inlined; constants and literals are written
inline as ``jnp.asarray(..., dtype=...)``. A call of a ``jax.export`` module (a
generic vertex's, see ``graphs.generic``) becomes ``_module<k>.call(...)`` on a
module deserialized from base64 at import. The result imports ``base64``,
``jax``, ``jax.numpy`` and ``jax.lax`` and nothing else.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from jax import lax

_INLINE = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_vmap_call": "call",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
}


class SourceError(ValueError):
    """A jaxpr holds something that cannot be written as plain JAX source."""


def _fmt_float(x: float) -> str:
    if math.isnan(x):
        return "float('nan')"
    if math.isinf(x):
        return "float('inf')" if x > 0 else "float('-inf')"
    return repr(float(x))


def _fmt_array(value: Any) -> str:
    array = np.asarray(value)
    if array.dtype.kind == "f":
        body = _nested(array, _fmt_float)
    elif array.dtype.kind == "b":
        body = _nested(array, lambda v: repr(bool(v)))
    else:
        body = _nested(array, lambda v: repr(int(v)))
    return f"jnp.asarray({body}, dtype={array.dtype.name!r})"


def _nested(array: np.ndarray, fmt) -> str:
    if array.ndim == 0:
        return fmt(array.item())
    return "[" + ", ".join(_nested(a, fmt) for a in array) + "]"


#: Scatter primitives, written as calls of these ``jax.lax`` functions.
_SCATTERS = {
    "scatter": "scatter",
    "scatter-add": "scatter_add",
    "scatter-mul": "scatter_mul",
    "scatter-min": "scatter_min",
    "scatter-max": "scatter_max",
}


def fmt(value: Any) -> str:
    """A Python expression (over ``jax``, ``jnp``, ``lax``) that evaluates to ``value``."""
    if value is None or isinstance(value, bool | str):
        return repr(value)
    if isinstance(value, enum.Enum):
        cls = type(value).__name__
        if getattr(lax, cls, None) is type(value):
            return f"lax.{cls}.{value.name}"
        raise SourceError(f"cannot write enum {value!r} as source")
    if isinstance(value, int | np.integer):
        return repr(int(value))
    if isinstance(value, float | np.floating):
        return _fmt_float(float(value))
    if isinstance(value, np.dtype):
        return f"jnp.dtype({value.name!r})"
    if isinstance(value, type) and issubclass(value, np.generic):
        return f"jnp.dtype({np.dtype(value).name!r})"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        cls = type(value).__name__
        if getattr(lax, cls, None) is type(value):
            fields = ", ".join(f"{k}={fmt(getattr(value, k))}" for k in value._fields)
            return f"lax.{cls}({fields})"
        raise SourceError(f"cannot write {cls} as source")
    if isinstance(value, tuple):
        return "(" + "".join(fmt(v) + ", " for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        return _fmt_array(value)
    if type(value).__name__ in ("dtype", "DType"):
        return f"jnp.dtype({np.dtype(value).name!r})"
    raise SourceError(
        f"cannot write a parameter of type {type(value).__name__} as source"
    )


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.modules: list[str] = []  # base64 jax.export modules, by first use
        self.count = 0

    def fresh(self) -> str:
        name = f"t{self.count}"
        self.count += 1
        return name

    def atom(self, atom: Any, env: dict) -> str:
        from jax.extend.core import Literal

        if isinstance(atom, Literal):
            return _fmt_array(np.asarray(atom.val, dtype=atom.aval.dtype))
        return env[atom]

    def run(self, jaxpr: Any, consts: Sequence[Any], args: Sequence[str]) -> list[str]:
        env: dict[Any, str] = {}
        for var, value in zip(jaxpr.constvars, consts):
            name = self.fresh()
            self.lines.append(f"    {name} = {_fmt_array(value)}")
            env[var] = name
        env.update(zip(jaxpr.invars, args))
        for eqn in jaxpr.eqns:
            operands = [self.atom(a, env) for a in eqn.invars]
            name = eqn.primitive.name
            if name in _INLINE:
                body = eqn.params[_INLINE[name]]
                inner, inner_consts = (
                    (body.jaxpr, body.consts) if hasattr(body, "jaxpr") else (body, ())
                )
                outs = self.run(inner, inner_consts, operands)
            elif name == "call_exported":
                outs = self._call_module(eqn, operands)
            elif name in _SCATTERS:
                outs = self._scatter(eqn, operands)
            else:
                prim = f"{name}_p"
                if getattr(lax, prim, None) is not eqn.primitive:
                    raise SourceError(
                        f"primitive {name!r} is not available as jax.lax.{prim}"
                    )
                params = ", ".join(
                    f"{k}={fmt(v)}" for k, v in sorted(eqn.params.items())
                )
                call = f"lax.{prim}.bind({', '.join(operands)}"
                call += (", " if operands and params else "") + params + ")"
                outs = [self.fresh() for _ in eqn.outvars]
                if eqn.primitive.multiple_results:
                    target = ", ".join(outs) + ("," if len(outs) == 1 else "")
                    self.lines.append(f"    {target} = {call}")
                else:
                    self.lines.append(f"    {outs[0]} = {call}")
            for var, out in zip(eqn.outvars, outs):
                env[var] = out
        return [self.atom(v, env) for v in jaxpr.outvars]

    def _scatter(self, eqn: Any, operands: list[str]) -> list[str]:
        # A scatter's update_jaxpr cannot be written out (and binding without it
        # overwrites instead of adding), so call the lax function that builds it.
        skip = ("update_jaxpr", "update_consts")
        params = ", ".join(
            f"{k}={fmt(v)}" for k, v in sorted(eqn.params.items()) if k not in skip
        )
        out = self.fresh()
        fn = _SCATTERS[eqn.primitive.name]
        self.lines.append(f"    {out} = lax.{fn}({', '.join(operands)}, {params})")
        return [out]

    def _call_module(self, eqn: Any, operands: list[str]) -> list[str]:
        import base64

        data = base64.b64encode(bytes(eqn.params["exported"].serialize())).decode()
        if data not in self.modules:
            self.modules.append(data)
        module = f"_module{self.modules.index(data)}"
        outs = [self.fresh() for _ in eqn.outvars]
        self.lines.append(
            f"    {', '.join(outs)}, = jax.tree_util.tree_leaves("
            f"{module}.call({', '.join(operands)}))"
        )
        return outs


def jaxpr_to_source(
    closed_jaxpr: Any, *, name: str, arg_names: Sequence[str], doc: str = ""
) -> str:
    """A module defining ``def name(*arg_names)`` that evaluates ``closed_jaxpr``.

    Args:
      closed_jaxpr: what ``jax.make_jaxpr`` returned.
      name: the function's name.
      arg_names: one Python identifier per jaxpr input.
      doc: the function's docstring.

    Returns:
      Source text that imports only ``jax``, ``jax.numpy`` and ``jax.lax``; the
      function returns a tuple of the jaxpr's outputs.
    """
    writer = _Writer()
    outs = writer.run(closed_jaxpr.jaxpr, closed_jaxpr.consts, list(arg_names))
    header = [
        '"""Generated by ccelim (interpreter.export); needs only JAX."""',
        "",
        "import base64",
        "",
        "import jax",
        "import jax.numpy as jnp",
        "from jax import lax",
        "",
        "",
    ]
    for k, data in enumerate(writer.modules):
        header += [
            f"_module{k} = jax.export.deserialize(",
            f"    bytearray(base64.b64decode({data!r}))",
            ")",
        ]
    header += [
        "" if writer.modules else None,
        "" if writer.modules else None,
        f"def {name}({', '.join(arg_names)}):",
        f'    """{doc}"""'
        if doc
        else '    """Generated straight-line JAX function."""',
    ]
    header = [line for line in header if line is not None]
    result = "(" + "".join(o + ", " for o in outs) + ")"
    footer = [f"    return {result}", "", "", f"{name}_batched = jax.vmap({name})", ""]
    return "\n".join(header + writer.lines + footer)
