"""Measured answers: when a request names batch sizes, time the kernel candidates.

``POST /v1/orders`` with ``"batch_sizes": [256, 2048]`` asks not only for the order
with the fewest multiplications but for the fastest Jacobian on the caller's
batch sizes. :func:`tune_task` (in a worker process, like kernel exports) runs
``interpreter.fastest`` — the order found, the order the time model predicts
fastest from it (:func:`time_candidates`), the forward and reverse orders, and
plain ``jax.jacfwd``/``jax.jacrev`` — on the graph's shapes and dtype, and, when
plain JAX wins, exports a kernel that does what JAX does, in the same layout.
Measurements are stored in the ``tunings`` table keyed by graph hash, order,
batch sizes, dtype, device (backend and device kind) and JAX version, so a
repeated request on the same kind of machine is answered from the table.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import DateTime, Engine, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from service.backends import TaskTimedOut, WorkerDied
from service.db import Base, utcnow

__all__ = [
    "TUNE_LIMIT_S",
    "TuningRow",
    "time_candidates",
    "tune_task",
    "tuning_for",
    "with_tuning",
]

#: Seconds one tuning (compiles and timings of every candidate) may take.
TUNE_LIMIT_S = 300.0


class TuningRow(Base):
    """One measurement of the kernel candidates for a graph, order and machine."""

    __tablename__ = "tunings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    graph_hash: Mapped[str] = mapped_column(String(128), index=True)
    device: Mapped[str] = mapped_column(String(200))
    jax_version: Mapped[str] = mapped_column(String(50))
    result_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def _device_and_version() -> tuple[str, str]:
    import jax

    from interpreter.autotune import device_key

    return device_key(), jax.__version__


def _key(
    graph_hash: str, order: Sequence[str], batch_sizes: Sequence[int], machine: tuple
) -> str:
    text = json.dumps([graph_hash, list(order), sorted(batch_sizes), list(machine)])
    return hashlib.sha256(text.encode()).hexdigest()


def _export_fallback(graph: Any, mode: str, order: Sequence[str]) -> dict[str, Any]:
    """A kernel that runs plain ``jax.<mode>``, in ccelim's kernel layout."""
    import jax
    import numpy as np

    import interpreter
    from interpreter.autotune import jax_flat_blocks
    from service.worker import jsonable

    artifact = interpreter.export(graph, list(order))  # specs and layout
    plan = interpreter.make_plan(graph, list(order))
    specs = [jax.ShapeDtypeStruct(s.shape, np.dtype(s.dtype)) for s in plan.leaves]
    exported = jax.export.export(jax.jit(jax_flat_blocks(graph, mode)))(*specs)
    return {
        "stablehlo_b64": base64.b64encode(exported.serialize()).decode("ascii"),
        "python_source": f"# plain jax.{mode} of the graph's program: it measured "
        "fastest on this machine; run the StableHLO (jax.export.deserialize).\n",
        "input_specs": jsonable(artifact.input_specs),
        "output_layout": jsonable(artifact.output_layout),
    }


def _export_winner(graph: Any, tuned: Any) -> dict[str, Any]:
    """The winning ccelim candidate's kernel (its order and stacking)."""
    import interpreter
    from service.worker import kernel_document

    return kernel_document(
        interpreter.export(graph, list(tuned.order), stack_group=tuned.stack_group)
    )


def time_candidates(
    graph: Any, order: Sequence[str], batch_sizes: Sequence[int]
) -> dict[str, list[str]]:
    """The orders to time: the one found and, where it differs, the time model's.

    ``"searched:time"`` is ``search.timemodel.time_order`` from the searched order
    (the lowest predicted kernel time at the largest batch size): kernels are
    chosen for time, and the measurement then decides between the two.
    """
    from search.timemodel import time_order

    timed = time_order(graph, list(order), batch_size=max(batch_sizes))
    orders = {"searched": list(order)}
    if timed != list(order):
        orders["searched:time"] = timed
    return orders


def tune_task(
    graph_json: str, order: Sequence[str], batch_sizes: Sequence[int], with_kernel: bool
) -> dict[str, Any]:
    """Times the candidates of a program graph (runs in a worker process).

    Returns:
      ``{"ok": True, "result": {winner, fallback, order, times_s, multiplications,
      batch_sizes, dtype, device, jax_version, kernel}}`` (``kernel`` only with
      ``with_kernel`` and when another candidate than the searched order won:
      plain JAX's, or the winning order's), or ``{"ok": False, "error": …}``.
    """
    from service.worker import _enable_x64, _failure

    try:
        _enable_x64()
        import graphs
        import interpreter

        graph = graphs.load(graph_json)
        tuned = interpreter.fastest(
            graph,
            time_candidates(graph, order, batch_sizes),
            batch_sizes=list(batch_sizes),
        )
        result = {
            "winner": tuned.winner,
            "fallback": tuned.fallback,
            "order": list(tuned.order) if tuned.order is not None else None,
            "times_s": {
                name: {str(b): t for b, t in per.items()}
                for name, per in tuned.times.items()
            },
            "multiplications": tuned.multiplications,
            "batch_sizes": list(tuned.batch_sizes),
            "dtype": tuned.dtype,
            "device": tuned.device,
            "jax_version": tuned.jax_version,
            "kernel": None,
        }
        if with_kernel and tuned.fallback:
            result["kernel"] = _export_fallback(graph, tuned.winner, order)
        elif with_kernel and tuned.winner != "searched":
            # Another order (or stacking) won: the caller gets the kernel measured.
            result["kernel"] = _export_winner(graph, tuned)
        return {"ok": True, "result": result}
    except Exception as err:
        return _failure(err)


