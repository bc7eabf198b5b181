"""Where searches run: a local process pool, or Ray tasks on a cluster.

Both run a picklable top-level function (``service.worker``) on plain data off the
event loop, so cache hits stay fast while searches run. The local pool
(``service.pool``) fails only the task of a worker that dies, and its workers die
with the server. Every task can be given a deadline (``timeout_s``): past it the
task is stopped and :class:`TaskTimedOut` raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from service.pool import TaskTimedOut, WorkerDied, WorkerPool

__all__ = ["Backend", "ProcessBackend", "RayBackend", "TaskTimedOut", "WorkerDied"]

log = logging.getLogger("ccelim.service")


class Backend(Protocol):
    """Runs ``fn(*args, **kwargs)`` somewhere else and awaits its result."""

    name: str

    async def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout_s: float | None = None,
        **kwargs: Any,
    ) -> Any: ...

    async def warm_up(self, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


class ProcessBackend:
    """``max_workers`` spawned worker processes (:class:`service.pool.WorkerPool`)."""

    name = "process"

    def __init__(self, max_workers: int):
        self.max_workers = max_workers
        self.pool = WorkerPool(max_workers)

    async def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout_s: float | None = None,
        **kwargs: Any,
    ) -> Any:
        return await self.pool.run(fn, *args, timeout_s=timeout_s, **kwargs)

    async def warm_up(self, **kwargs: Any) -> None:
        """Starts every worker process and runs ``service.worker.warm_up`` in it."""
        from service.worker import warm_up

        await asyncio.gather(
            *(self.run(warm_up, **kwargs) for _ in range(self.max_workers))
        )

    def close(self) -> None:
        """Stops the workers now: running searches are abandoned (their jobs are
        recorded as failed), so a shutdown never waits for a long search."""
        self.pool.close()


class RayBackend:
    """Ray tasks on the cluster at ``address`` (one CPU each).

    ``address`` is what ``ray.init`` takes: ``ray://head:10001`` (Ray Client, from
    a machine outside the cluster), ``head:6379`` (from a cluster node) or
    ``local`` (start a private single-machine Ray).
    """

    name = "ray"

    def __init__(self, address: str):
        import ray

        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        self._remote: dict[Callable[..., Any], Any] = {}

    async def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout_s: float | None = None,
        **kwargs: Any,
    ) -> Any:
        ray = self._ray
        remote = self._remote.get(fn)
        if remote is None:
            remote = ray.remote(num_cpus=1, max_retries=0)(fn)
            self._remote[fn] = remote
        ref = remote.remote(*args, **kwargs)
        try:
            # ``future()`` works for cluster and Ray Client (ray://) references alike.
            return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout_s)
        except TimeoutError:
            ray.cancel(ref, force=True)
            raise TaskTimedOut(
                f"the task ran past its limit of {timeout_s:.1f} s and was stopped"
            ) from None
        except asyncio.CancelledError:
            ray.cancel(ref, force=True)
            raise
        except ray.exceptions.RayError as err:  # crashed worker, lost node, ...
            raise WorkerDied(f"the Ray task failed: {err}") from err

    async def warm_up(self, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        self._ray.shutdown()
