"""The elimination graph of a Graph, vertex elimination, and the cost of an order.

``ElimGraph`` is the graph that orders act on: the vertices on some path from an
input to an output, with one structured partial (``graphs.structure``) per edge.
Eliminating ``v`` adds ``J[s,v]·J[v,p]`` onto ``J[s,p]`` for every predecessor
``p`` and successor ``s`` and drops ``v``. An output that also feeds later vertices
is split: the vertex keeps its id and is eliminated like any intermediate, and a
sink ``"<id>#out"`` reached by a value-less copy edge holds the output's Jacobian.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from graphs import algebra
from graphs import structure as st
from graphs.errors import GraphError
from graphs.ir import INPUT, NODE, PARAMETER, Edge, Graph, Literal
from graphs.primitives import SUPPORTED, is_known_op, operand_types, rule_for
from graphs.structure import Partial

SINK_SUFFIX = "#out"


@dataclasses.dataclass(frozen=True)
class ElimGraph:
    """The graph that orders act on (immutable; :func:`eliminate` returns a new one).

    Attributes:
      ids: vertex ids, in program order; sinks of split outputs at the end.
      shapes: shape of each vertex, by position.
      inputs: positions of the graph's inputs that reach an output.
      outputs: positions holding each distinct output's Jacobian (an output's own
        vertex, its split sink, or an input), keyed by output id.
      intermediates: positions that an order eliminates, in program order.
      edges: ``(dst, src) -> partial`` for every edge.
      split: vectors read or written one element at a time, as their elements.
    """

    ids: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    inputs: tuple[int, ...]
    outputs: dict[str, int]
    intermediates: tuple[int, ...]
    edges: dict[tuple[int, int], Partial]
    pred: dict[int, frozenset[int]] = dataclasses.field(default_factory=dict)
    succ: dict[int, frozenset[int]] = dataclasses.field(default_factory=dict)
    #: id of a vertex split into its elements (``graphs.elements``) -> positions of
    #: its elements, row-major, ``-1`` for an element that is never read or written.
    split: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not self.pred and self.edges:
            pred: dict[int, set[int]] = {}
            succ: dict[int, set[int]] = {}
            for s, p in self.edges:
                pred.setdefault(s, set()).add(p)
                succ.setdefault(p, set()).add(s)
            object.__setattr__(self, "pred", {k: frozenset(v) for k, v in pred.items()})
            object.__setattr__(self, "succ", {k: frozenset(v) for k, v in succ.items()})

    def preds(self, v: int) -> list[int]:
        return sorted(self.pred.get(v, ()))

    def succs(self, v: int) -> list[int]:
        return sorted(self.succ.get(v, ()))

    @property
    def intermediate_ids(self) -> tuple[str, ...]:
        return tuple(self.ids[i] for i in self.intermediates)

    @functools.cached_property
    def is_scalar(self) -> bool:
        """Whether every vertex holds one element, so the textbook |P|·|S| rule
        applies. A one-element array (``u[0:1]``, a ``(1, 1)`` reshape) counts as
        a scalar: every partial between such vertices is one number or a
        value-less selection, and the structured algebra prices it as one."""
        return all(math.prod(shape) == 1 for shape in self.shapes)


def _operand_edges(graph: Graph) -> list[tuple[str, str, Partial]]:
    """(src, dst, partial) of a program graph, duplicate operands added up."""
    by_id = graph.by_id
    result: list[tuple[str, str, Partial]] = []
    for vertex in graph.vertices:
        if vertex.op in (INPUT, PARAMETER):
            continue
        rule = rule_for(vertex.op)
        if not is_known_op(vertex.op):
            raise GraphError(
                f"unknown op {vertex.op!r}; supported ops: {', '.join(SUPPORTED)}",
                path=f"vertices[{vertex.id}].op",
            )
        shapes, dtypes = operand_types(vertex, by_id)
        try:
            partials = rule.structure_fn(vertex, shapes, dtypes)
        except (KeyError, ValueError, TypeError, IndexError) as err:
            raise GraphError(
                f"{vertex.op} cannot take operands of shapes {shapes} "
                f"and params {vertex.param_dict}: {err}",
                path=f"vertices[{vertex.id}]",
            ) from err
        merged: dict[str, Partial] = {}
        for operand, partial in zip(vertex.operands, partials):
            if partial is None or isinstance(operand, Literal):
                continue
            if operand in merged:
                merged[operand] = algebra.add(merged[operand], partial).partial
            else:
                merged[operand] = partial
        result.extend((src, vertex.id, partial) for src, partial in merged.items())
    return result


def _explicit_edges(graph: Graph) -> list[tuple[str, str, Partial]]:
    by_id = graph.by_id
    merged: dict[tuple[str, str], Partial] = {}
    dense: dict[tuple, Partial] = {}  # partials are immutable: one per shape pair
    for edge in graph.edges or ():
        partial = edge.partial
        if partial is None:
            shapes = (by_id[edge.dst].shape, by_id[edge.src].shape)
            partial = dense.get(shapes) or dense.setdefault(shapes, st.dense(*shapes))
        key = (edge.src, edge.dst)
        merged[key] = (
            algebra.add(merged[key], partial).partial if key in merged else partial
        )
    return [(src, dst, partial) for (src, dst), partial in merged.items()]


def graph_edges(graph: Graph) -> list[tuple[str, str, Partial]]:
    """Every edge ``(src, dst, partial)`` of a graph, program or structure-only."""
    return _operand_edges(graph) if graph.is_program else _explicit_edges(graph)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic collector off inside the block (back as it was after).

    Building per-vertex sets and dicts allocates several objects per edge, and
    the collector walks every tracked object each few hundred allocations: at
    100,000 vertices that was half of :func:`build`'s time (1.0-1.5 s ->
    0.46-0.50 s) and most of ``search.prefix``'s set-up (0.4 s)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def build(graph: Graph) -> ElimGraph:
    """The elimination graph of ``graph`` (vertices off every input→output path dropped)."""
    with gc_paused():
        return _build(graph)


def _build(graph: Graph) -> ElimGraph:
    edges = graph_edges(graph)
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for src, dst, _ in edges:
        succ.setdefault(src, []).append(dst)
        pred.setdefault(dst, []).append(src)
    reach = _closure(graph.inputs, succ)
    coreach = _closure(graph.outputs, pred)
    live = reach & coreach
    ids = [v.id for v in graph.vertices if v.id in live]
    index = {vid: i for i, vid in enumerate(ids)}
    shapes = [graph.by_id[vid].shape for vid in ids]
    edge_map: dict[tuple[int, int], Partial] = {
        (index[dst], index[src]): partial
        for src, dst, partial in edges
        if src in live and dst in live
    }
    has_succ = {p for (_, p) in edge_map}
    outputs: dict[str, int] = {}
    input_ids = set(graph.inputs)
    for out in graph.outputs:
        if out in outputs or out not in live:
            continue
        pos = index[out]
        if pos in has_succ and out not in input_ids:
            sink = len(ids)
            ids.append(out + SINK_SUFFIX)
            shapes.append(shapes[pos])
            edge_map[(sink, pos)] = st.identity(shapes[pos])
            outputs[out] = sink
        else:
            outputs[out] = pos
    sinks = set(outputs.values())
    intermediates = tuple(
        index[vid]
        for vid in ids[: len(index)]
        if vid not in input_ids and index[vid] not in sinks
    )
    from graphs.elements import split_elements

    return split_elements(
        ElimGraph(
            ids=tuple(ids),
            shapes=tuple(shapes),
            inputs=tuple(index[x] for x in graph.inputs if x in live),
            outputs=outputs,
            intermediates=intermediates,
            edges=edge_map,
        )
    )


def _closure(start: Iterable[str], nxt: dict[str, list[str]]) -> set[str]:
    seen = set(start)
    stack = list(seen)
    while stack:
        for w in nxt.get(stack.pop(), ()):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


@dataclasses.dataclass(frozen=True)
class Step:
    """The cost of eliminating one vertex."""

    vertex: str
    multiplications: int
    additions: int


@dataclasses.dataclass(frozen=True)
class CostReport:
    """What an order costs.

    Attributes:
      order: the order evaluated, as vertex ids.
      multiplications: total scalar multiplications of the accumulation.
      additions: total scalar additions onto existing edges and of pre-summed axes.
      steps: per-vertex costs, in elimination order.
    """

    order: tuple[str, ...]
    multiplications: int
    additions: int
    steps: tuple[Step, ...]


def eliminate(
    g: ElimGraph,
    v: int,
    values: dict[tuple[int, int], Any] | None = None,
    *,
    dtype: Any = None,
) -> tuple[ElimGraph, int, int, dict[tuple[int, int], Any] | None]:
    """Eliminates vertex position ``v``.

    Args:
      g: the elimination graph.
      v: position of an intermediate.
      values: optional cores of every edge (``None`` for value-less partials);
        the interpreter passes them, the cost model does not.
      dtype: dtype of materialised cores; required with ``values``.

    Returns:
      The new graph, its multiplications, additions, and the new edge values (or
      ``None`` when working symbolically).
    """
    edges = dict(g.edges)
    new_values = dict(values) if values is not None else None
    preds = g.preds(v)
    succs = g.succs(v)
    pred = dict(g.pred)
    succ = dict(g.succ)
    mults = adds = 0
    for s in succs:
        a = edges[(s, v)]
        pred[s] = (pred[s] - {v}) | set(preds)
        for p in preds:
            if new_values is None:
                product = algebra.compose(a, edges[(v, p)])
            else:
                product = algebra.compose(
                    a,
                    edges[(v, p)],
                    new_values[(s, v)],
                    new_values[(v, p)],
                    dtype=dtype,
                )
            mults += product.multiplications
            adds += product.additions
            partial, value = product.partial, product.value
            if (s, p) in edges:
                if new_values is None:
                    total = algebra.add(edges[(s, p)], partial)
                else:
                    total = algebra.add(
                        edges[(s, p)], partial, new_values[(s, p)], value, dtype=dtype
                    )
                adds += total.additions
                partial, value = total.partial, total.value
            edges[(s, p)] = partial
            if new_values is not None:
                new_values[(s, p)] = value
    for p in preds:
        del edges[(v, p)]
        succ[p] = (succ[p] - {v}) | set(succs)
        if new_values is not None:
            del new_values[(v, p)]
    for s in succs:
        del edges[(s, v)]
        if new_values is not None:
            del new_values[(s, v)]
    pred.pop(v, None)
    succ.pop(v, None)
    new = dataclasses.replace(g, edges=edges, pred=pred, succ=succ)
    return new, mults, adds, new_values


def elimination_cost(g: ElimGraph, v: int) -> tuple[int, int]:
    """(multiplications, fill-in edges) of eliminating ``v`` now, without doing it."""
    mults = fill = 0
    preds = g.preds(v)
    for s in g.succs(v):
        a = g.edges[(s, v)]
        for p in preds:
            mults += algebra.compose(a, g.edges[(v, p)]).multiplications
            fill += (s, p) not in g.edges
    return mults, fill


def resolve_order(g: ElimGraph, order: str | Sequence[str]) -> list[int]:
    """Positions of an order given as ids, ``"forward"`` or ``"reverse"``.

    Raises:
      GraphError: if ``order`` is not a permutation of the intermediates, naming
        the ids that are missing, repeated or unknown.
    """
    if isinstance(order, str):
        if order == "forward":
            return list(g.intermediates)
        if order == "reverse":
            return list(reversed(g.intermediates))
        raise GraphError(
            f"unknown order {order!r}; give a list of intermediate ids, "
            "'forward' or 'reverse' (or a name from graphs.baselines)",
            path="order",
        )
    index = {g.ids[i]: i for i in g.intermediates}
    seen: set[str] = set()
    repeated = sorted({vid for vid in order if vid in seen or seen.add(vid)})
    unknown = sorted(set(order) - set(index))
    missing = sorted(set(index) - set(order))
    if repeated or unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if repeated:
            parts.append(f"repeated {repeated}")
        if unknown:
            parts.append(f"unknown (not intermediates) {unknown}")
        raise GraphError(
            "order must be a permutation of the graph's intermediates: "
            + "; ".join(parts),
            path="order",
        )
    return [index[vid] for vid in order]


def cost_of(g: ElimGraph, order: Sequence[int]) -> CostReport:
    """Cost of eliminating positions ``order`` from ``g``."""
    steps = []
    total_m = total_a = 0
    for v in order:
        g, m, a, _ = eliminate(g, v)
        steps.append(Step(g.ids[v], m, a))
        total_m += m
        total_a += a
    return CostReport(tuple(g.ids[v] for v in order), total_m, total_a, tuple(steps))


def structure_only(graph: Graph) -> Graph:
    """The structure-only view of a graph: explicit edges with their partials."""
    if not graph.is_program:
        return graph
    vertices = tuple(
        dataclasses.replace(
            v,
            op=v.op if v.op == INPUT else NODE,
            operands=(),
            params=(),
        )
        for v in graph.vertices
        if v.op != PARAMETER
    )
    keep = {v.id for v in vertices}
    edges = tuple(
        Edge(src, dst, partial)
        for src, dst, partial in graph_edges(graph)
        if src in keep and dst in keep
    )
    used = (
        {e.src for e in edges}
        | {e.dst for e in edges}
        | set(graph.inputs)
        | set(graph.outputs)
    )
    vertices = tuple(v for v in vertices if v.id in used)
    return Graph(vertices, graph.inputs, graph.outputs, edges, name=graph.name)
