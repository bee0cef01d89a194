"""CSR (scipy.sparse) input: validation, per-sample plain SGD, lazy per-sample steps and
the batch path.

Siblings of the dense paths (:mod:`.sgd`, :mod:`.batch`), each compiled when first used:
:func:`csr_sgd_epoch` (per-sample plain SGD), :func:`csr_lazy_sample_epoch` (lazy
per-sample steps of the other optimizers on canonical rows), :func:`csr_batch_epoch`
(everything else). A CSR matrix arrives as its three arrays: ``data`` (nnz,) float32 or
float64, ``indices`` (nnz,) as a uint32 view of validated int32 column indices (numba
then indexes without its negative-index check) and ``indptr`` (n + 1,) int64 (the driver
converts other index dtypes once). numba checks no bounds: :func:`csr_check` validates
``indices`` and ``indptr`` (and, when asked, that ``data`` is finite) before any training
kernel reads them.

The contract is *sparse = dense*: with ``lazy_updates`` off and ``intercept_decay`` 1
every step equals the dense kernels' step on ``X.toarray()`` (to rounding):

* **L2** by the scale trick: ``w = s v``; the shrink ``w <- c w`` is ``s <- c s``, the
  step ``w <- w + upd x`` is ``v <- v + (upd / s) x`` on the row's nonzeros only; ``v``
  is renormalised (``v <- s v``, ``s <- 1``) before ``s`` drops below 1e-9.
* **Averaging** by Bottou's sparse form: the average is ``A = (aw + a v) / bb``; a change
  ``dv`` of ``v_j`` (a step or an L1 clip) adds ``-a dv`` to ``aw_j``, and each averaged
  update does ``bb <- bb / (1 - mu)``, ``a <- a + mu bb s``. ``A`` is written back to
  ``state[ST_AVG]`` at the end of the call.
* **L1 / elastic net**: Tsuruoka's cumulative penalty, in ``v`` units
  (``v_j <- max(0, v_j - (u + q_j) / s)``). Exact mode clips every coefficient on every
  step, O(n_features) per row as in the dense kernel; ``lazy_updates`` clips only the
  row's nonzero columns (scikit-learn's sparse rule), O(nonzeros).
* **Optimizers** other than plain SGD, and mini-/full-batch steps, update every
  coefficient (:func:`~.batch.optimizer_step`, O(n_features) per step), except with
  ``lazy_updates``: :func:`optimizer_step_lazy` updates only the columns with a nonzero
  in the batch.

Returns and arguments otherwise as in :mod:`.sgd` and :mod:`.batch`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _layout as C
from ._jit import kernel, leaf
from .batch import optimizer_step
from .leaves import norms
from .prefetch import prefetch_item, prefetch_span, weight
from .scalar import RATE_BLOCK, check_codes, fill_rates, learning_rate, loss_grad
from .sgd import contiguous_run, fixed_rate, penalty_parts

RESCALE_BELOW = 1e-9  # renormalise v when the scale s falls below this (scikit-learn's)
# Shuffled rows: data and indices are prefetched AHEAD_ROWS rows ahead, their indptr
# entries AHEAD_PTR rows ahead (one more miss each). Measured on a shuffled rcv1-shaped
# epoch (77 nonzeros a row): no prefetch 0.58-0.63 s; 8/16 rows 0.30-0.38 s; 16/32 rows
# 0.28-0.30 s; 32/64 rows 0.30-0.39 s.
AHEAD_ROWS = 16
AHEAD_PTR = 32

# validation result codes of csr_check
CSR_OK = 0
CSR_INDPTR_START = 1
CSR_INDPTR_DECREASES = 2
CSR_INDPTR_END = 3
CSR_INDEX_NEGATIVE = 4
CSR_INDEX_TOO_LARGE = 5


@kernel
def csr_check(data, indices, indptr, n_features, check_indices):
    """Validate CSR arrays: ``(code, where)``, ``code`` one of ``CSR_*``.

    ``where`` is the row (indptr problems) or the position in ``data`` / ``indices``.
    Checks ``indptr[0] == 0``, ``indptr`` non-decreasing, ``indptr[-1] <= len(indices)``
    and ``<= len(data)`` and ``0 <= indices < n_features``. (``data`` is checked by
    :func:`csr_first_nonfinite` where a caller asks: the training kernels find
    non-finite data themselves, as for dense X, a row's prediction being then not
    finite; nothing reads ``data`` out of bounds.) ``check_indices``
    false skips the index range pass, for a caller that checks each index as it reads
    it (:func:`.parallel.csr_matvecs_parallel`).
    """
    n = indptr.shape[0] - 1
    if indptr[0] != 0:
        return CSR_INDPTR_START, 0
    for r in range(n):
        if indptr[r + 1] < indptr[r]:
            return CSR_INDPTR_DECREASES, r
    nnz = indptr[n]
    if nnz > indices.shape[0] or nnz > data.shape[0]:
        return CSR_INDPTR_END, n
    # a branch-free min/max pass vectorises (measured: 10x faster than an early-exit
    # loop); only a bad matrix pays for the second pass that finds the first bad position
    lo = n_features - n_features
    hi = lo
    if check_indices:
        for k in range(nnz):
            j = indices[k]
            lo = min(lo, j)
            hi = max(hi, j)
    if lo < 0 or hi >= n_features:
        for k in range(nnz):
            j = indices[k]
            if j < 0:
                return CSR_INDEX_NEGATIVE, k
            if j >= n_features:
                return CSR_INDEX_TOO_LARGE, k
    return CSR_OK, 0


@kernel
def csr_first_nonfinite(bits, exponent, nnz):
    """The first position in ``bits[:nnz]`` -- ``data`` viewed as unsigned integers of
    its width -- that holds NaN or inf (all ``exponent`` bits set), or -1.

    An integer max over ``bits & exponent`` vectorises (a float test in a loop does not:
    measured 4x slower); only bad data pays for the second pass that finds the place.
    """
    top = exponent - exponent
    for k in range(nnz):
        top = max(top, bits[k] & exponent)
    if top != exponent:
        return -1
    for k in range(nnz):
        if bits[k] & exponent == exponent:
            return k
    return -1  # pragma: no cover - the first pass found one


@kernel
def csr_canonical(indices, indptr):
    """Whether every row's indices are strictly increasing (sorted, no duplicates).

    For arrays :func:`csr_check` passed. One flat pass counts the positions whose index
    does not exceed the one before; the matrix is canonical when all of them are a row's
    first entry. Only lazy per-sample fits ask (:func:`csr_batch_epoch`).
    """
    n = indptr.shape[0] - 1
    nnz = indptr[n]
    falls = nnz - nnz
    for k in range(1, nnz):
        falls += indices[k] <= indices[k - 1]
    at_starts = falls - falls
    for r in range(n):
        a = indptr[r]
        if indptr[r + 1] > a and a > 0:
            at_starts += indices[a] <= indices[a - 1]
    return falls == at_starts


@kernel
def csr_sgd_epoch(
    data, indices, indptr, y, sw, order, params, state, counters, hp, loss, penalty, schedule
):
    """One pass of per-sample plain SGD over CSR rows ``order`` (any penalty, averaging).

    The steps of :func:`~.sgd.sgd_general_epoch` (``p = x.w + b``,
    ``upd = -eta clip(dL/dp) sw``, ``w <- max(0, 1 - eta l2c) w + upd x``,
    ``b <- b + intercept_decay upd``, cumulative L1, running average), in O(nonzeros)
    per row but for exact-mode L1 (see the module docstring). Returns
    ``(sumloss, sumobj, bad)``.
    """
    check_codes(loss, penalty, C.OPT_SGD, schedule)
    m = order.shape[0]
    d = params.shape[0] - 1
    if m == 0:
        return 0.0, 0.0, -1
    fit_intercept = hp[C.HP_FIT_INTERCEPT] != 0.0
    epsilon = hp[C.HP_EPSILON]
    avg_start = hp[C.HP_AVERAGE]
    decay = hp[C.HP_INTERCEPT_DECAY]
    lazy = hp[C.HP_LAZY_UPDATES] != 0.0
    l2c, l1c = penalty_parts(penalty, hp)
    has_l2 = penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET
    has_l1 = penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET
    track = penalty != C.PENALTY_NONE
    # the norms follow each step's changes, except where exact L1 recomputes them per row
    inc_norms = track and (lazy or not has_l1)
    v = params[:d]
    q = state[C.ST_Q, :d]
    aw = state[C.ST_AVG, :d]
    s = 1.0
    a = 0.0  # average = (aw + a v) / bb
    bb = 1.0
    averaged = False
    b = params[d]
    t = counters[C.SC_T]
    u = counters[C.SC_U]
    n2v, n1v = norms(v) if track else (0.0, 0.0)
    rates = np.empty(RATE_BLOCK)
    zero = m - m  # 0, not a literal (see sgd.GATHER_BLOCK)
    fixed = fixed_rate(schedule)
    if fixed:
        fill_rates(schedule, t, hp, counters, rates, zero, zero + 1)
    eta_fixed = rates[0]
    shuffled = not contiguous_run(order, zero, m)
    no_sw = sw.shape[0] == 0
    sumloss = 0.0
    sumpen = 0.0
    bad = -1
    for i in range(m):
        r = order[i]
        if shuffled:
            if i + AHEAD_PTR < m:
                prefetch_item(indptr, order[i + AHEAD_PTR] + 1)
            if i + AHEAD_ROWS < m:
                rn = order[i + AHEAD_ROWS]
                lo_n = indptr[rn]
                hi_n = indptr[rn + 1]
                prefetch_span(data, lo_n, hi_n)
                prefetch_span(indices, lo_n, hi_n)
                prefetch_item(y, rn)
                if not no_sw:
                    prefetch_item(sw, rn)
        lo = indptr[r]
        hi = indptr[r + 1]
        # four partial sums: one chain of dependent adds was most of a 70-nonzero row
        d0 = 0.0
        d1 = 0.0
        d2 = 0.0
        d3 = 0.0
        k = lo
        while k + 4 <= hi:
            d0 += data[k] * v[indices[k]]
            d1 += data[k + 1] * v[indices[k + 1]]
            d2 += data[k + 2] * v[indices[k + 2]]
            d3 += data[k + 3] * v[indices[k + 3]]
            k += 4
        while k < hi:
            d0 += data[k] * v[indices[k]]
            k += 1
        p = s * ((d0 + d1) + (d2 + d3)) + b
        if not math.isfinite(p):
            bad = i
            break
        kr = 0
        if not fixed:
            # rates in blocks aligned on t, as in sgd.carry_block (chunking changes none)
            kr = int(t - 1.0) % RATE_BLOCK
            if kr == 0 or i == 0:
                fill_rates(schedule, t - kr, hp, counters, rates, kr, min(RATE_BLOCK, kr + m - i))
        eta = eta_fixed if fixed else rates[kr]
        lv, dl = loss_grad(loss, p, y[r], epsilon)
        sumloss += lv
        if track:
            sumpen += s * (0.5 * l2c * s * n2v + l1c * n1v)
        upd = -eta * dl * weight(sw, r)
        do_avg = avg_start > 0.0 and avg_start <= t
        if has_l2:
            s *= max(0.0, 1.0 - l2c * eta)
            if s < RESCALE_BELOW:
                if averaged:
                    for j in range(d):
                        aw[j] = (aw[j] + a * v[j]) / bb
                    a = 0.0
                    bb = 1.0
                for j in range(d):
                    v[j] *= s
                s = 1.0
                n2v, n1v = norms(v)
        if do_avg and avg_start == t:  # the first averaged update: the average is w
            for j in range(d):
                aw[j] = 0.0
            a = 0.0
            bb = 1.0
        ca = a if do_avg else 0.0  # aw_j -= ca * (change of v_j) keeps the past average
        # jc: a column from indices (uint32); a name of its own, so numba does not unify it
        # with the int64 loop counters and index with a negative-index check
        if upd != 0.0:
            c = upd / s
            if not (do_avg or has_l1 or inc_norms):  # no penalty, no average: the bare step
                for k in range(lo, hi):
                    jc = indices[k]
                    v[jc] += c * data[k]
            elif do_avg or has_l1 or not inc_norms:
                for k in range(lo, hi):
                    jc = indices[k]
                    old = v[jc]
                    new = old + c * data[k]
                    v[jc] = new
                    if inc_norms:
                        n2v += new * new - old * old
                        n1v += abs(new) - abs(old)
                    if do_avg:
                        aw[jc] -= ca * (new - old)
            else:  # L2 (the default): ||v||^2's change in two partial sums
                e0 = 0.0
                e1 = 0.0
                k = lo
                while k + 2 <= hi:
                    jc = indices[k]
                    old = v[jc]
                    new = old + c * data[k]
                    v[jc] = new
                    e0 += new * new - old * old
                    jc = indices[k + 1]
                    old = v[jc]
                    new = old + c * data[k + 1]
                    v[jc] = new
                    e1 += new * new - old * old
                    k += 2
                if k < hi:
                    jc = indices[k]
                    old = v[jc]
                    new = old + c * data[k]
                    v[jc] = new
                    e0 += new * new - old * old
                n2v += e0 + e1
        if fit_intercept:
            b += decay * upd
        if has_l1:
            u += l1c * eta
            if lazy:
                for k in range(lo, hi):
                    if data[k] != 0.0:
                        j = indices[k]
                        z = v[j]
                        if z > 0.0:
                            nz = max(0.0, z - (u + q[j]) / s)
                        elif z < 0.0:
                            nz = min(0.0, z + (u - q[j]) / s)
                        else:
                            nz = z
                        q[j] += s * (nz - z)
                        v[j] = nz
                        n2v += nz * nz - z * z
                        n1v += abs(nz) - abs(z)
                        if do_avg:
                            aw[j] -= ca * (nz - z)
            else:
                n2v = 0.0
                n1v = 0.0
                for j in range(d):
                    z = v[j]
                    if z > 0.0:
                        nz = max(0.0, z - (u + q[j]) / s)
                    elif z < 0.0:
                        nz = min(0.0, z + (u - q[j]) / s)
                    else:
                        nz = z
                    if nz != z:
                        q[j] += s * (nz - z)
                        v[j] = nz
                        if do_avg:
                            aw[j] -= ca * (nz - z)
                    n2v += nz * nz
                    n1v += abs(nz)
        if do_avg:
            mu = 1.0 / (t - avg_start + 1.0)
            if avg_start == t:
                a = s
                bb = 1.0
            else:
                bb = bb / (1.0 - mu)
                a = a + mu * bb * s
            averaged = True
            state[C.ST_AVG, d] += (b - state[C.ST_AVG, d]) * mu
        t += 1.0
    if averaged:
        for j in range(d):
            aw[j] = (aw[j] + a * v[j]) / bb
    if s != 1.0:
        for j in range(d):
            v[j] *= s
    params[d] = b
    counters[C.SC_T] = t
    counters[C.SC_U] = u
    return sumloss, sumloss + sumpen, bad


@leaf
def moment_rows(optimizer, hp):
    """How many of the rows ``ST_M1, ST_M2, ST_M3`` (in that order) the optimizer's step
    reads: :func:`optimizer_step_lazy` touches no row past them."""
    if optimizer == C.OPT_ADAM or optimizer == C.OPT_ADAMW:
        return 3 if hp[C.HP_AMSGRAD] != 0.0 else 2
    if optimizer == C.OPT_ADAMAX:
        return 2
    if optimizer == C.OPT_RMSPROP:
        if hp[C.HP_MOMENTUM] > 0.0:
            return 3
        return 2 if hp[C.HP_CENTERED] != 0.0 else 1
    return 1  # momentum, nesterov, adagrad (plain SGD has none)


@kernel
def optimizer_step_lazy(optimizer, params, cols, c0, nt, gv, gb, state, counters, hp, penalty, eta):
    """:func:`~.batch.optimizer_step` on ``nt`` coefficients and the intercept only.

    Coefficient ``kk < nt`` is ``j = cols[c0 + kk]`` with batch-mean gradient ``gv[kk]``
    (the columns with a nonzero in the step's rows, each once); ``gb`` is the intercept's
    gradient. The lazy rule of each optimizer: only these coordinates change -- their
    moments, their step, the L2 term ``l2c w_j`` of their gradient and the L1 clip
    (Tsuruoka for 'sgd') or soft-threshold; all others, and their moments, stay. Plain
    'sgd' still shrinks every coefficient by L2 (O(n_features)). Adam and AdamW follow
    torch.optim.SparseAdam: ``w_j <- w_j - eta sqrt(1 - beta2^t) / (1 - beta1^t) m_j /
    (sqrt(v_j) + eps)``.

    ``gv`` is scratch afterwards. Returns the change of ``(||w||^2, ||w||_1)`` over the
    ``nt`` coefficients (after a plain-'sgd' L2 shrink the caller recomputes the norms).
    """
    d = params.shape[0] - 1
    fit_intercept = hp[C.HP_FIT_INTERCEPT] != 0.0
    n_upd = nt + 1 if fit_intercept else nt
    t = counters[C.SC_T]
    l2c, l1c = penalty_parts(penalty, hp)
    dn2 = 0.0
    dn1 = 0.0
    if optimizer == C.OPT_SGD:
        if penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET:
            scale = max(0.0, 1.0 - l2c * eta)
            for j in range(d):
                params[j] *= scale
        u = counters[C.SC_U]
        has_l1 = penalty == C.PENALTY_L1 or penalty == C.PENALTY_ELASTICNET
        if has_l1:
            u += l1c * eta
            counters[C.SC_U] = u
        Q = C.ST_Q
        for kk in range(nt):
            j = cols[c0 + kk]
            old = params[j]
            z = old - eta * gv[kk]
            nz = z
            if has_l1:
                if z > 0.0:
                    nz = max(0.0, z - (u + state[Q, j]))
                elif z < 0.0:
                    nz = min(0.0, z + (u - state[Q, j]))
                state[Q, j] += nz - z
            params[j] = nz
            dn2 += nz * nz - old * old
            dn1 += abs(nz) - abs(old)
        if fit_intercept:
            params[d] -= eta * gb
        return dn2, dn1
    # state[M1, j] rather than views of its rows: a view per row of a call per sample
    # cost a reference count each
    M1 = C.ST_M1
    M2 = C.ST_M2
    M3 = C.ST_M3
    eps = hp[C.HP_EPS]
    mom = hp[C.HP_MOMENTUM]
    # coordinate kk < nt is column cols[c0 + kk]; kk == nt the intercept. Each loop leaves
    # the coefficient's value before the step in gv[kk] (for the norms' change below).
    if optimizer == C.OPT_MOMENTUM or optimizer == C.OPT_NESTEROV:
        damp = 1.0 - hp[C.HP_DAMPENING]
        nesterov = optimizer == C.OPT_NESTEROV
        for kk in range(n_upd):
            coef = kk < nt
            j = cols[c0 + kk] if coef else d
            old = params[j]
            gj = gv[kk] + l2c * old if coef else gb
            state[M1, j] = gj if t == 1.0 else mom * state[M1, j] + damp * gj
            params[j] = old - eta * (gj + mom * state[M1, j] if nesterov else state[M1, j])
            if coef:
                gv[kk] = old
    elif optimizer == C.OPT_ADAGRAD:
        clr = eta / (1.0 + (t - 1.0) * hp[C.HP_LR_DECAY])
        for kk in range(n_upd):
            coef = kk < nt
            j = cols[c0 + kk] if coef else d
            old = params[j]
            gj = gv[kk] + l2c * old if coef else gb
            state[M1, j] += gj * gj
            params[j] = old - clr * (gj / (math.sqrt(state[M1, j]) + eps))
            if coef:
                gv[kk] = old
    elif optimizer == C.OPT_RMSPROP:
        rho = hp[C.HP_RHO]
        centered = hp[C.HP_CENTERED] != 0.0
        for kk in range(n_upd):
            coef = kk < nt
            j = cols[c0 + kk] if coef else d
            old = params[j]
            gj = gv[kk] + l2c * old if coef else gb
            state[M1, j] = rho * state[M1, j] + (1.0 - rho) * gj * gj
            if centered:
                state[M2, j] += (1.0 - rho) * (gj - state[M2, j])
                den = math.sqrt(max(state[M1, j] - state[M2, j] * state[M2, j], 0.0)) + eps
            else:
                den = math.sqrt(state[M1, j]) + eps
            if mom > 0.0:
                state[M3, j] = mom * state[M3, j] + gj / den
                params[j] = old - eta * state[M3, j]
            else:
                params[j] = old - eta * (gj / den)
            if coef:
                gv[kk] = old
    elif optimizer == C.OPT_ADAM or optimizer == C.OPT_ADAMW:
        b1 = hp[C.HP_BETA1]
        b2 = hp[C.HP_BETA2]
        amsgrad = hp[C.HP_AMSGRAD] != 0.0
        step_size = eta * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        decay = 1.0 - eta * hp[C.HP_WEIGHT_DECAY] if optimizer == C.OPT_ADAMW else 1.0
        for kk in range(n_upd):
            coef = kk < nt
            j = cols[c0 + kk] if coef else d
            old = params[j]
            pj = old
            if coef:
                gj = gv[kk] + l2c * pj
                pj *= decay
            else:
                gj = gb
            state[M1, j] += (1.0 - b1) * (gj - state[M1, j])
            state[M2, j] = b2 * state[M2, j] + (1.0 - b2) * gj * gj
            vj = state[M2, j]
            if amsgrad:
                state[M3, j] = max(state[M3, j], state[M2, j])
                vj = state[M3, j]
            params[j] = pj - step_size * (state[M1, j] / (math.sqrt(vj) + eps))
            if coef:
                gv[kk] = old
    elif optimizer == C.OPT_ADAMAX:
        b1 = hp[C.HP_BETA1]
        b2 = hp[C.HP_BETA2]
        clr = eta / (1.0 - b1**t)
        for kk in range(n_upd):
            coef = kk < nt
            j = cols[c0 + kk] if coef else d
            old = params[j]
            gj = gv[kk] + l2c * old if coef else gb
            state[M1, j] += (1.0 - b1) * (gj - state[M1, j])
            state[M2, j] = max(b2 * state[M2, j], abs(gj) + eps)
            params[j] = old - clr * (state[M1, j] / state[M2, j])
            if coef:
                gv[kk] = old
    else:
        raise ValueError("unknown optimizer code")
    thr = eta * l1c
    for kk in range(nt):
        j = cols[c0 + kk]
        nw = params[j]
        if thr != 0.0:
            mag = abs(nw) - thr
            nw = math.copysign(mag, nw) if mag > 0.0 else 0.0
            params[j] = nw
        o = gv[kk]
        dn2 += nw * nw - o * o
        dn1 += abs(nw) - abs(o)
    return dn2, dn1


@kernel
def csr_batch_epoch(
    data,
    indices,
    indptr,
    y,
    sw,
    order,
    params,
    state,
    counters,
    hp,
    loss,
    penalty,
    optimizer,
    schedule,
    batch_size,
):
    """One pass in batches of ``batch_size`` CSR rows of ``order`` (any optimizer).

    :func:`~.batch.batch_epoch`'s steps: ``g = (1/|B|) sum_i sw_i clip(dL/dp_i) [x_i, 1]``
    summed over each row's nonzeros, its intercept entry times ``intercept_decay``, then
    :func:`~.batch.optimizer_step` (every coefficient) or, with ``lazy_updates``,
    :func:`optimizer_step_lazy` (the batch's nonzero columns), the running average and
    ``t <- t + 1``. (Lazy per-sample steps on canonical rows take
    :func:`csr_lazy_sample_epoch` instead.)
    """
    check_codes(loss, penalty, optimizer, schedule)
    m = order.shape[0]
    d = params.shape[0] - 1
    w = params[:d]
    g = np.zeros(d + 1)
    lazy = hp[C.HP_LAZY_UPDATES] != 0.0
    nl = d if lazy else 0
    mark = np.zeros(nl, dtype=np.bool_)
    touched = np.empty(nl, dtype=np.int64)
    gv = np.empty(nl + 1)  # the lazy step's gradient values, aligned with touched
    fixed = fixed_rate(schedule)  # 'constant', 'adaptive': one rate for the whole call
    eta_fixed = learning_rate(schedule, counters[C.SC_T], hp, counters) if fixed else 0.0
    epsilon = hp[C.HP_EPSILON]
    avg_start = hp[C.HP_AVERAGE]
    decay = hp[C.HP_INTERCEPT_DECAY]
    avg = state[C.ST_AVG]
    l2c, l1c = penalty_parts(penalty, hp)
    track = penalty != C.PENALTY_NONE
    sgd_shrinks = optimizer == C.OPT_SGD and (
        penalty == C.PENALTY_L2 or penalty == C.PENALTY_ELASTICNET
    )
    n2, n1 = norms(w) if track else (0.0, 0.0)
    zero = m - m
    shuffled = m > 0 and not contiguous_run(order, zero, m)
    no_sw = sw.shape[0] == 0
    sumloss = 0.0
    sumpen = 0.0
    start = zero
    while start < m:
        stop = min(start + batch_size, m)
        b = params[d]
        if track:
            if not lazy or sgd_shrinks:
                n2, n1 = norms(w)
            sumpen += (0.5 * l2c * n2 + l1c * n1) * (stop - start)
        nt = zero
        for i in range(start, stop):
            r = order[i]
            if shuffled:
                if i + AHEAD_PTR < m:
                    prefetch_item(indptr, order[i + AHEAD_PTR] + 1)
                if i + AHEAD_ROWS < m:
                    rn = order[i + AHEAD_ROWS]
                    prefetch_span(data, indptr[rn], indptr[rn + 1])
                    prefetch_span(indices, indptr[rn], indptr[rn + 1])
                    prefetch_item(y, rn)
                    if not no_sw:
                        prefetch_item(sw, rn)
            lo = indptr[r]
            hi = indptr[r + 1]
            d0 = 0.0
            d1 = 0.0
            d2 = 0.0
            d3 = 0.0
            k = lo
            while k + 4 <= hi:
                d0 += data[k] * w[indices[k]]
                d1 += data[k + 1] * w[indices[k + 1]]
                d2 += data[k + 2] * w[indices[k + 2]]
                d3 += data[k + 3] * w[indices[k + 3]]
                k += 4
            while k < hi:
                d0 += data[k] * w[indices[k]]
                k += 1
            p = ((d0 + d1) + (d2 + d3)) + b
            if not math.isfinite(p):
                for j in range(d + 1):
                    g[j] = 0.0
                return sumloss, sumloss + sumpen, i
            lv, dl = loss_grad(loss, p, y[r], epsilon)
            sumloss += lv
            dl *= weight(sw, r)
            if dl != 0.0:
                for k in range(lo, hi):
                    g[indices[k]] += dl * data[k]
                g[d] += dl
            if lazy:
                for k in range(lo, hi):
                    j = indices[k]
                    if data[k] != 0.0 and not mark[j]:
                        mark[j] = True
                        touched[nt] = j
                        nt += 1
        size = float(stop - start)
        t = counters[C.SC_T]
        eta = eta_fixed if fixed else learning_rate(schedule, t, hp, counters)
        if lazy:
            for kk in range(nt):  # gather the batch's columns' gradients, reset buffers
                j = touched[kk]
                gv[kk] = g[j] / size if size != 1.0 else g[j]
                g[j] = 0.0
                mark[j] = False
            gb = decay * (g[d] / size if size != 1.0 else g[d])
            g[d] = 0.0
            dn2, dn1 = optimizer_step_lazy(
                optimizer, params, touched, zero, nt, gv, gb, state, counters, hp, penalty, eta
            )
            if track and not sgd_shrinks:
                n2 += dn2
                n1 += dn1
        else:
            if size != 1.0:
                for j in range(d + 1):
                    g[j] = g[j] / size
            g[d] *= decay
            optimizer_step(optimizer, params, g, state, counters, hp, penalty, eta)
            for j in range(d + 1):
                g[j] = 0.0
        if avg_start > 0.0 and avg_start <= t:
            mu = 1.0 / (t - avg_start + 1.0)
            for j in range(d + 1):
                avg[j] += (params[j] - avg[j]) * mu
        counters[C.SC_T] = t + 1.0
        start = stop
    return sumloss, sumloss + sumpen, -1


@kernel
def csr_lazy_sample_epoch(
    data,
    indices,
    indptr,
    y,
    sw,
    order,
    params,
    state,
    counters,
    hp,
    loss,
    penalty,
    optimizer,
    schedule,
):
    """Per-sample lazy steps of any optimizer but plain SGD, on canonical CSR rows.

    :func:`csr_batch_epoch` with ``batch_size=1`` and ``lazy_updates``, for rows whose
    indices are strictly increasing (:func:`csr_canonical`) and without averaging: a
    row's nonzero columns are the step's columns as they are, so no gradient or marker
    array is touched (measured on rcv1-shaped data: 0.55-0.75 s -> 0.3-0.4 s per epoch of
    lazy momentum). Per row: ``p = x.w + b``, ``g_j = sw clip(dL/dp) x_j`` on the row's
    nonzeros, ``g_b = intercept_decay sw clip(dL/dp)``, :func:`optimizer_step_lazy`,
    ``t <- t + 1``.
    """
    check_codes(loss, penalty, optimizer, schedule)
    m = order.shape[0]
    d = params.shape[0] - 1
    # One row per coordinate holding the moments this optimizer uses: a step reads and
    # writes one cache line per column instead of a line in each row of ``state``; the
    # coefficients stay in their own array, which the row's dot reads alone. Measured on
    # the rcv1-shaped epoch of lazy Adam, same loop: parameter and moments in rows of 4
    # 0.89-1.01 s, coefficients apart with the two moments Adam uses 0.65-0.70 s (an
    # unused third moment in each row costs cache room: 1.4-1.8 s). Copied in and out
    # once per call.
    nm = moment_rows(optimizer, hp)
    packed = np.empty((d + 1, nm))
    for j in range(d + 1):
        for q in range(nm):
            packed[j, q] = state[C.ST_M1 + q, j]
    moments = packed.T  # rows ST_M1, ST_M2, ST_M3 as optimizer_step_lazy reads them
    w = params[:d]
    cols = np.empty(d, dtype=np.int64)
    gv = np.empty(d + 1)
    epsilon = hp[C.HP_EPSILON]
    decay = hp[C.HP_INTERCEPT_DECAY]
    adam = optimizer == C.OPT_ADAM or optimizer == C.OPT_ADAMW
    adamw = optimizer == C.OPT_ADAMW
    amsgrad = hp[C.HP_AMSGRAD] != 0.0
    b1 = hp[C.HP_BETA1]
    b2 = hp[C.HP_BETA2]
    eps = hp[C.HP_EPS]
    weight_decay = hp[C.HP_WEIGHT_DECAY]
    fit_intercept = hp[C.HP_FIT_INTERCEPT] != 0.0
    l2c, l1c = penalty_parts(penalty, hp)
    track = penalty != C.PENALTY_NONE
    n2, n1 = norms(w) if track else (0.0, 0.0)
    zero = m - m
    shuffled = m > 0 and not contiguous_run(order, zero, m)
    no_sw = sw.shape[0] == 0
    fixed = fixed_rate(schedule)
    eta = learning_rate(schedule, counters[C.SC_T], hp, counters) if fixed else 0.0
    sumloss = 0.0
    sumpen = 0.0
    bad = -1
    for i in range(m):
        r = order[i]
        if shuffled:
            if i + AHEAD_PTR < m:
                prefetch_item(indptr, order[i + AHEAD_PTR] + 1)
            if i + AHEAD_ROWS < m:
                rn = order[i + AHEAD_ROWS]
                prefetch_span(data, indptr[rn], indptr[rn + 1])
                prefetch_span(indices, indptr[rn], indptr[rn + 1])
                prefetch_item(y, rn)
                if not no_sw:
                    prefetch_item(sw, rn)
        lo = indptr[r]
        hi = indptr[r + 1]
        d0 = 0.0
        d1 = 0.0
        d2 = 0.0
        d3 = 0.0
        k = lo
        while k + 4 <= hi:
            d0 += data[k] * w[indices[k]]
            d1 += data[k + 1] * w[indices[k + 1]]
            d2 += data[k + 2] * w[indices[k + 2]]
            d3 += data[k + 3] * w[indices[k + 3]]
            k += 4
        while k < hi:
            d0 += data[k] * w[indices[k]]
            k += 1
        p = ((d0 + d1) + (d2 + d3)) + params[d]
        if not math.isfinite(p):
            bad = i
            break
        lv, dl = loss_grad(loss, p, y[r], epsilon)
        sumloss += lv
        if track:
            sumpen += 0.5 * l2c * n2 + l1c * n1
        dl *= weight(sw, r)
        t = counters[C.SC_T]
        if not fixed:
            eta = learning_rate(schedule, t, hp, counters)
        if adam:
            # optimizer_step_lazy's Adam / AdamW step written out over the row's nonzeros,
            # in its operation order (a call with a column list and a gradient array
            # around it took twice the time of this loop)
            step_size = eta * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
            wdecay = 1.0 - eta * weight_decay if adamw else 1.0
            thr = eta * l1c
            for k in range(lo, hi):
                xk = data[k]
                if xk != 0.0:
                    j = indices[k]
                    old = w[j]
                    gj = dl * xk + l2c * old
                    mj = packed[j, 0] + (1.0 - b1) * (gj - packed[j, 0])
                    vj = b2 * packed[j, 1] + (1.0 - b2) * gj * gj
                    packed[j, 0] = mj
                    packed[j, 1] = vj
                    if amsgrad:
                        vj = max(packed[j, 2], vj)
                        packed[j, 2] = vj
                    nw = old * wdecay - step_size * (mj / (math.sqrt(vj) + eps))
                    if thr != 0.0:
                        mag = abs(nw) - thr
                        nw = math.copysign(mag, nw) if mag > 0.0 else 0.0
                    w[j] = nw
                    if track:
                        n2 += nw * nw - old * old
                        n1 += abs(nw) - abs(old)
            if fit_intercept:
                gb = decay * dl
                mb = packed[d, 0] + (1.0 - b1) * (gb - packed[d, 0])
                vb = b2 * packed[d, 1] + (1.0 - b2) * gb * gb
                packed[d, 0] = mb
                packed[d, 1] = vb
                if amsgrad:
                    vb = max(packed[d, 2], vb)
                    packed[d, 2] = vb
                params[d] -= step_size * (mb / (math.sqrt(vb) + eps))
        else:
            nt = zero
            for k in range(lo, hi):
                if data[k] != 0.0:
                    cols[nt] = indices[k]
                    gv[nt] = dl * data[k]
                    nt += 1
            dn2, dn1 = optimizer_step_lazy(
                optimizer, params, cols, zero, nt, gv, decay * dl, moments, counters, hp,
                penalty, eta,
            )  # fmt: skip
            n2 += dn2
            n1 += dn1
        counters[C.SC_T] = t + 1.0
    for j in range(d + 1):
        for q in range(nm):
            state[C.ST_M1 + q, j] = packed[j, q]
    return sumloss, sumloss + sumpen, bad
