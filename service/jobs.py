"""Search jobs: submitted, run in a backend, stored in the cache, reported.

Every cache miss becomes a job with a row in the ``jobs`` table (so any replica can
report it). The job runs ``service.worker.search_task`` in the backend; its result
is stored in the cache (better only) and in the job row. A job whose worker dies,
whose search raises, or that runs past its limit (:func:`job_limit_s`) is marked
failed and stores nothing. Requests for the same record key with the same seed and
at most the same budget that arrive while a search is in flight share that job
(no graph work on the event loop: the record key already says "same graph").

Admission control (:meth:`JobManager.admit`): a new job beyond the settings'
bounds on queued jobs, queued search time, or jobs per API key is refused with
429 and ``Retry-After``; a read-only database refuses every new job with 503.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import time
import uuid
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine, select, update

from search.optimize import OptimizeResult
from service.backends import Backend, TaskTimedOut, WorkerDied
from service.cache import (
    OrderRecord,
    Provenance,
    Versions,
    lookup,
    map_order,
    order_response,
    store,
)
from service.db import JobRow, describe_db_error, utcnow
from service.errors import ApiError, scrub
from service.intake import PreparedGraph
from service.kernels import KernelService
from service.limits import admission_refusal, job_limit_s
from service.metrics import Metrics
from service.settings import Settings
from service.worker import search_task

__all__ = ["JobManager", "JobOutcome", "Submitted", "job_limit_s"]

log = logging.getLogger("ccelim.service")


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """How a job ended: ``response`` (OrderResponse JSON) or ``error``."""

    response: dict[str, Any] | None = None
    error: str | None = None
    error_path: str | None = None  # set when the search rejected the graph
    error_type: str | None = None


@dataclasses.dataclass(frozen=True)
class Submitted:
    """A job as one request sees it: the id and the graph the job searches (which
    may be the caller's graph under other vertex ids, when the request joined an
    identical search in flight)."""

    job_id: str
    prepared: PreparedGraph
    time_budget_s: float
    seed: int
    include_kernel: bool
    client: str | None = None
    submitted_at: float = dataclasses.field(default_factory=time.monotonic)
    # Set once the job's row is written and its task runs (or submission failed).
    started: asyncio.Event = dataclasses.field(
        default_factory=asyncio.Event, compare=False, repr=False
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _public_error(err: BaseException) -> str:
    """An exception as a job error that may be shown to clients (no SQL)."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(err, SQLAlchemyError):
        return f"the result could not be stored ({describe_db_error(err)}); retry"
    return scrub(f"{type(err).__name__}: {err}")[:300]


