"""``partial_fit``'s hot path: snapshot, epoch and check in one call, one kernel per path.

Each ``guarded_*`` kernel takes ``(X, y, sw, order, m, arena, hp, spec)``:

``arena`` is one model's float64 storage, length ``_layout.arena_size(d)``: ``params``
(d+1), ``state`` (``N_ST`` x (d+1), row-major) and ``counters`` (``N_SC``) -- the *live*
part, which ``LinearState`` exposes as views -- then room for a copy of the live part,
scratch of ``d + 1 + ARENA_RATES`` entries, the divergence limit on the epoch's mean
loss (``LinearState.loss_limit``) and a validity flag. The live part is copied
there before the epoch, then the flag is set to 1 (restoring from the copy is valid).
``spec`` packs the option codes: ``loss | penalty << 4 | optimizer << 8 | schedule << 12
| batch_size << 16`` (batch size 0: full batch, ``m`` rows). ``sw``, ``y`` and ``order``
may be longer than the rows they serve (a shared ``0..n-1`` serves every chunk without a
slice per call; ``sw`` may be empty, all weights 1): the rows trained on are
``order[:m]``, each below ``X.shape[0] <= y.shape[0]`` (and ``<= sw.shape[0]``).

Each returns the epoch's loss sum; its negative when that sum passed ``m`` times the
divergence limit (a loss sum is never negative: one test, ``not s >= 0``, tells the caller
something needs a look); or NaN when a prediction was not finite, the loss sum is not
finite (a non-finite target), the parameters or optimizer state are not finite or the
arguments do not fit together; the caller then restores the live part from the copy. Six arrays and
two integers, one float back: at 1,000-row chunks the fixed cost of a call (argument
unboxing above all) is what streaming throughput loses. The driver picks the kernel
(``fastgd._driver.guarded_kernel``); each compiles only its own path.
"""

from __future__ import annotations

import math

from .. import _layout as C
from ._jit import kernel, leaf
from .batch import batch_epoch
from .sgd import sgd_general_epoch, sgd_plain_epoch
from .targets import all_finite


@leaf
def _begin(X, y, sw, order, m, arena):
    """Check the arguments and snapshot the live part; returns its length (-1: refused)."""
    d1 = X.shape[1] + 1
    live = d1 * (1 + C.N_ST) + C.N_SC
    if (
        arena.shape[0] != 2 * live + d1 + C.ARENA_RATES + 2
        or m > order.shape[0]
        or X.shape[0] > y.shape[0]
        or 0 < sw.shape[0] < X.shape[0]
    ):
        return -1
    for j in range(live):
        arena[live + j] = arena[j]
    arena[arena.shape[0] - 1] = 1.0
    return live


@leaf
def _views(arena, d1, live):
    """``(params, state, counters)``: the live part of ``arena`` as the kernels' arrays."""
    state = arena[d1 : d1 * (1 + C.N_ST)].reshape((C.N_ST, d1))
    return arena[:d1], state, arena[d1 * (1 + C.N_ST) : live]


@leaf
def _finish(arena, d1, sumloss, bad, m):
    """The loss sum, or NaN when the epoch stopped or left a non-finite parameter or
    optimizer state entry (an adaptive optimizer's squared-gradient sum can overflow
    to inf while the parameters stay finite, freezing that coefficient): the same
    check as the general path's (``fastgd._driver.run_epochs``)."""
    if bad >= 0 or not math.isfinite(sumloss):
        return math.nan
    if not all_finite(arena[: d1 * (1 + C.N_ST)]):  # SIMD blocks of x * 0
        return math.nan
    if sumloss > arena[arena.shape[0] - 2] * m:  # the divergence limit: a look needed
        return -sumloss
    return sumloss


@kernel
def guarded_plain(X, y, sw, order, m, arena, hp, spec):
    """:func:`~.sgd.sgd_plain_epoch` over ``order[:m]`` (see the module docstring)."""
    live = _begin(X, y, sw, order, m, arena)
    if live < 0:
        return math.nan
    d1 = X.shape[1] + 1
    params, state, counters = _views(arena, d1, live)
    sumloss, _, bad = sgd_plain_epoch(
        X,
        y,
        sw,
        order[:m],
        params,
        state,
        counters,
        hp,
        spec & 15,
        (spec >> 4) & 15,
        (spec >> 12) & 15,
        arena[2 * live : 2 * live + d1 + C.ARENA_RATES],
    )
    return _finish(arena, d1, sumloss, bad, m)


@kernel
def guarded_general(X, y, sw, order, m, arena, hp, spec):
    """:func:`~.sgd.sgd_general_epoch` over ``order[:m]`` (see the module docstring)."""
    live = _begin(X, y, sw, order, m, arena)
    if live < 0:
        return math.nan
    d1 = X.shape[1] + 1
    params, state, counters = _views(arena, d1, live)
    sumloss, _, bad = sgd_general_epoch(
        X,
        y,
        sw,
        order[:m],
        params,
        state,
        counters,
        hp,
        spec & 15,
        (spec >> 4) & 15,
        (spec >> 12) & 15,
    )
    return _finish(arena, d1, sumloss, bad, m)


@kernel
def guarded_batch(X, y, sw, order, m, arena, hp, spec):
    """:func:`~.batch.batch_epoch` over ``order[:m]`` (see the module docstring)."""
    live = _begin(X, y, sw, order, m, arena)
    if live < 0:
        return math.nan
    d1 = X.shape[1] + 1
    params, state, counters = _views(arena, d1, live)
    batch_size = spec >> 16
    sumloss, _, bad = batch_epoch(
        X,
        y,
        sw,
        order[:m],
        params,
        state,
        counters,
        hp,
        spec & 15,
        (spec >> 4) & 15,
        (spec >> 8) & 15,
        (spec >> 12) & 15,
        m if batch_size == 0 else batch_size,
    )
    return _finish(arena, d1, sumloss, bad, m)
