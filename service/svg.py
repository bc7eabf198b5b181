"""An SVG picture of a graph and its elimination order.

Vertices are drawn in layers (longest path from a source, left to right); each
intermediate is numbered by the step at which the order eliminates it. Inputs are
squares, outputs double circles. Pure function of data: no drawing library.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from graphs import Graph
from graphs.elimination import graph_edges

__all__ = ["MAX_DRAWN_VERTICES", "order_svg"]

#: Graphs with more vertices than this are not drawn (the picture would be noise).
MAX_DRAWN_VERTICES = 400

_DX, _DY, _R, _PAD = 120, 46, 15, 40


def _layers(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {v: [] for v in ids}
    for src, dst in edges:
        preds.setdefault(dst, []).append(src)
    depth: dict[str, int] = {}
    for v in ids:  # vertices are listed in topological order
        depth[v] = 1 + max((depth.get(p, 0) for p in preds.get(v, ())), default=-1)
    return depth


def order_svg(graph: Graph, order: Sequence[str]) -> str:
    """An inline ``<svg>`` of ``graph`` with vertices numbered by elimination step.

    Args:
      graph: the graph as stored.
      order: its elimination order (the graph's own vertex ids).

    Returns:
      SVG markup, or a short ``<p>`` when the graph is too large to draw.
    """
    ids = [v.id for v in graph.vertices]
    if len(ids) > MAX_DRAWN_VERTICES:
        return (
            f"<p>{len(ids)} vertices: too many to draw "
            f"(at most {MAX_DRAWN_VERTICES}).</p>"
        )
    edges = [(src, dst) for src, dst, _ in graph_edges(graph)]
    depth = _layers(ids, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for v in ids:
        layer = depth[v]
        row = rows.get(layer, 0)
        rows[layer] = row + 1
        pos[v] = (_PAD + layer * _DX, _PAD + row * _DY)
    width = _PAD * 2 + _DX * max(depth.values(), default=0) + 80
    height = _PAD * 2 + _DY * max(max(rows.values(), default=1) - 1, 0) + 20
    step = {v: i + 1 for i, v in enumerate(order)}
    inputs, outputs = set(graph.inputs), set(graph.outputs)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="graph with elimination order">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>',
    ]
    for src, dst in edges:
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        length = max(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 1.0)
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        parts.append(
            f'<line x1="{x1 + ux * _R:.1f}" y1="{y1 + uy * _R:.1f}" '
            f'x2="{x2 - ux * _R:.1f}" y2="{y2 - uy * _R:.1f}" stroke="#aaa" '
            'marker-end="url(#arrow)"/>'
        )
    by_id = graph.by_id
    for v in ids:
        x, y = pos[v]
        vertex = by_id[v]
        title = (
            f"{v} ({vertex.op}{', shape ' + str(vertex.shape) if vertex.shape else ''})"
        )
        if v in step:
            title += f": eliminated at step {step[v]}"
        parts.append(f"<g><title>{escape(title)}</title>")
        if v in inputs:
            parts.append(
                f'<rect x="{x - _R}" y="{y - _R}" width="{2 * _R}" height="{2 * _R}" '
                'fill="#dbeafe" stroke="#1e40af"/>'
            )
            label = v
        else:
            fill = "#fef3c7" if v in step else "#dcfce7"
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="{_R}" fill="{fill}" stroke="#444"/>'
            )
            if v in outputs:
                parts.append(
                    f'<circle cx="{x}" cy="{y}" r="{_R + 3}" fill="none" '
                    'stroke="#15803d"/>'
                )
            label = str(step[v]) if v in step else v
        parts.append(
            f'<text x="{x}" y="{y + 4}" text-anchor="middle" font-size="10" '
            f'font-family="sans-serif">{escape(label[:8])}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
