"""An SVG picture of a graph and its elimination order.

Vertices are drawn in layers from top to bottom (longest path from a source); a
layer wider than ``MAX_COLUMNS`` wraps onto further rows, so the picture stays
about a page wide however long or wide the graph is, and scales down on narrow
screens. Each intermediate shows the step at which the order eliminates it, each
vertex its id. Inputs are squares, outputs double circles. Pure function of
data: no drawing library.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from graphs import Graph
from graphs.elimination import graph_edges

__all__ = ["MAX_COLUMNS", "MAX_DRAWN_VERTICES", "message_svg", "order_svg"]

#: Graphs with more vertices than this are not drawn (the picture would be noise).
MAX_DRAWN_VERTICES = 400
#: Vertices per row; a wider layer wraps.
MAX_COLUMNS = 10
#: Characters of an id shown under its vertex (the full id is in the tooltip).
LABEL_CHARS = 12

_DX, _DY, _R, _PAD, _LABEL = 92, 70, 15, 30, 14


def _layers(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {v: [] for v in ids}
    for src, dst in edges:
        preds.setdefault(dst, []).append(src)
    depth: dict[str, int] = {}
    for v in ids:  # vertices are listed in topological order
        depth[v] = 1 + max((depth.get(p, 0) for p in preds.get(v, ())), default=-1)
    return depth


def _positions(
    ids: Sequence[str], depth: dict[str, int]
) -> tuple[dict[str, tuple[float, float]], int, int]:
    """Centre of each vertex, and the picture's width and height in pixels."""
    by_layer: dict[int, list[str]] = {}
    for v in ids:
        by_layer.setdefault(depth[v], []).append(v)
    columns = min(MAX_COLUMNS, max((len(vs) for vs in by_layer.values()), default=1))
    width = 2 * _PAD + (columns - 1) * _DX + 2 * _R
    pos: dict[str, tuple[float, float]] = {}
    row = 0
    for layer in sorted(by_layer):
        members = by_layer[layer]
        for start in range(0, len(members), MAX_COLUMNS):
            chunk = members[start : start + MAX_COLUMNS]
            left = (width - (len(chunk) - 1) * _DX) / 2
            for i, v in enumerate(chunk):
                pos[v] = (left + i * _DX, _PAD + _R + row * _DY)
            row += 1
    height = 2 * _PAD + 2 * _R + max(row - 1, 0) * _DY + _LABEL
    return pos, width, height


def _svg_open(width: int, height: int, label: str) -> str:
    # width 100% with max-width: never wider than the page, never blown up.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'style="max-width:{width}px" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">'
    )


def message_svg(text: str) -> str:
    """A small SVG that says ``text`` (for graphs that are not drawn)."""
    width = max(200, 7 * len(text) + 20)
    return (
        _svg_open(width, 30, text)
        + f'<text x="10" y="20" font-size="12" font-family="sans-serif">'
        f"{escape(text)}</text></svg>"
    )


def _short(vid: str) -> str:
    return vid if len(vid) <= LABEL_CHARS else vid[: LABEL_CHARS - 1] + "…"


def order_svg(graph: Graph, order: Sequence[str]) -> str:
    """An inline ``<svg>`` of ``graph`` with vertices numbered by elimination step.

    Args:
      graph: the graph as stored.
      order: its elimination order (the graph's own vertex ids).

    Returns:
      SVG markup, or a short ``<p>`` when the graph is too large to draw.

    Example:
      >>> order_svg(graphs.load(doc), ["v"]).startswith("<svg")
      True
    """
    ids = [v.id for v in graph.vertices]
    if len(ids) > MAX_DRAWN_VERTICES:
        return (
            f"<p>{len(ids)} vertices: too many to draw "
            f"(at most {MAX_DRAWN_VERTICES}).</p>"
        )
    edges = [(src, dst) for src, dst, _ in graph_edges(graph)]
    depth = _layers(ids, edges)
    pos, width, height = _positions(ids, depth)
    step = {v: i + 1 for i, v in enumerate(order)}
    inputs, outputs = set(graph.inputs), set(graph.outputs)
    parts = [
        _svg_open(width, height, "graph with elimination order"),
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
    text = 'text-anchor="middle" font-family="sans-serif"'
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
                f'<rect x="{x - _R:.1f}" y="{y - _R:.1f}" width="{2 * _R}" '
                f'height="{2 * _R}" fill="#dbeafe" stroke="#1e40af"/>'
            )
        else:
            fill = "#fef3c7" if v in step else "#dcfce7"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{_R}" fill="{fill}" '
                'stroke="#444"/>'
            )
            if v in outputs:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{_R + 3}" fill="none" '
                    'stroke="#15803d"/>'
                )
        if v in step:  # the step inside, the id underneath
            parts.append(
                f'<text x="{x:.1f}" y="{y + 4:.1f}" {text} font-size="11" '
                f'font-weight="bold">{step[v]}</text>'
            )
        parts.append(
            f'<text x="{x:.1f}" y="{y + _R + 13:.1f}" {text} font-size="10" '
            f'fill="#333">{escape(_short(v))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
