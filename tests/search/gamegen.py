"""Random scalar and tensor DAGs (explicit Structure / IndexMap partials) for tests."""

from __future__ import annotations

import random

import numpy as np

from graphs.ir import Edge, Graph, Vertex
from graphs.structure import IndexMap, Structure


def scalar_dag(seed: int, num_inputs: int, num_nodes: int) -> Graph:
    """A random scalar DAG with some value-less copy edges and reused outputs."""
    rng = random.Random(seed)
    vertices = [Vertex(f"x{i}", "input") for i in range(num_inputs)]
    edges = []
    for j in range(num_nodes):
        vid = f"v{j}"
        ids = [v.id for v in vertices]
        srcs = rng.sample(ids, rng.randint(1, min(3, len(ids))))
        if ids[-1] not in srcs:
            srcs[0] = ids[-1]
        for src in srcs:
            copy = rng.random() < 0.1
            partial = Structure((), (), (), (), None) if copy else None
            edges.append(Edge(src, vid, partial))
        vertices.append(Vertex(vid, "node"))
    outputs = [f"v{num_nodes - 1}"] + [
        f"v{rng.randrange(num_nodes - 1)}" for _ in range(2)
    ]
    inputs = tuple(f"x{i}" for i in range(num_inputs))
    return Graph(tuple(vertices), inputs, tuple(outputs), tuple(edges))


def _random_partial(rng, out_shape, in_shape):
    if rng.random() < 0.15:
        n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
        index = tuple(rng.randrange(-1, n_in) for _ in range(n_out))
        return IndexMap(out_shape, in_shape, index)
    out_labels = tuple(range(len(out_shape)))
    in_labels, used, fresh = [], set(), len(out_shape)
    for d in in_shape:
        free = [o for o in out_labels if out_shape[o] == d and o not in used]
        if free and rng.random() < 0.6:
            used.add(o := rng.choice(free))
            in_labels.append(o)
        else:
            in_labels.append(fresh)
            fresh += 1
    labels = sorted(set(out_labels) | set(in_labels))
    core = None
    if rng.random() > 0.3:
        core = tuple(rng.sample(labels, rng.randint(0, len(labels))))
    return Structure(out_shape, in_shape, out_labels, tuple(in_labels), core)


def tensor_dag(seed: int, num_vertices: int) -> Graph:
    """Random shapes up to rank 3 (sizes 1-3), random pairs, cores and index maps."""
    rng = random.Random(seed)
    pool = [(), (2,), (3,), (1,), (2, 3), (3, 2), (2, 2), (3, 1, 2), (2, 2, 2)]
    num_inputs = rng.randint(1, 3)
    vertices, edges = [], []
    for i in range(num_vertices):
        shape = rng.choice(pool)
        if i < num_inputs:
            vertices.append(Vertex(f"v{i}", "input", shape=shape))
            continue
        for src in rng.sample(range(i), rng.randint(1, min(3, i))):
            partial = _random_partial(rng, shape, vertices[src].shape)
            edges.append(Edge(f"v{src}", f"v{i}", partial))
        vertices.append(Vertex(f"v{i}", "node", shape=shape))
    outputs = [f"v{num_vertices - 1}", f"v{rng.randrange(num_inputs, num_vertices)}"]
    inputs = tuple(f"v{i}" for i in range(num_inputs))
    return Graph(tuple(vertices), inputs, tuple(outputs), tuple(edges))
