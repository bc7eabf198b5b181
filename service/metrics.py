"""Prometheus metrics of one app, and the ASGI middleware that records requests.

Each app has its own registry (no module-level collectors), so several apps can
live in one process (tests) without clashing. Requests are labelled by the route
*template* (``/v1/orders/{graph_hash}``), never the raw path, to bound cardinality.
"""

from __future__ import annotations

import dataclasses
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "MetricsMiddleware"]

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
    0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Metrics:
    """The collectors of one app."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    cache_hits: Counter
    cache_misses: Counter
    jobs_running: Gauge
    searches_finished: Counter
    kernel_exports: Counter
    admission_refused: Counter

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "ccelim_http_requests_total",
                "HTTP requests by route, method and status.",
                ["route", "method", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "ccelim_http_request_duration_seconds",
                "HTTP request latency by route, method and status.",
                ["route", "method", "status"],
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            cache_hits=Counter(
                "ccelim_cache_hits_total",
                "Order requests served from the cache.",
                registry=registry,
            ),
            cache_misses=Counter(
                "ccelim_cache_misses_total",
                "Order requests that needed a search.",
                registry=registry,
            ),
            jobs_running=Gauge(
                "ccelim_jobs_running",
                "Searches queued or running now.",
                registry=registry,
            ),
            searches_finished=Counter(
                "ccelim_searches_finished_total",
                "Searches finished, by outcome (done or failed).",
                ["outcome"],
                registry=registry,
            ),
            kernel_exports=Counter(
                "ccelim_kernel_exports_total",
                "Kernels exported for cached orders (remembered ones not counted).",
                registry=registry,
            ),
            admission_refused=Counter(
                "ccelim_admission_refused_total",
                "New searches refused by admission control (429).",
                registry=registry,
            ),
        )


class MetricsMiddleware:
    """Counts and times every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            labels = (template, scope["method"], str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)
