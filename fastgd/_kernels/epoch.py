"""The epoch loops: per-sample plain SGD (fast path) and mini/full-batch with any optimizer.

Shared argument convention (every array is modified in place where noted):

X : (n, d) float32 or float64, C-contiguous
    Features, read as stored; all arithmetic is float64.
y : (n,) float64
    Targets; -1/+1 for classification losses.
sw : (n,) float64, or empty
    Per-sample weights (sample_weight times class weight). An empty array means every
    weight is 1: a shuffled epoch then reads no random cache line of an all-ones
    array (one line per row, ~7% of the memory traffic at d = 100).
order : (m,) int64
    Rows of ``X`` to visit this epoch, in order (the driver's permutation).
params : (d + 1,) float64, in place
    Coefficients then the intercept.
state : (N_ST, d + 1) float64, in place
    Optimizer moments, the running average and Tsuruoka's ``q`` (``ST_*`` rows).
counters : (N_SC,) float64, in place
    Next update number ``t``, cumulative L1 ``u``, adaptive learning rate.
hp : (N_HP,) float64
    Hyperparameters (``HP_*`` slots).
loss, penalty, optimizer, schedule, batch_size : int64
    Option codes; ``batch_size`` is a row count (``m`` for full batch).

Each returns ``(sumloss, sumobj, bad)``: the sums over visited rows of the loss,
and of the loss plus ``alpha R(w)``, both at the parameters *before* that row's
update (scikit-learn's progress measure, whose ``tol`` rule watches the second),
and ``-1``, or the position in ``order`` where the prediction was not finite
(non-finite input or divergence) -- the loop stops there and the driver, which
holds a copy of the previous state, restores it.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _codes as C
from ._jit import kernel, leaf
from .carry import batch_dot, carry_step, carry_weights
from .leaves import axpy_row, dot_row, norms, update_dot, update_dot_full, update_dot_sq
from .prefetch import prefetch_ahead, prefetch_sample, weight
from .scalar import RATE_BLOCK, fill_rates, learning_rate, loss_dloss, loss_value


@kernel
def penalty_parts(penalty, hp):
    """Return ``(l2c, l1c)``: L2 and L1 strengths, ``alpha (1 - l1_ratio)`` and ``alpha l1_ratio``."""
    alpha = hp[C.HP_ALPHA]
    if penalty == C.PENALTY_L2:
        return alpha, 0.0
    if penalty == C.PENALTY_L1:
        return 0.0, alpha
    if penalty == C.PENALTY_ELASTICNET:
        r = hp[C.HP_L1_RATIO]
        return alpha * (1.0 - r), alpha * r
    return 0.0, 0.0


# rows per block: sgd_block copies a shuffled block into a buffer (64 was no better at
# d=100); the carried path checks contiguity per block and reads rows in place
GATHER_BLOCK = 256


@kernel
def gather_rows(X, y, sw, order, start, nb, buf, ybuf, swbuf):
    """Copy rows ``order[start:start+nb]`` of X (as float64), y, sw into the buffers,
    prefetching rows ahead."""
    d = X.shape[1]
    ahead = prefetch_ahead(X)
    for k in range(nb):
        if k + ahead < nb:
            prefetch_sample(X, y, sw, order[start + k + ahead])
        r = order[start + k]
        for j in range(d):
            buf[k, j] = X[r, j]
        ybuf[k] = y[r]
        swbuf[k] = weight(sw, r)


@leaf
def contiguous_run(order, start, nb):
    """True when ``order[start:start + nb]`` is ``first, first + 1, ...`` (rows read in place)."""
    first = order[start]
    for k in range(1, nb):
        if order[start + k] != first + k:
            return False
    return True


@leaf
def sgd_block(src, ysrc, swsrc, base, nb, i0, X, y, sw, prefetch, w, b, t, u, n2, n1, q, aw,
              state, counters, hp, rates, lanes, loss, penalty, schedule):
    """Per-sample SGD over rows ``base .. base + nb - 1`` of ``src`` (X itself or a buffer).

    ``i0`` is the position of the first row in the epoch's order (for ``bad``);
    ``prefetch`` asks for rows :func:`~.prefetch.prefetch_ahead` ahead in ``X`` (read in
    place).
    Returns ``(b, t, u, n2, n1, sumloss, sumpen, bad)``; ``w``, ``q``, ``aw`` and the
    averaged intercept ``state[ST_AVG, d]`` change in place.
    """
    d = w.shape[0]
    fit_intercept = hp[C.HP_FIT_INTERCEPT] != 0.0
    epsilon = hp[C.HP_EPSILON]
    avg_start = hp[C.HP_AVERAGE]
    l2c, l1c = penalty_parts(penalty, hp)
    has_l2 = penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET
    has_l1 = penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET
    has_pen = penalty != C.PENALTY_NONE
    # constant and adaptive rates do not change within a call: no per-row rate lookup
    fixed_rate = schedule == C.SCHED_CONSTANT or schedule == C.SCHED_ADAPTIVE
    eta_fixed = learning_rate(schedule, t, hp, counters)
    sumloss = 0.0
    sumpen = 0.0
    p = dot_row(src, base, w)
    ahead = prefetch_ahead(X)
    for kk in range(nb):
        i = i0 + kk
        r = base + kk
        if prefetch and kk + ahead < nb:
            prefetch_sample(X, y, sw, r + ahead)
        # rates come in blocks aligned on t (not on the call), so chunking a stream
        # into partial_fit calls does not change a single learning rate
        k = 0
        if not fixed_rate:
            k = int(t - 1.0) % RATE_BLOCK
            if k == 0 or kk == 0:  # only the entries this block's rows will read
                fill_rates(schedule, t - k, hp, counters, rates, k,
                           min(RATE_BLOCK, k + nb - kk))
        p += b
        if not math.isfinite(p):
            return b, t, u, n2, n1, sumloss, sumpen, i
        yi = ysrc[r]
        eta = eta_fixed if fixed_rate else rates[k]
        sumloss += loss_value(loss, p, yi, epsilon)
        sumpen += 0.5 * l2c * n2 + l1c * n1
        upd = -eta * loss_dloss(loss, p, yi, epsilon)
        upd *= weight(swsrc, r)
        scale = 1.0
        if has_l2:
            scale = max(0.0, 1.0 - l2c * eta)
        if has_l1:
            u += l1c * eta
        do_avg = avg_start > 0.0 and avg_start <= t
        mu = 1.0 / (t - avg_start + 1.0) if do_avg else 0.0
        rn = r + 1 if kk + 1 < nb else r
        if has_l1 or do_avg:
            p, n2, n1 = update_dot_full(w, src, r, rn, scale, upd, has_l1, u, q, do_avg, mu, aw,
                                          lanes)
        elif has_pen:  # L2 only: no need for ||w||_1
            p, n2 = update_dot_sq(w, src, r, rn, scale, upd)
        else:
            p = update_dot(w, src, r, rn, scale, upd)
        if fit_intercept:
            b += upd
        if do_avg:
            state[C.ST_AVG, d] += (b - state[C.ST_AVG, d]) * mu
        t += 1.0
    return b, t, u, n2, n1, sumloss, sumpen, -1


@leaf
def sgd_block_carry(X, y, sw, order, start, nb, indirect, prefetch, wp, xp, xq, sp, up, b, t,
                    counters, hp, rates, loss, penalty, schedule):
    """Per-sample SGD over rows ``order[start:start + nb]`` of ``X`` with the carried dot.

    The fast path of :func:`sgd_epoch_per_sample` (no L1, no averaging); see
    :mod:`.carry`. Rows are read in place: ``order[start] + kk`` when the run is
    contiguous (``indirect`` false; ``prefetch`` asks for software prefetch, which
    pays only for rows of several cache lines), else ``order[start + kk]`` with rows
    prefetched :func:`~.prefetch.prefetch_ahead` positions of ``order`` ahead. ``wp`` and ``xp``
    hold the carry on entry and on return (``xq`` is scratch of the same length).
    Returns ``(sp, up, b, t, sumloss, sumpen, bad)``; on a non-finite prediction
    ``wp`` holds the weights before that row and ``bad`` its position in ``order``.
    """
    fit_intercept = hp[C.HP_FIT_INTERCEPT] != 0.0
    epsilon = hp[C.HP_EPSILON]
    l2c, l1c = penalty_parts(penalty, hp)
    has_l2 = penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET
    # constant and adaptive rates do not change within a call: no per-row rate lookup
    fixed_rate = schedule == C.SCHED_CONSTANT or schedule == C.SCHED_ADAPTIVE
    eta_fixed = learning_rate(schedule, t, hp, counters)
    sumloss = 0.0
    sumpen = 0.0
    xa = xp
    xb = xq
    swapped = False
    bad = -1
    first = order[start]
    m = order.shape[0]
    ahead = prefetch_ahead(X)
    for kk in range(nb):
        if indirect:
            r = order[start + kk]
            if start + kk + ahead < m:  # across blocks: no stall at the seams
                prefetch_sample(X, y, sw, order[start + kk + ahead])
        else:
            r = first + kk
            if prefetch and kk + ahead < nb:
                prefetch_sample(X, y, sw, r + ahead)
        k = 0
        if not fixed_rate:
            k = int(t - 1.0) % RATE_BLOCK
            if k == 0 or kk == 0:  # only the entries this block's rows will read
                fill_rates(schedule, t - k, hp, counters, rates, k,
                           min(RATE_BLOCK, k + nb - kk))
        cdot, gdot, n2 = carry_step(wp, xa, xb, X, r, sp, up)
        p = (sp * cdot + up * gdot) + b
        xa, xb = xb, xa
        swapped = not swapped
        if not math.isfinite(p):
            bad = start + kk  # the caller restarts the carry from wp
            break
        yi = y[r]
        eta = eta_fixed if fixed_rate else rates[k]
        sumloss += loss_value(loss, p, yi, epsilon)
        sumpen += 0.5 * l2c * n2
        up = -eta * loss_dloss(loss, p, yi, epsilon) * weight(sw, r)
        sp = max(0.0, 1.0 - l2c * eta) if has_l2 else 1.0
        if fit_intercept:
            b += up
        t += 1.0
    if swapped:
        for j in range(xp.shape[0]):
            xp[j] = xq[j]
    return sp, up, b, t, sumloss, sumpen, bad


@kernel
def sgd_epoch_carry(X, y, sw, order, params, state, counters, hp, loss, penalty, schedule,
                    scratch):
    """:func:`sgd_epoch_per_sample` without L1 or averaging: the carried-dot fast path.

    Same steps, same arguments, plus ``scratch``: float64, at least ``d + RATE_BLOCK``
    long (passed in: two allocations per call were ~5% of a 1,000-row chunk). The dot product of each row with the updated
    weights is assembled from the carry (:mod:`.carry`) instead of recomputed on
    the critical path. The carry is continued when it reproduces ``params`` and
    restarted from ``params`` otherwise.
    """
    m = order.shape[0]
    d = X.shape[1]
    w = params[:d]
    wp = state[C.ST_WP, :d]
    xp = state[C.ST_XP, :d]
    xq = scratch[:d]
    rates = scratch[d:d + RATE_BLOCK]
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
    # d = 10 it cost 5-10%). A shuffled order is prefetched a few rows ahead; reading
    # the rows straight from X measured as fast as copying each block into a float64
    # buffer first at d = 100 float64 and 10-20% faster at d <= 50 and for float32.
    prefetch_rows = d * X.itemsize >= 256
    start = 0
    while start < m:
        nb = min(GATHER_BLOCK, m - start)
        # two call sites with constant flags: each inlined copy is specialised (one
        # loop with a run-time flag measured 10-25% slower on shuffled epochs)
        if contiguous_run(order, start, nb):
            sp, up, b, t, sl, spen, bad = sgd_block_carry(
                X, y, sw, order, start, nb, False, prefetch_rows, wp, xp, xq, sp, up, b, t,
                counters, hp, rates, loss, penalty, schedule)
        else:
            sp, up, b, t, sl, spen, bad = sgd_block_carry(
                X, y, sw, order, start, nb, True, False, wp, xp, xq, sp, up, b, t,
                counters, hp, rates, loss, penalty, schedule)
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


@kernel
def sgd_epoch_per_sample(X, y, sw, order, params, state, counters, hp, loss, penalty, schedule):
    """One pass of per-sample plain SGD, exactly scikit-learn's ``_plain_sgd`` step.

    For each row (``t`` the update number, ``eta = learning_rate(t)``)::

        p      = x . w + b
        upd    = -eta * clip(dL/dp(p, y)) * sw
        w     <- max(0, 1 - eta * l2c) * w + upd * x        (L2 as a shrink)
        b     <- b + upd                                     (if fit_intercept)
        u     <- u + eta * l1c;  Tsuruoka's cumulative L1 on w (l1, elasticnet)
        avg   <- avg + (w - avg) / (t - average + 1)         (if 0 < average <= t)
        t     <- t + 1
    """
    m = order.shape[0]
    d = X.shape[1]
    if m == 0:
        return 0.0, 0.0, -1
    has_l1 = penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET
    if (not has_l1 and hp[C.HP_AVERAGE] == 0.0 and state.shape[0] >= C.N_ST
            and counters.shape[0] >= C.N_SC):
        return sgd_epoch_carry(X, y, sw, order, params, state, counters, hp, loss, penalty,
                               schedule, np.empty(d + RATE_BLOCK))
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
    lanes = np.empty((3, 8))  # scratch of update_dot_full
    # Rows are processed in blocks. A contiguous run of rows is read in place;
    # shuffled rows are first copied into a float64 buffer: the copy has no
    # dependency chain, so the memory system fetches many rows at once (15-25%
    # faster on a shuffled epoch; float32 rows are converted once instead of
    # twice). Dot products sum in a fixed order, so buffering changes no bit of
    # the result (measured: gathering contiguous float32 rows too was slower).
    buf = np.empty((GATHER_BLOCK, d))
    ybuf = np.empty(GATHER_BLOCK)
    swbuf = np.empty(GATHER_BLOCK)
    has_pen = penalty != C.PENALTY_NONE
    n2, n1 = norms(w) if has_pen else (0.0, 0.0)
    start = 0
    while start < m:
        nb = min(GATHER_BLOCK, m - start)
        first = order[start]
        if contiguous_run(order, start, nb):
            b, t, u, n2, n1, sl, sp, bad = sgd_block(
                X, y, sw, first, nb, start, X, y, sw, True, w, b, t, u, n2, n1, q, aw,
                state, counters, hp, rates, lanes, loss, penalty, schedule)
        else:
            gather_rows(X, y, sw, order, start, nb, buf, ybuf, swbuf)
            b, t, u, n2, n1, sl, sp, bad = sgd_block(
                buf, ybuf, swbuf, 0, nb, start, X, y, sw, False, w, b, t, u, n2, n1, q, aw,
                state, counters, hp, rates, lanes, loss, penalty, schedule)
        sumloss += sl
        sumpen += sp
        if bad >= 0:
            break
        start += nb
    params[d] = b
    counters[C.SC_T] = t
    counters[C.SC_U] = u
    return sumloss, sumloss + sumpen, bad


@kernel
def cumulative_l1(params, q, u):
    """Tsuruoka's cumulative L1 step on ``params[:d]`` (``q`` in place, length d)."""
    for j in range(q.shape[0]):
        z = params[j]
        if z > 0.0:
            params[j] = max(0.0, z - (u + q[j]))
        elif z < 0.0:
            params[j] = min(0.0, z + (u - q[j]))
        q[j] += params[j] - z


