"""``service.Client``: optimize a graph or a JAX function on a ccelim server.

Example:
  >>> client = Client("http://127.0.0.1:8000")
  >>> found = client.optimize(f, x, y, time_budget_s=2)
  >>> found.cost, found.baselines["markowitz"]
  >>> jacobian = found.kernel(x, y)   # rebuilt from the StableHLO payload
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["Client", "ClientResult", "ServiceError"]


class ServiceError(RuntimeError):
    """An error answer of the server (its stable ``code`` and offending ``field``)."""

    def __init__(self, status: int, code: str, message: str, field: str | None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclasses.dataclass(frozen=True)
class ClientResult:
    """The best order of a graph, its costs, and its kernel when there is one.

    Attributes:
      kernel: the exported Jacobian kernel, ready to call with the traced
        function's arguments; None for structure-only graphs (see
        ``kernel_unavailable``) or when not asked for.
      python_source: the kernel as standalone JAX source, when exported.
      raw: the server's JSON answer.
    """

    graph_hash: str
    order: tuple[str, ...]
    cost: int
    method: str
    baselines: dict[str, int]
    lower_bound: int | None
    elapsed_s: float
    cached: bool
    kernel: Callable[..., Any] | None
    kernel_unavailable: str | None
    python_source: str | None
    raw: dict[str, Any]


def _document(graph_or_fn: Any, example_args: tuple) -> dict[str, Any]:
    if isinstance(graph_or_fn, dict):
        return graph_or_fn
    if isinstance(graph_or_fn, str):
        return json.loads(graph_or_fn)
    if hasattr(graph_or_fn, "to_dict"):
        return graph_or_fn.to_dict()
    if callable(graph_or_fn):
        import graphs

        if not example_args:
            raise TypeError(
                "expected example arguments after a function, got none; call "
                "optimize(f, *example_args)"
            )
        return graphs.trace(graph_or_fn, *example_args).to_dict()
    raise TypeError(
        "expected a graphs.Graph, a ccelim.graph/1 dict or JSON text, or a JAX "
        f"function with example arguments, got {type(graph_or_fn).__name__}"
    )


def _kernel(payload: dict[str, Any] | None) -> Callable[..., Any] | None:
    """The kernel rebuilt from its StableHLO, taking the traced function's
    arguments (any pytrees; their leaves are the kernel's inputs, in order) and
    returning one dense block per ``output_layout`` entry."""
    if not payload:
        return None
    import jax
    from jax import export

    exported = export.deserialize(bytearray(base64.b64decode(payload["stablehlo_b64"])))
    specs = payload.get("input_specs") or []

    def kernel(*args: Any) -> Any:
        leaves = jax.tree_util.tree_leaves(args)
        if len(leaves) != len(exported.in_avals):
            wanted = ", ".join(
                f"{s.get('name')} {tuple(s.get('shape', ()))}" for s in specs
            )
            raise TypeError(
                f"expected {len(exported.in_avals)} array arguments ({wanted}), got "
                f"{len(leaves)}; pass the arguments the function was traced with"
            )
        return exported.call(*leaves)

    kernel.exported = exported  # type: ignore[attr-defined]
    kernel.input_specs = specs  # type: ignore[attr-defined]
    kernel.output_layout = payload.get("output_layout")  # type: ignore[attr-defined]
    return kernel


class Client:
    """A client of the ccelim HTTP API.

    Args:
      base_url: the server, e.g. ``"http://127.0.0.1:8000"``.
      api_key: bearer key for writes, when the server requires one.
      timeout_s: HTTP timeout of one request.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text, "field": None}
            raise ServiceError(
                response.status_code, error["code"], error["message"], error["field"]
            )
        return response.json()

    def submit(
        self,
        graph: dict[str, Any],
        *,
        time_budget_s: float | None = None,
        seed: int = 0,
        include_kernel: bool = True,
        refresh: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """POSTs a graph document; (200, result) or (202, accepted job)."""
        body: dict[str, Any] = {
            "graph": graph,
            "seed": seed,
            "include_kernel": include_kernel,
            "refresh": refresh,
        }
        if time_budget_s is not None:
            body["time_budget_s"] = time_budget_s
        response = self._http.post("/v1/orders", json=body)
        return response.status_code, self._json(response)

    def job(self, job_id: str) -> dict[str, Any]:
        """The state of a job (``GET /v1/jobs/{id}``)."""
        return self._json(self._http.get(f"/v1/jobs/{job_id}"))

    def wait(
        self,
        job_id: str,
        *,
        poll_interval_s: float = 0.25,
        timeout_s: float = 3600.0,
        progress_fn: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Polls a job until it is done; its result. Raises ServiceError if failed.

        Args:
          job_id: the id a 202 answer gave.
          poll_interval_s: pause between two polls.
          timeout_s: give up (TimeoutError) after this long.
          progress_fn: called with every polled state (``GET /v1/jobs/{id}``:
            ``state``, ``best_cost`` so far, ``elapsed_s``, ``time_budget_s``).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.job(job_id)
            if progress_fn is not None:
                progress_fn(status)
            if status["state"] == "done":
                return status["result"]
            if status["state"] == "failed":
                raise ServiceError(200, "job_failed", status["error"] or "", None)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not done after {timeout_s} s")
            time.sleep(poll_interval_s)

    def optimize(
        self,
        graph_or_fn: Any,
        *example_args: Any,
        time_budget_s: float | None = None,
        seed: int = 0,
        include_kernel: bool = True,
        refresh: bool = False,
        poll_interval_s: float = 0.25,
    ) -> ClientResult:
        """The best order of a graph (or of ``graph_or_fn`` traced at the example
        arguments), its costs and its kernel, waiting for long searches.

        Args:
          graph_or_fn: a ``graphs.Graph``, a ``ccelim.graph/1`` dict or JSON text,
            or a JAX function followed by example arguments.
          time_budget_s: search budget; the server's default when None.
          include_kernel: ask for the exported kernel (program graphs only).
          refresh: search even if the server has a cached order.

        Returns:
          A :class:`ClientResult`; ``kernel`` is callable like the function.
        """
        document = _document(graph_or_fn, example_args)
        status, answer = self.submit(
            document,
            time_budget_s=time_budget_s,
            seed=seed,
            include_kernel=include_kernel,
            refresh=refresh,
        )
        if status == 202:
            answer = self.wait(answer["job_id"], poll_interval_s=poll_interval_s)
        return self._result(answer)

    def fetch(self, graph_hash: str, *, include_kernel: bool = False) -> ClientResult:
        """The cached order of a graph hash, in the stored graph's ids."""
        params = {"include_kernel": "true" if include_kernel else "false"}
        answer = self._json(self._http.get(f"/v1/orders/{graph_hash}", params=params))
        return self._result(answer)

    def graph(self, graph_hash: str) -> dict[str, Any]:
        """The stored graph document and its order (``GET /v1/graphs/{hash}``)."""
        return self._json(self._http.get(f"/v1/graphs/{graph_hash}"))

    def health(self) -> dict[str, Any]:
        return self._json(self._http.get("/healthz"))

    @staticmethod
    def _result(answer: dict[str, Any]) -> ClientResult:
        payload = answer.get("kernel")
        return ClientResult(
            graph_hash=answer["graph_hash"],
            order=tuple(answer["order"]),
            cost=answer["cost"],
            method=answer["method"],
            baselines=answer["baselines"],
            lower_bound=answer["lower_bound"],
            elapsed_s=answer["elapsed_s"],
            cached=answer["cached"],
            kernel=_kernel(payload),
            kernel_unavailable=answer.get("kernel_unavailable"),
            python_source=payload["python_source"] if payload else None,
            raw=answer,
        )
