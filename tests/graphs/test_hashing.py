"""canonical_hash and isomorphism: invariant under renaming, sensitive to changes."""

import dataclasses
import random
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphs
from graphs import Edge, Graph, Literal, Structure, Vertex, hashing

MINIMAL = {
    "format": "ccelim.graph/1",
    "inputs": ["x0", "x1"],
    "outputs": ["y"],
    "edges": [["x0", "v"], ["x1", "v"], ["v", "y"]],
}

# --------------------------------------------------------------------- generators


def _random_structure(rng: random.Random, *, vector: bool = False) -> Graph:
    """A random DAG edge list; with ``vector`` some vertices are vectors."""
    n_in = rng.randint(1, 3)
    n = n_in + rng.randint(1, 12)
    ids = [f"v{i}" for i in range(n)]
    shapes = [(3,) if vector and rng.random() < 0.5 else () for _ in ids]
    edges = []
    for j in range(n_in, n):
        for i in sorted(rng.sample(range(j), min(j, rng.randint(1, 3)))):
            partial = None
            if vector and shapes[i] == shapes[j] == (3,) and rng.random() < 0.5:
                partial = Structure(
                    (3,), (3,), (0,), (0,), (0,) if rng.random() < 0.5 else None
                )
            edges.append(Edge(ids[i], ids[j], partial))
    outputs = tuple(rng.choice(ids) for _ in range(rng.randint(1, 3)))
    vertices = tuple(
        Vertex(vid, "input" if k < n_in else "node", shape=shapes[k])
        for k, vid in enumerate(ids)
    )
    return Graph(vertices, tuple(ids[:n_in]), outputs, tuple(edges))


def _random_program(rng: random.Random) -> Graph:
    """A random elementwise program over (3,)-vectors, ending in a reduction."""
    n_in = rng.randint(1, 3)
    vertices = [Vertex(f"x{i}", "input", shape=(3,)) for i in range(n_in)]
    for j in range(rng.randint(1, 12)):
        op = rng.choice(["sin", "exp", "add", "sub", "mul", "div"])
        arity = 1 if op in ("sin", "exp") else 2
        operands = [rng.choice(vertices).id for _ in range(arity)]
        if arity == 2 and rng.random() < 0.3:
            operands[rng.randrange(2)] = Literal(rng.choice([0.5, 2.0, 3.0]))
        vertices.append(Vertex(f"t{j}", op, tuple(operands), shape=(3,)))
    vertices.append(Vertex("r", "reduce_sum", (vertices[-1].id,), (("axes", (0,)),)))
    outputs = ("r",) + tuple(rng.choice(vertices).id for _ in range(rng.randint(0, 2)))
    return Graph(tuple(vertices), tuple(v.id for v in vertices[:n_in]), outputs)


def _renamed(g: Graph, rng: random.Random) -> tuple[Graph, dict[str, str]]:
    """``g`` with new ids, vertices in a random topological order, edges shuffled."""
    new_ids = [f"n{k}" for k in range(len(g.vertices))]
    rng.shuffle(new_ids)
    name = {v.id: new_ids[k] for k, v in enumerate(g.vertices)}
    preds: dict[str, list[str]] = {v.id: [] for v in g.vertices}
    if g.is_program:
        for v in g.vertices:
            preds[v.id] = [o for o in v.operands if isinstance(o, str)]
    else:
        for e in g.edges:
            preds[e.dst].append(e.src)
    order, done = [], set()
    while len(order) < len(g.vertices):
        ready = [v for v in g.vertices if v.id not in done and set(preds[v.id]) <= done]
        pick = rng.choice(ready)
        order.append(pick)
        done.add(pick.id)

    def rename_vertex(v: Vertex) -> Vertex:
        operands = tuple(name[o] if isinstance(o, str) else o for o in v.operands)
        return dataclasses.replace(v, id=name[v.id], operands=operands)

    edges = None
    if not g.is_program:
        edges = [Edge(name[e.src], name[e.dst], e.partial) for e in g.edges]
        rng.shuffle(edges)
        edges = tuple(edges)
    renamed = Graph(
        tuple(rename_vertex(v) for v in order),
        tuple(name[x] for x in g.inputs),
        tuple(name[x] for x in g.outputs),
        edges,
        name="renamed",
        signature=tuple(tuple(name[x] for x in leaves) for leaves in g.signature),
    )
    return renamed, name


