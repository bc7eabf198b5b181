"""The order service: one function that owns the cache policy of ``/v1/orders``.

:func:`find_or_search` turns a request into an answer: prepare the graph (parse,
check, hash: bounded work, in a worker thread), answer from the cache when a
record applies (mapping it into the caller's ids off the event loop when that
needs graph work), otherwise start or join a search job, wait for it when the
budget is short, and hand back either the response or the job to poll. The route
only validates and shapes HTTP; tests call this function directly too.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from anyio import to_thread

from service.cache import (
    OrderRecord,
    fetch,
    lookup,
    needs_translation,
    order_response,
    resolve,
)
from service.deps import ServiceState, read_db
from service.errors import ApiError
from service.intake import PreparedGraph, document_key, prepare
from service.jobs import JobOutcome
from service.limits import check_budget
from service.schemas import JobAccepted, OrderRequest
from service.tuning import with_tuning

__all__ = ["Answer", "find", "find_or_search", "prepared_graph"]


@dataclasses.dataclass(frozen=True)
class Answer:
    """What a request gets: the response (200) or a job to poll (202)."""

    response: dict[str, Any] | None = None
    job: JobAccepted | None = None


async def prepared_graph(state: ServiceState, document: dict) -> PreparedGraph:
    """The request's graph parsed, checked and hashed (remembered by digest)."""
    key = document_key(document)
    prepared = state.prepared.get(key)
    if prepared is None:
        prepared = await to_thread.run_sync(
            functools.partial(
                prepare, document, max_vertices=state.settings.max_vertices
            )
        )
        state.prepared.put(key, prepared)
    return prepared


async def find(state: ServiceState, prepared: PreparedGraph) -> OrderRecord | None:
    """The cached record for the caller's graph, in the caller's ids, or None.

    An identical document is answered inline (one indexed read); anything that
    needs graph work (another naming, a weak hash's candidates) runs in a thread.
    """
    cost_model = state.versions.cost_model
    found = await read_db(state, fetch, state.engine, prepared.hash)
    if found is not None and not needs_translation(found, prepared):
        hit = resolve(found, prepared, cost_model=cost_model)
        if hit is not None:
            return hit
    if found is None and not prepared.form.is_weak:
        return None
    return await to_thread.run_sync(
        functools.partial(lookup, state.engine, prepared, cost_model=cost_model)
    )


def _search_error(outcome: JobOutcome) -> ApiError:
    if outcome.error_type == "GraphError":
        field = f"graph.{outcome.error_path}" if outcome.error_path else "graph"
        return ApiError(422, "invalid_graph", outcome.error or "", field=field)
    return ApiError(
        503,
        "search_failed",
        f"the search failed: {outcome.error}; retry, or report it if it persists",
    )


async def find_or_search(
    state: ServiceState, body: OrderRequest, *, client: str | None = None
) -> Answer:
    """Answers an order request from the cache, or by a search job.

    Args:
      state: the app's state.
      body: the validated request.
      client: who asks (the API key's index), for per-client admission control.

    Returns:
      An :class:`Answer`: the OrderResponse fields, or the job when the budget is
      over the synchronous limit (or the search outlasts the synchronous wait).

    Raises:
      ApiError: 4xx for a bad graph or budget, 429 when admission control refuses
        a new search, 503 when the search failed or the database is read-only.
    """
    settings = state.settings
    budget = check_budget(body.time_budget_s, settings)
    prepared = await prepared_graph(state, body.graph)
    if not body.refresh:
        hit = await find(state, prepared)
        if hit is not None:
            state.metrics.cache_hits.inc()
            response = order_response(hit, cached=True)
            if body.include_kernel:
                response |= await state.kernels.kernel_for(prepared, hit.result.order)
            return Answer(response=await with_tuning(state, prepared, body, response))
    state.metrics.cache_misses.inc()
    submitted = await state.jobs.submit(
        prepared,
        time_budget_s=budget,
        seed=body.seed,
        include_kernel=body.include_kernel,
        client=client,
    )
    if budget <= settings.sync_budget_s:
        outcome = await state.jobs.wait(
            submitted.job_id, budget + settings.sync_grace_s
        )
        if outcome is not None:
            if outcome.response is None:
                raise _search_error(outcome)
            response = await state.jobs.response_for(
                submitted, outcome, prepared, include_kernel=body.include_kernel
            )
            return Answer(response=await with_tuning(state, prepared, body, response))
    location = f"/v1/jobs/{submitted.job_id}"
    job = JobAccepted(
        job_id=submitted.job_id,
        state="queued",
        graph_hash=submitted.prepared.hash,
        location=location,
    )
    return Answer(job=job)
