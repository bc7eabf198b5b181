"""Builds the compiled scalar cost core (``search/core/_scalar.c``, ``_search.c``).

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
            sources=["search/core/_scalar.c", "search/core/_search.c"],
            depends=["search/core/_scalar.h", "search/core/_sets.h"],
            extra_compile_args=["-O3"],
            libraries=["m"],
        )
    ]
)
