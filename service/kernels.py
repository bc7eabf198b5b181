"""Jacobian kernels for orders, exported off the event loop and remembered.

A kernel is exported for the caller's own graph (its ids and argument order), by
``interpreter.export`` in a worker process. Replies (kernels, and the reasons why
there is none) are kept in a small LRU keyed by the graph document and the order,
and concurrent requests for one kernel share one export, so that repeating a
request (``GET /v1/orders/{hash}?include_kernel=true`` included) never builds a
kernel twice. A structure-only graph has no kernel: that is answered at once.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from service.backends import Backend, TaskTimedOut, WorkerDied
from service.intake import PreparedGraph, structure_only_reason
from service.worker import export_task

__all__ = ["KERNEL_LIMIT_S", "KernelService"]

#: {"kernel": dict | None, "kernel_unavailable": str | None}
KernelReply = dict[str, Any]

#: Seconds one kernel export may take before it is stopped.
KERNEL_LIMIT_S = 120.0


def _key(document: str, order: Sequence[str]) -> str:
    digest = hashlib.sha256(document.encode())
    digest.update(json.dumps(list(order)).encode())
    return digest.hexdigest()


class KernelService:
    """Exports kernels in ``backend`` and keeps the last ``max_entries`` replies."""

    def __init__(
        self,
        backend: Backend,
        *,
        max_entries: int = 64,
        on_export: Callable[[], None] | None = None,
    ):
        self.on_export = on_export
        self.backend = backend
        self.max_entries = max_entries
        self._recent: collections.OrderedDict[str, KernelReply] = (
            collections.OrderedDict()
        )
        self._pending: dict[str, asyncio.Future[KernelReply]] = {}  # by key

    def _keep(self, key: str, reply: KernelReply) -> None:
        self._recent[key] = reply
        self._recent.move_to_end(key)
        while len(self._recent) > self.max_entries:
            self._recent.popitem(last=False)

    def remember(
        self, prepared: PreparedGraph, order: Sequence[str], reply: KernelReply
    ) -> None:
        """Keeps a kernel that a search worker already exported."""
        if reply.get("kernel") is not None:
            self._keep(_key(prepared.document, order), reply)

    async def kernel_for(
        self, prepared: PreparedGraph, order: Sequence[str]
    ) -> KernelReply:
        """The kernel of the caller's graph under ``order``, or why there is none."""
        return await self.kernel_of(
            prepared.document, order, is_program=prepared.is_program
        )

    async def kernel_of(
        self, document: str, order: Sequence[str], *, is_program: bool
    ) -> KernelReply:
        """The kernel of a stored graph document under ``order`` (its ids)."""
        if not is_program:
            return {"kernel": None, "kernel_unavailable": structure_only_reason}
        key = _key(document, order)
        hit = self._recent.get(key)
        if hit is not None:
            self._recent.move_to_end(key)
            return hit
        pending = self._pending.get(key)
        if pending is None:
            # Its own task: a requester that goes away does not stop the export
            # that others wait for.
            pending = asyncio.ensure_future(self._export_and_keep(key, document, order))
            self._pending[key] = pending
            pending.add_done_callback(lambda _task: self._pending.pop(key, None))
        return await asyncio.shield(pending)

    async def _export_and_keep(
        self, key: str, document: str, order: Sequence[str]
    ) -> KernelReply:
        reply, keep = await self._export(document, order)
        if keep:
            self._keep(key, reply)
        return reply

    async def _export(
        self, document: str, order: Sequence[str]
    ) -> tuple[KernelReply, bool]:
        """The reply, and whether it may be kept (a lost worker may be retried)."""
        if self.on_export is not None:
            self.on_export()
        try:
            reply = await self.backend.run(
                export_task, document, list(order), timeout_s=KERNEL_LIMIT_S
            )
        except (WorkerDied, TaskTimedOut) as err:
            return {"kernel": None, "kernel_unavailable": str(err)}, False
        if not reply["ok"]:
            error = reply["error"]
            message = f"kernel export failed: {error['type']}: {error['message']}"
            return {"kernel": None, "kernel_unavailable": message}, True
        return reply["result"], True
