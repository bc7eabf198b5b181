"""``/v1/jobs``: the state, progress and result of long searches."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import State, read_db
from service.errors import ApiError, ErrorBody
from service.schemas import JobStatus

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get(
    "/jobs/{job_id}",
    response_model=JobStatus,
    responses={404: {"model": ErrorBody, "description": "No such job."}},
    summary="State of a search job",
)
async def get_job(job_id: str, state: State):
    """State (queued, running, done, failed), best cost so far, elapsed seconds,
    and the result once done. A job whose worker died is ``failed``."""
    status = await read_db(state, state.jobs.status, job_id)
    if status is None:
        raise ApiError(404, "not_found", f"no job {job_id!r}", field="job_id")
    return status
