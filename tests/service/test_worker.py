"""Worker helpers: JSON conversion and reading costs from progress calls."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from service.worker import _find_cost, jsonable


class Spec(NamedTuple):
    shape: tuple[int, ...]
    dtype: str


@dataclasses.dataclass(frozen=True)
class Layout:
    blocks: tuple[Spec, ...]


def test_jsonable_turns_containers_into_json_data():
    value = Layout(blocks=(Spec((2, 3), "float32"),))
    assert jsonable(value) == {"blocks": [{"shape": [2, 3], "dtype": "float32"}]}
    assert jsonable(np.float32(2.5)) == 2.5
    assert jsonable(np.dtype("float64")) == "float64"
    assert jsonable({1: (None, True)}) == {"1": [None, True]}


class Progress(NamedTuple):
    cost: int
    method: str


def test_progress_cost_is_found_in_any_calling_style():
    assert _find_cost((Progress(17, "anneal"),), {}) == 17
    assert _find_cost((), {"cost": 9, "elapsed_s": 0.5}) == 9
    assert _find_cost((0.25, 12, "anneal"), {}) == 12  # search.optimize's style
    assert _find_cost((0.25, np.int64(12), "anneal"), {}) == 12
    assert _find_cost(({"cost": 4},), {}) == 4
    assert _find_cost((True, "x"), {}) is None
