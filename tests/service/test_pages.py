"""The index page draws each cached order (as an SVG image per graph)."""

from __future__ import annotations

import re

from tests.service.servicekit import MINIMAL, chain_graph


def _post(http, document, budget=0.3):
    response = http.post(
        "/v1/orders", json={"graph": document, "time_budget_s": budget}
    )
    assert response.status_code == 200, response.text
    return response.json()["graph_hash"]


def test_the_index_draws_each_cached_order(http):
    keys = [_post(http, MINIMAL), _post(http, chain_graph(9, prefix="pg"))]
    index = http.get("/")
    assert index.status_code == 200
    pictures = re.findall(
        r"<img class='thumb' loading='lazy' src='([^']+)'", index.text
    )
    for key in keys:
        assert f"/graphs/{key}.svg" in pictures
    for url in pictures:
        picture = http.get(url)
        assert picture.status_code == 200, url
        assert picture.headers["content-type"].startswith("image/svg+xml")
        assert picture.text.startswith("<svg") and picture.text.endswith("</svg>")
    minimal = http.get(f"/graphs/{keys[0]}.svg").text
    assert "v (node): eliminated at step 1" in minimal
    assert ">x0</text>" in minimal and ">1</text>" in minimal


def test_the_picture_of_an_unknown_graph_is_a_404_image(http):
    picture = http.get("/graphs/g1-nope.svg")
    assert picture.status_code == 404
    assert picture.headers["content-type"].startswith("image/svg+xml")
    assert "no cached order for g1-nope" in picture.text
