"""Functions that run in the search workers (spawned processes or Ray tasks).

They take and return plain JSON-able data (the graph as ``ccelim.graph/1`` text),
never objects from a request, and they report failures as data rather than as
exceptions, so that nothing needs unpickling on the way back but dicts and strings.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import logging
import numbers
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, update

import graphs
from service.db import JobRow, open_engine, utcnow
from service.intake import structure_only_reason

__all__ = ["export_task", "jsonable", "search_task", "warm_up"]

log = logging.getLogger("ccelim.worker")

#: Seconds between two progress writes of one job.
PROGRESS_PERIOD_S = 0.5


def _enable_x64() -> None:
    # Graphs name their dtypes; without x64 JAX would turn float64 kernels into
    # float32 ones. float32 graphs stay float32 (their specs say so).
    import jax

    jax.config.update("jax_enable_x64", True)


def warm_up(*, with_model: bool = False, model_path: str | None = None) -> int:
    """Imports the heavy modules (and loads the network when ``with_model``) once,
    so that the first search does not pay for it. Returns the worker's pid."""
    _enable_x64()
    for name in ("search", "interpreter"):
        try:
            __import__(name)
        except ImportError:
            pass
    if with_model:
        try:
            _load_model(model_path)
        except Exception as err:  # the search reports it; warm-up must not fail
            log.warning("could not load the model: %s", err)
    return os.getpid()


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: dataclasses and NamedTuples become objects, tuples
    lists, dtypes and other leaves their ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    return str(value)


@functools.lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return open_engine(url, create=False)


