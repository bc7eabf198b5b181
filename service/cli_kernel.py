"""``ccelim trace`` and ``ccelim kernel``: from your own JAX function to a kernel.

``ccelim trace mymodule:f --arg f64[3] --arg '[1, 2]' -o f.json`` imports ``f``
(``module:function`` or ``path/to/file.py:function``), traces it at the example
arguments and writes its program graph; ``ccelim kernel f.json -o f_kernel``
searches a cheap elimination order and writes the order, the kernel as
serialized StableHLO (``jax.export``) and as standalone JAX source.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli_app import app
from service.cli_errors import CLIError
from service.cli_search import order_document

#: Short dtype names accepted in ``--arg`` shape specs (numpy names work too).
_DTYPES = {
    "f16": "float16",
    "bf16": "bfloat16",
    "f32": "float32",
    "f64": "float64",
    "i32": "int32",
    "i64": "int64",
    "c64": "complex64",
    "c128": "complex128",
}
_SPEC = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)\s*\[\s*([0-9,\s]*)\]\s*$")
_ARG_HELP = (
    "An example argument, in order: a shape spec such as f64[3] or f32[2,4] "
    "(zeros of that shape) or a JSON number or nested list (float64). Repeat it."
)


def load_function(target: str) -> Callable[..., Any]:
    """The function named by ``module:function`` or ``file.py:function``.

    Args:
      target: ``package.module:name`` (importable from the current folder or the
        environment) or ``path/to/file.py:name``; ``name`` may be dotted.

    Returns:
      The callable.

    Example:
      >>> load_function("jax.numpy:sin")
    """
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise CLIError(
            f"expected MODULE:FUNCTION or FILE.py:FUNCTION, got {target!r}; e.g. "
            "mymodel:f or ./mymodel.py:f"
        )
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise CLIError(f"no such file: {where}; check the path")
        sys.path.insert(0, str(path.resolve().parent))  # its own imports
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as err:
            raise CLIError(
                f"cannot import {where!r} ({err}); run from the folder that holds "
                "it, install it, or give FILE.py:FUNCTION"
            ) from None
    found: Any = module
    for part in name.split("."):
        if not hasattr(found, part):
            raise CLIError(f"{where} has no {name!r}; check the function's name")
        found = getattr(found, part)
    if not callable(found):
        raise CLIError(f"{target} is a {type(found).__name__}, not a function")
    return found


def parse_arg(text: Any) -> Any:
    """One example argument from a shape spec, a JSON value, or parsed JSON.

    Example:
      >>> parse_arg("f32[2,3]").shape, parse_arg("[1, 2]").dtype
      ((2, 3), dtype('float64'))
    """
    import numpy as np

    if isinstance(text, str):
        match = _SPEC.match(text)
        if match:
            name, dims = match.groups()
            dtype = _DTYPES.get(name.lower(), name)
            try:
                np_dtype = np.dtype(dtype) if dtype != "bfloat16" else None
            except TypeError:
                raise CLIError(
                    f"unknown dtype {name!r} in {text!r}; use one of "
                    f"{', '.join(_DTYPES)}"
                ) from None
            shape = tuple(int(d) for d in dims.replace(" ", "").split(",") if d)
            if np_dtype is None:
                import jax.numpy as jnp

                return jnp.zeros(shape, jnp.bfloat16)
            return np.zeros(shape, np_dtype)
        try:
            text = json.loads(text)
        except ValueError:
            raise CLIError(
                f"cannot read argument {text!r}: give a shape spec like f64[3] or "
                "a JSON number or list like [1.0, 2.0]"
            ) from None
    if isinstance(text, str):
        return parse_arg(text)
    try:
        value = np.asarray(text)
    except ValueError as err:
        raise CLIError(f"argument {text!r} is not a regular array: {err}") from None
    if value.dtype.kind not in "biufc":
        raise CLIError(f"argument {text!r} is not numeric; give numbers")
    return value.astype(np.float64) if value.dtype.kind in "bi" else value


def load_args_file(path: Path) -> list[Any]:
    """Example arguments from a ``.npz`` (its arrays in order) or a ``.json`` file
    (a list of arguments, or ``{"args": [...]}``; each as for ``--arg``)."""
    import numpy as np

    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return [np.asarray(data[name]) for name in data.files]
    document = json.loads(path.read_text())
    if isinstance(document, dict):
        document = document.get("args")
    if not isinstance(document, list):
        raise CLIError(
            f'{path}: expected a JSON list of arguments or {{"args": [...]}}; '
            "or give a .npz file"
        )
    return [parse_arg(item) for item in document]


def _argnums(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CLIError(f"--argnums expects numbers like 0,2, got {text!r}") from None


@app.command("trace")
def trace_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:FUNCTION",
            help="Your function: module:function or file.py:function.",
        ),
    ],
    arg: Annotated[list[str] | None, typer.Option("--arg", help=_ARG_HELP)] = None,
    args_file: Annotated[
        Path | None,
        typer.Option(
            "--args-file", help="Example arguments from a .npz or .json file."
        ),
    ] = None,
    argnums: Annotated[
        str | None,
        typer.Option(
            help="Differentiate these arguments only, e.g. 0,2 (default all)."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--out", help="Where to write the graph JSON.")
    ] = Path("graph.json"),
) -> None:
    """Trace your JAX function at example arguments into a program graph (JSON)."""
    if bool(arg) == (args_file is not None):
        raise CLIError(
            "give the example arguments either as --arg ... (repeated) or as "
            "--args-file FILE.npz|FILE.json"
        )
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 arguments stay float64
    import graphs
    from graphs import GraphError

    function = load_function(target)
    args = load_args_file(args_file) if args_file else [parse_arg(a) for a in arg]
    name = target.rpartition(":")[2]
    try:
        graph = graphs.trace(function, *args, argnums=_argnums(argnums), name=name)
    except GraphError as err:
        raise CLIError(f"cannot trace {target}: {err}") from None
    output.write_text(graph.to_json(indent=1) + "\n")
    intermediates = (
        len(graph.vertices)
        - len(graph.inputs)
        - len([v for v in graph.vertices if v.op == "parameter"])
    )
    typer.echo(
        f"wrote {output}: program graph of {target} with {len(graph.inputs)} inputs, "
        f"{len(set(graph.outputs))} outputs, {len(graph.vertices)} vertices "
        f"({max(intermediates, 0)} non-input); next: ccelim kernel {output}",
        err=True,
    )


def _batch(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


@app.command("kernel")
def kernel_command(
    graph_file: Annotated[
        Path, typer.Argument(metavar="GRAPH.json", help="A program graph file.")
    ],
    budget: Annotated[
        float, typer.Option("--budget", help="Search time in seconds.")
    ] = 2.0,
    seed: Annotated[int, typer.Option(help="Search seed.")] = 0,
    batch: Annotated[
        str | None,
        typer.Option(help="Export batched: a batch size, or a name (any size)."),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--out", help="Folder for the kernel files.")
    ] = Path("kernel"),
) -> None:
    """Search a cheap order for a program graph and write its kernel: order.json,
    kernel.stablehlo (jax.export), kernel.py (JAX source) and kernel.json."""
    if budget <= 0:
        raise CLIError(f"--budget must be positive, got {budget:g}; e.g. --budget 2")
    import jax

    jax.config.update("jax_enable_x64", True)  # graphs name their dtypes
    import graphs
    import interpreter
    from graphs import GraphError
    from search import optimize

    try:
        graph = graphs.load(graph_file.read_text())
    except GraphError as err:
        raise CLIError(f"{graph_file}: {err}") from None
    if not graph.is_program:
        raise CLIError(
            f"{graph_file} is a structure-only graph (an edge list): a kernel needs "
            "the operations; make a program graph with `ccelim trace "
            "module:function --arg ...`"
        )
    result = optimize(graph, time_budget_s=budget, seed=seed)
    artifact = interpreter.export(graph, list(result.order), batch=_batch(batch))
    output.mkdir(parents=True, exist_ok=True)
    order = order_document(result, seed=seed, budget=budget)
    (output / "order.json").write_text(json.dumps(order, indent=1) + "\n")
    (output / "kernel.stablehlo").write_bytes(artifact.stablehlo)
    (output / "kernel.py").write_text(artifact.python_source)
    layout = {
        "multiplications": artifact.multiplications,
        "additions": artifact.additions,
        "batch": artifact.batch,
        "input_specs": [vars(spec) for spec in artifact.input_specs],
        "output_layout": [vars(block) for block in artifact.output_layout],
    }
    (output / "kernel.json").write_text(json.dumps(layout, indent=1) + "\n")
    best = min(result.baselines.values(), default=result.cost)
    typer.echo(
        f"cost {result.cost} multiplications by {result.method} (best baseline "
        f"{best}); wrote {output}/order.json, kernel.stablehlo, kernel.py, "
        "kernel.json"
    )
