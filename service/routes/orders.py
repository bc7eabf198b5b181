"""``/v1/orders``: find the best order of a graph, or fetch a cached one."""

from __future__ import annotations

import functools
import json

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from service.cache import cached_order, fetch, get_record, needs_translation, resolve
from service.deps import State, Writer, read_db
from service.errors import ApiError, ErrorBody
from service.intake import document_key, prepare
from service.jobs import JobOutcome, response_from_cached
from service.limits import check_budget
from service.schemas import JobAccepted, OrderRequest, OrderResponse

router = APIRouter(prefix="/v1", tags=["orders"])

_ERRORS = {
    400: {"model": ErrorBody, "description": "Malformed JSON."},
    401: {"model": ErrorBody, "description": "Missing or wrong API key."},
    413: {"model": ErrorBody, "description": "Body or graph too large."},
    422: {"model": ErrorBody, "description": "Invalid field (named in `field`)."},
    503: {"model": ErrorBody, "description": "The search failed; retry."},
}


def _search_error(outcome: JobOutcome) -> ApiError:
    if outcome.error_type == "GraphError":
        field = f"graph.{outcome.error_path}" if outcome.error_path else "graph"
        return ApiError(422, "invalid_graph", outcome.error or "", field=field)
    return ApiError(
        503,
        "search_failed",
        f"the search failed: {outcome.error}; retry, or report it if it persists",
    )


@router.post(
    "/orders",
    response_model=OrderResponse,
    responses={202: {"model": JobAccepted, "description": "Long search: poll."}}
    | _ERRORS,
    dependencies=[Writer],
    summary="Best elimination order of a graph",
)
async def create_order(body: OrderRequest, state: State):
    """Answers from the cache when it knows the graph (under any vertex names);
    otherwise searches: 200 with the result when the budget is at most the
    synchronous limit, else 202 with a job to poll at ``Location``."""
    settings = state.settings
    budget = check_budget(body.time_budget_s, settings)
    key = document_key(body.graph)
    prepared = state.prepared.get(key)
    if prepared is None:
        prepared = await to_thread.run_sync(
            functools.partial(prepare, body.graph, max_vertices=settings.max_vertices)
        )
        state.prepared.put(key, prepared)
    if not body.refresh:
        found = await read_db(state, fetch, state.engine, prepared.hash)
        cost_model = state.versions.cost_model
        if found is not None and needs_translation(found, prepared):
            hit = await to_thread.run_sync(
                functools.partial(resolve, found, prepared, cost_model=cost_model)
            )
        else:
            hit = resolve(found, prepared, cost_model=cost_model)
        if hit is not None:
            state.metrics.cache_hits.inc()
            response = response_from_cached(hit, cached=True)
            if body.include_kernel:
                response |= await state.kernels.kernel_for(prepared, hit.order)
            return response
    state.metrics.cache_misses.inc()
    submitted = await state.jobs.submit(
        prepared,
        time_budget_s=budget,
        seed=body.seed,
        include_kernel=body.include_kernel,
    )
    job_id = submitted.job_id
    if budget <= settings.sync_budget_s:
        outcome = await state.jobs.wait(job_id, budget + settings.sync_grace_s)
        if outcome is not None:
            if outcome.response is None:
                raise _search_error(outcome)
            return await state.jobs.response_for(
                submitted, outcome, prepared, include_kernel=body.include_kernel
            )
    location = f"/v1/jobs/{job_id}"
    accepted = JobAccepted(
        job_id=job_id, state="queued", graph_hash=prepared.hash, location=location
    )
    return JSONResponse(
        accepted.model_dump(), status_code=202, headers={"Location": location}
    )


@router.get(
    "/orders/{graph_hash}",
    response_model=OrderResponse,
    responses={404: {"model": ErrorBody, "description": "No order for this hash."}},
    summary="Cached best order by graph hash",
)
async def get_order(
    graph_hash: str,
    state: State,
    include_kernel: bool = Query(False, description="Also export the kernel."),
):
    """The cached best order, in the vertex ids of the graph as first stored
    (``GET /v1/graphs/{graph_hash}``); POST your graph to get it in your ids."""
    found = await read_db(state, get_record, state.engine, graph_hash)
    if found is None or found.record is None:
        raise ApiError(
            404,
            "not_found",
            f"no cached order for graph hash {graph_hash!r}; POST the graph to "
            "/v1/orders to search",
            field="graph_hash",
        )
    record = found.record
    if record["cost_model_version"] != state.versions.cost_model:
        raise ApiError(
            404,
            "not_found",
            f"the cached order of {graph_hash!r} was counted with cost model "
            f"{record['cost_model_version']!r}, this server uses "
            f"{state.versions.cost_model!r}; POST the graph to search again",
            field="graph_hash",
        )
    hit = cached_order(graph_hash, record)
    response = response_from_cached(hit, cached=True)
    if include_kernel:
        prepared = await to_thread.run_sync(
            functools.partial(
                prepare,
                json.loads(found.document),
                max_vertices=state.settings.max_vertices,
            )
        )
        response |= await state.kernels.kernel_for(prepared, hit.order)
    return response
