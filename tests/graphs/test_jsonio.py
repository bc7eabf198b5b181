"""The ccelim.graph/1 format: round trips, the schema, and one test per bad input."""

import json
import pathlib

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphs
from graphs import Edge, Graph, GraphError, IndexMap, Literal, Structure, Vertex
from graphs.jsonio import FORMAT, to_dict

SCHEMA_PATH = pathlib.Path(graphs.__file__).parent / "schema" / "graph-1.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

MINIMAL = {
    "format": "ccelim.graph/1",
    "inputs": ["x0", "x1"],
    "outputs": ["y"],
    "edges": [["x0", "v"], ["x1", "v"], ["v", "y"]],
}


def _doc(**fields):
    return {"format": FORMAT, **fields}


def _program():
    """x (3,); p (3,), W (3, 2) parameters: c = sum(sin(x) * [1,2,3] - p); d = x @ W."""
    return Graph(
        vertices=(
            Vertex("x", "input", shape=(3,), dtype="float64"),
            Vertex("p", "parameter", shape=(3,), dtype="float64"),
            Vertex("a", "sin", ("x",), shape=(3,), dtype="float64"),
            Vertex(
                "b",
                "mul",
                ("a", Literal([1.0, 2.0, 3.0], (3,), "float64")),
                (("out_dtype", None),),
                shape=(3,),
                dtype="float64",
            ),
            Vertex("s", "sub", ("b", "p"), shape=(3,), dtype="float64"),
            Vertex("c", "reduce_sum", ("s",), (("axes", (0,)),), (), "float64"),
            Vertex("W", "parameter", shape=(3, 2), dtype="float64"),
            Vertex(
                "d",
                "dot_general",
                ("x", "W"),
                (
                    ("dimension_numbers", (((0,), (0,)), ((), ()))),
                    ("precision", None),
                    ("preferred_element_type", "dtype:float64"),
                ),
                (2,),
                "float64",
            ),
        ),
        inputs=("x",),
        outputs=("c", "d", "c"),
        name="hand-built",
        signature=(("x",), ("p", "W")),
    )


def _structure():
    """Vector vertices with every kind of edge partial, and a doubled edge."""
    return Graph(
        vertices=(
            Vertex("x", "input", shape=(3,)),
            Vertex("w", "input", shape=(2, 3)),
            Vertex("u", "node", shape=(3,)),
            Vertex("m", "node", shape=(2,)),
            Vertex("y", "node", shape=(2,)),
        ),
        inputs=("x", "w"),
        outputs=("y", "u"),
        edges=(
            Edge("x", "u", Structure((3,), (3,), (0,), (0,), (0,))),
            Edge("x", "u"),
            Edge("u", "m", Structure((2,), (3,), (0,), (1,), (1,))),
            Edge("w", "m", Structure((2,), (2, 3), (0,), (0, 1), (1,))),
            Edge("m", "y", IndexMap((2,), (2,), (1, -1))),
            Edge("u", "y", Structure((2,), (3,), (0,), (1,), None)),
        ),
        name="vectors",
    )


# ------------------------------------------------------------------- round trips


def test_minimal_design_example_loads_and_costs_two():
    g = graphs.load(MINIMAL)
    assert [v.id for v in g.vertices] == ["x0", "x1", "v", "y"]
    assert [v.op for v in g.vertices] == ["input", "input", "node", "node"]
    assert all(v.shape == () for v in g.vertices)
    # v has 2 predecessors (x0, x1) and 1 successor (y): 2 * 1 = 2 products.
    assert graphs.cost(g, ["v"]).multiplications == 2


def test_minimal_example_round_trips_to_the_same_text():
    g = graphs.load(json.dumps(MINIMAL))
    assert to_dict(g) == MINIMAL  # no "vertices": they are implied
    assert graphs.load(g.to_json()) == g


