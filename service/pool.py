"""A pool of spawned worker processes that fail one task at a time.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies:
every pending task fails with it. Here each worker is its own process with its own
pipe and runs one task at a time, so a worker that dies (``kill -9``, out of
memory) fails only the task it was running and is replaced by a fresh one. A task
that passes its deadline, or whose caller is cancelled, kills its worker: the only
way to stop a running search.

Workers die with the server: on Linux each asks the kernel for ``SIGKILL`` when
its parent dies (``prctl(PR_SET_PDEATHSIG)``), and on every platform a watch
thread exits the worker once its parent is gone, so a killed server leaves no
search behind that could write ``running`` rows. Workers are started with
``spawn`` (JAX is not fork-safe) from the event loop's thread, the thread whose
death the parent-death signal follows.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["TaskTimedOut", "WorkerDied", "WorkerPool"]

log = logging.getLogger("ccelim.service")

_PR_SET_PDEATHSIG = 1
#: Seconds between two checks of the watch thread that the parent still lives.
WATCH_PERIOD_S = 0.5


class WorkerDied(RuntimeError):
    """The process or Ray worker running a task died before it answered."""


class TaskTimedOut(RuntimeError):
    """A task ran past its deadline; its worker was stopped."""


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watch thread suffices
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was set
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_PERIOD_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(conn: Connection, parent_pid: int) -> None:
    """A worker's main loop: run each ``(fn, args, kwargs)`` and send the reply."""
    _die_with_parent(parent_pid)
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = ("ok", fn(*args, **kwargs))
        except BaseException as err:  # noqa: B036 - reported, the worker lives on
            reply = ("error", f"{type(err).__name__}: {err}")
        conn.send(reply)


class _Worker:
    """One spawned process and the parent's end of its pipe."""

    def __init__(self, ctx: Any):
        ours, theirs = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(theirs, os.getpid()), daemon=True
        )
        self.process.start()
        theirs.close()  # so that the worker's death reads as end of file here
        self.conn = ours

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def call(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        loop = asyncio.get_running_loop()
        fd = self.conn.fileno()
        # The event loop may leave the pipe non-blocking (uvloop does, for
        # add_reader); a Connection needs it blocking to move whole messages, and
        # large ones move in a thread so that the loop never waits on them.
        os.set_blocking(fd, True)
        try:
            await loop.run_in_executor(None, self.conn.send, (fn, args, kwargs))
        except OSError as err:
            raise WorkerDied("the worker process died before its task began") from err
        readable = loop.create_future()
        loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
        try:
            await readable
        finally:
            loop.remove_reader(fd)
        os.set_blocking(fd, True)
        try:
            status, value = await loop.run_in_executor(None, self.conn.recv)
        except (EOFError, OSError) as err:
            raise WorkerDied(
                f"the worker process died before it finished ({self._how()})"
            ) from err
        if status == "error":
            raise RuntimeError(value)
        return value

    def _how(self) -> str:
        """How the process ended, once it has (waits at most a second)."""
        self.process.join(1)
        code = self.process.exitcode
        if code is None:
            return "killed or out of memory"
        if code < 0:
            return f"killed by signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()
        # Reap it off the event loop; a killed process exits at once.
        threading.Thread(target=self.process.join, args=(5,), daemon=True).start()


class WorkerPool:
    """At most ``size`` worker processes, started on demand and replaced on death.

    Args:
      size: number of tasks that run at once; more wait for a free worker.
    """

    def __init__(self, size: int):
        self.size = size
        self._ctx = multiprocessing.get_context("spawn")
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._closed = False

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._all if w.pid is not None]

    async def run(
        self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None, **kw
    ) -> Any:
        """``fn(*args, **kw)`` in a worker; ``timeout_s`` counts from its start.

        Raises:
          WorkerDied: the worker died while running it (a new one replaces it).
          TaskTimedOut: it ran past ``timeout_s``; its worker was killed.
          RuntimeError: ``fn`` raised; the message names the exception.
        """
        async with self._slots:
            if self._closed:
                raise WorkerDied("the worker pool is closed: the server is stopping")
            worker = self._idle.pop() if self._idle else self._start()
            healthy = False
            try:
                result = await asyncio.wait_for(worker.call(fn, args, kw), timeout_s)
                healthy = True
                return result
            except TimeoutError:
                raise TaskTimedOut(
                    f"the task ran past its limit of {timeout_s:.1f} s and was stopped"
                ) from None
            except RuntimeError as err:
                healthy = not isinstance(err, WorkerDied)
                raise
            finally:
                if healthy and not self._closed:
                    self._idle.append(worker)
                else:
                    self._all.discard(worker)
                    worker.kill()

    def _start(self) -> _Worker:
        worker = _Worker(self._ctx)
        self._all.add(worker)
        return worker

    def close(self) -> None:
        """Kills every worker now (running tasks fail with :class:`WorkerDied`)."""
        self._closed = True
        for worker in list(self._all):
            worker.kill()
        self._all.clear()
        self._idle.clear()
