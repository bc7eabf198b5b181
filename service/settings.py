"""The service's settings: one frozen object, read from ``CCELIM_*`` variables.

Only the service and CLI edge read the environment (:meth:`Settings.from_env`);
everything else receives a :class:`Settings`.

=========================  ===========================================  =========
variable                   meaning                                      default
=========================  ===========================================  =========
CCELIM_DATA_DIR            folder for the SQLite cache                  ``./data``
CCELIM_DATABASE_URL        SQLAlchemy URL (``postgresql+psycopg://…``)  SQLite file
CCELIM_RAY_ADDRESS         run searches as Ray tasks on this cluster    unset
CCELIM_API_KEYS            comma-separated bearer keys for writes       unset
CCELIM_SYNC_BUDGET_S       largest budget answered synchronously        ``5``
CCELIM_DEFAULT_BUDGET_S    budget when a request gives none             ``2``
CCELIM_MAX_BUDGET_S        largest budget a request may ask for         ``600``
CCELIM_MAX_BODY_BYTES      largest request body                         4 MiB
CCELIM_MAX_VERTICES        largest graph (vertices)                     ``5000``
CCELIM_MODEL_PATH          network file for the tree search             shipped
CCELIM_SEARCH_WORKERS      search processes (process-pool backend)      cores - 1
CCELIM_INSTANCE            this replica's name (jobs it owns)           hostname
CCELIM_SYNC_GRACE_S        extra wait of a 200 answer before a 202;     ``30``
                           also the start-up allowance of a job
CCELIM_MAX_QUEUED_JOBS     searches queued or running at once (429      ``16``
                           with ``Retry-After`` past it)
CCELIM_MAX_QUEUED_SEARCH_S total budget of the searches queued or       ``1200``
                           running (429 past it)
CCELIM_MAX_JOBS_PER_CLIENT searches one API key may have queued or      ``4``
                           running (only with CCELIM_API_KEYS)
=========================  ===========================================  =========

Admission control: a request that would start a search beyond any of the three
bounds is answered 429 with a ``Retry-After`` header (seconds until the earliest
running search ends); requests answered from the cache, and requests that join an
identical search in flight, are never refused. A job whose worker runs past
``budget + max(0.2 s, 10 % of budget) + CCELIM_SYNC_GRACE_S`` is stopped and
failed (the search's own budget rule plus start-up and kernel export).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    """A ``CCELIM_*`` variable that cannot be read."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with (see the module docstring).

    Attributes:
      database_url: SQLAlchemy URL of the order cache.
      ray_address: Ray cluster address; ``None`` runs searches in a local process
        pool.
      api_keys: bearer keys accepted for writes; empty means writes are open.
      sync_budget_s: requests whose budget is at most this are answered with 200
        after the search; larger budgets get 202 and a job.
      default_budget_s: budget used when a request does not give one.
      max_budget_s: largest budget accepted.
      max_body_bytes: largest request body accepted.
      max_vertices: largest graph accepted, in vertices.
      model_path: the policy/value network file (``search.load_params``); None
        means the shipped model, when the checkout has one.
      search_workers: size of the local search process pool.
      instance: name of this replica; a restart fails the jobs it left unfinished.
      sync_grace_s: extra seconds a synchronous request waits beyond its budget
        (worker start-up, kernel export) before it turns into a job; also what a
        job may run past its budget's own limit before it is stopped.
      max_queued_jobs: searches queued or running at once in this process.
      max_queued_search_s: sum of the budgets of those searches.
      max_jobs_per_client: searches one API key may have queued or running.
    """

    database_url: str = "sqlite:///data/ccelim.db"
    ray_address: str | None = None
    api_keys: tuple[str, ...] = ()
    sync_budget_s: float = 5.0
    default_budget_s: float = 2.0
    max_budget_s: float = 600.0
    max_body_bytes: int = 4 * 1024 * 1024
    max_vertices: int = 5000
    model_path: str | None = None
    search_workers: int = 1
    instance: str = "local"
    sync_grace_s: float = 30.0
    max_queued_jobs: int = 16
    max_queued_search_s: float = 1200.0
    max_jobs_per_client: int = 4

    def __post_init__(self):
        if not 0 < self.default_budget_s <= self.max_budget_s:
            raise SettingsError(
                f"expected 0 < CCELIM_DEFAULT_BUDGET_S <= CCELIM_MAX_BUDGET_S, got "
                f"{self.default_budget_s} and {self.max_budget_s}"
            )
        if self.max_queued_jobs < 1 or self.max_jobs_per_client < 1:
            raise SettingsError(
                "expected CCELIM_MAX_QUEUED_JOBS >= 1 and CCELIM_MAX_JOBS_PER_CLIENT "
                f">= 1, got {self.max_queued_jobs} and {self.max_jobs_per_client}"
            )
        if self.search_workers < 1:
            raise SettingsError(
                f"expected CCELIM_SEARCH_WORKERS >= 1, got {self.search_workers}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads the settings from ``CCELIM_*`` variables (``os.environ`` by default).

        Raises:
          SettingsError: a variable does not parse; the message names it.
        """
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("CCELIM_DATA_DIR", "data"))
        url = env.get("CCELIM_DATABASE_URL") or f"sqlite:///{data_dir / 'ccelim.db'}"
        keys = tuple(k.strip() for k in env.get("CCELIM_API_KEYS", "").split(","))
        return cls(
            database_url=url,
            ray_address=env.get("CCELIM_RAY_ADDRESS") or None,
            api_keys=tuple(k for k in keys if k),
            sync_budget_s=_number(env, "CCELIM_SYNC_BUDGET_S", cls.sync_budget_s),
            default_budget_s=_number(
                env, "CCELIM_DEFAULT_BUDGET_S", cls.default_budget_s
            ),
            max_budget_s=_number(env, "CCELIM_MAX_BUDGET_S", cls.max_budget_s),
            max_body_bytes=int(
                _number(env, "CCELIM_MAX_BODY_BYTES", cls.max_body_bytes)
            ),
            max_vertices=int(_number(env, "CCELIM_MAX_VERTICES", cls.max_vertices)),
            model_path=env.get("CCELIM_MODEL_PATH") or None,
            search_workers=int(
                _number(env, "CCELIM_SEARCH_WORKERS", max(1, (os.cpu_count() or 2) - 1))
            ),
            instance=env.get("CCELIM_INSTANCE") or socket.gethostname(),
            sync_grace_s=_number(env, "CCELIM_SYNC_GRACE_S", cls.sync_grace_s),
            max_queued_jobs=int(
                _number(env, "CCELIM_MAX_QUEUED_JOBS", cls.max_queued_jobs)
            ),
            max_queued_search_s=_number(
                env, "CCELIM_MAX_QUEUED_SEARCH_S", cls.max_queued_search_s
            ),
            max_jobs_per_client=int(
                _number(env, "CCELIM_MAX_JOBS_PER_CLIENT", cls.max_jobs_per_client)
            ),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"expected a number in {name}, got {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"expected a finite number >= 0 in {name}, got {raw!r}")
    return value
