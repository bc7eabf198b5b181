"""Baseline orders of scalar graphs with the bitset model (``graphs.baselines``, fast).

The same greedy rules, scores and tie-breaks as ``graphs.baselines`` — forward,
reverse, markowitz, markowitz_latest, relative_markowitz and min_fill — but every
score comes from :class:`search.fastcost.ScalarModel` and is re-computed only for
the neighbours of the vertex eliminated (nothing else's edges change). ``tests/search/
test_local.py`` checks that orders and costs are identical.
"""

from __future__ import annotations

from search.fastcost import ScalarModel, bits, neighbours_through


def scalar_baselines(model: ScalarModel) -> dict[str, tuple[list[int], int]]:
    """``graphs.baselines`` on a scalar graph, with the bitset model (same orders).

    Returns:
      ``{name: (order positions, multiplications)}`` for forward, reverse,
      markowitz, markowitz_latest, relative_markowitz and min_fill, with the same
      scores and tie-breaks as ``graphs.baselines``.
    """
    inter = list(model.intermediates)
    pred, succ = model.pred, model.succ
    cost = model.vertex_cost

    anc, desc = model.ancestors, model.descendants
    memo: dict[tuple[int, int, int], int] = {}

    def preds(v: int, x: int) -> int:
        key = (v, x & anc[v], 0)
        found = memo.get(key)
        if found is None:
            found = memo[key] = neighbours_through(v, x, pred)
        return found

    def succs(v: int, x: int) -> int:
        key = (v, x & desc[v], 1)
        found = memo.get(key)
        if found is None:
            found = memo[key] = neighbours_through(v, x, succ)
        return found

    def counts(v: int, x: int) -> tuple[int, int]:
        return preds(v, x).bit_count(), succs(v, x).bit_count()

    def fill(v: int, x: int) -> int:
        ps = preds(v, x)
        return sum((ps & ~preds(s, x)).bit_count() for s in bits(succs(v, x)))

    scores = {
        "markowitz": lambda v, x: (cost(v, x), v),
        "markowitz_latest": lambda v, x: (cost(v, x), -v),
        "relative_markowitz": lambda v, x: (
            cost(v, x) - sum(counts(v, x)),
            cost(v, x),
            v,
        ),
        "min_fill": lambda v, x: (fill(v, x), cost(v, x), v),
    }
    result = {"forward": inter, "reverse": inter[::-1]}
    for name, score in scores.items():
        x = 0
        remaining = set(inter)
        cached = {v: score(v, 0) for v in inter}
        order = []
        while remaining:
            v = min(remaining, key=cached.__getitem__)
            # Eliminating v only changes the edges of its neighbours, so only
            # their scores (and for min_fill, those of the other predecessors
            # of v's successors) can change.
            ps, ss = preds(v, x), succs(v, x)
            touched = ps | ss
            if name == "min_fill":
                for s in bits(ss):
                    touched |= preds(s, x)
            order.append(v)
            remaining.discard(v)
            x |= 1 << v
            for u in bits(touched & model.inter_mask):
                if u in remaining:
                    cached[u] = score(u, x)
        result[name] = order
    return {name: (order, model.order_cost(order)) for name, order in result.items()}
