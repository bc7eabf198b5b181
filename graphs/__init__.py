"""graphs: the graph IR, tracing, JSON format, hashing, cost model, baselines, tasks."""

from graphs.baselines import Baseline, baselines, best_baseline, cost
from graphs.control_flow import unroll_limit
from graphs.elimination import CostReport, ElimGraph, Step, build
from graphs.errors import GraphError
from graphs.hashing import CanonicalForm, canonical_form, canonical_hash
from graphs.ir import Edge, Graph, Literal, Vertex
from graphs.isomorph import isomorphic, isomorphism
from graphs.jsonio import load
from graphs.random_programs import random_dag, random_program
from graphs.structure import IndexMap, Partial, RuntimeMap, Structure
from graphs.trace import trace
from graphs.validate import MAX_EDGES, MAX_VERTICES, Limits

__all__ = [
    "MAX_EDGES",
    "MAX_VERTICES",
    "Baseline",
    "CanonicalForm",
    "CostReport",
    "Edge",
    "ElimGraph",
    "Graph",
    "GraphError",
    "IndexMap",
    "Limits",
    "Literal",
    "Partial",
    "RuntimeMap",
    "Step",
    "Structure",
    "Vertex",
    "baselines",
    "best_baseline",
    "build",
    "canonical_form",
    "canonical_hash",
    "cost",
    "isomorphic",
    "isomorphism",
    "load",
    "random_dag",
    "random_program",
    "trace",
    "unroll_limit",
]