@kernel
def optimizer_step(optimizer, params, g, state, counters, hp, penalty, eta):
    """Apply one update with the batch-mean gradient ``g`` (length d+1) to ``params``.

    ``t = counters[SC_T]``; ``gj = g_j + l2c * w_j`` for coefficients with the
    non-SGD optimizers. torch.optim single-tensor formulas:

    sgd       w <- max(0, 1 - eta l2c) w - eta g;  b <- b - eta g_b;  cumulative L1
    momentum  buf = g (t = 1) else mom buf + (1 - dampening) g;  w <- w - eta buf
    nesterov  same buf;  w <- w - eta (g + mom buf)
    adagrad   s += g^2;  w <- w - eta / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)
    rmsprop   v = rho v + (1 - rho) g^2;  centered: ga += (1 - rho)(g - ga), v - ga^2
              a = sqrt(v') + eps;  mom > 0: buf = mom buf + g / a, w -= eta buf
              else w -= eta g / a
    adam      m += (1 - b1)(g - m);  v = b2 v + (1 - b2) g^2;  amsgrad: vmax = max(vmax, v)
              w -= eta / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    adamw     w *= 1 - eta weight_decay (coefficients only), then adam

    Non-SGD optimizers apply L1 as a proximal soft-threshold after the step:
    ``w <- sign(w) max(|w| - eta l1c, 0)``. The intercept is never penalised and
    is left untouched when ``fit_intercept`` is off.
    """
    d = params.shape[0] - 1
    n_upd = d + 1 if hp[C.HP_FIT_INTERCEPT] != 0.0 else d
    t = counters[C.SC_T]
    l2c, l1c = penalty_parts(penalty, hp)
    if optimizer == C.OPT_SGD:
        scale = 1.0
        if penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET:
            scale = max(0.0, 1.0 - l2c * eta)
        for j in range(d):
            params[j] = scale * params[j] - eta * g[j]
        if n_upd > d:
            params[d] -= eta * g[d]
        if penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET:
            counters[C.SC_U] += l1c * eta
            cumulative_l1(params, state[C.ST_Q, :d], counters[C.SC_U])
        return
    m1 = state[C.ST_M1]
    m2 = state[C.ST_M2]
    m3 = state[C.ST_M3]
    if optimizer == C.OPT_MOMENTUM or optimizer == C.OPT_NESTEROV:
        mom = hp[C.HP_MOMENTUM]
        damp = 1.0 - hp[C.HP_DAMPENING]
        nesterov = optimizer == C.OPT_NESTEROV
        for j in range(n_upd):
            gj = g[j] + l2c * params[j] if j < d else g[j]
            if t == 1.0:
                m1[j] = gj
            else:
                m1[j] = mom * m1[j] + damp * gj
            step = gj + mom * m1[j] if nesterov else m1[j]
            params[j] -= eta * step
    elif optimizer == C.OPT_ADAGRAD:
        clr = eta / (1.0 + (t - 1.0) * hp[C.HP_LR_DECAY])
        eps = hp[C.HP_EPS]
        for j in range(n_upd):
            gj = g[j] + l2c * params[j] if j < d else g[j]
            m1[j] += gj * gj
            params[j] -= clr * (gj / (math.sqrt(m1[j]) + eps))
    elif optimizer == C.OPT_RMSPROP:
        rho = hp[C.HP_RHO]
        eps = hp[C.HP_EPS]
        mom = hp[C.HP_MOMENTUM]
        centered = hp[C.HP_CENTERED] != 0.0
        for j in range(n_upd):
            gj = g[j] + l2c * params[j] if j < d else g[j]
            m1[j] = rho * m1[j] + (1.0 - rho) * gj * gj
            if centered:
                m2[j] += (1.0 - rho) * (gj - m2[j])
                a = math.sqrt(max(m1[j] - m2[j] * m2[j], 0.0)) + eps
            else:
                a = math.sqrt(m1[j]) + eps
            if mom > 0.0:
                m3[j] = mom * m3[j] + gj / a
                params[j] -= eta * m3[j]
            else:
                params[j] -= eta * (gj / a)
    else:  # adam, adamw
        b1 = hp[C.HP_BETA1]
        b2 = hp[C.HP_BETA2]
        eps = hp[C.HP_EPS]
        amsgrad = hp[C.HP_AMSGRAD] != 0.0
        step_size = eta / (1.0 - b1**t)
        bc2_sqrt = math.sqrt(1.0 - b2**t)
        decay = 1.0 - eta * hp[C.HP_WEIGHT_DECAY] if optimizer == C.OPT_ADAMW else 1.0
        for j in range(n_upd):
            pj = params[j]
            gj = g[j]
            if j < d:
                gj += l2c * pj
                pj *= decay
            m1[j] += (1.0 - b1) * (gj - m1[j])
            m2[j] = b2 * m2[j] + (1.0 - b2) * gj * gj
            if amsgrad:
                m3[j] = max(m3[j], m2[j])
                denom = math.sqrt(m3[j]) / bc2_sqrt + eps
            else:
                denom = math.sqrt(m2[j]) / bc2_sqrt + eps
            params[j] = pj - step_size * (m1[j] / denom)
    if l1c != 0.0:
        thr = eta * l1c
        for j in range(d):
            a = abs(params[j]) - thr
            params[j] = math.copysign(a, params[j]) if a > 0.0 else 0.0


