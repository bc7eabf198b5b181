"""Where searches run: a local process pool, or Ray tasks on a cluster.

Both run a picklable top-level function (``service.worker``) on plain data off the
event loop, so cache hits stay fast while searches run. The process pool uses the
``spawn`` start method because JAX is not fork-safe. A worker that dies (killed,
out of memory) surfaces as :class:`WorkerDied`; the pool is then replaced.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

__all__ = ["Backend", "ProcessBackend", "RayBackend", "WorkerDied"]

log = logging.getLogger("ccelim.service")


class WorkerDied(RuntimeError):
    """The process or Ray worker running a task died before it answered."""


class Backend(Protocol):
    """Runs ``fn(*args, **kwargs)`` somewhere else and awaits its result."""

    name: str

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

    async def warm_up(self, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


class ProcessBackend:
    """A ``spawn`` process pool of ``max_workers`` processes."""

    name = "process"

    def __init__(self, max_workers: int):
        self.max_workers = max_workers
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.max_workers,
            mp_context=multiprocessing.get_context("spawn"),
        )

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        pool = self._pool
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                pool, functools.partial(fn, *args, **kwargs)
            )
        except BrokenProcessPool as err:
            if self._pool is pool:
                log.warning("a worker process died; starting a new pool")
                self._pool = self._new_pool()
                pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerDied(
                "the search worker process died before it finished (killed or out "
                "of memory)"
            ) from err

    async def warm_up(self, **kwargs: Any) -> None:
        """Starts every worker process and runs ``service.worker.warm_up`` in it."""
        from service.worker import warm_up

        await asyncio.gather(
            *(self.run(warm_up, **kwargs) for _ in range(self.max_workers))
        )

    def close(self) -> None:
        """Stops the pool now: running searches are abandoned (their jobs are
        recorded as failed), so a shutdown never waits for a long search."""
        # ProcessPoolExecutor has no public way to stop busy workers before 3.14.
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


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

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        ray = self._ray
        remote = self._remote.get(fn)
        if remote is None:
            remote = ray.remote(num_cpus=1, max_retries=0)(fn)
            self._remote[fn] = remote
        ref = remote.remote(*args, **kwargs)
        try:
            # ``future()`` works for cluster and Ray Client (ray://) references alike.
            return await asyncio.wrap_future(ref.future())
        except asyncio.CancelledError:
            ray.cancel(ref, force=True)
            raise
        except ray.exceptions.RayError as err:  # crashed worker, lost node, ...
            raise WorkerDied(f"the Ray task failed: {err}") from err

    async def warm_up(self, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        self._ray.shutdown()