def _edge_multiset(g: Graph, mapping=None) -> Counter:
    m = mapping or {}
    if g.is_program:
        return Counter(
            (m.get(o, o), m.get(v.id, v.id), j)
            for v in g.vertices
            for j, o in enumerate(v.operands)
            if isinstance(o, str)
        )
    return Counter(
        (m.get(e.src, e.src), m.get(e.dst, e.dst), e.partial) for e in g.edges
    )


def _assert_is_isomorphism(a: Graph, b: Graph, mapping: dict[str, str]) -> None:
    assert sorted(mapping) == sorted(v.id for v in a.vertices)
    assert sorted(mapping.values()) == sorted(v.id for v in b.vertices)
    assert tuple(mapping[x] for x in a.inputs) == b.inputs
    assert tuple(mapping[x] for x in a.outputs) == b.outputs
    assert _edge_multiset(a, mapping) == _edge_multiset(b)
    for v in a.vertices:
        w = b.vertex(mapping[v.id])
        assert (v.op, v.shape, v.dtype, v.params) == (w.op, w.shape, w.dtype, w.params)


# ----------------------------------------------------------------------- invariance


def test_hash_has_a_prefix_and_64_hex_digits():
    h = graphs.canonical_hash(graphs.load(MINIMAL))
    assert re.fullmatch(r"g1-[0-9a-f]{64}", h)


def test_hash_of_the_minimal_example_is_pinned():
    # Cache keys are stored: if this value changes, stored orders are lost. Change
    # the "g1-" prefix (a new hash version) when changing the algorithm on purpose.
    h = graphs.canonical_hash(graphs.load(MINIMAL))
    assert h == "g1-544c10cdb2d4d9a53b1cb68c88324c35551dc819222265d3417efe2a3443c21a"


def test_renamed_minimal_example_has_the_same_hash_and_a_mapping():
    a = graphs.load(MINIMAL)
    b = graphs.load(
        {
            "format": "ccelim.graph/1",
            "inputs": ["p", "q"],
            "outputs": ["out"],
            "edges": [["mid", "out"], ["q", "mid"], ["p", "mid"]],
        }
    )
    assert graphs.canonical_hash(a) == graphs.canonical_hash(b)
    assert graphs.isomorphism(a, b) == {"x0": "p", "x1": "q", "v": "mid", "y": "out"}
    assert graphs.isomorphic(b, a)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), vector=st.booleans())
def test_structure_hash_ignores_renaming_and_reordering(seed, vector):
    rng = random.Random(seed)
    g = _random_structure(rng, vector=vector)
    h, _ = _renamed(g, rng)
    assert graphs.canonical_hash(g) == graphs.canonical_hash(h)
    mapping = graphs.isomorphism(g, h)
    assert mapping is not None
    _assert_is_isomorphism(g, h, mapping)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_program_hash_ignores_renaming_and_reordering(seed):
    rng = random.Random(seed)
    g = _random_program(rng)
    h, _ = _renamed(g, rng)
    assert graphs.load(h.to_json()) == h  # the renamed program is still valid
    assert graphs.canonical_hash(g) == graphs.canonical_hash(h)
    mapping = graphs.isomorphism(g, h)
    assert mapping is not None
    _assert_is_isomorphism(g, h, mapping)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_different_random_graphs_are_told_apart(seed):
    rng = random.Random(seed)
    a, b = _random_structure(rng), _random_structure(rng)
    same = graphs.isomorphic(a, b)
    assert (graphs.canonical_hash(a) == graphs.canonical_hash(b)) == same


