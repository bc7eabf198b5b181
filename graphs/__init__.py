"""graphs: the graph IR, tracing, JSON format, hashing, cost model, baselines, tasks."""

from graphs.baselines import Baseline, baselines, best_baseline
from graphs.elimination import CostReport, ElimGraph, Step, build, cost
from graphs.errors import GraphError
from graphs.ir import Edge, Graph, Literal, Vertex
from graphs.structure import IndexMap, Partial, Structure
from graphs.trace import trace

__all__ = [
    "Baseline",
    "CostReport",
    "Edge",
    "ElimGraph",
    "Graph",
    "GraphError",
    "IndexMap",
    "Literal",
    "Partial",
    "Step",
    "Structure",
    "Vertex",
    "baselines",
    "best_baseline",
    "build",
    "cost",
    "trace",
]
