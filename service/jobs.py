"""Search jobs: submitted, run in a backend, stored in the cache, reported.

Every cache miss becomes a job with a row in the ``jobs`` table (so any replica can
report it). The job runs ``service.worker.search_task`` in the backend; its result
is stored in the cache (better only) and in the job row. A job whose worker dies,
or whose search raises, is marked failed and stores nothing. Identical requests that
arrive while a search for them is in flight share that job.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import uuid
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine, select, update

import graphs
from service.backends import Backend, WorkerDied
from service.cache import CachedOrder, SearchOutcome, Versions, lookup, store
from service.db import JobRow, utcnow
from service.intake import PreparedGraph
from service.kernels import KernelService
from service.metrics import Metrics
from service.settings import Settings
from service.worker import search_task

__all__ = ["JobManager", "JobOutcome", "Submitted", "response_from_cached"]

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
    # Set once the job's row is written and its task runs (or submission failed).
    started: asyncio.Event = dataclasses.field(
        default_factory=asyncio.Event, compare=False, repr=False
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def response_from_cached(hit: CachedOrder, *, cached: bool) -> dict[str, Any]:
    """The OrderResponse fields of a cache record (no kernel yet)."""
    return {
        "graph_hash": hit.graph_hash,
        "order": list(hit.order),
        "cost": hit.cost,
        "method": hit.method,
        "baselines": hit.baselines,
        "lower_bound": hit.lower_bound,
        "elapsed_s": hit.elapsed_s,
        "cached": cached,
        "record": {
            "model_checkpoint": hit.model_checkpoint,
            "time_budget_s": hit.time_budget_s,
            "seed": hit.seed,
            "ccelim_version": hit.versions.ccelim,
            "jax_version": hit.versions.jax,
            "cost_model_version": hit.versions.cost_model,
            "created_at": _utc(hit.created_at).isoformat(),
            "updated_at": _utc(hit.updated_at).isoformat(),
        },
        "kernel": None,
        "kernel_unavailable": None,
    }


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
    ):
        self.engine = engine
        self.settings = settings
        self.versions = versions
        self.backend = backend
        self.kernels = kernels
        self.metrics = metrics
        self._tasks: dict[str, asyncio.Task[JobOutcome]] = {}
        self._in_flight: dict[str, Submitted] = {}

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
            "error": row.error,
            "result": json.loads(row.result_json) if row.result_json else None,
            "created_at": _utc(row.created_at),
            "finished_at": _utc(row.finished_at) if row.finished_at else None,
        }

    # -- running ---------------------------------------------------------------

    async def submit(
        self,
        prepared: PreparedGraph,
        *,
        time_budget_s: float,
        seed: int,
        include_kernel: bool,
    ) -> Submitted:
        """Starts a search job, or joins one in flight for the same graph (under
        any vertex ids) with the same seed and at least this budget."""
        same = self._in_flight.get(prepared.hash)
        if (
            same is not None
            and same.seed == seed
            and same.time_budget_s >= time_budget_s
            and (
                same.prepared.document == prepared.document
                or graphs.isomorphic(same.prepared.graph, prepared.graph)
            )
        ):
            await same.started.wait()
            if same.job_id not in self._tasks and self.status(same.job_id) is None:
                raise RuntimeError("the search job could not be recorded")
            return same
        job_id = uuid.uuid4().hex
        submitted = Submitted(job_id, prepared, time_budget_s, seed, include_kernel)
        # Registered before the first await, so that concurrent identical requests
        # join this job instead of starting their own.
        self._in_flight[prepared.hash] = submitted
        try:
            await to_thread.run_sync(
                self._insert, job_id, prepared.hash, time_budget_s, seed
            )
        except BaseException:
            if self._in_flight.get(prepared.hash) is submitted:
                del self._in_flight[prepared.hash]
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
            mapping = await to_thread.run_sync(
                graphs.isomorphism, submitted.prepared.graph, prepared.graph
            )
            if mapping is None:  # joined only when isomorphic; cannot happen
                raise RuntimeError("joined a search of a different graph")
            response["order"] = [mapping.get(v, v) for v in response["order"]]
        kernel = {"kernel": None, "kernel_unavailable": None}
        if include_kernel:
            kernel = await self.kernels.kernel_for(prepared, response["order"])
        return response | kernel

    def _forget(self, job_id: str, graph_hash: str) -> None:
        self._tasks.pop(job_id, None)
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
            outcome = JobOutcome(error=f"{type(err).__name__}: {err}")
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
            )
        except WorkerDied as err:
            return JobOutcome(error=str(err))
        if not reply["ok"]:
            error = reply["error"]
            return JobOutcome(
                error=f"{error['type']}: {error['message']}",
                error_path=error.get("path"),
                error_type=error["type"],
            )
        result = reply["result"]
        found = SearchOutcome(
            order=tuple(result["order"]),
            cost=result["cost"],
            method=result["method"],
            baselines=result["baselines"],
            lower_bound=result["lower_bound"],
            elapsed_s=result["elapsed_s"],
            time_budget_s=budget,
            seed=seed,
            model_checkpoint=result.get("model_checkpoint"),
        )
        await to_thread.run_sync(
            lambda: store(self.engine, prepared, found, versions=self.versions)
        )
        best = await to_thread.run_sync(
            lambda: lookup(self.engine, prepared, cost_model=self.versions.cost_model)
        )
        if best is None:  # a hash collision: answer, but nothing was cached
            response = {
                "graph_hash": prepared.hash,
                **{k: result[k] for k in ("order", "cost", "method", "baselines")},
                "lower_bound": result["lower_bound"],
                "elapsed_s": result["elapsed_s"],
                "cached": False,
                "record": None,
            }
        else:
            response = response_from_cached(best, cached=best.cost < found.cost)
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
