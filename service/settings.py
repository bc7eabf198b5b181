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
CCELIM_SYNC_GRACE_S        extra wait of a 200 answer before a 202      ``30``
=========================  ===========================================  =========
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
        (worker start-up, kernel export) before it turns into a job.
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

    def __post_init__(self):
        if not 0 < self.default_budget_s <= self.max_budget_s:
            raise SettingsError(
                f"expected 0 < CCELIM_DEFAULT_BUDGET_S <= CCELIM_MAX_BUDGET_S, got "
                f"{self.default_budget_s} and {self.max_budget_s}"
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
