"""Primitive parameters as JSON-able, hashable values, and back.

Tuples stand for JSON lists (so a Vertex stays hashable); dtypes become
``"dtype:<name>"`` strings; lax enums become ``"enum:<Class>.<NAME>"``; lax's
named tuples (``ConvDimensionNumbers``, ``GatherDimensionNumbers``) become lists
whose first element is ``"lax:<Class>"``.
Anything else is refused: a graph document never carries code or pickles.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from graphs.errors import GraphError

_DTYPE = "dtype:"
_ENUM = "enum:"
_LAX = "lax:"


def _lax_modules() -> tuple:
    from jax import lax
    from jax.lax import linalg

    return (lax, linalg)


def _enum_classes() -> dict[str, type[enum.Enum]]:
    classes = {}
    for module in _lax_modules():
        for name in dir(module):
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, enum.Enum):
                classes.setdefault(name, cls)
    return classes


def _lax_class(name: str) -> type | None:
    for module in _lax_modules():
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields"):
            return cls
    return None


def encode(value: Any, *, where: str = "param") -> Any:
    """A JSON-able, hashable form of a primitive parameter value."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.dtype):
        return _DTYPE + value.name
    if isinstance(value, type) and issubclass(value, np.generic):
        return _DTYPE + np.dtype(value).name
    if isinstance(value, enum.Enum):
        return f"{_ENUM}{type(value).__name__}.{value.name}"
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        name = type(value).__name__
        if _lax_class(name) is type(value):
            return (_LAX + name,) + tuple(encode(v, where=where) for v in value)
    if isinstance(value, tuple | list):
        return tuple(encode(v, where=where) for v in value)
    if hasattr(value, "dtype") and type(value).__name__ in ("dtype",):
        return _DTYPE + np.dtype(value).name
    try:
        return _DTYPE + np.dtype(value).name
    except TypeError:
        pass
    raise GraphError(
        f"{where}: a parameter of type {type(value).__name__} cannot be stored in a "
        "graph document; only numbers, strings, booleans, dtypes and lists are"
    )


def decode(value: Any) -> Any:
    """The value a primitive's ``bind`` expects, from :func:`encode`'s form."""
    if isinstance(value, str):
        if value.startswith(_DTYPE):
            return np.dtype(value[len(_DTYPE) :])
        if value.startswith(_ENUM):
            cls_name, _, member = value[len(_ENUM) :].partition(".")
            cls = _enum_classes().get(cls_name)
            if cls is None:
                raise GraphError(f"unknown enum parameter {value!r}")
            return cls[member]
        return value
    if isinstance(value, tuple | list):
        if value and isinstance(value[0], str) and value[0].startswith(_LAX):
            cls = _lax_class(value[0][len(_LAX) :])
            if cls is None:
                raise GraphError(f"unknown lax parameter type {value[0]!r}")
            return cls(*(decode(v) for v in value[1:]))
        return tuple(decode(v) for v in value)
    return value


def encode_all(params: dict[str, Any], *, where: str) -> tuple[tuple[str, Any], ...]:
    return tuple((k, encode(params[k], where=f"{where}.{k}")) for k in sorted(params))


def decode_all(params: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {k: decode(v) for k, v in params}
