"""Exporting a kernel for clients without ccelim: StableHLO bytes and Python source.

The exported function is the *flat* kernel: one positional argument per leaf of
``graph.signature`` (in argument order, parameters included), and a tuple with one
dense Jacobian block per (output, differentiated leaf) pair, output-major.
``KernelArtifact.input_specs`` and ``output_layout`` say which is which.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from graphs.ir import Graph
from interpreter.eliminate import STACK_GROUP
from interpreter.kernel import flat_blocks
from interpreter.plan import OrderSpec, Plan, make_plan
from interpreter.source import jaxpr_to_source


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One positional argument of the exported function."""

    name: str  # the Python argument name in python_source
    vertex: str  # the graph vertex it feeds
    arg: int  # the traced function's positional argument it came from
    shape: tuple[int | str, ...]  # with the batch axis first when exported batched
    dtype: str
    differentiated: bool


@dataclasses.dataclass(frozen=True)
class OutputBlock:
    """One result of the exported function: ``d outputs[out_index] / d in_vertex``."""

    out_index: int
    out_vertex: str
    in_vertex: str
    shape: tuple[int | str, ...]  # batch axis first when batched, then out + in shape
    dtype: str


@dataclasses.dataclass(frozen=True)
class KernelArtifact:
    """A Jacobian kernel that runs without ccelim.

    Attributes:
      stablehlo: ``jax.export`` serialization of the jitted flat kernel; run it with
        ``jax.export.deserialize(stablehlo).call(*args)``.
      python_source: a module defining ``jacobian(*args)`` (one example; also
        ``jacobian_batched = jax.vmap(jacobian)``), importing only JAX.
      input_specs: the exported function's arguments, in order.
      output_layout: the blocks it returns, in order.
      order: the elimination order, as vertex ids.
      multiplications: what the order costs (``graphs.cost``), per example.
      additions: additions of the order, per example.
      batch: ``None``, the batch size, or the symbolic batch dimension's name.
    """

    stablehlo: bytes
    python_source: str
    input_specs: tuple[InputSpec, ...]
    output_layout: tuple[OutputBlock, ...]
    order: tuple[str, ...]
    multiplications: int
    additions: int
    batch: int | str | None = None

    @property
    def cost(self) -> int:
        """The order's multiplications (alias)."""
        return self.multiplications


def _arg_names(plan: Plan) -> list[str]:
    names = []
    for spec in plan.leaves:
        name = spec.vertex if spec.vertex.isidentifier() else f"a{len(names)}"
        names.append(name if name not in names else f"a{len(names)}")
    return names


def export(
    graph: Graph,
    order: OrderSpec = "markowitz",
    *,
    batch: int | str | None = None,
    stack_group: int | None = STACK_GROUP,
) -> KernelArtifact:
    """Packages the Jacobian kernel of ``graph`` under ``order`` for another process.

    Args:
      graph: a program graph.
      order: intermediate ids, ``"forward"``, ``"reverse"`` or a baseline name.
      batch: ``None`` (one example), an int batch size, or a name such as ``"b"``
        for a symbolic batch dimension (``jax.export.symbolic_shape``); a batch
        adds a leading axis to every argument and block of ``stablehlo``.
      stack_group: how blocks of vertices split into elements are stacked (as in
        :func:`interpreter.jacobian`; ``interpreter.fastest`` may pick a group).

    Returns:
      A :class:`KernelArtifact`.

    Example:
      >>> art = interpreter.export(graphs.trace(jnp.sin, jnp.ones(3)), "forward")
      >>> jax.export.deserialize(art.stablehlo).call(jnp.ones(3))[0].shape
      (3, 3)
    """
    plan = make_plan(graph, order, what="interpreter.export")
    kernel = flat_blocks(
        plan, stack_group=stack_group
    )  # batch-aware: exported with a batch, traced for it
    specs = [jax.ShapeDtypeStruct(s.shape, np.dtype(s.dtype)) for s in plan.leaves]
    lead: tuple[Any, ...] = ()
    fn = kernel
    if batch is not None:
        if isinstance(batch, str):
            (dim,) = jax.export.symbolic_shape(batch)
            lead = (dim,)
        else:
            lead = (int(batch),)
        fn = jax.vmap(kernel)
    batched_specs = [jax.ShapeDtypeStruct(lead + s.shape, s.dtype) for s in specs]
    exported = jax.export.export(jax.jit(fn))(*batched_specs)
    names = _arg_names(plan)
    doc = (
        f"Jacobian of {graph.name or 'the graph'} by cross-country elimination "
        f"({plan.cost.multiplications} multiplications).\n\n"
        f"    Args: {', '.join(names)} (shapes {[s.shape for s in plan.leaves]}).\n"
        "    Returns: one dense block per (output, differentiated input), "
        "output-major.\n    "
    )
    source = jaxpr_to_source(
        jax.make_jaxpr(kernel)(*specs), name="jacobian", arg_names=names, doc=doc
    )
    shape_lead = (batch,) if isinstance(batch, str) else lead
    return KernelArtifact(
        stablehlo=bytes(exported.serialize()),
        python_source=source,
        input_specs=tuple(
            InputSpec(
                n, s.vertex, s.arg, shape_lead + s.shape, s.dtype, s.differentiated
            )
            for n, s in zip(names, plan.leaves)
        ),
        output_layout=tuple(
            OutputBlock(
                b.out_index, b.out_vertex, b.in_vertex, shape_lead + b.shape, b.dtype
            )
            for b in plan.blocks
        ),
        order=tuple(plan.elim.ids[v] for v in plan.order),
        multiplications=plan.cost.multiplications,
        additions=plan.cost.additions,
        batch=batch,
    )