def _stored(engine: Engine, key: str) -> dict[str, Any] | None:
    try:
        TuningRow.__table__.create(engine, checkfirst=True)
    except SQLAlchemyError:
        return None  # a read-only database without the table: nothing stored
    with Session(engine) as session:
        row = session.scalar(select(TuningRow).where(TuningRow.key == key))
        return None if row is None else json.loads(row.result_json)


def _store(engine: Engine, key: str, graph_hash: str, result: dict[str, Any]) -> None:
    with Session(engine) as session, session.begin():
        session.merge(
            TuningRow(
                key=key,
                graph_hash=graph_hash,
                device=result["device"],
                jax_version=result["jax_version"],
                result_json=json.dumps(result),
                created_at=utcnow(),
            )
        )


def _message(result: dict[str, Any]) -> str:
    if result["fallback"]:
        return (
            f"plain jax.{result['winner']} measured fastest on {result['device']} "
            f"for batch sizes {result['batch_sizes']}; the kernel returned does what "
            "JAX does"
        )
    message = (
        f"the {result['winner']!r} order's kernel measured fastest on "
        f"{result['device']} for batch sizes {result['batch_sizes']}"
    )
    if result["winner"] != "searched":
        message += "; the kernel returned is that order's (tuning.order)"
    return message


async def tuning_for(
    state: Any,
    prepared: Any,
    order: Sequence[str],
    batch_sizes: Sequence[int],
    *,
    with_kernel: bool,
) -> dict[str, Any]:
    """The stored or newly measured tuning of a request (the response's ``tuning``).

    Args:
      state: the service state (engine, backend).
      prepared: the caller's prepared graph (a program graph).
      order: the order being answered, in the caller's ids.
      batch_sizes: the caller's batch sizes.
      with_kernel: export the winner's kernel when another candidate than the
        searched order wins.

    Returns:
      The measurement with ``cached`` and a ``message`` saying who won, or
      ``{"unavailable": reason}`` for a structure-only graph or a failed tuning.
    """
    from anyio import to_thread

    if not prepared.is_program:
        return {"unavailable": "a structure-only graph has no kernel to time"}
    machine = await to_thread.run_sync(_device_and_version)
    key = _key(prepared.hash, order, batch_sizes, machine)
    found = await to_thread.run_sync(_stored, state.engine, key)
    # A stored win of another candidate than the searched order, measured
    # without its kernel, is re-run when a kernel is asked for.
    cached = found is not None and (
        found["winner"] == "searched" or not with_kernel or found["kernel"] is not None
    )
    if not cached:
        try:
            reply = await state.backend.run(
                tune_task,
                prepared.document,
                list(order),
                sorted(set(batch_sizes)),
                with_kernel,
                timeout_s=TUNE_LIMIT_S,
            )
        except (WorkerDied, TaskTimedOut) as err:
            return {"unavailable": f"tuning stopped: {err}"}
        if not reply["ok"]:
            error = reply["error"]
            return {
                "unavailable": f"tuning failed: {error['type']}: {error['message']}"
            }
        found = reply["result"]
        try:
            await to_thread.run_sync(_store, state.engine, key, prepared.hash, found)
        except SQLAlchemyError:
            pass  # a read-only database: answer the measurement, do not keep it
    return found | {"cached": cached, "message": _message(found)}


async def with_tuning(
    state: Any, prepared: Any, body: Any, response: dict[str, Any]
) -> dict[str, Any]:
    """``response`` with ``tuning`` added when ``body.batch_sizes`` asks for it.

    When another candidate than the searched order won and a kernel was asked
    for, the response's ``kernel`` is the winner's (plain JAX's, same layout, or
    the winning order's), so the caller runs what measured fastest.
    """
    if not body.batch_sizes:
        return response
    tuning = await tuning_for(
        state,
        prepared,
        response["order"],
        body.batch_sizes,
        with_kernel=body.include_kernel,
    )
    kernel = tuning.pop("kernel", None)
    response = response | {"tuning": tuning}
    if kernel is not None and body.include_kernel:
        response["kernel"] = kernel
        response["kernel_unavailable"] = None
    return response