class JobManager:
    """Runs and tracks the searches of one server process."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        versions: Versions,
        backend: Backend,
        kernels: KernelService,
        metrics: Metrics,
        read_only: str | None = None,
    ):
        self.read_only = read_only
        self.engine = engine
        self.settings = settings
        self.versions = versions
        self.backend = backend
        self.kernels = kernels
        self.metrics = metrics
        self._tasks: dict[str, asyncio.Task[JobOutcome]] = {}
        self._in_flight: dict[str, Submitted] = {}  # by record key
        self._jobs: dict[str, Submitted] = {}  # by job id, until the job ends

    # -- database --------------------------------------------------------------

    def fail_orphans(self) -> int:
        """Marks failed the unfinished jobs a previous run of this replica left."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(JobRow)
                .where(
                    JobRow.owner == self.settings.instance,
                    JobRow.state.in_(("queued", "running")),
                )
                .values(
                    state="failed",
                    error="the server stopped before the search finished",
                    finished_at=utcnow(),
                )
            ).rowcount

    def _insert(self, job_id: str, graph_hash: str, budget: float, seed: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                JobRow.__table__.insert().values(
                    id=job_id,
                    graph_hash=graph_hash,
                    state="queued",
                    time_budget_s=budget,
                    seed=seed,
                    owner=self.settings.instance,
                    created_at=utcnow(),
                )
            )

    def _finish(self, job_id: str, outcome: JobOutcome) -> None:
        values: dict[str, Any] = {"finished_at": utcnow()}
        if outcome.response is not None:
            values |= {
                "state": "done",
                "result_json": json.dumps(outcome.response),
                "best_cost": outcome.response["cost"],
                "elapsed_s": outcome.response["elapsed_s"],
            }
        else:
            values |= {"state": "failed", "error": outcome.error}
        with self.engine.begin() as conn:
            conn.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The JobStatus fields of a job, or None when there is no such job."""
        with self.engine.connect() as conn:
            row = conn.execute(select(JobRow).where(JobRow.id == job_id)).first()
        if row is None:
            return None
        elapsed = row.elapsed_s
        if elapsed is None and row.started_at is not None:
            started = row.started_at
            if started.tzinfo is None:  # SQLite returns naive UTC datetimes
                started = started.replace(tzinfo=utcnow().tzinfo)
            end = row.finished_at or utcnow()
            if end.tzinfo is None:
                end = end.replace(tzinfo=started.tzinfo)
            elapsed = max(0.0, (end - started).total_seconds())
        return {
            "job_id": row.id,
            "state": row.state,
            "graph_hash": row.graph_hash,
            "time_budget_s": row.time_budget_s,
            "best_cost": row.best_cost,
            "elapsed_s": elapsed,
            "error": scrub(row.error) if row.error else None,
            "result": json.loads(row.result_json) if row.result_json else None,
            "created_at": _utc(row.created_at),
            "finished_at": _utc(row.finished_at) if row.finished_at else None,
        }

    # -- running ---------------------------------------------------------------

    def admit(self, budget: float, client: str | None) -> None:
        """Refuses a new job beyond the admission bounds (see the module docstring).

        Raises:
          ApiError: 503 ``read_only`` or 429 ``too_many_searches`` (with
            ``Retry-After``).
        """
        if self.read_only:
            raise ApiError(
                503,
                "read_only",
                "the database cannot be written, so this server answers cached "
                "orders only and starts no search; retry later or ask the operator "
                f"({self.read_only})",
                headers={"Retry-After": "60"},
            )
        refusal = admission_refusal(
            [
                (job.time_budget_s, job.client, job.submitted_at)
                for job in self._jobs.values()
            ],
            budget,
            client,
            self.settings,
        )
        if refusal is not None:
            self.metrics.admission_refused.inc()
            raise refusal

    async def submit(
        self,
        prepared: PreparedGraph,
        *,
        time_budget_s: float,
        seed: int,
        include_kernel: bool,
        client: str | None = None,
    ) -> Submitted:
        """Starts a search job, or joins one in flight for the same record key
        with the same seed and at least this budget.

        Raises:
          ApiError: the job is refused (:meth:`admit`).
        """
        same = self._in_flight.get(prepared.hash)
        if (
            same is not None
            and same.seed == seed
            and same.time_budget_s >= time_budget_s
        ):
            await same.started.wait()
            if same.job_id not in self._tasks and self.status(same.job_id) is None:
                raise RuntimeError("the search job could not be recorded")
            return same
        self.admit(time_budget_s, client)
        job_id = uuid.uuid4().hex
        submitted = Submitted(
            job_id, prepared, time_budget_s, seed, include_kernel, client
        )
        # Registered before the first await, so that concurrent identical requests
        # join this job instead of starting their own.
        self._in_flight[prepared.hash] = submitted
        self._jobs[job_id] = submitted
        try:
            await to_thread.run_sync(
                self._insert, job_id, prepared.hash, time_budget_s, seed
            )
        except BaseException:
            if self._in_flight.get(prepared.hash) is submitted:
                del self._in_flight[prepared.hash]
            self._jobs.pop(job_id, None)
            submitted.started.set()
            raise
        self.metrics.jobs_running.inc()
        task = asyncio.create_task(
            self._run(job_id, prepared, time_budget_s, seed, include_kernel)
        )
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._forget(job_id, prepared.hash))
        submitted.started.set()
        return submitted

    async def response_for(
        self,
        submitted: Submitted,
        outcome: JobOutcome,
        prepared: PreparedGraph,
        *,
        include_kernel: bool,
    ) -> dict[str, Any]:
        """A finished job's response in the caller's own ids, with the kernel of the
        caller's graph when asked for."""
        response = dict(outcome.response or {})
        same_graph = submitted.prepared.document == prepared.document
        if same_graph and (submitted.include_kernel or not include_kernel):
            if not include_kernel:
                response |= {"kernel": None, "kernel_unavailable": None}
            return response
        if not same_graph:
            order = await to_thread.run_sync(
                map_order, response["order"], submitted.prepared, prepared
            )
            if order is None:  # joined only under one record key; cannot happen
                raise RuntimeError("joined a search of a different graph")
            response["order"] = list(order)
        kernel = {"kernel": None, "kernel_unavailable": None}
        if include_kernel:
            kernel = await self.kernels.kernel_for(prepared, response["order"])
        return response | kernel

    def _forget(self, job_id: str, graph_hash: str) -> None:
        self._tasks.pop(job_id, None)
        self._jobs.pop(job_id, None)
        entry = self._in_flight.get(graph_hash)
        if entry is not None and entry.job_id == job_id:
            del self._in_flight[graph_hash]
        self.metrics.jobs_running.dec()

    async def wait(self, job_id: str, timeout: float) -> JobOutcome | None:
        """The outcome of a job of this process, or None if not done in ``timeout``."""
        task = self._tasks.get(job_id)
        if task is None:
            status = await to_thread.run_sync(self.status, job_id)
            if status and status["state"] == "done":
                return JobOutcome(response=status["result"])
            if status and status["state"] == "failed":
                return JobOutcome(error=status["error"])
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            return None

    async def _run(
        self, job_id: str, prepared, budget: float, seed: int, include_kernel: bool
    ) -> JobOutcome:
        try:
            outcome = await self._search(job_id, prepared, budget, seed, include_kernel)
        except asyncio.CancelledError:
            outcome = JobOutcome(error="the server stopped before the search finished")
            await to_thread.run_sync(self._finish, job_id, outcome)
            raise
        except Exception as err:  # a failed store, a lost database
            log.exception("job %s failed", job_id)
            outcome = JobOutcome(error=_public_error(err))
        label = "done" if outcome.response is not None else "failed"
        self.metrics.searches_finished.labels(label).inc()
        try:
            await to_thread.run_sync(self._finish, job_id, outcome)
        except Exception:
            log.exception("could not record the end of job %s", job_id)
        return outcome

    async def _search(
        self, job_id: str, prepared, budget: float, seed: int, include_kernel: bool
    ) -> JobOutcome:
        limit = job_limit_s(budget, self.settings.sync_grace_s)
        try:
            reply = await self.backend.run(
                search_task,
                prepared.document,
                time_budget_s=budget,
                seed=seed,
                include_kernel=include_kernel,
                database_url=self.settings.database_url,
                job_id=job_id,
                model_path=self.settings.model_path,
                timeout_s=limit,
            )
        except WorkerDied as err:
            return JobOutcome(error=str(err))
        except TaskTimedOut:
            return JobOutcome(
                error=f"the search ran past its limit of {limit:.1f} s (budget "
                f"{budget:g} s + max(0.2 s, 10 %) + {self.settings.sync_grace_s:g} s "
                "start-up) and was stopped; retry, or report it if it persists"
            )
        if not reply["ok"]:
            error = reply["error"]
            return JobOutcome(
                error=scrub(f"{error['type']}: {error['message']}"),
                error_path=error.get("path"),
                error_type=error["type"],
            )
        result = reply["result"]
        found = OptimizeResult(
            order=tuple(result["order"]),
            cost=result["cost"],
            method=result["method"],
            baselines=result["baselines"],
            lower_bound=result["lower_bound"],
            elapsed_s=result["elapsed_s"],
            history=(),
        )
        provenance = Provenance(
            time_budget_s=budget,
            seed=seed,
            model_checkpoint=result.get("model_checkpoint"),
            versions=self.versions,
        )
        await to_thread.run_sync(store, self.engine, prepared, found, provenance)
        best = await to_thread.run_sync(
            lambda: lookup(self.engine, prepared, cost_model=self.versions.cost_model)
        )
        if best is None:  # not stored: the record under this key is not this graph
            best = OrderRecord(prepared.hash, found, provenance)
        response = order_response(best, cached=best.result.cost < found.cost)
        kernel = {"kernel": None, "kernel_unavailable": None}
        if include_kernel:
            if response["order"] == result["order"] and "kernel" in result:
                kernel = {k: result.get(k) for k in ("kernel", "kernel_unavailable")}
                self.kernels.remember(prepared, result["order"], kernel)
            else:
                kernel = await self.kernels.kernel_for(prepared, response["order"])
        return JobOutcome(response=response | kernel)

    async def close(self) -> None:
        """Cancels the running jobs (each is recorded as failed)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
