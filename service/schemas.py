"""Pydantic models of the HTTP API (only the HTTP edge uses pydantic)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

__all__ = [
    "GraphResponse",
    "Health",
    "JobAccepted",
    "JobStatus",
    "Kernel",
    "OrderRequest",
    "OrderResponse",
    "RecordInfo",
    "Tuning",
]

_EXAMPLE_GRAPH = {
    "format": "ccelim.graph/1",
    "inputs": ["x0", "x1"],
    "outputs": ["y"],
    "edges": [["x0", "v"], ["x1", "v"], ["v", "y"]],
}


class OrderRequest(BaseModel):
    """Find (or fetch) the best elimination order of a graph.

    Types are strict: ``"time_budget_s": "5"`` or ``"include_kernel": "yes"`` is a
    422, not a guess."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"graph": _EXAMPLE_GRAPH, "time_budget_s": 1}]},
    )

    graph: dict[str, Any] = Field(
        description="A ccelim.graph/1 document (program or structure-only)."
    )
    time_budget_s: float | None = Field(
        None,
        allow_inf_nan=False,
        description="Search budget in seconds, > 0 and at most the server's limit "
        "(server default when absent). Budgets up "
        "to the synchronous limit answer 200; larger ones answer 202 with a job.",
    )
    seed: StrictInt = Field(0, ge=0, le=2**31 - 1, description="Search seed.")
    include_kernel: StrictBool = Field(
        True, description="Include the exported Jacobian kernel (program graphs)."
    )
    refresh: StrictBool = Field(
        False,
        description="Search even when the cache has an order; a better result "
        "replaces the cached one.",
    )
    batch_sizes: list[Annotated[StrictInt, Field(ge=1, le=65536)]] | None = Field(
        None,
        min_length=1,
        max_length=4,
        description="Also time the kernel candidates (the order found, forward, "
        "reverse, plain jax.jacfwd/jacrev) under jax.vmap at these batch sizes on "
        "the server's device and answer the fastest (`tuning`); program graphs, "
        "synchronous answers only.",
    )


class Kernel(BaseModel):
    """A Jacobian kernel: serialized ``jax.export`` StableHLO and Python source."""

    stablehlo_b64: str
    python_source: str
    input_specs: Any
    output_layout: Any


class Tuning(BaseModel):
    """Which Jacobian kernel measured fastest on the caller's batch sizes."""

    winner: str | None = Field(
        None,
        description="The fastest candidate: `searched`, `forward`, `reverse`, or "
        "`jacfwd`/`jacrev` when plain JAX won (then `kernel` runs what JAX does).",
    )
    fallback: bool | None = None
    order: list[str] | None = None
    times_s: dict[str, dict[str, float]] | None = Field(
        None, description="{candidate: {batch size: median seconds per call}}."
    )
    multiplications: dict[str, int] | None = None
    batch_sizes: list[int] | None = None
    dtype: str | None = None
    device: str | None = Field(None, description="backend:device kind measured on.")
    jax_version: str | None = None
    cached: bool | None = None
    message: str | None = None
    unavailable: str | None = Field(None, description="Why nothing was timed.")


class RecordInfo(BaseModel):
    """Who found a cached order, when, and with which versions."""

    model_checkpoint: str | None
    time_budget_s: float
    seed: int
    ccelim_version: str
    jax_version: str
    cost_model_version: str
    created_at: dt.datetime
    updated_at: dt.datetime


class OrderResponse(BaseModel):
    """The best order known for a graph, in the caller's own vertex ids."""

    graph_hash: str = Field(
        description="The record key: the graph's canonical hash (``g1-…``, the "
        "same under any vertex names). A graph whose canonical form could not be "
        "found within the work bound gets a weak hash, which is no proof of "
        "identity: its key is ``g1w-<weak hash>-<digest of the exact document>``, "
        "so two different graphs never share a record, and a record is served to "
        "another document only when a bounded isomorphism check maps one graph "
        "onto the other."
    )
    order: list[str]
    cost: int
    method: str
    baselines: dict[str, int]
    lower_bound: int | None
    elapsed_s: float
    cached: bool = Field(description="Served from the cache without a new search.")
    record: RecordInfo | None = None
    kernel: Kernel | None = None
    kernel_unavailable: str | None = Field(
        None, description="Why there is no kernel, when one was asked for."
    )
    tuning: Tuning | None = Field(
        None, description="Measured candidates, when the request named batch_sizes."
    )


class JobAccepted(BaseModel):
    """A search that runs longer than the synchronous limit."""

    job_id: str
    state: Literal["queued", "running", "done", "failed"]
    graph_hash: str
    location: str


class JobStatus(BaseModel):
    """A search job: its state, progress and, when done, its result."""

    job_id: str
    state: Literal["queued", "running", "done", "failed"]
    graph_hash: str
    time_budget_s: float
    best_cost: int | None
    elapsed_s: float | None
    error: str | None = None
    result: OrderResponse | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class GraphResponse(BaseModel):
    """A cached graph as stored (vertex ids of its first submitter)."""

    graph_hash: str
    graph: dict[str, Any]
    num_vertices: int
    num_intermediates: int
    is_program: bool
    order: list[str] | None = None
    cost: int | None = None
    method: str | None = None
    baselines: dict[str, int] | None = None


class Health(BaseModel):
    """``degraded`` when the database cannot be written (read-only file, locked,
    full disk): cached orders are still served, searches are refused."""

    status: Literal["ok", "degraded"]
    version: str
    backend: str
    database: str
    database_writable: bool
    detail: str | None = None
    cached_graphs: int | None