class _Progress:
    """Writes a job's best cost so far to its row, at most every PROGRESS_PERIOD_S.

    ``search.optimize`` calls ``progress_fn(elapsed_s, best_cost, method)`` on each
    improvement.
    """

    def __init__(self, database_url: str, job_id: str):
        self.database_url = database_url
        self.job_id = job_id
        self.best: int | None = None
        self.last_write = 0.0

    def start(self) -> None:
        try:
            with _engine(self.database_url).begin() as conn:
                conn.execute(
                    update(JobRow)
                    .where(JobRow.id == self.job_id, JobRow.state == "queued")
                    .values(
                        state="running", started_at=utcnow(), worker_pid=os.getpid()
                    )
                )
        except Exception as err:  # progress is best effort; the search goes on
            log.warning("could not mark the job running: %s", type(err).__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        cost = _find_cost(args, kwargs)
        if cost is None or (self.best is not None and cost >= self.best):
            return
        self.best = cost
        now = time.monotonic()
        if now - self.last_write < PROGRESS_PERIOD_S:
            return
        self.last_write = now
        try:
            with _engine(self.database_url).begin() as conn:
                conn.execute(
                    update(JobRow)
                    .where(JobRow.id == self.job_id, JobRow.state == "running")
                    .values(best_cost=cost)
                )
        except Exception as err:  # progress is best effort; the search goes on
            log.warning("progress write failed: %s", err)


def _find_cost(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int | None:
    # search.optimize calls progress_fn(elapsed_s, best_cost, method); a cost may
    # also come as a ``cost`` attribute or key of a result object.
    for value in (*args, *kwargs.values()):
        if isinstance(value, bool):
            continue
        if isinstance(value, numbers.Integral):
            return int(value)
        cost = getattr(value, "cost", None)
        if cost is None and isinstance(value, Mapping):
            cost = value.get("cost")
        if isinstance(cost, numbers.Real) and not isinstance(cost, bool):
            return int(cost)
    return None


def _baseline_costs(baselines: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(getattr(b, "cost", b)) for name, b in sorted(baselines.items())}


def _failure(err: BaseException) -> dict[str, Any]:
    message = getattr(err, "message", None) or str(err)
    for marker in ("[SQL:", "[parameters:", "(Background on this error"):
        if marker in message:  # a database error: its SQL is not for clients
            message = message[: message.index(marker)].rstrip()
    return {
        "ok": False,
        "error": {
            "type": type(err).__name__,
            "message": message[:500],
            "path": getattr(err, "path", None),
        },
    }


def _export(graph: graphs.Graph, order: Sequence[str]) -> dict[str, Any]:
    """The kernel of ``graph`` under ``order``, or why there is none."""
    if not graph.is_program:
        return {"kernel": None, "kernel_unavailable": structure_only_reason}
    _enable_x64()
    try:
        import interpreter
    except ImportError as err:
        return {"kernel": None, "kernel_unavailable": f"interpreter unavailable: {err}"}
    try:
        artifact = interpreter.export(graph, list(order))
    except Exception as err:
        log.exception("kernel export failed")
        return {
            "kernel": None,
            "kernel_unavailable": f"kernel export failed: {type(err).__name__}: {err}",
        }
    return {"kernel": kernel_document(artifact), "kernel_unavailable": None}


def kernel_document(artifact: Any) -> dict[str, Any]:
    """An ``interpreter.export`` artifact as the API's ``kernel`` object."""
    return {
        "stablehlo_b64": base64.b64encode(artifact.stablehlo).decode("ascii"),
        "python_source": artifact.python_source,
        "input_specs": jsonable(artifact.input_specs),
        "output_layout": jsonable(artifact.output_layout),
    }


def export_task(graph_json: str, order: Sequence[str]) -> dict[str, Any]:
    """Builds the kernel for a cached order (runs in the kernel worker)."""
    try:
        return {"ok": True, "result": _export(graphs.load(graph_json), order)}
    except Exception as err:
        return _failure(err)


def _search(
    graph: graphs.Graph,
    *,
    time_budget_s: float,
    seed: int,
    params: Any,
    progress_fn: Callable[..., None] | None,
):
    import search

    return search.optimize(
        graph,
        time_budget_s=time_budget_s,
        seed=seed,
        params=params,
        progress_fn=progress_fn,
    )


def search_task(
    graph_json: str,
    *,
    time_budget_s: float,
    seed: int,
    include_kernel: bool,
    database_url: str | None = None,
    job_id: str | None = None,
    model_path: str | None = None,
) -> dict[str, Any]:
    """Runs ``search.optimize`` on a graph document and, if asked, exports a kernel.

    Returns:
      ``{"ok": True, "result": {order, cost, method, baselines, lower_bound,
      elapsed_s, model_checkpoint, kernel?, kernel_unavailable?}}`` or
      ``{"ok": False, "error": {type, message, path}}``.
    """
    try:
        graph = graphs.load(graph_json)
        progress = None
        if database_url and job_id:
            progress = _Progress(database_url, job_id)
            progress.start()
        params, checkpoint = _load_model(model_path)
        found = _search(
            graph,
            time_budget_s=time_budget_s,
            seed=seed,
            params=params,
            progress_fn=progress,
        )
        result = {
            "order": [str(v) for v in found.order],
            "cost": int(found.cost),
            "method": str(found.method),
            "baselines": _baseline_costs(found.baselines),
            "lower_bound": None
            if found.lower_bound is None
            else int(found.lower_bound),
            "elapsed_s": float(found.elapsed_s),
            "model_checkpoint": checkpoint if params is not None else None,
        }
        if include_kernel:
            result.update(_export(graph, result["order"]))
        return {"ok": True, "result": result}
    except Exception as err:
        log.exception("search failed")
        return _failure(err)


@functools.lru_cache(maxsize=2)
def _load_model(model_path: str | None) -> tuple[Any, str | None]:
    """The network for the tree search, and its checkpoint id; (None, None) without.

    ``model_path`` None means the shipped model (``search.load_params()``'s
    default, absent in a bare checkout). The id is the file name, the training
    step when the file records one, and the first 12 hex digits of the file's
    SHA-256, so that a record says exactly which weights guided its search.
    """
    import hashlib

    import search

    params = search.load_params(model_path) if model_path else search.load_params()
    if params is None:
        return None, None
    path = model_path or str(getattr(search.net, "DEFAULT_MODEL_PATH", ""))
    digest = hashlib.sha256()
    if path and os.path.isfile(path):
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    step = (getattr(params, "metadata", None) or {}).get("step")
    name = os.path.basename(path) + (f"@{step}" if step is not None else "")
    return params, f"{name}:{digest.hexdigest()[:12]}"