@kernel
def batch_epoch(X, y, sw, order, params, state, counters, hp, loss, penalty, optimizer,
                schedule, batch_size):
    """One pass in batches of ``batch_size`` rows of ``order`` (the last may be smaller).

    For each batch B: ``g = (1/|B|) sum_{i in B} sw_i clip(dL/dp(p_i, y_i)) [x_i, 1]``
    with every ``p_i`` computed from the parameters before the batch; then
    :func:`optimizer_step` with ``eta = learning_rate(t)``; then the running
    average (``0 < average <= t``); then ``t <- t + 1``.
    """
    m = order.shape[0]
    d = X.shape[1]
    w = params[:d]
    g = np.empty(d + 1)
    epsilon = hp[C.HP_EPSILON]
    avg_start = hp[C.HP_AVERAGE]
    avg = state[C.ST_AVG]
    l2c, l1c = penalty_parts(penalty, hp)
    sumloss = 0.0
    sumpen = 0.0
    ahead = prefetch_ahead(X)
    start = 0
    while start < m:
        stop = min(start + batch_size, m)
        g[:] = 0.0
        b = params[d]
        if penalty != C.PENALTY_NONE:
            n2, n1 = norms(w)
            sumpen += (0.5 * l2c * n2 + l1c * n1) * (stop - start)
        for i in range(start, stop):
            if i + ahead < m:
                prefetch_sample(X, y, sw, order[i + ahead])
            r = order[i]
            p = batch_dot(X, r, w) + b  # one call site: one summation order for every row
            if not math.isfinite(p):
                return sumloss, sumloss + sumpen, i
            sumloss += loss_value(loss, p, y[r], epsilon)
            dl = loss_dloss(loss, p, y[r], epsilon) * weight(sw, r)
            if dl != 0.0:
                axpy_row(g, X, r, dl)
                g[d] += dl
        size = float(stop - start)
        if size != 1.0:  # x / 1 is x: per-sample steps skip d + 1 divisions
            for j in range(d + 1):
                g[j] = g[j] / size
        t = counters[C.SC_T]
        eta = learning_rate(schedule, t, hp, counters)
        optimizer_step(optimizer, params, g, state, counters, hp, penalty, eta)
        if avg_start > 0.0 and avg_start <= t:
            mu = 1.0 / (t - avg_start + 1.0)
            for j in range(d + 1):
                avg[j] += (params[j] - avg[j]) * mu
        counters[C.SC_T] = t + 1.0
        start = stop
    return sumloss, sumloss + sumpen, -1


