"""The policy/value network: message passing over the elimination graph (Haiku).

The network reads a :class:`~search.game.GameState` directly and is not tied to
one graph size: each vertex becomes a token of local features (degrees, valued
degrees, Markowitz cost, shape and core sizes, flags), tokens exchange messages
along the graph's edges in both directions (dense ``[N, N]`` adjacency matmuls,
normalised by degree, padding masked out) plus a masked global mean, and the heads
give one logit per vertex (illegal actions masked) and one value: the predicted
scaled return-to-go ``-(remaining cost) / scale``. This is the only module that
imports Haiku.

Shape letters: ``B`` batch, ``N`` vertices, ``F`` features, ``H`` hidden size.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import msgpack

from search import game, heuristics
from search.codec import decode_array, encode_array
from search.game import GameState
from search.masking import masked_logits

#: Where the shipped model lives; :func:`load_params` returns ``None`` if absent.
DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default.msgpack"
FORMAT = "ccelim.net/1"
#: The Haiku version, for checkpoint metadata (only this module imports Haiku).
HAIKU_VERSION: str = hk.__version__
NUM_FEATURES = 22

Params = Any  # a Haiku parameter mapping
#: ``apply_fn(params, state) -> (logits [B, N] or [N], value [B] or [])``.
ApplyFn = Callable[[Params, GameState], tuple[jax.Array, jax.Array]]
InitFn = Callable[[jax.Array, GameState], Params]


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetConfig:
    """Network shape (changing any field changes the parameters).

    Attributes:
      hidden_size: width ``H`` of every vertex token.
      num_layers: message-passing rounds (the receptive field in edges).
      head_size: width of the hidden layer of the policy and value heads.
    """

    hidden_size: int = 64
    num_layers: int = 4
    head_size: int = 64


class LoadedModel(NamedTuple):
    """Parameters read from a file with the configuration they were trained with."""

    params: Params
    config: NetConfig
    metadata: dict[str, Any]


def vertex_features(state: GameState) -> jax.Array:
    """``[N, F]`` float32 token features of one (unbatched) state.

    Logs are of counts and sizes, divided so that typical values are O(1).
    """
    f32 = jnp.float32
    valid = state.valid
    legal = game.legal_mask(state)
    present = state.present
    valued = present & state.has_values
    deg_in, deg_out = present.sum(1), present.sum(0)
    val_in, val_out = valued.sum(1), valued.sum(0)
    marko = heuristics.markowitz(state).astype(f32)
    log_sizes = jnp.log(state.sizes.astype(f32))  # [N, R]
    vertex_log_size = log_sizes.sum(-1)
    # log core size of each edge [s, p]: core axes of s, plus unpaired core axes of p
    rank = state.pair.shape[-1]
    paired_in = jnp.any(state.pair[..., :, None] == jnp.arange(rank), axis=-2)
    edge_core = jnp.einsum("spo,so->sp", state.out_core.astype(f32), log_sizes)
    edge_core += jnp.einsum(
        "spj,pj->sp", (state.in_core & ~paired_in).astype(f32), log_sizes
    )
    edge_core = jnp.where(valued, edge_core, 0.0)
    mean_in = edge_core.sum(1) / jnp.maximum(val_in, 1)
    mean_out = edge_core.sum(0) / jnp.maximum(val_out, 1)
    index_in = (present & state.is_index_map).sum(1)
    index_out = (present & state.is_index_map).sum(0)
    max_marko = jnp.max(jnp.where(legal, marko, 0.0))
    num_legal = legal.sum()
    progress = state.eliminated.sum() / jnp.maximum(state.is_intermediate.sum(), 1)

    def log(x):
        return jnp.log1p(x.astype(f32)) / 4.0

    columns = [
        valid,
        state.is_input,
        state.is_output,
        state.is_intermediate,
        state.eliminated,
        legal,
        log(deg_in),
        log(deg_out),
        log(val_in),
        log(val_out),
        log(deg_in - val_in),
        log(deg_out - val_out),
        log(marko),
        marko / jnp.maximum(max_marko, 1.0),
        vertex_log_size / 8.0,
        state.rank / 4.0,
        mean_in / 8.0,
        mean_out / 8.0,
        log(index_in + index_out),
        jnp.broadcast_to(progress, valid.shape),
        jnp.broadcast_to(log(num_legal), valid.shape),
        jnp.broadcast_to(jnp.log(state.scale.astype(f32)) / 16.0, valid.shape),
    ]
    features = jnp.stack([c.astype(f32) for c in columns], axis=-1)
    return jnp.where(valid[:, None], features, 0.0)


def _aggregate(h: jax.Array, adjacency: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean over predecessors and over successors.

    ``adjacency[..., s, p]`` is 1 when there is an edge ``p -> s``, so row ``s``
    lists the predecessors of ``s`` and column ``p`` the successors of ``p``.

    Returns:
      ``(from_preds, from_succs)``, each ``[..., N, H]``.
    """
    deg_in = jnp.maximum(adjacency.sum(-1, keepdims=True), 1.0)
    deg_out = jnp.maximum(jnp.swapaxes(adjacency, -1, -2).sum(-1, keepdims=True), 1.0)
    from_preds = jnp.einsum("...sp,...ph->...sh", adjacency, h) / deg_in
    from_succs = jnp.einsum("...sp,...sh->...ph", adjacency, h) / deg_out
    return from_preds, from_succs


