"""Loads the compiled scalar core (``_scalar.c`` and ``_greedy.c``,
``_anneal.c``, ``_insertion.c``) with ctypes.

``pip install`` builds it from the project's own source (``setup.py`` declares it
as an extension, ``search/core/_cscalar*.so``). A source checkout that was never
installed compiles it on first use with the system C compiler into a cache folder
(``$CCELIM_CACHE_DIR`` or ``~/.cache/ccelim``), keyed by the source's hash.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

_HERE = pathlib.Path(__file__).resolve().parent
#: The C sources, compiled together; the headers only feed the cache key.
_SOURCES = tuple(
    _HERE / name for name in ("_scalar.c", "_greedy.c", "_anneal.c", "_insertion.c")
)
_HEADERS = (_HERE / "_scalar.h", _HERE / "_sets.h", _HERE / "_rng.h")

i64 = ctypes.c_longlong
_P = ctypes.c_void_p
_INTS = ctypes.POINTER(ctypes.c_int)
_I64S = ctypes.POINTER(i64)
_BYTES = ctypes.POINTER(ctypes.c_ubyte)

_SIGNATURES = {
    "cc_now": (ctypes.c_double, []),
    "cc_new": (_P, [ctypes.c_int, _INTS, _INTS, _BYTES, _INTS, ctypes.c_int]),
    "cc_free": (None, [_P]),
    "cc_reset": (None, [_P]),
    "cc_cost": (i64, [_P, ctypes.c_int]),
    "cc_fill": (i64, [_P, ctypes.c_int]),
    "cc_cost_after": (i64, [_P, ctypes.c_int, ctypes.c_int]),
    "cc_degree": (ctypes.c_int, [_P, ctypes.c_int]),
    "cc_eliminate": (i64, [_P, ctypes.c_int]),
    "cc_set_logging": (None, [_P, ctypes.c_int]),
    "cc_mark": (i64, [_P]),
    "cc_undo": (None, [_P, i64]),
    "cc_order_cost": (
        ctypes.c_int,
        [_P, _INTS, ctypes.c_int, _I64S, ctypes.c_double, i64],
    ),
    "cc_mode_costs": (ctypes.c_int, [_P, _INTS, ctypes.c_int, ctypes.c_int, _I64S]),
    "cc_greedy": (
        ctypes.c_int,
        [
            _P,
            _INTS,
            ctypes.c_int,
            _INTS,
            ctypes.c_int,
            ctypes.c_double,
            ctypes.c_uint64,
            _INTS,
            ctypes.c_double,
            i64,
        ],
    ),
    "sa_new": (
        _P,
        [
            _INTS,
            _INTS,
            _BYTES,
            ctypes.c_int,
            _INTS,
            _INTS,
            ctypes.c_int,
            ctypes.c_uint64,
            ctypes.c_double,
            ctypes.c_double,
            i64,
            ctypes.c_double,
            ctypes.c_int,
            _I64S,
        ],
    ),
    "cc_best_insertion": (
        i64,
        [_P, _INTS, _I64S, ctypes.c_int, ctypes.c_int, _INTS, _I64S, ctypes.c_double],
    ),
    "cc_earlier_moves": (
        i64,
        [_P, _INTS, ctypes.c_int, _I64S, _INTS, _I64S, ctypes.c_double],
    ),
    "cc_apply_earlier": (i64, [_INTS, ctypes.c_int, _INTS, _I64S, _INTS]),
    "cc_later_moves": (
        i64,
        [_P, _INTS, _I64S, ctypes.c_int, ctypes.c_int, _INTS, _I64S, ctypes.c_double],
    ),
    "cc_apply_later": (i64, [_INTS, ctypes.c_int, _INTS, _I64S, _INTS]),
    "sa_free": (None, [_P]),
    "sa_step": (i64, [_P, i64]),
    "sa_offer": (None, [_P, _INTS, i64]),
    "sa_best": (None, [_P, _INTS]),
    "sa_current": (i64, [_P, _INTS]),
    "sa_moves": (i64, [_P]),
    "sa_scale": (ctypes.c_double, [_P]),
}


def _installed() -> pathlib.Path | None:
    found = sorted(_HERE.glob("_cscalar*.so")) + sorted(_HERE.glob("_cscalar*.pyd"))
    return found[0] if found else None


def _compiled() -> pathlib.Path:
    """The library compiled from the C sources into the cache (built if missing)."""
    digest = hashlib.sha256(
        b"".join(path.read_bytes() for path in (*_SOURCES, *_HEADERS))
    ).hexdigest()[:16]
    cache = pathlib.Path(
        os.environ.get("CCELIM_CACHE_DIR") or pathlib.Path.home() / ".cache" / "ccelim"
    )
    target = cache / f"_cscalar-{digest}.so"
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise ImportError(
            "search.core needs its compiled scalar core: reinstall with "
            "`pip install -e .` (builds it), or install a C compiler (cc/gcc)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        built = pathlib.Path(tmp) / target.name
        subprocess.run(
            [
                compiler,
                "-O3",
                "-shared",
                "-fPIC",
                "-o",
                str(built),
                *map(str, _SOURCES),
                "-lm",
            ],
            check=True,
            capture_output=True,
        )
        os.replace(built, target)  # atomic: parallel first uses race safely
    return target


@functools.cache
def library() -> ctypes.CDLL:
    """The scalar core's shared library, with its function signatures declared."""
    path = _installed()
    newest = max(p.stat().st_mtime for p in (*_SOURCES, *_HEADERS))
    if path is None or path.stat().st_mtime < newest:
        path = _compiled()
    lib = ctypes.CDLL(str(path))
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib
