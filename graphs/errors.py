"""The one error type of the graphs package."""

from __future__ import annotations


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