def _masked_mean(h: jax.Array, valid: jax.Array) -> jax.Array:
    """``[..., H]`` mean of ``h [..., N, H]`` over valid vertices."""
    weight = valid.astype(h.dtype)[..., None]
    return (h * weight).sum(-2) / jnp.maximum(weight.sum(-2), 1.0)


def _forward(config: NetConfig, state: GameState) -> tuple[jax.Array, jax.Array]:
    batched = state.present.ndim == 3
    if not batched:
        state = jax.tree.map(lambda x: x[None], state)
    features = jax.vmap(vertex_features)(state)  # [B, N, F]
    valid = state.valid
    mask = valid[..., None].astype(jnp.float32)
    adjacency = state.present.astype(jnp.float32)  # [B, N, N]
    h = hk.Linear(config.hidden_size, name="embed")(features) * mask
    for layer in range(config.num_layers):
        from_preds, from_succs = _aggregate(h, adjacency)
        pooled = jnp.broadcast_to(_masked_mean(h, valid)[..., None, :], h.shape)
        x = jnp.concatenate([h, from_preds, from_succs, pooled], axis=-1)
        x = hk.Linear(config.hidden_size, name=f"mix_{layer}")(x)
        x = hk.LayerNorm(-1, True, True, name=f"norm_{layer}")(jax.nn.gelu(x))
        h = (h + x) * mask
    policy = hk.nets.MLP([config.head_size, 1], activation=jax.nn.gelu, name="policy")
    logits = policy(h)[..., 0]
    logits = masked_logits(logits, jax.vmap(game.legal_mask)(state))
    pooled = jnp.concatenate(
        [_masked_mean(h, valid), jnp.max(jnp.where(mask > 0, h, -1e9), axis=-2)], -1
    )
    value_mlp = hk.nets.MLP([config.head_size, 1], activation=jax.nn.gelu, name="value")
    value = value_mlp(pooled)[..., 0]
    value = jnp.where(jax.vmap(game.is_terminal)(state), 0.0, value)
    if not batched:
        return logits[0], value[0]
    return logits, value


def make_network(config: NetConfig | None = None) -> tuple[InitFn, ApplyFn]:
    """``(init_fn, apply_fn)`` of the policy/value network.

    Args:
      config: the network's shape; default :class:`NetConfig()`.

    Returns:
      ``init_fn(rng_key, state) -> params`` and ``apply_fn(params, state) ->
      (logits, value)``. ``state`` is a :class:`GameState`, batched (leaves with a
      leading ``B``) or not; logits are ``[B, N]`` (or ``[N]``) with illegal
      actions masked to the dtype's minimum, value ``[B]`` (or ``[]``).

    Example:
      >>> init_fn, apply_fn = make_network(NetConfig(hidden_size=32))
      >>> params = init_fn(jax.random.key(0), game.encode(g))
      >>> logits, value = apply_fn(params, game.encode(g))
    """
    config = config or NetConfig()
    transformed = hk.without_apply_rng(
        hk.transform(lambda state: _forward(config, state))
    )
    return transformed.init, transformed.apply