def test_program_graph_round_trips():
    g = _program()
    text = g.to_json()
    back = graphs.load(text)
    assert back == g
    assert back.vertex("d").param_dict["dimension_numbers"] == (((0,), (0,)), ((), ()))
    assert back.vertex("b").operands[1].value == (1.0, 2.0, 3.0)  # nested tuples: hashable
    assert graphs.load(text.encode()) == g  # bytes work too


def test_structure_graph_round_trips_with_partials_and_doubled_edges():
    g = _structure()
    back = graphs.load(g.to_json(indent=2))
    assert back == g
    assert back.edges[1].partial is None  # the default stays the default
    assert graphs.cost(back, "forward") == graphs.cost(g, "forward")


def test_structure_view_of_a_program_round_trips():
    s = _program().to_structure()
    assert graphs.load(s.to_json()) == s


def test_to_json_is_deterministic_with_sorted_keys():
    text = _program().to_json()
    assert text == _program().to_json()
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_vertices_are_written_when_their_order_is_not_the_inferred_one():
    g = graphs.load(
        _doc(
            inputs=["x"],
            outputs=["y"],
            vertices=[{"id": "x"}, {"id": "b"}, {"id": "a"}, {"id": "y"}],
            edges=[["x", "a"], ["x", "b"], ["a", "y"], ["b", "y"]],
        )
    )
    assert [v["id"] for v in to_dict(g)["vertices"]] == ["x", "b", "a", "y"]
    assert graphs.load(g.to_json()) == g


def test_inferred_order_is_inputs_then_kahn_by_first_appearance():
    g = graphs.load(
        _doc(
            inputs=["x1", "x0"],
            outputs=["y"],
            edges=[["b", "y"], ["a", "b"], ["x0", "a"], ["c", "y"], ["x1", "c"]],
        )
    )
    # Sources: x1, x0 (inputs, given order); then ready vertices by first appearance:
    # after x1 -> c is ready, after x0 -> a; "b" appears first in the edge list but
    # becomes ready only after a.
    assert [v.id for v in g.vertices] == ["x1", "x0", "a", "b", "c", "y"]


@pytest.mark.parametrize("name", sorted(__import__("graphs.tasks").tasks.TASKS))
def test_every_task_round_trips_in_both_flavours(name):
    from graphs import tasks

    g = tasks.get(name).graph()
    assert graphs.load(g.to_json()) == g
    s = g.to_structure()
    assert graphs.load(s.to_json()) == s
    VALIDATOR.validate(json.loads(g.to_json()))
    VALIDATOR.validate(json.loads(s.to_json()))


# ------------------------------------------------------------------------- schema


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_valid_test_document_passes_the_schema():
    for doc in (
        MINIMAL,
        to_dict(_program()),
        to_dict(_structure()),
        to_dict(_program().to_structure()),
    ):
        VALIDATOR.validate(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"inputs": ["x"], "outputs": ["x"], "edges": []},
        _doc(inputs="x", outputs=["x"], edges=[]),
        _doc(inputs=["x"], outputs=["y"], edges=[["x"]]),
        _doc(inputs=["x"], outputs=["y"], edges=[["x", "y", {"out": []}]]),
        _doc(inputs=["x"], outputs=["x"], vertices=[{"id": "x", "op": 3}]),
        _doc(inputs=["x"], outputs=["x"], vertices=[{"id": "x", "shap": [3]}]),
    ],
)
def test_schema_and_loader_both_reject_malformed_documents(doc):
    assert not VALIDATOR.is_valid(doc)
    with pytest.raises(GraphError):
        graphs.load(doc)


# ------------------------------------------------------------------ bad documents


def _error(doc, **kwargs) -> GraphError:
    with pytest.raises(GraphError) as info:
        graphs.load(doc, **kwargs)
    return info.value


def test_invalid_json_text():
    err = _error('{"format": "ccelim.graph/1", ')
    assert err.path is None
    assert "invalid JSON" in err.message


