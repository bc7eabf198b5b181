"""Read-only HTML pages: the cached graphs with their orders drawn, one graph's page,
and each order's picture as an SVG image (``/graphs/{hash}.svg``).

Server-rendered strings (no template engine, no build step); every value from the
database is escaped.
"""

from __future__ import annotations

import json
from html import escape

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

import graphs
from service.cache import GraphSummary, get_record, list_records
from service.deps import State
from service.svg import MAX_DRAWN_VERTICES, message_svg, order_svg

router = APIRouter(include_in_schema=False)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child,td.l{text-align:left}
code{font-size:.85em}.good{color:#15803d}.svg{overflow:auto;border:1px solid #eee}
img.thumb{width:160px;max-height:120px;object-fit:contain;object-position:top;
border:1px solid #eee;background:#fff}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>{body}"
        "<p><small><a href='/'>cached graphs</a> · <a href='/docs'>API docs</a>"
        "</small></p></body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _best_baseline(baselines: dict[str, int]) -> tuple[str, int] | None:
    if not baselines:
        return None
    name = min(baselines, key=lambda k: (baselines[k], k))
    return name, baselines[name]


def _row(item: GraphSummary) -> str:
    best = _best_baseline(item.baselines)
    if best is None:
        baseline, gain = "–", "–"
    else:
        baseline = f"{best[1]} <small>({escape(best[0])})</small>"
        gain = f"{100 * (best[1] - item.cost) / best[1]:.1f}%" if best[1] else "–"
    link = f"/graphs/{escape(item.graph_hash)}"
    picture = (
        f"<a href='{link}'><img class='thumb' loading='lazy' src='{link}.svg' "
        f"alt='order of {escape(item.graph_hash[:16])}'></a>"
        if item.num_vertices <= MAX_DRAWN_VERTICES
        else f"<small>{item.num_vertices} vertices</small>"
    )
    return (
        f"<tr><td class='l'>{picture}</td>"
        f"<td class='l'><a href='{link}'><code>{escape(item.graph_hash[:16])}"
        f"</code></a></td><td class='l'>{escape(item.name or '')}</td>"
        f"<td>{item.num_vertices}</td><td>{item.num_intermediates}</td>"
        f"<td><b>{item.cost}</b></td><td>{baseline}</td><td class='good'>{gain}</td>"
        f"<td class='l'>{escape(item.method)}</td>"
        f"<td class='l'>{escape(item.updated_at.strftime('%Y-%m-%d %H:%M'))}</td></tr>"
    )


@router.get("/", response_class=HTMLResponse)
async def index(state: State, offset: int = Query(0, ge=0, le=10**9)):
    items = await to_thread.run_sync(
        lambda: list_records(state.engine, limit=100, offset=offset)
    )
    rows = "".join(_row(item) for item in items) or (
        "<tr><td class='l' colspan='10'>No graphs cached yet: POST one to "
        "<code>/v1/orders</code>.</td></tr>"
    )
    more = (
        f"<p><a href='/?offset={offset + 100}'>more…</a></p>"
        if len(items) == 100
        else ""
    )
    body = (
        "<h1>ccelim: cached elimination orders</h1>"
        "<p>Cost = scalar multiplications of the Jacobian accumulation; lower is "
        "better; each picture is the graph with its order (numbers are elimination "
        "steps; squares are inputs, double circles outputs).</p><table><tr>"
        "<th>order</th><th>graph</th><th>name</th><th>vertices</th>"
        "<th>intermediates</th><th>cost</th><th>best baseline</th><th>saved</th>"
        f"<th>method</th><th>updated (UTC)</th></tr>{rows}</table>{more}"
    )
    return _page("ccelim cache", body)


@router.get("/graphs/{graph_hash}.svg")
async def graph_picture(graph_hash: str, state: State) -> Response:
    """The graph with its order drawn (``image/svg+xml``), for ``<img>`` tags."""
    found = await to_thread.run_sync(get_record, state.engine, graph_hash)
    if found is None or found.record is None:
        picture = message_svg(f"no cached order for {graph_hash[:40]}")
        return Response(picture, status_code=404, media_type="image/svg+xml")
    if found.num_vertices > MAX_DRAWN_VERTICES:
        picture = message_svg(f"{found.num_vertices} vertices: too many to draw")
    else:
        order = json.loads(found.record["order_json"])
        graph = await to_thread.run_sync(graphs.load, found.document)
        picture = await to_thread.run_sync(order_svg, graph, order)
    return Response(picture, media_type="image/svg+xml")


@router.get("/graphs/{graph_hash}", response_class=HTMLResponse)
async def graph_page(graph_hash: str, state: State):
    found = await to_thread.run_sync(get_record, state.engine, graph_hash)
    if found is None or found.record is None:
        return _page(
            "not found",
            f"<h1>Unknown graph</h1><p>No cached order for <code>"
            f"{escape(graph_hash)}</code>.</p>",
            status=404,
        )
    record = found.record
    order = json.loads(record["order_json"])
    baselines = json.loads(record["baselines_json"])
    graph = await to_thread.run_sync(graphs.load, found.document)
    picture = await to_thread.run_sync(order_svg, graph, order)
    rows = "".join(
        f"<tr><td class='l'>{escape(name)}</td><td>{cost}</td></tr>"
        for name, cost in sorted(baselines.items(), key=lambda kv: (kv[1], kv[0]))
    )
    lower = record["lower_bound"]
    body = (
        f"<h1>Graph <code>{escape(graph_hash[:16])}</code> {escape(found.name)}</h1>"
        f"<p>{found.num_vertices} vertices, {found.num_intermediates} intermediates"
        f"{', program graph' if found.is_program else ', structure only'}. "
        f"Best order: <b>{record['cost']}</b> multiplications, found by "
        f"<b>{escape(record['method'])}</b> in {record['elapsed_s']:.2f} s"
        f"{f'; lower bound {lower}' if lower is not None else ''}.</p>"
        "<p>Numbers are elimination steps; squares are inputs, double circles "
        f"outputs.</p><div class='svg'>{picture}</div>"
        f"<h2>Baselines</h2><table><tr><th>order</th><th>cost</th></tr>"
        f"<tr><td class='l'><b>found</b></td><td><b>{record['cost']}</b></td></tr>"
        f"{rows}</table><h2>Order</h2><p><code>{escape(' '.join(order))}</code></p>"
        f"<p><small>ccelim {escape(record['ccelim_version'])}, jax "
        f"{escape(record['jax_version'])}, cost model "
        f"{escape(record['cost_model_version'])}; checkpoint "
        f"{escape(str(record['model_checkpoint']))}</small></p>"
    )
    return _page(f"ccelim graph {graph_hash[:16]}", body)