def network_fns(config: NetConfig | None = None):
    """``(init_params(seed) -> params, apply_fn(params, states) -> (logits, value))``.

    What the learner, self-play and model export build the network with.
    Parameters do not depend on the bucket, so a small empty state initialises
    them.
    """
    init_fn, apply_fn = make_network(config)

    def init_params(seed: int) -> Params:
        return init_fn(jax.random.key(seed), game.empty_state(8, 0))

    return init_params, apply_fn


# ------------------------------------------------------------------ save / load


def _config_dict(config: NetConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def save_params(
    path: str | os.PathLike,
    params: Params,
    config: NetConfig,
    *,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Writes parameters, their config and JSON-able metadata as msgpack (no pickle).

    Returns:
      The path written (atomically: a temporary file renamed into place).
    """
    arrays = []
    for module, name, value in hk.data_structures.traverse(params):
        arrays.append({"module": module, "name": name, **encode_array(value)})
    document = {
        "format": FORMAT,
        "config": _config_dict(config),
        "metadata": json.loads(json.dumps(metadata or {})),
        "params": arrays,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(msgpack.packb(document, use_bin_type=True))
    os.replace(tmp, path)
    return path


def _expected_shapes(config: NetConfig) -> dict[tuple[str, str], tuple[int, ...]]:
    init_fn, _ = make_network(config)
    dummy = game.empty_state(8, 0)
    shapes = jax.eval_shape(init_fn, jax.random.key(0), dummy)
    return {
        (module, name): tuple(leaf.shape)
        for module, name, leaf in hk.data_structures.traverse(shapes)
    }


def load_params(
    path: str | os.PathLike | None = None, *, config: NetConfig | None = None
) -> LoadedModel | None:
    """Reads parameters written by :func:`save_params`.

    Args:
      path: the file; default :data:`DEFAULT_MODEL_PATH`, and ``None`` is returned
        when that default does not exist (search then uses a uniform prior).
      config: when given, the file's config must equal it.

    Returns:
      A :class:`LoadedModel`, or ``None`` for a missing default model.

    Raises:
      FileNotFoundError: an explicit path that does not exist.
      ValueError: not a ccelim network file, a config different from ``config``,
        or arrays that do not fit the file's own config.
    """
    if path is None:
        if not DEFAULT_MODEL_PATH.exists():
            return None
        path = DEFAULT_MODEL_PATH
    path = Path(path)
    document = msgpack.unpackb(path.read_bytes(), raw=False)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a ccelim network file (expected format {FORMAT!r}); "
            "write one with search.net.save_params"
        )
    stored = document["config"]
    known = {f.name for f in dataclasses.fields(NetConfig)}
    if set(stored) != known:
        raise ValueError(
            f"{path} has network config fields {sorted(stored)}, expected "
            f"{sorted(known)}; it was written by another version of search.net"
        )
    file_config = NetConfig(**stored)
    if config is not None and file_config != config:
        diff = {
            k: (stored[k], v) for k, v in _config_dict(config).items() if stored[k] != v
        }
        raise ValueError(
            f"{path} holds a network with a different config: (file, requested) = "
            f"{diff}; load it with config={file_config} or retrain"
        )
    params: dict[str, dict[str, jax.Array]] = {}
    for record in document["params"]:
        array = jnp.asarray(decode_array(record))
        params.setdefault(record["module"], {})[record["name"]] = array
    expected = _expected_shapes(file_config)
    got = {(m, n): tuple(v.shape) for m in params for n, v in params[m].items()}
    if got != expected:
        wrong = sorted(set(got.items()) ^ set(expected.items()))
        raise ValueError(
            f"{path}: parameters do not fit config {file_config}: mismatched "
            f"(module, name), shape entries {wrong[:6]}"
        )
    return LoadedModel(params, file_config, document.get("metadata", {}))


__all__ = [
    "DEFAULT_MODEL_PATH",
    "LoadedModel",
    "NetConfig",
    "load_params",
    "make_network",
    "masked_logits",
    "network_fns",
    "save_params",
    "vertex_features",
]