def test_document_that_is_not_an_object():
    err = _error("[1, 2]")
    assert "expected a JSON object" in err.message
    assert "an array" in err.message


def test_wrong_field_type_names_the_field():
    err = _error(_doc(inputs="x0", outputs=["y"], edges=[]))
    assert err.path == "inputs"
    assert "expected an array" in err.message


def test_edge_that_is_not_a_pair():
    err = _error(_doc(inputs=["x"], outputs=["y"], edges=[["x", "y"], ["x"]]))
    assert err.path == "edges[1]"
    assert "[src, dst]" in err.message


def test_bad_shape_entry():
    doc = _doc(
        inputs=["x"], outputs=["x"], edges=[], vertices=[{"id": "x", "shape": [2, -1]}]
    )
    err = _error(doc)
    assert err.path == "vertices[0].shape[1]"
    assert "integer >= 0" in err.message


def test_unknown_field_is_named():
    doc = _doc(
        inputs=["x"], outputs=["x"], edges=[], vertices=[{"id": "x", "shap": [2]}]
    )
    err = _error(doc)
    assert err.path == "vertices[0].shap"
    assert "allowed: dtype, id, shape" in err.message


def test_missing_format():
    err = _error({"inputs": [], "outputs": [], "edges": []})
    assert err.path == "format"
    assert 'add "format"' in err.message


def test_unknown_format_version():
    err = _error(dict(MINIMAL, format="ccelim.graph/2"))
    assert err.path == "format"
    assert "unknown format version 'ccelim.graph/2'" in err.message


def test_duplicate_vertex_ids():
    doc = _doc(
        inputs=["x"],
        outputs=["y"],
        vertices=[{"id": "x"}, {"id": "y"}, {"id": "y"}],
        edges=[["x", "y"]],
    )
    err = _error(doc)
    assert err.path == "vertices[2].id"
    assert "duplicate vertex id 'y'" in err.message


def test_duplicate_ids_in_a_program():
    d = to_dict(_program())
    d["vertices"][3]["id"] = "a"
    err = _error(d)
    assert err.path == "vertices[3].id"
    assert "duplicate vertex id 'a'" in err.message


def test_dangling_edge_endpoint():
    doc = _doc(
        inputs=["x"], outputs=["x"], vertices=[{"id": "x"}], edges=[["x", "nope"]]
    )
    err = _error(doc)
    assert err.path == "edges[0][1]"
    assert "'nope' names no vertex" in err.message


def test_dangling_operand():
    d = to_dict(_program())
    d["vertices"][2]["operands"] = ["ghost"]
    err = _error(d)
    assert err.path == "vertices[2].operands[0]"
    assert "operand 'ghost' names no vertex" in err.message


def test_dangling_input():
    err = _error(
        _doc(
            inputs=["x", "z"],
            outputs=["y"],
            vertices=[{"id": "x"}, {"id": "y"}],
            edges=[["x", "y"]],
        )
    )
    assert err.path == "inputs[1]"
    assert "'z' names no vertex" in err.message


def test_cycle_in_an_edge_list_names_a_vertex_on_it():
    doc = _doc(
        inputs=["x"],
        outputs=["b"],
        edges=[["x", "a"], ["a", "b"], ["b", "c"], ["c", "a"]],
    )
    err = _error(doc)
    assert err.path == "edges[1]"
    assert "cycle through vertex 'a'" in err.message
    assert "a -> b -> c -> a" in err.message


def test_self_loop_is_a_cycle():
    err = _error(_doc(inputs=["x"], outputs=["v"], edges=[["x", "v"], ["v", "v"]]))
    assert err.path == "edges[1]"
    assert "cycle through vertex 'v'" in err.message


def test_cycle_in_a_program():
    d = to_dict(_program())
    d["vertices"][2]["operands"] = ["s"]  # a = sin(s), s depends on b depends on a
    err = _error(d)
    assert "cycle through vertex" in err.message
    assert err.path.startswith("vertices[")


