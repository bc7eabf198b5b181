"""The one error type of the graphs package, and how its messages show values."""

from __future__ import annotations

import reprlib
from typing import Any


class GraphError(ValueError):
    """A graph, order or program that ccelim cannot accept.

    Attributes:
      path: where in the graph document the problem is, e.g. ``"edges[3][1]"``,
        or ``None`` when the problem is not tied to one field.
    """

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = 40
_SHORT.maxother = 40


def describe(value: Any) -> str:
    """A short description of a JSON value for messages: its type and a preview."""
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }
    text = _SHORT.repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{names.get(type(value), type(value).__name__)} ({text})"
