"""Per-sample plain SGD: the carried-dot path and the general (L1, averaging) path.

Two compiled entry points, each compiled only when first used:

* :func:`sgd_plain_epoch` -- no L1 and no averaging: the carried dot product
  (:mod:`.carry`) takes the dot off the per-row critical path. Every default
  ``SGDRegressor`` / ``SGDClassifier`` fit runs here.
* :func:`sgd_general_epoch` -- L1 / elastic net (Tsuruoka's cumulative penalty) and
  averaging, with the fused update-and-next-dot of :func:`~.leaves.update_dot_full`.

Shared argument convention (every array is modified in place where noted):

X : (n, d) float32 or float64, C-contiguous, read-only
    Features, read as stored; all arithmetic is float64.
y : (n,) float64
    Targets; -1/+1 for classification losses.
sw : (n,) float64, or empty
    Per-sample weights (sample_weight times class weight). An empty array means every
    weight is 1: a shuffled epoch then reads no random cache line of an all-ones array.
order : (m,) int64
    Rows of ``X`` to visit this epoch, in order (the driver's permutation).
params : (d + 1,) float64, in place
    Coefficients then the intercept.
state : (N_ST, d + 1) float64, in place
    Optimizer moments, the running average, Tsuruoka's ``q`` and the carry (``ST_*``).
counters : (N_SC,) float64, in place
    Next update number ``t``, cumulative L1 ``u``, adaptive rate, the carry's ``s, u``.
hp : (N_HP,) float64
    Hyperparameters (``HP_*`` slots).
loss, penalty, schedule : int64
    Option codes.

Each returns ``(sumloss, sumobj, bad)``: the sums over visited rows of the loss, and
of the loss plus ``alpha R(w)``, both at the parameters *before* that row's update
(scikit-learn's progress measure), and ``-1``, or the position in ``order`` where the
prediction was not finite -- the loop stops there and the driver restores its copy.

Compile against run time (cold cache, 2-core AMD EPYC, measured for this split): the
carried-dot block loop is a compiled function called once per ``GATHER_BLOCK`` rows (a
call per 256 rows is free; inlining it at two call sites doubled the compile of the
default path). The general path's block is compiled on its own too (inlined at its two call sites, the
first L1 fit compiled for 11 s); its sums live in registers (:func:`~.leaves.update_full`).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _layout as C
from ._jit import kernel, leaf
from .carry import carry_step, carry_weights
from .leaves import dot_row, norms, update_full
from .prefetch import prefetch_ahead, prefetch_sample, weight
from .scalar import RATE_BLOCK, check_codes, fill_rates, loss_grad

# A literal constant passed to a compiled (not inlined) function is typed Literal[int](0),
# and numba then compiles that callee twice: once for the literal and once for int64.
# Calls between compiled functions therefore pass variables, never literal numbers/bools.

# rows per block: both paths check contiguity per block and read rows in place
GATHER_BLOCK = 256


@leaf
def penalty_parts(penalty, hp):
    """``(l2c, l1c)``: ``alpha (1 - l1_ratio)`` and ``alpha l1_ratio`` of the penalty."""
    alpha = hp[C.HP_ALPHA]
    if penalty == C.PENALTY_NONE:
        return 0.0, 0.0
    if penalty == C.PENALTY_L2:
        return alpha, 0.0
    if penalty == C.PENALTY_L1:
        return 0.0, alpha
    if penalty == C.PENALTY_ELASTICNET:
        r = hp[C.HP_L1_RATIO]
        return alpha * (1.0 - r), alpha * r
    raise ValueError("unknown penalty code")


@leaf
def contiguous_run(order, start, nb):
    """True when ``order[start:start + nb]`` is ``first, first + 1, ...`` (rows read in place)."""
    first = order[start]
    for k in range(1, nb):
        if order[start + k] != first + k:
            return False
    return True


@leaf
def fixed_rate(schedule):
    """Whether the rate cannot change within a call ('constant', 'adaptive')."""
    return schedule == C.SCHED_CONSTANT or schedule == C.SCHED_ADAPTIVE


# --------------------------------------------------------------- the carried-dot path
@kernel
def carry_block(
    X,
    y,
    sw,
    order,
    start,
    nb,
    indirect,
    prefetch,
    wp,
    xp,
    xq,
    sp,
    up,
    b,
    t,
    counters,
    hp,
    rates,
    loss,
    penalty,
    schedule,
):
    """Per-sample SGD over rows ``order[start:start + nb]`` of ``X`` with the carried dot.

    Rows are read in place: ``order[start] + kk`` when the run is contiguous
    (``indirect`` false; ``prefetch`` asks for software prefetch, which pays only for
    rows of several cache lines), else ``order[start + kk]`` with rows prefetched
    :func:`~.prefetch.prefetch_ahead` positions of ``order`` ahead. ``wp`` and ``xp``
    hold the carry on entry and on return (``xq`` is scratch of the same length).
    Returns ``(sp, up, b, t, sumloss, sumpen, bad)``; on a non-finite prediction
    ``wp`` holds the weights before that row and ``bad`` its position in ``order``.
    """
    fit_intercept = hp[C.HP_FIT_INTERCEPT] != 0.0
    epsilon = hp[C.HP_EPSILON]
    l2c, _ = penalty_parts(penalty, hp)
    has_l2 = penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET
    fixed = fixed_rate(schedule)
    if fixed:
        lo = nb - nb  # 0 and 1, not literals (see GATHER_BLOCK)
        fill_rates(schedule, t, hp, counters, rates, lo, lo + 1)
    eta_fixed = rates[0]
    sumloss = 0.0
    sumpen = 0.0
    xa = xp
    xb = xq
    swapped = False
    bad = -1
    first = order[start]
    m = order.shape[0]
    ahead = prefetch_ahead(X)
    fetch = indirect or prefetch
    for kk in range(nb):
        r = order[start + kk] if indirect else first + kk
        if fetch and start + kk + ahead < m:  # across blocks: no stall at the seams
            prefetch_sample(X, y, sw, order[start + kk + ahead])
        k = 0
        if not fixed:
            # rates come in blocks aligned on t (not on the call), so chunking a stream
            # into partial_fit calls does not change a single learning rate
            k = int(t - 1.0) % RATE_BLOCK
            if k == 0 or kk == 0:  # only the entries this block's rows will read
                fill_rates(schedule, t - k, hp, counters, rates, k, min(RATE_BLOCK, k + nb - kk))
        cdot, gdot, n2 = carry_step(wp, xa, xb, X, r, sp, up)
        p = (sp * cdot + up * gdot) + b
        xa, xb = xb, xa
        swapped = not swapped
        if not math.isfinite(p):
            bad = start + kk  # the caller restarts the carry from wp
            break
        yi = y[r]
        eta = eta_fixed if fixed else rates[k]
        lv, dl = loss_grad(loss, p, yi, epsilon)
        sumloss += lv
        sumpen += 0.5 * l2c * n2
        up = -eta * dl * weight(sw, r)
        sp = max(0.0, 1.0 - l2c * eta) if has_l2 else 1.0
        if fit_intercept:
            b += up
        t += 1.0
    if swapped:
        for j in range(xp.shape[0]):
            xp[j] = xq[j]
    return sp, up, b, t, sumloss, sumpen, bad


@kernel
def sgd_plain_epoch(X, y, sw, order, params, state, counters, hp, loss, penalty, schedule, scratch):
    """One pass of per-sample plain SGD without L1 or averaging (the carried-dot path).

    For each row (``t`` the update number, ``eta = learning_rate(t)``)::

        p      = x . w + b
        upd    = -eta * clip(dL/dp(p, y)) * sw
        w     <- max(0, 1 - eta * l2c) * w + upd * x        (L2 as a shrink)
        b     <- b + upd                                     (if fit_intercept)
        t     <- t + 1

    exactly scikit-learn's ``_plain_sgd`` step. ``scratch`` is float64, at least
    ``d + RATE_BLOCK`` long (passed in: two allocations per call were ~5% of a
    1,000-row chunk). The dot product of each row with the updated weights is
    assembled from the carry (:mod:`.carry`) instead of recomputed on the critical
    path. The carry is continued when it reproduces ``params`` and restarted from
    ``params`` otherwise.
    """
    check_codes(loss, penalty, C.OPT_SGD, schedule)
    m = order.shape[0]
    d = X.shape[1]
    if m == 0:
        return 0.0, 0.0, -1
    if penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET or hp[C.HP_AVERAGE] != 0.0:
        raise ValueError("sgd_plain_epoch: L1 and averaging take sgd_general_epoch")
    w = params[:d]
    wp = state[C.ST_WP, :d]
    xp = state[C.ST_XP, :d]
    xq = scratch[:d]
    rates = scratch[d : d + RATE_BLOCK]
    sp = counters[C.SC_SP]
    up = counters[C.SC_UP]
    carry_weights(wp, xp, sp, up, xq)
    for j in range(d):
        if xq[j] != w[j]:
            for jj in range(d):
                wp[jj] = w[jj]
                xp[jj] = 0.0
            sp = 1.0
            up = 0.0
            break
    b = params[d]
    t = counters[C.SC_T]
    sumloss = 0.0
    sumpen = 0.0
    bad = -1
    # Rows are read in place, shuffled or not. Software prefetch of a contiguous run
    # pays from rows of a few cache lines on (measured at d = 100: 10-25% faster; at
    # d = 10 it cost 5-10%). A shuffled order is prefetched a few rows ahead.
    prefetch_rows = d * X.itemsize >= 256
    start = m - m  # 0, not a literal
    while start < m:
        nb = min(GATHER_BLOCK, m - start)
        indirect = not contiguous_run(order, start, nb)
        sp, up, b, t, sl, spen, bad = carry_block(
            X,
            y,
            sw,
            order,
            start,
            nb,
            indirect,
            prefetch_rows and not indirect,
            wp,
            xp,
            xq,
            sp,
            up,
            b,
            t,
            counters,
            hp,
            rates,
            loss,
            penalty,
            schedule,
        )
        sumloss += sl
        sumpen += spen
        if bad >= 0:
            # wp holds the weights before the bad row: publish them, restart the carry
            for j in range(d):
                xp[j] = 0.0
            sp = 1.0
            up = 0.0
            break
        start += nb
    carry_weights(wp, xp, sp, up, w)
    params[d] = b
    counters[C.SC_T] = t
    counters[C.SC_SP] = sp
    counters[C.SC_UP] = up
    return sumloss, sumloss + sumpen, bad


# ------------------------------------------------------------------ the general path
@kernel
def general_block(
    X,
    y,
    sw,
    order,
    start,
    nb,
    indirect,
    prefetch,
    w,
    b,
    t,
    u,
    n2,
    n1,
    q,
    aw,
    state,
    counters,
    hp,
    rates,
    loss,
    penalty,
    schedule,
):
    """Per-sample SGD with L1 and/or averaging over rows ``order[start:start + nb]`` of X.

    Rows are read in place, as in :func:`carry_block`: ``order[start] + kk`` when the run
    is contiguous (``indirect`` false), else ``order[start + kk]``, prefetched
    :func:`~.prefetch.prefetch_ahead` positions ahead (``prefetch``). Returns
    ``(b, t, u, n2, n1, sumloss, sumpen, bad)``; ``w``, ``q``, ``aw`` and the averaged
    intercept ``state[ST_AVG, d]`` change in place.
    """
    d = w.shape[0]
    fit_intercept = hp[C.HP_FIT_INTERCEPT] != 0.0
    epsilon = hp[C.HP_EPSILON]
    avg_start = hp[C.HP_AVERAGE]
    l2c, l1c = penalty_parts(penalty, hp)
    has_l2 = penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET
    has_l1 = penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET
    fixed = fixed_rate(schedule)
    if fixed:
        lo = nb - nb  # 0 and 1, not literals (see GATHER_BLOCK)
        fill_rates(schedule, t, hp, counters, rates, lo, lo + 1)
    eta_fixed = rates[0]
    sumloss = 0.0
    sumpen = 0.0
    first = order[start]
    m = order.shape[0]
    p = dot_row(X, first, w)
    ahead = prefetch_ahead(X)
    for kk in range(nb):
        i = start + kk
        r = order[i] if indirect else first + kk
        if prefetch and i + ahead < m:
            prefetch_sample(X, y, sw, order[i + ahead])
        k = 0
        if not fixed:
            k = int(t - 1.0) % RATE_BLOCK
            if k == 0 or kk == 0:
                fill_rates(schedule, t - k, hp, counters, rates, k, min(RATE_BLOCK, k + nb - kk))
        p += b
        if not math.isfinite(p):
            return b, t, u, n2, n1, sumloss, sumpen, i
        yi = y[r]
        eta = eta_fixed if fixed else rates[k]
        lv, dl = loss_grad(loss, p, yi, epsilon)
        sumloss += lv
        sumpen += 0.5 * l2c * n2 + l1c * n1
        upd = -eta * dl * weight(sw, r)
        scale = max(0.0, 1.0 - l2c * eta) if has_l2 else 1.0
        if has_l1:
            u += l1c * eta
        do_avg = avg_start > 0.0 and avg_start <= t
        mu = 1.0 / (t - avg_start + 1.0) if do_avg else 0.0
        rn = r
        if kk + 1 < nb:
            rn = order[i + 1] if indirect else r + 1
        p, n2, n1 = update_full(w, X, r, rn, scale, upd, has_l1, u, q, do_avg, mu, aw)
        if fit_intercept:
            b += upd
        if do_avg:
            state[C.ST_AVG, d] += (b - state[C.ST_AVG, d]) * mu
        t += 1.0
    return b, t, u, n2, n1, sumloss, sumpen, -1


@kernel
def sgd_general_epoch(X, y, sw, order, params, state, counters, hp, loss, penalty, schedule):
    """One pass of per-sample plain SGD with any penalty and averaging.

    For each row (``t`` the update number, ``eta = learning_rate(t)``)::

        p      = x . w + b
        upd    = -eta * clip(dL/dp(p, y)) * sw
        w     <- max(0, 1 - eta * l2c) * w + upd * x        (L2 as a shrink)
        b     <- b + upd                                     (if fit_intercept)
        u     <- u + eta * l1c;  Tsuruoka's cumulative L1 on w (l1, elasticnet)
        avg   <- avg + (w - avg) / (t - average + 1)         (if 0 < average <= t)
        t     <- t + 1

    Rows are read in place, shuffled ones prefetched ahead (an earlier version copied
    each shuffled block into a float64 buffer first; read in place, the block loop is
    compiled once per X dtype instead of twice). Dot products sum in a fixed order, so
    the order rows are stored in changes no bit of the result.
    """
    check_codes(loss, penalty, C.OPT_SGD, schedule)
    m = order.shape[0]
    d = X.shape[1]
    if m == 0:
        return 0.0, 0.0, -1
    w = params[:d]
    b = params[d]
    q = state[C.ST_Q, :d]
    aw = state[C.ST_AVG, :d]
    t = counters[C.SC_T]
    u = counters[C.SC_U]
    sumloss = 0.0
    sumpen = 0.0
    bad = -1
    rates = np.empty(RATE_BLOCK)
    n2, n1 = norms(w) if penalty != C.PENALTY_NONE else (0.0, 0.0)
    prefetch_rows = d * X.itemsize >= 256
    start = m - m  # 0, not a literal
    while start < m:
        nb = min(GATHER_BLOCK, m - start)
        indirect = not contiguous_run(order, start, nb)
        b, t, u, n2, n1, sl, sp, bad = general_block(
            X,
            y,
            sw,
            order,
            start,
            nb,
            indirect,
            indirect or prefetch_rows,
            w,
            b,
            t,
            u,
            n2,
            n1,
            q,
            aw,
            state,
            counters,
            hp,
            rates,
            loss,
            penalty,
            schedule,
        )
        sumloss += sl
        sumpen += sp
        if bad >= 0:
            break
        start += nb
    params[d] = b
    counters[C.SC_T] = t
    counters[C.SC_U] = u
    return sumloss, sumloss + sumpen, bad
