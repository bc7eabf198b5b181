"""Small random structure-only graphs for the search tests (scalar and tensor)."""

from __future__ import annotations

import random

from graphs import structure as st
from graphs.ir import Edge, Graph, Vertex


def random_graph(
    seed: int,
    *,
    num_inputs: int = 3,
    num_nodes: int = 8,
    num_outputs: int = 2,
    valueless: float = 0.15,
    tensor: bool = False,
) -> Graph:
    """A random DAG; some edges have no values, some outputs feed later vertices.

    Args:
      seed: the random seed.
      num_inputs, num_nodes, num_outputs: sizes.
      valueless: probability that an edge is a value-less copy.
      tensor: give vertices vector shapes and edges diagonal / dense partials.

    Returns:
      A structure-only :class:`Graph`.
    """
    rng = random.Random(seed)
    shape_of: dict[str, tuple[int, ...]] = {}
    vertices = []
    for i in range(num_inputs):
        vid = f"x{i}"
        shape_of[vid] = (rng.choice((1, 2, 3)),) if tensor else ()
        vertices.append(Vertex(vid, "input", shape=shape_of[vid]))
    edges = []
    ids = [v.id for v in vertices]
    for j in range(num_nodes):
        vid = f"v{j}"
        shape = (rng.choice((1, 2, 3)),) if tensor else ()
        shape_of[vid] = shape
        k = rng.choice((1, 1, 2, 2, 3))
        srcs = rng.sample(ids, min(k, len(ids)))
        # Prefer recent vertices so that the graph is deep, not a star.
        if rng.random() < 0.7 and ids[-1] not in srcs:
            srcs[0] = ids[-1]
        for src in srcs:
            edges.append(Edge(src, vid, _partial(rng, shape, shape_of[src], valueless)))
        vertices.append(Vertex(vid, "node", shape=shape))
        ids.append(vid)
    nodes = [f"v{j}" for j in range(num_nodes)]
    outputs = [nodes[-1]] + rng.sample(nodes[:-1], min(num_outputs - 1, len(nodes) - 1))
    inputs = tuple(f"x{i}" for i in range(num_inputs))
    return Graph(tuple(vertices), inputs, tuple(outputs), tuple(edges), name=f"r{seed}")


def _partial(rng, out_shape, in_shape, valueless):
    if rng.random() < valueless and out_shape == in_shape:
        return st.identity(out_shape)
    if out_shape and out_shape == in_shape and rng.random() < 0.5:
        return st.identity(out_shape, values=True)
    return None