@kernel
def run_epoch(X, y, sw, order, params, state, counters, hp, loss, penalty, optimizer,
              schedule, batch_size):
    """Dispatch one epoch: per-sample plain SGD takes the fused fast path."""
    if batch_size == 1 and optimizer == C.OPT_SGD:
        return sgd_epoch_per_sample(X, y, sw, order, params, state, counters, hp, loss,
                                    penalty, schedule)
    return batch_epoch(X, y, sw, order, params, state, counters, hp, loss, penalty,
                       optimizer, schedule, batch_size)


@kernel
def run_epoch_guarded(X, y, sw, order, m, arena, hp, spec):
    """:func:`run_epoch` over ``order[:m]`` for ``partial_fit``'s hot path: snapshot, epoch
    and check in one call.

    ``arena`` is one model's float64 storage, length ``_codes.arena_size(d)``: ``params``
    (d+1), ``state`` (``N_ST`` x (d+1), row-major) and ``counters`` (``N_SC``) -- the
    *live* part, which ``LinearState`` exposes as views -- then room for a copy of the
    live part, scratch of ``d + 1 + ARENA_RATES`` entries and a validity flag. The live part is copied there before the epoch, then
    the flag is set to 1 (restoring from the copy is valid). ``spec`` packs the option
    codes: ``loss | penalty << 4 | optimizer << 8 | schedule << 12 | batch_size << 16``
    (batch size 0: full batch, ``m`` rows). ``sw``, ``y`` and ``order`` may be longer
    than the rows they serve (a shared ``0..n-1`` serves every chunk without a slice
    per call; ``sw`` may be empty, all weights 1): the rows trained on are
    ``order[:m]``, each below ``X.shape[0] <= y.shape[0]`` (and ``<= sw.shape[0]``).

    Returns the epoch's loss sum, or NaN when a prediction was not finite, the loss
    sum is not finite (a non-finite target), the parameters are not finite or the
    arguments do not fit together; the caller then restores the live part from the
    copy. Six arrays and two integers, one float back: at 1,000-row chunks the fixed
    cost of a call (argument unboxing above all) is what streaming throughput loses.
    """
    d = X.shape[1]
    d1 = d + 1
    live = d1 * (1 + C.N_ST) + C.N_SC
    if (arena.shape[0] != 2 * live + d1 + C.ARENA_RATES + 1 or m > order.shape[0]
            or X.shape[0] > y.shape[0] or 0 < sw.shape[0] < X.shape[0]):
        return math.nan
    for j in range(live):
        arena[live + j] = arena[j]
    arena[arena.shape[0] - 1] = 1.0
    params = arena[:d1]
    state = arena[d1:d1 * (1 + C.N_ST)].reshape((C.N_ST, d1))
    counters = arena[d1 * (1 + C.N_ST):live]
    loss = spec & 15
    penalty = (spec >> 4) & 15
    optimizer = (spec >> 8) & 15
    schedule = (spec >> 12) & 15
    batch_size = spec >> 16
    rows = order[:m]
    if batch_size == 1 and optimizer == C.OPT_SGD and m > 0 and hp[C.HP_AVERAGE] == 0.0 and not (
            penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET):
        # the carried-dot loop straight away: two fewer calls that pass nine arrays
        sumloss, _, bad = sgd_epoch_carry(X, y, sw, rows, params, state, counters, hp, loss,
                                          penalty, schedule, arena[2 * live:2 * live + d1 + C.ARENA_RATES])
    else:
        sumloss, _, bad = run_epoch(X, y, sw, rows, params, state, counters, hp, loss,
                                    penalty, optimizer, schedule, m if batch_size == 0 else batch_size)
    if bad >= 0 or not math.isfinite(sumloss):
        return math.nan
    for j in range(d1):
        if not math.isfinite(params[j]):
            return math.nan
    return sumloss
