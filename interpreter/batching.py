"""Batch-aware execution: a kernel that knows its ``jax.vmap`` batch size when traced.

A kernel is traced once per example shape, but how XLA (CPU) runs it best depends
on the batch: a small contraction as a broadcast ``mul`` and a sum fuses with its
neighbours (no extra fused loop to launch, which is what small batches pay for),
while as a ``dot_general`` it gets its operands computed once (XLA otherwise
recomputes fused producers, transcendental ones included, for every product
element) and a matrix kernel (what large batches pay for). Both forms perform the
same multiplications (``graphs.algebra`` counts the product of the distinct
label sizes either way), so the choice changes speed, never the count.

:func:`batch_aware` wraps a function of flat arrays in ``jax.custom_batching.
custom_vmap``: called unbatched it runs as traced for one example; under
``jax.vmap`` its rule re-traces the body under a plain ``jax.vmap`` with the
contraction policy for that batch size (:func:`dot_policy`), and stores the shared
expensive values once (:func:`worth_storing`, ``interpreter.materialize``) and, when
the body assembles blocks in one fused loop each, the cheap values its elements
share where recomputing them would cost more than a buffer
(:func:`worth_storing_shared`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
from jax.custom_batching import custom_vmap

from graphs import algebra
from interpreter.eliminate import ASSEMBLY_BATCH
from interpreter.materialize import evaluate_once, stores_any

#: A contraction (contracted size >= 2) runs as ``dot_general`` when the
#: multiplications of the einsum times the batch size reach this many; below, as a
#: fused broadcast multiply (unless its contracted size exceeds
#: ``graphs.algebra.SMALL_CONTRACTION``, which always uses ``dot_general``).
#: Measured on the benchmark tasks (RoeFlux_3d, f, MLP): dots pay off from about
#: this much work per einsum on XLA CPU.
DOT_MIN_BATCHED_MULTIPLICATIONS = 4096

#: Under ``jax.vmap`` from this batch size on, expensive values that several output
#: blocks need are computed once and stored (``interpreter.materialize``) instead
#: of being recomputed inside every block's fused loop. Measured on the benchmark
#: tasks against the plain evaluation: RobotArm_6DOF 1.0x -> 2.2x and g 1.6x -> 6.2x
#: of jax.jacfwd/jacrev's speed at batch 2048, f 0.7x -> 1.1x at 256; at batch 1 and
#: 16 mostly equal or better (RoeFlux_1d at 1 and f at 16 about 0.1x slower). A symbolic
#: batch (export with a named batch dimension) and unbatched calls keep the plain
#: evaluation (and the standalone source stays straight-line).
STORE_SHARED_MIN_BATCH = 1

#: ... and only values of at most this many elements per example without a
#: length-1 axis: storing larger ones, or keepdims reduction results that are
#: broadcast afterwards, made the Encoder task slower (measured at batch 256 and
#: 2048: 0.92x and 1.07x of jax instead of 1.15x and 1.16x), storing these made
#: f, MLP, RobotArm_6DOF and g faster.
STORE_SHARED_MAX_ELEMENTS = 4


def worth_storing(shape: tuple[int, ...], batch: int) -> bool:
    """Whether a shared expensive value of ``shape`` (batched by ``batch``) is stored.

    The per-example shape (``shape`` without its first axis of length ``batch``)
    must have at most ``STORE_SHARED_MAX_ELEMENTS`` elements and no length-1 axis.
    """
    per_example = list(shape)
    if batch in per_example:
        per_example.remove(batch)
    return math.prod(per_example) <= STORE_SHARED_MAX_ELEMENTS and 1 not in per_example


#: A cheap value that several elements of a grouped-stacked block share
#: (``interpreter.eliminate.STACK_GROUP``) is stored when the work its storing saves,
#: ``(fan-out - 1) * cost * batch`` weighted equations
#: (``interpreter.materialize.recompute_cost``), reaches this many. Each stored
#: value is one more fused loop (0.5-1 µs on XLA CPU), and storing at 8192 or
#: 65536 made HumanHeartDipole/vec's and RobotArm_6DOF/vec's kernels 1.3-2x slower
#: at batch 2048 (32 and 191 loops instead of 5 and 29) than this threshold, which
#: stores almost nothing on the benchmark's vector forms. It matters for long cheap
#: chains: a 48-operation product shared by 24 of 64 elements made one fused loop
#: 4x slower at batch 256 (11 -> 45 µs) when recomputed.
STORE_RECOMPUTED_MIN = 262144


def worth_storing_shared(
    shape: tuple[int, ...], batch: int, fanout: int, cost: int
) -> bool:
    """Whether a cheap value shared in a fused loop is stored (one scalar per example).

    Args:
      shape: the batched value's shape; one element per example qualifies.
      batch: the vmap batch size.
      fanout: how many times the fused loop would evaluate it per example.
      cost: weighted equations per evaluation.
    """
    per_example = list(shape)
    if batch in per_example:
        per_example.remove(batch)
    if math.prod(per_example) != 1:
        return False
    return (fanout - 1) * cost * batch >= STORE_RECOMPUTED_MIN


#: In a fused block the shared expensive values are stored (all of them) only when
#: one of them saves at least this many weighted equations per example,
#: ``(fan-out - 1) * cost``: the barrier and its loops cost more than recomputing a
#: sine two or three times (planar_arm_residual: at most 36, SCARA pose: 17; without
#: the barrier 1.12x / 1.14x of min(jacfwd, jacrev) at batch 256 / 2048 instead of
#: 0.83x / 0.74x) and less than recomputing an Arrhenius rate in 12 elements (352:
#: 2.35x / 1.67x with it, 1.71x / 0.94x without).
STORE_EXPENSIVE_MIN = 64

#: ... and once that barrier is open in a fused block, every expensive value it may
#: store (``worth_storing``) is stored, also those only one element reads (the
#: all-or-none rule above otherwise covers only values read at least twice). Left
#: in the block's assembly loop, such a value is evaluated inside XLA CPU's
#: concatenation loops (one per stacked row, a scalar store per element and
#: example); stored, in a loop of its own over the batch. Chosen on
#: double_pendulum (float64 at batch 256 / 2048: 22.1 / 111.9 -> 19.5 / 100.3 µs,
#: float32 17.5 / 86.8 -> 13.6 / 76.5 µs, interleaved medians, load 1.7-2.1;
#: 19 -> 16 sines, cosines and divisions in its compiled kernel) and checked on
#: the only vector tasks whose kernels it changes: RobotArm_6DOF/vec,
#: RoeFlux_1d/vec and BlackScholes_Jacobian/vec equal or faster, except
#: BlackScholes/vec at 2048 in float64 (110-116 -> 120-121 µs in two runs).
FUSED_STORE_MIN_FANOUT = 1


def dot_policy(batch: int | None) -> Callable[[int, int], bool]:
    """``policy(contracted size, multiplications) -> use dot_general`` for a batch.

    Args:
      batch: the vmap batch size, or ``None`` when it is symbolic (export with a
        named batch dimension), which counts as large.

    Returns:
      The policy for ``graphs.algebra.DOT_POLICY``.
    """

    def policy(contract_size: int, multiplications: int) -> bool:
        if contract_size > algebra.SMALL_CONTRACTION:
            return True
        if contract_size < 2:
            return False
        return (
            batch is None or batch * multiplications >= DOT_MIN_BATCHED_MULTIPLICATIONS
        )

    return policy


@contextlib.contextmanager
def executing_for(batch: int | None) -> Iterator[None]:
    """Within the block, contractions traced follow :func:`dot_policy` of ``batch``,
    and blocks are assembled for ``batch`` (``interpreter.eliminate.ASSEMBLY_BATCH``)."""
    token = algebra.DOT_POLICY.set(dot_policy(batch))
    batch_token = ASSEMBLY_BATCH.set(batch)
    try:
        yield
    finally:
        ASSEMBLY_BATCH.reset(batch_token)
        algebra.DOT_POLICY.reset(token)


def batch_aware(
    body: Callable[..., Any], *, fused_outputs: bool = False
) -> Callable[..., Any]:
    """``body`` (a function of flat arrays) traced with the policy of its batch size.

    Args:
      body: a pure function of positional arrays returning a pytree of arrays.
      fused_outputs: whether ``body`` assembles outputs from many small pieces in
        one fused loop (grouped stacking); then cheap values the pieces share are
        stored too (:func:`worth_storing_shared`).

    Returns:
      A function with ``body``'s signature and results that composes with
      ``jax.jit``, ``jax.vmap`` (its rule batches ``body`` with ``jax.vmap``; the
      results are batched along axis 0) and differentiation in both modes
      (``jax.jvp``, ``jax.grad``, ``jax.jacrev``: through ``body`` itself).
    """

    @custom_vmap
    def run(*arrays):
        with executing_for(1):
            return body(*arrays)

    @run.def_vmap
    def _rule(axis_size, in_batched, *arrays):
        size = axis_size if isinstance(axis_size, int) else None
        axes = [0 if batched else None for batched in in_batched]

        def vmapped(assembly: int | None) -> Callable[..., Any]:
            """``body`` under ``jax.vmap``, its blocks assembled for ``assembly``."""

            def traced(*xs):
                with executing_for(size):
                    token = ASSEMBLY_BATCH.set(assembly)
                    try:
                        return body(*xs)
                    finally:
                        ASSEMBLY_BATCH.reset(token)

            return jax.vmap(traced, in_axes=axes, axis_size=axis_size)

        batched = vmapped(size)
        if size is not None and size >= STORE_SHARED_MIN_BATCH:
            shared = expensive = None
            if fused_outputs:

                def shared(aval, fanout, cost):
                    return np.issubdtype(aval.dtype, np.inexact) and (
                        worth_storing_shared(aval.shape, size, fanout, cost)
                    )

                def expensive(aval, fanout, cost):
                    return (fanout - 1) * cost >= STORE_EXPENSIVE_MIN

            options = dict(
                min_fanout=FUSED_STORE_MIN_FANOUT if fused_outputs else 2,
                store=lambda aval: worth_storing(aval.shape, size),
                shared=shared,
                expensive=expensive,
            )
            if fused_outputs:
                # Small blocks are built from padded columns
                # (``interpreter.eliminate.pads_columns``) only where the
                # shared-values barrier stays closed: their gain is the one loop
                # that evaluates each shared sine once, and behind an open
                # barrier the stored values are read from buffers anyway (double
                # pendulum, float32 at 2048, stacked -> padded in four A/B runs:
                # 105 / 107 / 125 / 142 -> 135 / 138 / 128 / 135 µs).
                rows = vmapped(None)
                if stores_any(rows, *arrays, **options):
                    batched = rows
            # Consumers of a fused block read one scalar per example, so a
            # stored sine and cosine can share one [batch, 2] buffer and one
            # sincos call (interpreter.materialize._SINCOS).
            out = evaluate_once(batched, *arrays, **options, pair_sincos=fused_outputs)
        else:
            out = batched(*arrays)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    # custom_vmap alone cannot be linearized (jax.grad/jacrev of a kernel, Hessians):
    # its derivative is the derivative of the plain body, whose tangent map JAX
    # builds and transposes as usual; the batch policy only matters for the primal.
    @jax.custom_jvp
    def differentiable(*arrays):
        return run(*arrays)

    @differentiable.defjvp
    def _jvp(primals, tangents):
        return jax.jvp(body, primals, tangents)

    return differentiable
