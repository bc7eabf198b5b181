"""Export of a training checkpoint as a ``search.net`` model file.

The model file is what ``search.net.load_params`` reads (e.g. the shipped
``search/models/default.msgpack``); ``ccelim train --export`` writes one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from search.codec import decode_tree
from search.training import checkpoint
from search.training.trainconfig import config_from_dict


def export_model(
    checkpoint_path: str | os.PathLike,
    model_path: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Writes a checkpoint's parameters as a ``search.net`` model file.

    The model file (what ``search.net.load_params`` reads, e.g. the shipped
    ``search/models/default.msgpack``) keeps the network config and the run's
    metadata: step, validation score, command, hardware, time and versions, plus
    ``metadata`` (JSON-able) when given.
    """
    from search.net import NetConfig, network_fns, save_params

    raw = checkpoint.read(checkpoint_path)
    meta = raw["metadata"]
    net_config = config_from_dict(NetConfig, meta["net_config"])
    init_params, _ = network_fns(net_config)
    params = decode_tree(
        raw["params"], init_params(0), what=f"{checkpoint_path} params"
    )
    keep = (
        "step",
        "validation_score",
        "validation_simulations",
        "command",
        "hardware",
        "elapsed_s",
        "games",
        "total_elapsed_s",
        "total_games",
        "versions",
        "train_config",
    )
    info = {k: meta[k] for k in keep if k in meta}
    info["checkpoint"] = Path(checkpoint_path).name
    info.update(metadata or {})
    return save_params(model_path, params, net_config, metadata=info)


__all__ = ["export_model"]
