"""Builds the compiled scalar cost core (``search/core/_scalar.c`` and
the searches on it: ``_greedy.c``, ``_anneal.c``, ``_insertion.c``).

Everything else is declared in ``pyproject.toml``. The core is a plain C library
(no Python headers) that ``search.core._native`` loads with ctypes; declaring it
as an extension makes ``pip install`` (and ``pip install -e .``) compile it from
the project's own source with the platform's C compiler.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "search.core._cscalar",
            sources=[
                "search/core/_scalar.c",
                "search/core/_greedy.c",
                "search/core/_anneal.c",
                "search/core/_insertion.c",
            ],
            depends=[
                "search/core/_scalar.h",
                "search/core/_sets.h",
                "search/core/_rng.h",
            ],
            extra_compile_args=["-O3"],
            libraries=["m"],
        )
    ]
)
