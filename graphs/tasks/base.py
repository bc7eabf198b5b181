"""The :class:`Task` record: a benchmark function, example arguments and provenance."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """One benchmark task: a JAX function with arguments inside its domain.

    Attributes:
      name: the task's name, as AlphaGrad and ``ccelim tasks`` spell it.
      fn: the function; takes ``*args`` and returns an array or a tuple of arrays.
      args: example arguments (numpy float64 arrays, 0-d for scalars); values and
        Jacobians are finite there.
      argnums: the positions of the differentiated arguments; ``None`` means all.
      description: what the function computes, in one or two sentences.
      reference: where the mathematics comes from.
    """

    name: str
    fn: Callable[..., Any]
    args: tuple[np.ndarray, ...]
    argnums: tuple[int, ...] | None = None
    description: str = ""
    reference: str = ""

    def __call__(self, *args: Any) -> Any:
        """Evaluates ``fn`` on ``args`` (the example arguments when none are given)."""
        return self.fn(*(args or self.args))

    def graph(self):
        """The task's program graph, ``graphs.trace(fn, *args, argnums=argnums)``.

        Returns:
          A :class:`graphs.Graph` named after the task.
        """
        import graphs

        graph = graphs.trace(self.fn, *self.args, argnums=self.argnums)
        return dataclasses.replace(graph, name=self.name)


def scalars(*values: float) -> tuple[np.ndarray, ...]:
    """0-d float64 arrays: example arguments that trace without dtype conversions."""
    return tuple(np.asarray(v, dtype=np.float64) for v in values)
