"""Jacobian kernels for orders, exported off the event loop and remembered.

A kernel is exported for the caller's own graph (its ids and argument order), by
``interpreter.export`` in a worker process; recent kernels are kept in a small LRU
keyed by the graph document and the order, so repeated cache hits are cheap.
"""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from service.backends import Backend, WorkerDied
from service.intake import PreparedGraph, structure_only_reason
from service.worker import export_task

__all__ = ["KernelService"]

KernelReply = dict[
    str, Any
]  # {"kernel": dict | None, "kernel_unavailable": str | None}


def _key(prepared: PreparedGraph, order: Sequence[str]) -> str:
    digest = hashlib.sha256(prepared.document.encode())
    digest.update(json.dumps(list(order)).encode())
    return digest.hexdigest()


class KernelService:
    """Exports kernels in ``backend`` and keeps the last ``max_entries``."""

    def __init__(self, backend: Backend, *, max_entries: int = 64):
        self.backend = backend
        self.max_entries = max_entries
        self._recent: collections.OrderedDict[str, KernelReply] = (
            collections.OrderedDict()
        )

    def remember(
        self, prepared: PreparedGraph, order: Sequence[str], reply: KernelReply
    ) -> None:
        """Keeps a kernel that a search worker already exported."""
        if reply.get("kernel") is None:
            return
        key = _key(prepared, order)
        self._recent[key] = reply
        self._recent.move_to_end(key)
        while len(self._recent) > self.max_entries:
            self._recent.popitem(last=False)

    async def kernel_for(
        self, prepared: PreparedGraph, order: Sequence[str]
    ) -> KernelReply:
        """The kernel of the caller's graph under ``order``, or why there is none."""
        if not prepared.is_program:
            return {"kernel": None, "kernel_unavailable": structure_only_reason}
        key = _key(prepared, order)
        hit = self._recent.get(key)
        if hit is not None:
            self._recent.move_to_end(key)
            return hit
        try:
            reply = await self.backend.run(export_task, prepared.document, list(order))
        except WorkerDied as err:
            return {"kernel": None, "kernel_unavailable": str(err)}
        if not reply["ok"]:
            error = reply["error"]
            return {
                "kernel": None,
                "kernel_unavailable": (
                    f"kernel export failed: {error['type']}: {error['message']}"
                ),
            }
        result = reply["result"]
        self.remember(prepared, order, result)
        return result
