"""The fast scalar cost core: ``_scalar.c`` behind the :class:`CostCore` protocol.

For scalar graphs a partial is one number or a value-less copy, so eliminating
``v`` costs ``|valued preds| · |valued succs|`` (``graphs.elimination``'s rule on
scalars). The C core keeps per-vertex sets of predecessors and successors
(``_sets.h``) with an undo log, and prices forward and reverse mode in closed
form; ``_greedy.c`` runs the greedy baselines (lazy priority queue, only touched
vertices re-scored), ``_anneal.c`` simulated annealing (:class:`ScalarAnnealer`)
and ``_insertion.c`` best insertions, so that none of their inner loops runs in
Python. ``tests/search/test_core.py`` checks
it against ``graphs.cost``.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence

import numpy as np

from graphs import structure as st
from graphs.elimination import ElimGraph
from search.core._native import library

#: Score-term codes of ``_greedy.c``, by the names ``graphs.baselines`` uses.
TERM_CODES = {
    "mults": 0,
    "mults-removed": 1,
    "fill": 2,
    "position": 3,
    "-position": 4,
}


def _ints(values: Sequence[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.intc))


def _ptr(array: np.ndarray, ctype) -> ctypes._Pointer:
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def csr(g: ElimGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predecessor lists of a scalar graph: ``(indptr [N+1], indices [E], value_less [E])``."""
    n = len(g.ids)
    keys = list(g.edges)
    dst = np.fromiter((s for s, _ in keys), dtype=np.intc, count=len(keys))
    src = np.fromiter((p for _, p in keys), dtype=np.intc, count=len(keys))
    vl = np.fromiter(
        (
            not (isinstance(part, st.Structure) and part.core is not None)
            for part in g.edges.values()
        ),
        dtype=np.ubyte,
        count=len(keys),
    )
    perm = np.lexsort((src, dst))
    indptr = np.zeros(n + 1, dtype=np.intc)
    np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
    return indptr, _ints(src[perm]), np.ascontiguousarray(vl[perm])


class ScalarCore:
    """:class:`search.core.CostCore` for scalar graphs, in C.

    Args:
      g: a scalar elimination graph (one element per vertex: ``is_scalar``).

    Example:
      >>> core = ScalarCore(graphs.build(graph))
      >>> core.order_costs(core.intermediates)  # forward mode, per step
    """

    def __init__(self, g: ElimGraph):
        if not g.is_scalar:
            raise ValueError(
                "ScalarCore needs a scalar graph (one element per vertex); got shapes "
                f"{sorted(set(g.shapes))[:3]}; use StructuredCore for tensor graphs"
            )
        self.graph = g
        self.intermediates = tuple(g.intermediates)
        self.num_vertices = len(g.ids)
        self.num_edges = len(g.edges)
        self._lib = lib = library()
        self._csr = csr(g)
        ip, ii, vl = self._csr
        self._inter = _ints(self.intermediates)
        self._handle = lib.cc_new(
            self.num_vertices,
            _ptr(ip, ctypes.c_int),
            _ptr(ii, ctypes.c_int),
            _ptr(vl, ctypes.c_ubyte),
            _ptr(self._inter, ctypes.c_int),
            len(self._inter),
        )
        lib.cc_set_logging(self._handle, 1)
        self._steps: dict[tuple[int, ...], np.ndarray] = {}  # last orders priced
        self.pricing_s = 0.0  # the longest whole-order pricing so far, seconds
        # seconds per multiplication of eliminating (measured: ~13-35 ns at
        # 100,000 intermediates, by load), for the orders priced in closed form
        self._s_per_mult = 40e-9

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.cc_free(handle)
            self._handle = None

    # ------------------------------------------------------------ protocol

    def reset(self) -> None:
        self._lib.cc_reset(self._handle)

    def eliminate(self, v: int) -> int:
        cost = self._lib.cc_eliminate(self._handle, v)
        if cost < 0:
            raise ValueError(_not_intermediate(self.graph, v))
        return cost

    def mark(self) -> int:
        return self._lib.cc_mark(self._handle)

    def undo(self, mark: int) -> None:
        self._lib.cc_undo(self._handle, mark)

    def cost(self, v: int) -> int:
        return self._lib.cc_cost(self._handle, v)

    def cost_after(self, w: int, u: int) -> int:
        """Multiplications of eliminating ``w`` once ``u`` is eliminated first,
        read off the sets of both without eliminating ``u`` (``cc_cost_after``);
        ``w`` and ``u`` are intermediates not eliminated yet."""
        return self._lib.cc_cost_after(self._handle, w, u)

    def fill(self, v: int) -> int:
        return self._lib.cc_fill(self._handle, v)

    def degree(self, v: int) -> int:
        return self._lib.cc_degree(self._handle, v)

    def neighbours(self, v: int) -> tuple[list[int], list[int]]:
        raise NotImplementedError("ScalarCore keeps its adjacency in C")

    def order_costs(
        self, order: Sequence[int], *, deadline: float | None = None, cap: int = 0
    ) -> list[int] | None:
        """Per-step multiplications of ``order``; ``None`` past ``deadline`` (on
        :func:`now`'s clock) or once the total passes ``cap`` (0: none).

        Forward and reverse mode on graphs without value-less edges are priced
        in closed form (``cc_mode_costs``: one pass over the edges with bitsets
        of the inputs or outputs reached; 99,167,506 multiplications at 100,000
        intermediates in milliseconds instead of seconds), and leave the state
        as it was; any other order is eliminated, and the state left so.
        """
        arr = _ints(order)
        out = np.zeros(len(arr), dtype=np.int64)
        began = time.perf_counter()
        mode = self._mode(arr)
        if mode is not None and not self._lib.cc_mode_costs(
            self._handle,
            _ptr(self._inter, ctypes.c_int),
            len(self._inter),
            mode,
            _ptr(out, ctypes.c_longlong),
        ):
            return self._priced(order, out, cap, estimate=True)
        status = self._lib.cc_order_cost(
            self._handle,
            _ptr(arr, ctypes.c_int),
            len(arr),
            _ptr(out, ctypes.c_longlong),
            deadline or 0.0,
            cap,
        )
        self._lib.cc_set_logging(self._handle, 1)
        if status == -3:
            allowed = set(self.intermediates)
            bad = next(v for v in order if v not in allowed)
            raise ValueError(_not_intermediate(self.graph, bad))
        if status:
            return None
        seconds = time.perf_counter() - began
        self.pricing_s = max(self.pricing_s, seconds)
        total = int(out.sum())
        if total > 1_000_000:
            self._s_per_mult = seconds / total
        return self._priced(order, out, cap, estimate=False)

    def best_insertion(
        self,
        order: np.ndarray,
        steps: np.ndarray,
        u: int,
        out: np.ndarray,
        out_steps: np.ndarray,
        *,
        deadline: float | None = None,
    ) -> int | None:
        """Moves ``u`` to its cheapest place in ``order`` (ties: the earliest).

        Every place is priced in one elimination pass over the order without
        ``u``, which stops once ``u`` has no neighbour left to eliminate
        (``cc_best_insertion`` in ``_insertion.c``); the state is left eliminated.

        Args:
          order: an order of all intermediates, [n] intc, holding ``u``.
          steps: its per-step multiplications, [n] int64.
          u: the vertex to move.
          out, out_steps: [n] intc and [n] int64, receive the order with ``u``
            moved and its per-step multiplications.
          deadline: on :func:`now`'s clock; ``None``: none.

        Returns:
          The multiplications of ``out``, or ``None`` past the deadline.
        """
        cost = self._lib.cc_best_insertion(
            self._handle,
            _ptr(order, ctypes.c_int),
            _ptr(steps, ctypes.c_longlong),
            len(order),
            u,
            _ptr(out, ctypes.c_int),
            _ptr(out_steps, ctypes.c_longlong),
            deadline or 0.0,
        )
        return None if cost < 0 else cost

    def earlier_moves(
        self,
        order: np.ndarray,
        steps: np.ndarray,
        out: np.ndarray,
        *,
        deadline: float | None = None,
    ) -> tuple[int, int] | None:
        """Moves vertices of ``order`` to cheaper places earlier, many at once.

        One elimination pass prices, for every vertex, its cheapest place at or
        before its own (``cc_earlier_moves`` in ``_insertion.c``); then the
        moves whose spans are disjoint and together save most are made
        (``cc_apply_earlier``: their savings add up exactly). The state is left
        eliminated.

        Args:
          order: an order of all intermediates, [n] intc.
          steps: [n] int64, receives the per-step multiplications of ``order``.
          out: [n] intc, receives the order with the moves made.
          deadline: on :func:`now`'s clock; ``None``: none.

        Returns:
          ``(cost of order, multiplications saved)``: ``out`` costs their
          difference; ``None`` past the deadline.
        """
        n = len(order)
        to = np.empty(n, dtype=np.intc)
        gain = np.empty(n, dtype=np.int64)
        total = self._lib.cc_earlier_moves(
            self._handle,
            _ptr(order, ctypes.c_int),
            n,
            _ptr(steps, ctypes.c_longlong),
            _ptr(to, ctypes.c_int),
            _ptr(gain, ctypes.c_longlong),
            deadline or 0.0,
        )
        if total < 0:
            return None
        saved = self._lib.cc_apply_earlier(
            _ptr(order, ctypes.c_int),
            n,
            _ptr(to, ctypes.c_int),
            _ptr(gain, ctypes.c_longlong),
            _ptr(out, ctypes.c_int),
        )
        return int(total), int(saved)

    def later_moves(
        self,
        order: np.ndarray,
        steps: np.ndarray,
        out: np.ndarray,
        *,
        reach: int,
        deadline: float | None = None,
    ) -> int | None:
        """Moves vertices of ``order`` to cheaper places at most ``reach`` later.

        Every vertex's places after its own are priced by eliminating the order
        after it without it, until it has no neighbour left to eliminate or
        ``reach`` steps have passed (``cc_later_moves``); then the moves whose
        spans are disjoint and together save most are made
        (``cc_apply_later``). The state is left eliminated.

        Args:
          order: an order of all intermediates, [n] intc.
          steps: its per-step multiplications, [n] int64.
          out: [n] intc, receives the order with the moves made.
          reach: the farthest a vertex moves.
          deadline: on :func:`now`'s clock; ``None``: none.

        Returns:
          The multiplications saved (``out`` costs that much less than
          ``order``); ``None`` past the deadline.
        """
        n = len(order)
        to = np.empty(n, dtype=np.intc)
        gain = np.empty(n, dtype=np.int64)
        work = self._lib.cc_later_moves(
            self._handle,
            _ptr(order, ctypes.c_int),
            _ptr(steps, ctypes.c_longlong),
            n,
            reach,
            _ptr(to, ctypes.c_int),
            _ptr(gain, ctypes.c_longlong),
            deadline or 0.0,
        )
        if work < 0:
            return None
        return int(
            self._lib.cc_apply_later(
                _ptr(order, ctypes.c_int),
                n,
                _ptr(to, ctypes.c_int),
                _ptr(gain, ctypes.c_longlong),
                _ptr(out, ctypes.c_int),
            )
        )

    def seconds_to_price(self, multiplications: int) -> float:
        """About how long eliminating an order of ``multiplications`` takes
        (the rate of the last big order eliminated, else 40 ns each)."""
        return multiplications * self._s_per_mult

    def _mode(self, arr: np.ndarray) -> int | None:
        """1 if ``arr`` is reverse mode, 0 if forward, else ``None``."""
        inter = self._inter
        if len(arr) != len(inter) or not len(arr):
            return None
        if arr[0] == inter[0] and np.array_equal(arr, inter):
            return 0
        if arr[0] == inter[-1] and np.array_equal(arr, inter[::-1]):
            return 1
        return None

    def _priced(self, order, out: np.ndarray, cap: int, *, estimate: bool):
        if estimate and cap > 0 and int(out.sum()) > cap:
            return None
        if len(self._steps) >= 8:
            self._steps.pop(next(iter(self._steps)))
        self._steps[tuple(order)] = out
        return out.tolist()

    def known_steps(self, order: Sequence[int]) -> np.ndarray | None:
        """Per-step costs of ``order`` if one of the last orders priced [n] int64."""
        return self._steps.get(tuple(order))

    def order_cost(self, order: Sequence[int]) -> int:
        """Total multiplications of ``order``."""
        return sum(self.order_costs(order))

    def greedy(
        self, terms: Sequence[str], *, deadline: float | None = None, cap: int = 0
    ) -> list[int] | None:
        """The greedy order of the score ``terms`` (lowest first); ``None`` past
        ``deadline`` (:func:`now`'s clock) or once its multiplications pass
        ``cap`` (0: none)."""
        codes = _ints([TERM_CODES[t] for t in terms])
        out = np.zeros(len(self._inter), dtype=np.intc)
        status = self._lib.cc_greedy(
            self._handle,
            _ptr(self._inter, ctypes.c_int),
            len(self._inter),
            _ptr(codes, ctypes.c_int),
            len(codes),
            0.0,
            0,
            _ptr(out, ctypes.c_int),
            deadline or 0.0,
            cap,
        )
        self._lib.cc_set_logging(self._handle, 1)
        return None if status < 0 else out.tolist()