def test_program_vertices_out_of_order():
    d = to_dict(_program())
    d["vertices"][2], d["vertices"][3] = d["vertices"][3], d["vertices"][2]
    err = _error(d)
    assert err.path == "vertices[2].operands[0]"
    assert "listed before its operand 'a'" in err.message


def test_edge_into_an_input():
    err = _error(_doc(inputs=["x", "z"], outputs=["y"], edges=[["x", "y"], ["x", "z"]]))
    assert err.path == "edges[1][1]"
    assert "goes into input 'z'" in err.message


def test_program_input_with_operands():
    d = to_dict(_program())
    d["vertices"][0]["operands"] = ["p"]
    err = _error(d)
    assert err.path == "vertices[0].operands"
    assert "takes no operands" in err.message


def test_output_that_is_not_a_vertex():
    err = _error(dict(MINIMAL, outputs=["y", "w"]))
    assert err.path == "outputs[1]"
    assert "'w' is not a vertex" in err.message


def test_partial_label_count_differs_from_vertex_rank():
    doc = _doc(
        inputs=["x"],
        outputs=["y"],
        vertices=[{"id": "x", "shape": [3]}, {"id": "y", "shape": [3]}],
        edges=[["x", "y", {"out": [0, 1], "in": [0], "core": [0]}]],
    )
    err = _error(doc)
    assert err.path == "edges[0][2].out"
    assert "one label per axis" in err.message and "got 2" in err.message


def test_paired_axes_of_different_sizes():
    doc = _doc(
        inputs=["x"],
        outputs=["y"],
        vertices=[{"id": "x", "shape": [3]}, {"id": "y", "shape": [4]}],
        edges=[["x", "y", {"out": [0], "in": [0], "core": [0]}]],
    )
    err = _error(doc)
    assert err.path == "edges[0][2]"
    assert "paired axes must have equal sizes" in err.message


def test_index_map_of_the_wrong_length():
    doc = _doc(
        inputs=["x"],
        outputs=["y"],
        vertices=[{"id": "x", "shape": [3]}, {"id": "y", "shape": [2]}],
        edges=[["x", "y", {"index": [0, 1, 2]}]],
    )
    err = _error(doc)
    assert err.path == "edges[0][2].index"
    assert "expected one index per element" in err.message


def test_elementwise_operand_that_does_not_fit():
    d = to_dict(_program())
    d["vertices"][1]["shape"] = [4]  # p is now (4,), s = b - p with b (3,)
    err = _error(d)
    assert err.path == "vertices[4].operands[1]"
    assert "operand 1 must have the output shape [3]" in err.message


def test_dot_general_with_mismatched_contraction():
    d = to_dict(_program())
    d["vertices"][6]["shape"] = [4, 2]  # W, contracted with x of shape (3,)
    err = _error(d)
    assert err.path == "vertices[7]"
    assert "contracting dimensions differ" in err.message


def test_wrong_output_shape_of_a_reduction():
    d = to_dict(_program())
    d["vertices"][5]["shape"] = [3]
    err = _error(d)
    assert err.path == "vertices[5]"
    assert "expected output shape []" in err.message


def test_missing_params_are_a_graph_error_not_a_key_error():
    d = to_dict(_program())
    del d["vertices"][7]["params"]
    err = _error(d)
    assert err.path == "vertices[7]"
    assert "KeyError" in err.message


def test_literal_of_the_wrong_shape():
    d = to_dict(_program())
    d["vertices"][3]["operands"][1]["literal"] = [1.0, 2.0]
    err = _error(d)
    assert err.path == "vertices[3].operands[1].literal"
    assert "shape [3]" in err.message


def test_unknown_op_lists_the_supported_ones():
    d = to_dict(_program())
    d["vertices"][2]["op"] = "frobnicate"
    err = _error(d)
    assert err.path == "vertices[2].op"
    assert "unknown op 'frobnicate'" in err.message
    assert "sin" in err.message and "dot_general" in err.message


