"""The database write probe behind ``/healthz``, run off the event loop, remembered.

A server whose every write fails must not report ``ok``: each probe rewrites this
replica's heartbeat row (``service.db.probe_write``, waiting at most half a second
for a lock). Results are remembered for ``period_s`` so that health checks stay
cheap, and ``/healthz`` waits at most ``wait_s`` for a probe: a probe that does not
answer in time (a database held locked) reports the database as not writable.
"""

from __future__ import annotations

import asyncio
import time

from anyio import to_thread
from sqlalchemy import Engine

from service.db import probe_write

__all__ = ["HealthProbe"]


class HealthProbe:
    """Whether the database can be written: None when it can, else why not."""

    def __init__(
        self,
        engine: Engine,
        instance: str,
        *,
        read_only: str | None = None,
        period_s: float = 2.0,
        wait_s: float = 0.5,
    ):
        self.engine = engine
        self.instance = instance
        self.read_only = read_only
        self.period_s = period_s
        self.wait_s = wait_s
        self._last: tuple[float, str | None] | None = None
        self._running: asyncio.Task[str | None] | None = None

    async def check(self) -> str | None:
        if self.read_only:
            return f"opened read-only: {self.read_only}"
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.period_s:
            return self._last[1]
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._probe())
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), self.wait_s)
        except TimeoutError:
            return f"a test write did not finish within {self.wait_s:g} s (locked?)"

    async def _probe(self) -> str | None:
        reason = await to_thread.run_sync(probe_write, self.engine, self.instance)
        self._last = (time.monotonic(), reason)
        return reason
