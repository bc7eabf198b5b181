"""Entry point of the ``ccelim`` command: imports every command module."""

import os
import sys
from pathlib import Path

from service import (
    cli_graphs,  # noqa: F401  (each import registers commands)
    cli_kernel,  # noqa: F401
    cli_policy,  # noqa: F401
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
    """Runs ``ccelim``; an error a command raised becomes one line on stderr and
    exit status 1 (``CCELIM_DEBUG=1`` keeps the traceback)."""
    import importlib

    import typer

    from service.cli_errors import debugging, describe, usage_error

    # Typer raises click's exceptions (from its own copy of click in 0.29+).
    click_errors = importlib.import_module(typer.BadParameter.__module__)
    _enable_compilation_cache()
    try:
        # standalone_mode=False: usage errors come here (one line) instead of
        # Typer's boxed panel; --help and typer.Exit come back as exit codes.
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as err:
        err.show()  # `ccelim` alone: the help text
        sys.exit(err.exit_code)
    except click_errors.UsageError as err:
        print(f"error: {usage_error(err)}", file=sys.stderr)
        sys.exit(err.exit_code)
    except typer.Abort:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        if debugging():
            raise
        print(f"error: {describe(err)}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
