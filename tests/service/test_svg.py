"""The order picture: layers, step numbers, escaping, size cap."""

from __future__ import annotations

import re

import graphs
from service.svg import MAX_DRAWN_VERTICES, message_svg, order_svg
from tests.service.servicekit import MINIMAL, chain_graph


def test_minimal_graph_draws_two_inputs_one_step_and_the_output():
    svg = order_svg(graphs.load(MINIMAL), ["v"])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 2  # inputs x0, x1
    assert svg.count("<line") == 3  # one per edge
    assert "v (node): eliminated at step 1" in svg
    assert re.search(r">1</text>", svg)


def test_steps_follow_the_order():
    graph = graphs.load(chain_graph(4))
    svg = order_svg(graph, ["v2", "v0", "v1"])
    assert "v2 (node): eliminated at step 1" in svg
    assert "v0 (node): eliminated at step 2" in svg
    assert "v1 (node): eliminated at step 3" in svg


def test_ids_are_escaped():
    document = {
        "format": "ccelim.graph/1",
        "inputs": ["<x>"],
        "outputs": ["y&"],
        "edges": [["<x>", "<script>"], ["<script>", "y&"]],
    }
    svg = order_svg(graphs.load(document), ["<script>"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_large_graphs_are_not_drawn():
    graph = graphs.load(chain_graph(MAX_DRAWN_VERTICES + 5))
    assert order_svg(graph, []).startswith("<p>")


def _view_box(svg: str) -> tuple[float, float]:
    width, height = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups()
    return float(width), float(height)


def test_a_long_chain_stays_a_page_wide_and_scales_down():
    # 30 layers: drawn left to right at 120 px a layer this was 3,800 px wide.
    svg = order_svg(graphs.load(chain_graph(30)), [f"v{i}" for i in range(29)])
    width, height = _view_box(svg)
    assert width <= 1000 and height > width
    assert 'width="100%"' in svg and f'style="max-width:{int(width)}px"' in svg


def test_a_wide_layer_wraps_onto_rows():
    document = {
        "format": "ccelim.graph/1",
        "inputs": [f"x{i}" for i in range(25)],
        "outputs": ["y"],
        "edges": [[f"x{i}", "v"] for i in range(25)] + [["v", "y"]],
    }
    svg = order_svg(graphs.load(document), ["v"])
    width, _ = _view_box(svg)
    assert width <= 1000
    rows = {float(y) for y in re.findall(r'<rect x="[\d.]+" y="([\d.]+)"', svg)}
    assert len(rows) == 3  # 25 inputs at 10 a row


def test_every_vertex_id_is_visible_not_only_in_tooltips():
    graph = graphs.load(chain_graph(4))
    svg = order_svg(graph, ["v2", "v0", "v1"])
    for vertex in graph.vertices:
        assert f">{vertex.id}</text>" in svg
    long_id = {
        "format": "ccelim.graph/1",
        "inputs": ["an_input_with_a_long_name"],
        "outputs": ["y"],
        "edges": [["an_input_with_a_long_name", "y"]],
    }
    svg = order_svg(graphs.load(long_id), [])
    assert ">an_input_wi…</text>" in svg  # shortened; the tooltip has it all
    assert "<title>an_input_with_a_long_name" in svg


def test_message_svg_is_escaped_svg():
    svg = message_svg("401 vertices: <too many>")
    assert svg.startswith("<svg") and "&lt;too many&gt;" in svg