def _doubled(g: Graph, copies: int) -> Graph:
    """``copies`` copies of ``g``'s non-inputs on shared inputs, summed into "y"."""
    inputs = set(g.inputs)
    vertices = [v for v in g.vertices if v.id in inputs]
    edges = []
    has_succ = {e.src for e in g.edges}
    for c in range(copies):
        name = {v.id: v.id if v.id in inputs else f"{v.id}c{c}" for v in g.vertices}
        vertices += [
            dataclasses.replace(v, id=name[v.id])
            for v in g.vertices
            if v.id not in inputs
        ]
        edges += [Edge(name[e.src], name[e.dst], e.partial) for e in g.edges]
        edges += [
            Edge(name[v.id], "y")
            for v in g.vertices
            if v.id not in has_succ and v.id not in inputs and not v.shape
        ]
    vertices.append(Vertex("y", "node"))
    return Graph(tuple(vertices), g.inputs, ("y",), tuple(edges))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), copies=st.integers(2, 4))
def test_hash_of_graphs_with_symmetric_copies_ignores_renaming(seed, copies):
    rng = random.Random(seed)
    g = _doubled(_random_structure(rng), copies)
    h, _ = _renamed(g, rng)
    assert graphs.canonical_hash(g) == graphs.canonical_hash(h)
    _assert_is_isomorphism(g, h, graphs.isomorphism(g, h))
    fewer = _doubled(_random_structure(random.Random(seed)), copies - 1)
    assert graphs.canonical_hash(fewer) != graphs.canonical_hash(g)


def test_name_is_not_part_of_the_hash():
    g = graphs.load(MINIMAL)
    assert graphs.canonical_hash(g) == graphs.canonical_hash(
        dataclasses.replace(g, name="x")
    )


@pytest.mark.parametrize("name", sorted(__import__("graphs.tasks").tasks.TASKS))
def test_task_hash_ignores_renaming(name):
    from graphs import tasks

    g = tasks.get(name).graph()
    h, _ = _renamed(g, random.Random(7))
    assert graphs.canonical_hash(g) == graphs.canonical_hash(h)
    _assert_is_isomorphism(g, h, graphs.isomorphism(g, h))
    s = g.to_structure()
    assert graphs.canonical_hash(s) == graphs.canonical_hash(
        _renamed(s, random.Random(8))[0]
    )
    assert graphs.canonical_hash(s) != graphs.canonical_hash(g)


# ----------------------------------------------------------------------- symmetry


def _branches(k: int, length: int, rng: random.Random | None = None) -> Graph:
    """x -> k identical chains of ``length`` vertices -> y."""
    edges = []
    for i in range(k):
        chain = ["x"] + [f"b{i}_{j}" for j in range(length)] + ["y"]
        edges += [[a, b] for a, b in zip(chain, chain[1:], strict=False)]
    if rng is not None:
        rng.shuffle(edges)
    return graphs.load(
        {"format": "ccelim.graph/1", "inputs": ["x"], "outputs": ["y"], "edges": edges}
    )


@pytest.mark.parametrize("length", [1, 2, 3])
def test_symmetric_branches_hash_the_same_in_any_order(length):
    a = _branches(8, length)
    b, _ = _renamed(_branches(8, length, random.Random(1)), random.Random(2))
    assert graphs.canonical_hash(a) == graphs.canonical_hash(b)
    assert graphs.canonical_hash(a).startswith("g1-")
    _assert_is_isomorphism(a, b, graphs.isomorphism(a, b))
    assert graphs.canonical_hash(a) != graphs.canonical_hash(_branches(7, length))


def _bipartite(pairs) -> Graph:
    edges = [["x", f"a{i}"] for i in range(6)] + [[f"b{i}", "y"] for i in range(6)]
    edges += [[f"a{i}", f"b{j}"] for i, j in pairs]
    return graphs.load(
        {"format": "ccelim.graph/1", "inputs": ["x"], "outputs": ["y"], "edges": edges}
    )


