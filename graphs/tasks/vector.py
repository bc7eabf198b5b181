"""Vector forms of the benchmark tasks: the programs as users write them.

A user rarely writes ``f(x0, x1, …, x5) -> (y0, …, y5)`` with one scalar per
argument. They write one state vector in and one vector out — ``f(u)`` with
``u[i]`` indexing and ``jnp.stack``/``jnp.concatenate`` of the results — so that
``jax.jacfwd(f)(u)`` is one dense ``(m, n)`` array. :func:`vector_form` rewrites a
task that way: its arguments are concatenated (flattened, row-major) into one
vector ``u``; a scalar argument is read back as ``u[i]`` and an array argument as
``u[a:b].reshape(shape)``; the outputs are flattened and concatenated (scalar
outputs stacked). The computation in between is the task's own, so the vector
form computes exactly the scalar form's values.

``graphs.tasks.VECTOR_TASKS`` maps ``"<name>/vec"`` to the vector form of every
task, and ``graphs.tasks.get`` finds them by that name.

Example:
  >>> from graphs import tasks
  >>> task = tasks.get("RobotArm_6DOF/vec")
  >>> task.args[0].shape, task().shape
  ((6,), (6,))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from graphs.tasks.base import Task

__all__ = ["SUFFIX", "vector_fn", "vector_form", "vector_tasks"]

#: Appended to a task's name for its vector form.
SUFFIX = "/vec"


def vector_fn(
    fn: Callable[..., Any], shapes: tuple[tuple[int, ...], ...]
) -> Callable[[Any], Any]:
    """``fn`` rewritten to take one flat vector and return one flat vector.

    Args:
      fn: a function of ``len(shapes)`` array arguments returning an array or a
        tuple of arrays.
      shapes: the arguments' shapes; the vector holds them flattened, in order.

    Returns:
      ``g(u)`` with ``u`` of shape ``(sum of sizes,)``; a 0-d argument is read as
      ``u[i]``, an array one as ``u[a:b].reshape(shape)``. The result is
      ``jnp.stack`` of the outputs when all are scalars, else ``jnp.concatenate``
      of the flattened outputs; a single output keeps its shape.
    """
    sizes = [math.prod(s) for s in shapes]
    starts = np.cumsum([0, *sizes[:-1]]).tolist()

    def g(u):
        args = []
        for shape, start, size in zip(shapes, starts, sizes, strict=True):
            if shape == ():
                args.append(u[start])
            else:
                args.append(u[start : start + size].reshape(shape))
        out = fn(*args)
        if not isinstance(out, tuple | list):
            return out
        if all(jnp.ndim(o) == 0 for o in out):
            return jnp.stack(out)
        return jnp.concatenate([jnp.ravel(o) for o in out])

    g.__name__ = getattr(fn, "__name__", "fn") + "_vec"
    g.__doc__ = f"Vector form of {g.__name__[:-4]}: one flat vector in, one out."
    return g


def vector_form(task: Task) -> Task:
    """The task as one vector argument and one vector output (see module doc).

    Args:
      task: a task whose arguments are all differentiated (``argnums=None``).

    Returns:
      A :class:`Task` named ``task.name + SUFFIX`` whose one argument is the
      concatenation of ``task.args`` flattened.
    """
    if task.argnums is not None:
        raise ValueError(
            f"vector_form needs a task that differentiates every argument; "
            f"{task.name!r} has argnums={task.argnums}"
        )
    shapes = tuple(tuple(np.shape(a)) for a in task.args)
    u = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in task.args])
    return dataclasses.replace(
        task,
        name=task.name + SUFFIX,
        fn=vector_fn(task.fn, shapes),
        args=(u,),
        description=f"{task.description} Vector form: one argument of shape "
        f"{u.shape}, indexing, one stacked output.",
    )


def vector_tasks(tasks: Mapping[str, Task]) -> dict[str, Task]:
    """The vector form of every task, keyed ``name + SUFFIX``."""
    return {name + SUFFIX: vector_form(task) for name, task in tasks.items()}
