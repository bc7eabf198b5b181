"""One codec for arrays and pytrees in msgpack documents (model files, checkpoints).

An array is stored as a record ``{"dtype", "shape", "data"}`` (raw bytes, no
pickle); a pytree as its arrays' records in flattening order, each with its
``jax.tree_util.keystr`` path so that a mismatched template is caught. The model
file (:mod:`search.net`) adds Haiku's module/name keys to each record; checkpoints
(:mod:`search.training.checkpoint`) use :func:`encode_tree`/:func:`decode_tree`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


class CodecError(ValueError):
    """Stored arrays do not fit the structure they are read into."""


def encode_array(value: Any) -> dict[str, Any]:
    """One array as a msgpack-able record (dtype string, shape, raw bytes)."""
    array = np.asarray(value)
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "data": np.ascontiguousarray(array).tobytes(),
    }


def decode_array(record: dict[str, Any]) -> np.ndarray:
    """The array of :func:`encode_array`'s record (a writable copy)."""
    array = np.frombuffer(record["data"], dtype=np.dtype(record["dtype"]))
    return array.reshape(record["shape"]).copy()


def encode_tree(tree: Any) -> list[dict[str, Any]]:
    """The arrays of a pytree as records with their paths, in flattening order."""
    return [
        {"path": jax.tree_util.keystr(path), **encode_array(leaf)}
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
    ]


def decode_tree(records: list[dict[str, Any]], template: Any, *, what: str) -> Any:
    """Rebuilds a pytree with ``template``'s structure from :func:`encode_tree`.

    Args:
      records: the stored records.
      template: a pytree of the expected structure (arrays or shape structs).
      what: names the document in error messages.

    Raises:
      CodecError: when paths, shapes or the number of arrays differ.
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    if len(flat) != len(records):
        raise CodecError(
            f"{what}: expected {len(flat)} arrays, the file has {len(records)}; "
            "it was written for a different network or optimiser"
        )
    leaves = []
    for (path, leaf), record in zip(flat, records, strict=True):
        want, key = tuple(np.shape(leaf)), jax.tree_util.keystr(path)
        if record["path"] != key or tuple(record["shape"]) != want:
            raise CodecError(
                f"{what}: expected array {key} of shape {want}, got "
                f"{record['path']} of shape {tuple(record['shape'])}; it was written "
                "for a different network or optimiser"
            )
        leaves.append(decode_array(record))
    return jax.tree_util.tree_unflatten(treedef, leaves)
