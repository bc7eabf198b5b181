"""``/v1/orders``: find the best order of a graph, or fetch a cached one."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from service.cache import get_record, order_response, record_from_row
from service.deps import Client, State, read_db
from service.errors import ApiError, ErrorBody
from service.orders import find_or_search
from service.schemas import JobAccepted, OrderRequest, OrderResponse

router = APIRouter(prefix="/v1", tags=["orders"])

_ERRORS = {
    400: {"model": ErrorBody, "description": "Malformed JSON."},
    401: {"model": ErrorBody, "description": "Missing or wrong API key."},
    413: {"model": ErrorBody, "description": "Body or graph too large."},
    422: {"model": ErrorBody, "description": "Invalid field (named in `field`)."},
    429: {
        "model": ErrorBody,
        "description": "Too many searches queued (admission control); retry after "
        "the `Retry-After` header's seconds.",
    },
    503: {
        "model": ErrorBody,
        "description": "The search failed, or the database is read-only; retry.",
    },
}


@router.post(
    "/orders",
    response_model=OrderResponse,
    responses={202: {"model": JobAccepted, "description": "Long search: poll."}}
    | _ERRORS,
    summary="Best elimination order of a graph",
)
async def create_order(body: OrderRequest, state: State, client: Client):
    """Answers from the cache when it knows the graph (under any vertex names);
    otherwise searches: 200 with the result when the budget is at most the
    synchronous limit, else 202 with a job to poll at ``Location``.

    Records are keyed by ``graph_hash`` (see OrderResponse): a graph with a weak
    hash is never served another graph's record on the hash alone."""
    answer = await find_or_search(state, body, client=client)
    if answer.job is not None:
        return JSONResponse(
            answer.job.model_dump(),
            status_code=202,
            headers={"Location": answer.job.location},
        )
    return answer.response


@router.get(
    "/orders/{graph_hash}",
    response_model=OrderResponse,
    responses={404: {"model": ErrorBody, "description": "No order for this hash."}},
    summary="Cached best order by graph hash",
)
async def get_order(
    graph_hash: str,
    state: State,
    include_kernel: bool = Query(
        False,
        description="Also the kernel (built once, then remembered; structure-only "
        "graphs have none).",
    ),
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
    hit = record_from_row(graph_hash, record)
    response = order_response(hit, cached=True)
    if include_kernel:
        response |= await state.kernels.kernel_of(
            found.document, hit.result.order, is_program=found.is_program
        )
    return response
