"""The order picture: layers, step numbers, escaping, size cap."""

from __future__ import annotations

import re

import graphs
from service.svg import MAX_DRAWN_VERTICES, order_svg
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
