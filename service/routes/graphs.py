"""``/v1/graphs``: cached graphs as stored."""

from __future__ import annotations

import json

from fastapi import APIRouter

from service.cache import get_record
from service.deps import State, read_db
from service.errors import ApiError, ErrorBody
from service.schemas import GraphResponse

router = APIRouter(prefix="/v1", tags=["graphs"])


@router.get(
    "/graphs/{graph_hash}",
    response_model=GraphResponse,
    responses={404: {"model": ErrorBody, "description": "Unknown graph hash."}},
    summary="Cached graph by hash",
)
async def get_graph(graph_hash: str, state: State):
    """The graph document stored under this hash, with its best order."""
    found = await read_db(state, get_record, state.engine, graph_hash)
    if found is None:
        raise ApiError(
            404, "not_found", f"no graph with hash {graph_hash!r}", field="graph_hash"
        )
    response = {
        "graph_hash": graph_hash,
        "graph": json.loads(found.document),
        "num_vertices": found.num_vertices,
        "num_intermediates": found.num_intermediates,
        "is_program": found.is_program,
    }
    if found.record is not None:
        response |= {
            "order": json.loads(found.record["order_json"]),
            "cost": found.record["cost"],
            "method": found.record["method"],
            "baselines": json.loads(found.record["baselines_json"]),
        }
    return response
