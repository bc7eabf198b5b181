"""Entry point of the ``ccelim`` command: imports every command module."""

from service import (
    cli_graphs,  # noqa: F401  (each import registers commands)
    cli_search,  # noqa: F401
    cli_service,  # noqa: F401
    cli_train,  # noqa: F401
)
from service.cli_app import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
