"""Joining a Ray cluster that uses token authentication, without extra settings.

Ray (2.52 and later) turns token authentication on for a cluster started with
``ray start --head`` whenever that machine has a token (``~/.ray/auth_token``,
written by any earlier local ``ray.init()``, or ``RAY_AUTH_TOKEN``). A driver that
joins with ``address="auto"`` picks the token up by itself, but one that names the
cluster (``host:port``, ``ray://host:10001``) only sends it when
``RAY_AUTH_MODE=token`` is set, and otherwise fails with "Failed to connect to Ray
cluster". A token-mode driver also joins a cluster without authentication, so
:func:`enable_token_auth` sets token mode whenever a token is at hand and the
user has not chosen a mode.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["AUTH_HINT", "enable_token_auth", "token_available"]

#: How to fix a refused connection; added to the error the caller shows.
AUTH_HINT = (
    "if the cluster uses Ray token authentication, give this machine the head's "
    "token (`ray get-auth-token` on the head, then RAY_AUTH_TOKEN=... or "
    "~/.ray/auth_token here); if it does not, check the address and that the "
    "head's port is reachable"
)


def token_available(environ: Mapping[str, str] | None = None) -> bool:
    """Whether Ray would find an authentication token for this process.

    Ray's order: ``RAY_AUTH_TOKEN``, the file at ``RAY_AUTH_TOKEN_PATH``, then
    ``~/.ray/auth_token``.
    """
    env = os.environ if environ is None else environ
    if env.get("RAY_AUTH_TOKEN", "").strip():
        return True
    path = env.get("RAY_AUTH_TOKEN_PATH")
    home = Path(env.get("HOME") or Path.home())
    candidate = Path(path) if path else home / ".ray" / "auth_token"
    try:
        return bool(candidate.read_text().strip())
    except OSError:
        return False


def enable_token_auth(address: str | None) -> bool:
    """Sets ``RAY_AUTH_MODE=token`` for this process (and the processes it starts)
    when it will join the cluster at ``address`` and a token is at hand.

    Nothing changes for ``None``/``"local"`` (``ray.init`` starts its own cluster and
    handles its token), for ``"auto"`` (Ray finds the token itself), or when
    ``RAY_AUTH_MODE`` is already set (the user's choice wins).

    Args:
      address: what will be passed to ``ray.init(address=...)``.

    Returns:
      Whether token mode was switched on.

    Example:
      >>> enable_token_auth("10.0.0.5:6379")  # with ~/.ray/auth_token present
      True
    """
    if address in (None, "", "local", "auto"):
        return False
    if os.environ.get("RAY_AUTH_MODE") or not token_available():
        return False
    os.environ["RAY_AUTH_MODE"] = "token"
    _refresh_ray_config()
    return True


def _refresh_ray_config() -> None:
    """Ray caches its settings when it loads; re-read them so that a process that
    imported Ray already sees token mode (what ``ray start`` itself does)."""
    import sys

    if "ray._raylet" not in sys.modules:
        return
    try:
        from ray._raylet import Config

        Config.initialize("")
    except (ImportError, AttributeError):  # another Ray: it reads the variable late
        pass