def _not_intermediate(g: ElimGraph, v: int) -> str:
    name = g.ids[v] if 0 <= v < len(g.ids) else v
    return (
        f"expected an intermediate vertex position, got {v} ({name!r}); "
        "orders eliminate only ElimGraph.intermediates"
    )


def now() -> float:
    """The C core's clock (monotonic seconds), for ``deadline`` arguments."""
    return library().cc_now()


class ScalarAnnealer:
    """Simulated annealing over orders of a scalar graph, in C.

    A cursor sweeps the order; every move rewrites a short window starting at the
    cursor, priced by eliminating it on the graph kept eliminated up to the
    cursor and undoing that (see ``_anneal.c``). Runs cool geometrically from
    ``temperature[0]`` to ``temperature[1]`` times the mean uphill move of the
    start order, and restart alternately from the best order and from a
    greedy-randomised Markowitz order. A function of ``seed`` and the number of
    moves: ``step(a); step(b)`` equals ``step(a + b)``.

    Args:
      core: the graph's :class:`ScalarCore` (its arrays are copied).
      start: the first order (positions).
      seed: random seed.
      run_moves: moves per annealing run.
      temperature: start and end temperature of a run.
      mean_distance: mean distance of non-neighbour moves.
      greedy_restarts: every other run starts from a greedy-randomised
        Markowitz order (a whole greedy: off for big graphs, where it would
        overrun a work chunk).
    """

    def __init__(
        self,
        core: ScalarCore,
        start: Sequence[int],
        *,
        seed: int = 0,
        run_moves: int,
        temperature: tuple[float, float] = (0.3, 0.002),
        mean_distance: float,
        greedy_restarts: bool = True,
    ):
        self._lib = lib = library()
        ip, ii, vl = core._csr
        self.n = len(core.intermediates)
        first = _ints(start)
        steps = core.known_steps(start)  # a big graph's pricing pass is not free
        self._handle = lib.sa_new(
            _ptr(ip, ctypes.c_int),
            _ptr(ii, ctypes.c_int),
            _ptr(vl, ctypes.c_ubyte),
            core.num_vertices,
            _ptr(core._inter, ctypes.c_int),
            _ptr(first, ctypes.c_int),
            self.n,
            seed & (1 << 64) - 1,
            temperature[0],
            temperature[1],
            run_moves,
            mean_distance,
            int(greedy_restarts),
            None if steps is None else _ptr(steps, ctypes.c_longlong),
        )
        self.best_cost = lib.sa_step(self._handle, 0)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.sa_free(handle)
            self._handle = None

    @property
    def moves(self) -> int:
        return self._lib.sa_moves(self._handle)

    @property
    def best_order(self) -> list[int]:
        out = np.zeros(self.n, dtype=np.intc)
        self._lib.sa_best(self._handle, _ptr(out, ctypes.c_int))
        return out.tolist()

    @property
    def current(self) -> tuple[list[int], int]:
        """The order the annealer is at and its cost as the annealer keeps it."""
        out = np.zeros(self.n, dtype=np.intc)
        total = self._lib.sa_current(self._handle, _ptr(out, ctypes.c_int))
        return out.tolist(), total

    def step(self, num_moves: int) -> int:
        """Makes ``num_moves`` more moves; returns the best cost so far."""
        self.best_cost = self._lib.sa_step(self._handle, num_moves)
        return self.best_cost

    def offer(self, order: Sequence[int], cost: int) -> None:
        """Takes ``order`` (true cost ``cost``) as the best if cheaper."""
        arr = _ints(order)
        self._lib.sa_offer(self._handle, _ptr(arr, ctypes.c_int), cost)
        self.best_cost = min(self.best_cost, cost)
