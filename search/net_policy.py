"""The constructive policy's scoring network (Haiku) and its model file.

One score per vertex from that vertex's feature row (``search.policy``: the
vertex's current degrees and Markowitz cost, its static graph features and one
message-passing pass of neighbour means over the original graph). Because a row
depends only on the vertex's own adjacency, eliminating a vertex changes the rows
of its neighbours only, and the policy rescores just those.

``score = markowitz_weight * (-log1p(markowitz)) + MLP(row)``: the learned
scalar starts the untrained policy at Markowitz's rule and the MLP learns the
corrections. Training runs the Haiku function; :class:`PolicyWeights` runs the
same arithmetic in numpy for inference (a handful of rows a step, where numpy's
call overhead is far below a jitted call's; see ``benchmarks/policy.py``).

Shape letters: ``R`` rows (vertices), ``F`` features, ``H`` hidden size.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import msgpack
import numpy as np

from search.codec import decode_tree, encode_tree

#: The shipped policy; :func:`load_policy_weights` returns ``None`` if absent.
DEFAULT_POLICY_PATH = Path(__file__).parent / "models" / "policy.msgpack"
FORMAT = "ccelim.policy/1"
HAIKU_VERSION: str = hk.__version__
#: Column of ``log1p(markowitz)`` in a feature row (``search.policy``).
MARKOWITZ_COLUMN = 2

Params = Any
#: ``apply_fn(params, rows [R, F]) -> scores [R]``.
ScoreFn = Callable[[Params, jax.Array], jax.Array]


def _forward(rows: jax.Array, hidden: tuple[int, ...]) -> jax.Array:
    weight = hk.get_parameter(
        "markowitz_weight", (), rows.dtype, init=hk.initializers.Constant(1.0)
    )
    mlp = hk.nets.MLP([*hidden, 1], activation=jax.nn.relu, name="mlp")
    return mlp(rows)[:, 0] - weight * rows[:, MARKOWITZ_COLUMN]


def policy_network(
    hidden: tuple[int, ...] = (32, 32),
) -> tuple[Callable[[jax.Array, jax.Array], Params], ScoreFn]:
    """``(init_fn(rng_key, rows [R, F]), apply_fn(params, rows) -> [R])``."""
    net = hk.without_apply_rng(hk.transform(lambda rows: _forward(rows, hidden)))
    return net.init, net.apply


class PolicyWeights(NamedTuple):
    """The network's arrays for numpy inference.

    Attributes:
      layers: ``(w [in, out], b [out])`` per MLP layer, the last of width 1.
      markowitz_weight: the learned weight of ``-log1p(markowitz)``.
      metadata: how the weights were made (training command, time, versions).
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    markowitz_weight: float
    metadata: dict[str, Any]

    def scores(self, rows: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
        """``[R]`` scores of ``rows [R, F]``; ``first [R, H]`` (optional) replaces
        the first layer's product for the rows' columns that
        :meth:`split_first` moved out (their part precomputed)."""
        (w, b), *rest = self.layers
        h = rows @ w
        h += b if first is None else first
        for w, b in rest:
            np.maximum(h, 0.0, out=h)
            h = h @ w
            h += b
        return h[:, 0] - self.markowitz_weight * rows[:, MARKOWITZ_COLUMN]

    def split_first(
        self, num_dynamic: int, static: np.ndarray
    ) -> tuple[PolicyWeights, np.ndarray]:
        """Weights that read only the first ``num_dynamic`` columns, and the
        first-layer part of the static columns ``static [R, F - num_dynamic]``
        (plus the bias) for :meth:`scores`' ``first``."""
        (w, b), *rest = self.layers
        first = static @ w[num_dynamic:] + b
        return self._replace(layers=((w[:num_dynamic], b), *rest)), first


def params_to_weights(params: Params, metadata: dict | None = None) -> PolicyWeights:
    """The Haiku parameters as :class:`PolicyWeights`."""
    names = sorted(
        (k for k in params if k.startswith("mlp/")),
        key=lambda k: int(k.rsplit("_", 1)[1]),
    )
    layers = tuple(
        (
            np.asarray(params[k]["w"], np.float64),
            np.asarray(params[k]["b"], np.float64),
        )
        for k in names
    )
    weight = float(params["~"]["markowitz_weight"])
    return PolicyWeights(layers, weight, dict(metadata or {}))


def save_policy(
    path: str | Path, params: Params, *, hidden: tuple[int, ...], metadata: dict
) -> None:
    """Writes a policy model file (msgpack: format, hidden sizes, metadata, arrays)."""
    document = {
        "format": FORMAT,
        "hidden": list(hidden),
        "metadata": json.dumps(metadata),
        "arrays": encode_tree(jax.device_get(params)),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(msgpack.packb(document, use_bin_type=True))


def load_policy(path: str | Path, num_features: int) -> tuple[Params, tuple, dict]:
    """``(params, hidden, metadata)`` of a policy model file."""
    document = msgpack.unpackb(Path(path).read_bytes(), raw=False)
    if document.get("format") != FORMAT:
        raise ValueError(
            f"{path}: expected a {FORMAT} model file, got format "
            f"{document.get('format')!r}; write it with ccelim train-policy"
        )
    hidden = tuple(document["hidden"])
    init_fn, _ = policy_network(hidden)
    template = jax.eval_shape(
        init_fn, jax.random.key(0), jnp.zeros((1, num_features), jnp.float32)
    )
    params = decode_tree(document["arrays"], template, what=str(path))
    return params, hidden, json.loads(document["metadata"])
