"""The elimination plan of a (program graph, order): everything a kernel needs.

A :class:`Plan` is computed once per graph and order (cached) and holds only
Python data: the elimination graph, the order as positions, the symbolic result
of eliminating it (so the structure of every Jacobian block is known before any
array exists), the cost, and how kernel arguments and results map to vertices.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphs.baselines import order_positions
from graphs.elimination import CostReport, ElimGraph, build, cost_of
from graphs.errors import GraphError
from graphs.ir import INPUT, PARAMETER, Graph
from graphs.primitives import is_float

OrderSpec = str | Sequence[str]


@dataclasses.dataclass(frozen=True)
class LeafSpec:
    """One array the kernel takes: a leaf of a positional argument."""

    arg: int  # positional argument it belongs to
    index: int  # position among that argument's flattened leaves
    vertex: str  # the input or parameter vertex it feeds
    shape: tuple[int, ...]
    dtype: str
    differentiated: bool


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One dense Jacobian block ``d outputs[out_index] / d in_vertex``."""

    out_index: int  # position in graph.outputs
    out_vertex: str
    in_vertex: str
    shape: tuple[int, ...]  # out_shape + in_shape
    dtype: str


@dataclasses.dataclass(frozen=True, eq=False)
class Plan:
    """A graph, an order, and the precomputed (symbolic) elimination.

    Attributes:
      graph: the program graph.
      elim: its elimination graph before any elimination.
      order: the intermediates to eliminate, as positions in ``elim``.
      final: ``elim`` after eliminating ``order`` symbolically: only
        input→output edges remain, with the structure the kernel's blocks have.
      edge_keys: the ``(dst, src)`` edges of ``elim``, in the order of the kernel's
        list of local-partial cores.
      cost: what the order costs (the kernel performs exactly these products).
      leaves: the kernel's argument leaves, in argument order.
      num_args: the number of positional arguments.
      diff_args: the positional arguments that hold differentiated leaves.
      blocks: the dense blocks of the Jacobian, output-major, then differentiated
        leaves in argument order.
      dtype: the dtype of materialised cores (the inputs' float dtype).
    """

    graph: Graph
    elim: ElimGraph
    order: tuple[int, ...]
    final: ElimGraph
    edge_keys: tuple[tuple[int, int], ...]
    cost: CostReport
    leaves: tuple[LeafSpec, ...]
    num_args: int
    diff_args: tuple[int, ...]
    blocks: tuple[BlockSpec, ...]
    dtype: Any

    @property
    def position(self) -> dict[str, int]:
        return {vid: i for i, vid in enumerate(self.elim.ids)}


def require_program(graph: Graph, *, what: str) -> None:
    """Raises if ``graph`` is structure-only: a kernel needs the program."""
    if not isinstance(graph, Graph):
        raise GraphError(
            f"{what} needs a graphs.Graph, got {type(graph).__name__}; make one with "
            "graphs.trace(f, *example_args) or graphs.load(json)"
        )
    if not graph.is_program:
        raise GraphError(
            f"{what} needs a program graph (per-vertex ops, operands, shapes), but "
            f"{graph.name or 'this graph'!r} is structure-only (explicit edges): it "
            "can be searched but not run; make a program graph with "
            "graphs.trace(f, *example_args) (or load the JSON that Graph.to_json() "
            "wrote for one)"
        )


def _signature(graph: Graph) -> tuple[tuple[str, ...], ...]:
    if graph.signature:
        return graph.signature
    return tuple((v.id,) for v in graph.vertices if v.op in (INPUT, PARAMETER))


def _float_dtype(graph: Graph) -> Any:
    dtypes = [graph.vertex(x).dtype for x in graph.inputs]
    dtypes = [d for d in dtypes if is_float(d)] or ["float32"]
    return np.result_type(*dtypes)


def _eliminate_all(elim: ElimGraph, order: Sequence[int]) -> ElimGraph:
    from graphs.elimination import eliminate

    g = elim
    for v in order:
        g, _, _, _ = eliminate(g, v)
    return g


@functools.lru_cache(maxsize=256)
def _plan(graph: Graph, order: tuple[str, ...] | str) -> Plan:
    elim = build(graph)
    positions = order_positions(elim, order if isinstance(order, str) else list(order))
    final = _eliminate_all(elim, positions)
    report = cost_of(elim, positions)
    signature = _signature(graph)
    inputs = set(graph.inputs)
    leaves = []
    for arg, ids in enumerate(signature):
        for index, vid in enumerate(ids):
            v = graph.vertex(vid)
            leaves.append(LeafSpec(arg, index, vid, v.shape, v.dtype, vid in inputs))
    diff_args = tuple(sorted({leaf.arg for leaf in leaves if leaf.differentiated}))
    blocks = []
    for k, out in enumerate(graph.outputs):
        vo = graph.vertex(out)
        for leaf in leaves:
            if leaf.differentiated:
                blocks.append(
                    BlockSpec(k, out, leaf.vertex, vo.shape + leaf.shape, vo.dtype)
                )
    return Plan(
        graph=graph,
        elim=elim,
        order=tuple(positions),
        final=final,
        edge_keys=tuple(elim.edges),
        cost=report,
        leaves=tuple(leaves),
        num_args=len(signature),
        diff_args=diff_args,
        blocks=tuple(blocks),
        dtype=_float_dtype(graph),
    )


def make_plan(
    graph: Graph, order: OrderSpec = "markowitz", *, what: str = "plan"
) -> Plan:
    """The (cached) elimination plan of ``graph`` under ``order``.

    Args:
      graph: a program graph.
      order: a list of intermediate ids, ``"forward"``, ``"reverse"`` or a
        baseline name from ``graphs.baselines``.
      what: the public function asking, for error messages.

    Returns:
      A :class:`Plan`.
    """
    require_program(graph, what=what)
    key = order if isinstance(order, str) else tuple(order)
    return _plan(graph, key)
