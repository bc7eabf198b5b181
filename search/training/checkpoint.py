"""Training checkpoints: a :class:`~search.training.learner.TrainState` in msgpack, no pickle.

A checkpoint file ``ckpt_<step>.msgpack`` holds a map with ``format``,
``metadata`` (step, network config, library versions, validation score, anything
else JSON-able) and ``leaves``: every array of the state as ``{path, dtype,
shape, data}``, keyed by its pytree path. Loading rebuilds the state on the
structure of a template (a freshly initialised state of the same network), so a
checkpoint never executes code, and a network configuration that does not match
is rejected with an error that names the differences.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import jax
import msgpack
import numpy as np

from search.codec import CodecError, decode_tree, encode_tree

FORMAT = "ccelim.checkpoint/1"
_NAME = re.compile(r"^ckpt_(\d+)\.msgpack$")


class CheckpointError(CodecError):
    """A checkpoint that cannot be loaded into the requested state."""


def versions() -> dict[str, str]:
    """Versions of the libraries whose numerics a checkpoint depends on."""
    import jaxlib
    import optax

    from search.net import HAIKU_VERSION

    return {
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "haiku": HAIKU_VERSION,
        "optax": optax.__version__,
        "numpy": np.__version__,
    }


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass (or mapping) as a JSON-normalised dict, for comparisons."""
    raw = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    return json.loads(json.dumps(raw, sort_keys=True, default=list))


def _write_atomic(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(
    directory: str | os.PathLike,
    state: Any,
    *,
    net_config: Any,
    metadata: dict[str, Any] | None = None,
    keep: int = 3,
) -> Path:
    """Writes ``state`` (a ``TrainState``) as ``ckpt_<step>.msgpack`` atomically.

    Args:
      directory: the run directory (created when missing).
      state: the learner state; ``state.step`` names the file.
      net_config: the network configuration (a dataclass), stored for the check
        on load.
      metadata: extra JSON-able entries (validation score, training config, ...).
      keep: how many newest checkpoints to keep; older ones are deleted.

    Returns:
      The path written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    step = int(np.asarray(state.step))
    meta = dict(metadata or {})
    meta.update(step=step, net_config=config_dict(net_config), versions=versions())
    payload = msgpack.packb(
        {
            "format": FORMAT,
            "metadata": json.loads(json.dumps(meta, default=str)),
            "params": encode_tree(state.params),
            "opt_state": encode_tree(state.opt_state),
        },
        use_bin_type=True,
    )
    path = directory / f"ckpt_{step:08d}.msgpack"
    _write_atomic(path, payload)
    for old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Checkpoint files of a run directory, oldest step first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def latest(directory: str | os.PathLike) -> Path | None:
    """The newest checkpoint of a run directory, or ``None``."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def read(path: str | os.PathLike) -> dict[str, Any]:
    """The raw checkpoint map (arrays still as records)."""
    with open(path, "rb") as handle:
        raw = msgpack.unpackb(handle.read(), raw=False)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise CheckpointError(
            f"{path}: expected a {FORMAT!r} checkpoint, got format {got!r}"
        )
    return raw


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a checkpoint file."""
    return read(path)["metadata"]


def check_config(stored: dict[str, Any], net_config: Any, *, source: str) -> None:
    """Raises :class:`CheckpointError` when ``stored`` differs from ``net_config``."""
    want = config_dict(net_config)
    if stored != want:
        keys = sorted(set(stored) | set(want))
        diff = ", ".join(
            f"{k}: checkpoint {stored.get(k)!r} vs requested {want.get(k)!r}"
            for k in keys
            if stored.get(k) != want.get(k)
        )
        raise CheckpointError(
            f"{source} was trained with a different network configuration ({diff}); "
            "build the network with the checkpoint's config "
            "(read_metadata(path)['net_config']) or start a fresh run"
        )


def load(
    path: str | os.PathLike, template: Any, *, net_config: Any
) -> tuple[Any, dict[str, Any]]:
    """Loads a checkpoint into the structure of ``template`` (a ``TrainState``).

    Args:
      path: a checkpoint file.
      template: a freshly initialised state of the same network and optimiser.
      net_config: the configuration the caller built the network with.

    Returns:
      ``(state, metadata)``.

    Raises:
      CheckpointError: the file is not a checkpoint, or its network
        configuration or arrays do not match.
    """
    return restore(read(path), template, net_config=net_config, source=str(path))


def restore(
    raw: dict[str, Any], template: Any, *, net_config: Any, source: str = "checkpoint"
) -> tuple[Any, dict[str, Any]]:
    """:func:`load` on an already read checkpoint map (see :func:`read`)."""
    check_config(raw["metadata"]["net_config"], net_config, source=source)
    try:
        params = decode_tree(raw["params"], template.params, what=f"{source} params")
        opt_state = decode_tree(
            raw["opt_state"], template.opt_state, what=f"{source} optimiser state"
        )
    except CodecError as error:
        raise CheckpointError(str(error)) from None
    step = np.asarray(raw["metadata"]["step"], np.int32)
    return type(template)(params, opt_state, step), raw["metadata"]


__all__ = [
    "FORMAT",
    "CheckpointError",
    "check_config",
    "config_dict",
    "latest",
    "list_checkpoints",
    "load",
    "read",
    "read_metadata",
    "restore",
    "save",
    "versions",
]
