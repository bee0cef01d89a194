"""Mini-batch and full-batch epochs with any optimizer, and the optimizer step.

Arguments as in :mod:`.sgd`, plus ``optimizer`` (an int64 code) and ``batch_size``
(a row count; ``m`` for full batch). :func:`optimizer_step` is compiled on its own and
called once per batch (also by :func:`fastgd.minimize`); :func:`batch_epoch` is the
compiled entry point of the batch path.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _layout as C
from ._jit import kernel
from .carry import batch_dot
from .leaves import axpy_row, norms
from .prefetch import prefetch_ahead, prefetch_sample, weight
from .scalar import check_codes, learning_rate, loss_grad
from .sgd import penalty_parts


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
    adamax    m += (1 - b1)(g - m);  u = max(b2 u, |g| + eps);  w -= eta / (1 - b1^t) m / u

    Non-SGD optimizers apply L1 as a proximal soft-threshold after the step:
    ``w <- sign(w) max(|w| - eta l1c, 0)``. The intercept is never penalised and
    is left untouched when ``fit_intercept`` is off. An unknown optimizer code
    raises ``ValueError``.
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
    elif optimizer == C.OPT_ADAM or optimizer == C.OPT_ADAMW:
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
    elif optimizer == C.OPT_ADAMAX:
        b1 = hp[C.HP_BETA1]
        b2 = hp[C.HP_BETA2]
        eps = hp[C.HP_EPS]
        clr = eta / (1.0 - b1**t)
        for j in range(n_upd):
            gj = g[j] + l2c * params[j] if j < d else g[j]
            m1[j] += (1.0 - b1) * (gj - m1[j])
            m2[j] = max(b2 * m2[j], abs(gj) + eps)
            params[j] -= clr * (m1[j] / m2[j])
    else:
        raise ValueError("unknown optimizer code")
    if l1c != 0.0:
        thr = eta * l1c
        for j in range(d):
            a = abs(params[j]) - thr
            params[j] = math.copysign(a, params[j]) if a > 0.0 else 0.0


@kernel
def batch_epoch(
    X, y, sw, order, params, state, counters, hp, loss, penalty, optimizer, schedule, batch_size
):
    """One pass in batches of ``batch_size`` rows of ``order`` (the last may be smaller).

    For each batch B: ``g = (1/|B|) sum_{i in B} sw_i clip(dL/dp(p_i, y_i)) [x_i, 1]``
    with every ``p_i`` computed from the parameters before the batch; then
    :func:`optimizer_step` with ``eta = learning_rate(t)``; then the running
    average (``0 < average <= t``); then ``t <- t + 1``.
    """
    check_codes(loss, penalty, optimizer, schedule)
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
            lv, dl = loss_grad(loss, p, y[r], epsilon)
            sumloss += lv
            dl *= weight(sw, r)
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