def test_graphs_that_colour_refinement_cannot_tell_apart_are_told_apart():
    # One 12-cycle between the layers versus two 6-cycles: every vertex of a layer
    # has the same degrees and neighbour colours, so only individualization can
    # separate them.
    one = _bipartite([(i, i) for i in range(6)] + [(i, (i + 1) % 6) for i in range(6)])
    two = _bipartite(
        [(i, i) for i in range(6)] + [(i, (i + 1) % 3 + 3 * (i // 3)) for i in range(6)]
    )
    assert not graphs.isomorphic(one, two)
    assert graphs.canonical_hash(one) != graphs.canonical_hash(two)
    shuffled, _ = _renamed(one, random.Random(3))
    assert graphs.canonical_hash(one) == graphs.canonical_hash(shuffled)
    assert graphs.isomorphic(one, shuffled)


def test_search_budget_falls_back_to_an_invariant_weak_hash(monkeypatch):
    monkeypatch.setattr(hashing, "SEARCH_BUDGET", 0)
    a = _branches(6, 2)
    b, _ = _renamed(_branches(6, 2, random.Random(4)), random.Random(5))
    assert graphs.canonical_hash(a).startswith("g1w-")
    assert graphs.canonical_hash(a) == graphs.canonical_hash(b)
    assert graphs.isomorphic(a, b)  # the exact check does not depend on the hash


def _cycle_pair(n: int, halves: bool) -> Graph:
    """x -> a_i -> b_i -> y with a_next(i) -> b_i: one n-cycle or two n/2-cycles
    between the layers (colour refinement cannot tell them apart)."""
    h = n // 2 if halves else n
    edges = [["x", f"a{i}"] for i in range(n)] + [[f"b{i}", "y"] for i in range(n)]
    for i in range(n):
        edges += [[f"a{i}", f"b{i}"], [f"a{(i + 1) % h + h * (i // h)}", f"b{i}"]]
    return graphs.load(
        {"format": "ccelim.graph/1", "inputs": ["x"], "outputs": ["y"], "edges": edges}
    )


def test_hashing_and_isomorphism_stop_at_their_work_bounds():
    # 400 vertices per layer: the canonical search passes its budget, so both get
    # the same weak hash; the isomorphism search gives up (None) within its bound.
    one, two = _cycle_pair(400, False), _cycle_pair(400, True)
    a, b = graphs.canonical_form(one), graphs.canonical_form(two)
    assert a.is_weak and b.is_weak and a.order is None
    assert a.hash == b.hash and a.hash.startswith("g1w-")
    assert graphs.isomorphism(one, two, max_work=50_000) is None


def test_canonical_labelling_maps_renamed_graphs_onto_each_other():
    g = _random_structure(random.Random(11))
    h, _ = _renamed(g, random.Random(12))
    a, b = graphs.canonical_form(g), graphs.canonical_form(h)
    assert a.hash == b.hash and not a.is_weak
    _assert_is_isomorphism(g, h, dict(zip(a.order, b.order, strict=True)))


# --------------------------------------------------------------- sensitivity


def _program() -> Graph:
    return Graph(
        (
            Vertex("x", "input", shape=(3,)),
            Vertex("z", "input", shape=(3,)),
            Vertex("a", "sub", ("x", "z"), shape=(3,)),
            Vertex("b", "mul", ("a", Literal(2.0)), shape=(3,)),
            Vertex("c", "reduce_sum", ("b",), (("axes", (0,)),)),
        ),
        ("x", "z"),
        ("c", "a"),
        signature=(("x",), ("z",)),
    )


def _replace_vertex(g: Graph, vid: str, **changes) -> Graph:
    return dataclasses.replace(
        g,
        vertices=tuple(
            dataclasses.replace(v, **changes) if v.id == vid else v for v in g.vertices
        ),
    )


_PROGRAM_CHANGES = {
    "swap operands of sub": lambda g: _replace_vertex(g, "a", operands=("z", "x")),
    "literal value": lambda g: _replace_vertex(g, "b", operands=("a", Literal(3.0))),
    "literal dtype": lambda g: _replace_vertex(
        g, "b", operands=("a", Literal(2.0, (), "float64"))
    ),
    "op": lambda g: _replace_vertex(g, "b", op="add"),
    "params": lambda g: _replace_vertex(g, "c", params=(("axes", ()),)),
    "shape": lambda g: _replace_vertex(g, "c", shape=(1,)),
    "dtype": lambda g: _replace_vertex(g, "a", dtype="float64"),
    "output order": lambda g: dataclasses.replace(g, outputs=("a", "c")),
    "output multiplicity": lambda g: dataclasses.replace(g, outputs=("c", "a", "a")),
    "input order": lambda g: dataclasses.replace(g, inputs=("z", "x")),
    "signature": lambda g: dataclasses.replace(g, signature=(("x", "z"),)),
    "flavour": lambda g: g.to_structure(),
}


@pytest.mark.parametrize("change", sorted(_PROGRAM_CHANGES))
def test_small_program_changes_change_the_hash(change):
    g = _program()
    changed = _PROGRAM_CHANGES[change](g)
    assert changed != g
    assert graphs.canonical_hash(changed) != graphs.canonical_hash(g)
    assert not graphs.isomorphic(g, changed)


def _structure() -> Graph:
    return Graph(
        (
            Vertex("x", "input", shape=(3,)),
            Vertex("w", "input"),
            Vertex("u", "node", shape=(3,)),
            Vertex("y", "node", shape=(3,)),
        ),
        ("x", "w"),
        ("y",),
        (
            Edge("x", "u", Structure((3,), (3,), (0,), (0,), (0,))),
            Edge("w", "u"),
            Edge("u", "y", Structure((3,), (3,), (0,), (0,), None)),
            Edge("x", "y"),
        ),
    )


_STRUCTURE_CHANGES = {
    "drop an edge": lambda g: dataclasses.replace(g, edges=g.edges[:-1]),
    "double an edge": lambda g: dataclasses.replace(g, edges=g.edges + g.edges[-1:]),
    "change a partial": lambda g: dataclasses.replace(
        g,
        edges=(g.edges[0], g.edges[1], Edge("u", "y"), g.edges[3]),
    ),
    "drop partial values": lambda g: dataclasses.replace(
        g,
        edges=(Edge("x", "u", Structure((3,), (3,), (0,), (0,), None)),) + g.edges[1:],
    ),
    "change a shape": lambda g: _replace_vertex(g, "w", shape=(1,)),
    "input order": lambda g: dataclasses.replace(g, inputs=("w", "x")),
    "outputs": lambda g: dataclasses.replace(g, outputs=("y", "u")),
}


@pytest.mark.parametrize("change", sorted(_STRUCTURE_CHANGES))
def test_small_structure_changes_change_the_hash(change):
    g = _structure()
    changed = _STRUCTURE_CHANGES[change](g)
    assert graphs.canonical_hash(changed) != graphs.canonical_hash(g)
    assert graphs.isomorphism(g, changed) is None


def test_default_dense_partial_hashes_like_the_explicit_dense_one():
    # [src, dst] means a dense partial with values; writing it out is the same graph.
    g = graphs.load(MINIMAL)
    explicit = dataclasses.replace(
        g,
        edges=tuple(Edge(e.src, e.dst, Structure((), (), (), (), ())) for e in g.edges),
    )
    assert graphs.canonical_hash(explicit) == graphs.canonical_hash(g)
    assert graphs.isomorphic(explicit, g)


def test_hash_of_a_graph_with_a_dangling_id_is_a_graph_error():
    g = graphs.load(MINIMAL)
    bad = dataclasses.replace(g, outputs=("nope",))
    with pytest.raises(graphs.GraphError):
        graphs.canonical_hash(bad)


@pytest.mark.parametrize("kind", ["scalar", "vector", "matrix", "mixed"])
def test_random_programs_round_trip_and_hash_ignores_renaming(kind):
    random_programs = pytest.importorskip("graphs.random_programs")
    for seed in range(3):
        fn, args = random_programs.random_program(seed, num_ops=40, kind=kind)
        g = graphs.trace(fn, *args)
        assert graphs.load(g.to_json()) == g
        s = g.to_structure()
        assert graphs.load(s.to_json()) == s
        h, _ = _renamed(g, random.Random(seed))
        assert graphs.load(h.to_json()) == h
        assert graphs.canonical_hash(g) == graphs.canonical_hash(h)
        _assert_is_isomorphism(g, h, graphs.isomorphism(g, h))
