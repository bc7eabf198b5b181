"""Entry point of the ``ccelim`` command: imports every command module."""

import os
from pathlib import Path

from service import (
    cli_graphs,  # noqa: F401  (each import registers commands)
    cli_search,  # noqa: F401
    cli_service,  # noqa: F401
    cli_train,  # noqa: F401
)
from service.cli_app import app


def _enable_compilation_cache() -> None:
    """A persistent XLA compilation cache for every command and the workers it spawns.

    An MCTS move takes 20–40 s to compile on a CPU; with the cache that happens once
    per machine, not once per process, so short search budgets can use the network.
    Set ``JAX_COMPILATION_CACHE_DIR`` to move it (``ccelim train`` uses the same one).
    """
    default = Path.home() / ".cache" / "ccelim" / "jax-compilation-cache"
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(default))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")


def main() -> None:
    _enable_compilation_cache()
    app()


if __name__ == "__main__":
    main()