def test_structure_vertex_with_an_op_is_refused():
    doc = _doc(
        inputs=["x"],
        outputs=["y"],
        vertices=[{"id": "x"}, {"id": "y", "op": "sin"}],
        edges=[["x", "y"]],
    )
    err = _error(doc)
    assert err.path == "vertices[1]"
    assert 'drop "edges"' in err.message


def test_too_many_vertices():
    edges = [["x", f"v{i}"] for i in range(20)]
    err = _error(_doc(inputs=["x"], outputs=["v0"], edges=edges), max_vertices=10)
    assert "expected at most 10 vertices, got 21" in err.message


def test_too_many_edges():
    edges = [["x", "v"]] * 30
    err = _error(_doc(inputs=["x"], outputs=["v"], edges=edges), max_edges=10)
    assert err.path == "edges"
    assert "expected at most 10 edges, got 30" in err.message


def test_program_over_the_edge_limit():
    err = _error(to_dict(_program()), max_edges=3)
    assert "expected at most 3 edges" in err.message


def test_vertex_over_the_element_limit():
    doc = _doc(
        inputs=["x"],
        outputs=["x"],
        edges=[],
        vertices=[{"id": "x", "shape": [1000, 1000, 1000]}],
    )
    err = _error(doc)
    assert err.path == "vertices[0].shape"
    assert "elements" in err.message


def test_deeply_nested_json_text_is_a_graph_error():
    err = _error("[" * 200_000 + "]" * 200_000)
    assert "nested too deeply" in err.message


def test_deeply_nested_params_are_a_graph_error():
    d = to_dict(_program())
    deep = 0
    for _ in range(50):
        deep = [deep]
    d["vertices"][5]["params"]["axes"] = deep
    err = _error(d)
    assert err.path.startswith("vertices[5].params.axes")
    assert "nested deeper" in err.message


def test_huge_literal_is_refused_without_building_it():
    d = to_dict(_program())
    d["vertices"][3]["operands"][1] = {
        "literal": 1.0,
        "shape": [1 << 20, 1 << 20],
        "dtype": "float64",
    }
    err = _error(d)
    assert err.path == "vertices[3].operands[1].shape"
    assert "elements" in err.message


def test_graph_objects_are_checked_too():
    from graphs.validate import check

    bad = Graph((Vertex("x", "input"), Vertex("x", "node")), ("x",), ("x",), ())
    with pytest.raises(GraphError) as info:
        check(bad)
    assert info.value.path == "vertices[1].id"


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.sampled_from(["x", "y", "v", "ccelim.graph/1", "sin", "input"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "format",
                    "inputs",
                    "outputs",
                    "edges",
                    "vertices",
                    "id",
                    "op",
                    "operands",
                    "shape",
                    "out",
                    "in",
                    "core",
                    "index",
                    "literal",
                    "params",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(body=_json)
def test_arbitrary_json_gives_a_graph_or_a_graph_error(body):
    doc = dict(body, format=FORMAT) if isinstance(body, dict) else body
    try:
        graphs.load(doc)
    except GraphError:
        pass


def _paths(value, prefix=()):
    """Every path into a JSON value (object keys and array positions)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


def _replaced(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {
            k: _replaced(v, rest, new) if k == head else v for k, v in value.items()
        }
    return [_replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_valid_documents_give_a_graph_or_a_graph_error(data):
    doc = data.draw(
        st.sampled_from([to_dict(_program()), to_dict(_structure()), MINIMAL])
    )
    paths = list(_paths(doc))[1:]
    path = data.draw(st.sampled_from(paths))
    mutated = _replaced(doc, path, data.draw(_json))
    try:
        g = graphs.load(mutated)
    except GraphError:
        return
    VALIDATOR.validate(mutated)  # what the loader accepts, the schema accepts
    assert graphs.load(g.to_json()) == g
