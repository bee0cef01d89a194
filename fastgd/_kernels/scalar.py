"""Per-sample losses, their derivatives and the learning-rate schedules.

Every function takes the option as an ``int64`` code (``fastgd._codes``) and
returns a float64; they are inlined into the epoch loops. The formulas are
scikit-learn's (losses, 'optimal', 'invscaling', 'adaptive') and torch's
schedulers (step, exponential, cosine) written as functions of the update
number ``t >= 1`` (``k = t - 1`` updates have already been made).
"""

from __future__ import annotations

import math

from .. import _codes as C
from ._jit import kernel as compiled
from ._jit import leaf as kernel

MAX_DLOSS = 1e12  # scikit-learn clips dloss to +-1e12 for numerical stability


@kernel
def log1pexp(x):
    """``log(1 + exp(x))`` without overflow (scikit-learn's piecewise form)."""
    if x <= -37.0:
        return math.exp(x)
    if x <= -2.0:
        return math.log1p(math.exp(x))
    if x <= 18.0:
        return math.log(1.0 + math.exp(x))
    if x <= 33.3:
        return x + math.exp(-x)
    return x


@kernel
def loss_value(loss, p, y, epsilon):
    """Loss ``L(p, y)`` for prediction ``p`` and target ``y`` (+-1 for classifiers).

    squared_error  0.5 (p - y)^2
    huber          0.5 r^2 if |r| <= eps else eps (|r| - eps / 2), r = y - p
    eps-insens.    max(0, |y - p| - eps);  squared: max(0, |y - p| - eps)^2
    log_loss       log(1 + exp(p)) - y01 p, y01 = (y + 1) / 2  (= log(1 + exp(-p y)));
                   derivative expit(p) - y01, both as scikit-learn's HalfBinomialLoss
    hinge          max(0, 1 - z);  perceptron: max(0, -z)
    squared_hinge  max(0, 1 - z)^2
    modified_huber 0 if z >= 1, (1 - z)^2 if z >= -1, else -4 z
    """
    if loss == C.LOSS_SQUARED_ERROR:
        return 0.5 * (p - y) * (p - y)
    if loss == C.LOSS_HUBER:
        a = abs(y - p)
        if a <= epsilon:
            return 0.5 * a * a
        return epsilon * (a - 0.5 * epsilon)
    if loss == C.LOSS_EPSILON_INSENSITIVE:
        ret = abs(y - p) - epsilon
        return ret if ret > 0.0 else 0.0
    if loss == C.LOSS_SQUARED_EPSILON_INSENSITIVE:
        ret = abs(y - p) - epsilon
        return ret * ret if ret > 0.0 else 0.0
    if loss == C.LOSS_LOG_LOSS:
        y01 = 1.0 if y > 0.0 else 0.0
        return log1pexp(p) - y01 * p
    z = p * y
    if loss == C.LOSS_HINGE:
        return 1.0 - z if z <= 1.0 else 0.0
    if loss == C.LOSS_PERCEPTRON:
        return -z if z <= 0.0 else 0.0
    if loss == C.LOSS_SQUARED_HINGE:
        m = 1.0 - z
        return m * m if m > 0.0 else 0.0
    # modified_huber
    if z >= 1.0:
        return 0.0
    if z >= -1.0:
        return (1.0 - z) * (1.0 - z)
    return -4.0 * z


@kernel
def loss_dloss(loss, p, y, epsilon):
    """Derivative ``dL/dp`` of :func:`loss_value`, clipped to ``+-1e12``."""
    if loss == C.LOSS_SQUARED_ERROR:
        g = p - y
    elif loss == C.LOSS_HUBER:
        r = p - y
        if abs(r) <= epsilon:
            g = r
        elif r > 0.0:
            g = epsilon
        else:
            g = -epsilon
    elif loss == C.LOSS_EPSILON_INSENSITIVE:
        if y - p > epsilon:
            g = -1.0
        elif p - y > epsilon:
            g = 1.0
        else:
            g = 0.0
    elif loss == C.LOSS_SQUARED_EPSILON_INSENSITIVE:
        z = y - p
        if z > epsilon:
            g = -2.0 * (z - epsilon)
        elif z < -epsilon:
            g = 2.0 * (-z - epsilon)
        else:
            g = 0.0
    else:
        z = p * y
        if loss == C.LOSS_LOG_LOSS:
            y01 = 1.0 if y > 0.0 else 0.0
            if p > -37.0:
                e = math.exp(-p)
                g = ((1.0 - y01) - y01 * e) / (1.0 + e)
            else:
                g = math.exp(p) - y01
        elif loss == C.LOSS_HINGE:
            g = -y if z <= 1.0 else 0.0
        elif loss == C.LOSS_PERCEPTRON:
            g = -y if z <= 0.0 else 0.0
        elif loss == C.LOSS_SQUARED_HINGE:
            m = 1.0 - z
            g = -2.0 * y * m if m > 0.0 else 0.0
        else:  # modified_huber
            if z >= 1.0:
                g = 0.0
            elif z >= -1.0:
                g = 2.0 * (1.0 - z) * -y
            else:
                g = -4.0 * y
    if g < -MAX_DLOSS:
        return -MAX_DLOSS
    if g > MAX_DLOSS:
        return MAX_DLOSS
    return g


@kernel
def learning_rate(schedule, t, hp, counters):
    """Learning rate of update number ``t`` (1-based); ``k = t - 1``.

    constant      eta0
    optimal       1 / (alpha (t_opt + t - 1))      (scikit-learn; t_opt from the loss)
    invscaling    eta0 / t^power_t
    adaptive      counters[SC_ETA] (eta0, divided by 5 on each stall)
    inverse_time  eta0 t0 / (t0 + k)               (the seeds' a / (t + b))
    step          eta0 gamma^floor(k / step_size)  (torch StepLR, per update)
    exponential   eta0 gamma^k                     (torch ExponentialLR, per update)
    cosine        eta_min + (eta0 - eta_min)(1 + cos(pi min(k, T_max) / T_max)) / 2
    """
    eta0 = hp[C.HP_ETA0]
    k = t - 1.0
    if schedule == C.SCHED_CONSTANT:
        return eta0
    if schedule == C.SCHED_OPTIMAL:
        return 1.0 / (hp[C.HP_ALPHA] * (hp[C.HP_OPTIMAL_INIT] + t - 1.0))
    if schedule == C.SCHED_INVSCALING:
        return eta0 / t ** hp[C.HP_POWER_T]
    if schedule == C.SCHED_ADAPTIVE:
        return counters[C.SC_ETA]
    if schedule == C.SCHED_INVERSE_TIME:
        t0 = hp[C.HP_T0]
        return eta0 * t0 / (t0 + k)
    if schedule == C.SCHED_STEP:
        return eta0 * hp[C.HP_GAMMA] ** math.floor(k / hp[C.HP_STEP_SIZE])
    if schedule == C.SCHED_EXPONENTIAL:
        return eta0 * hp[C.HP_GAMMA] ** k
    # cosine
    t_max = hp[C.HP_T_MAX]
    eta_min = hp[C.HP_ETA_MIN]
    if k >= t_max:
        return eta_min
    return eta_min + (eta0 - eta_min) * (1.0 + math.cos(math.pi * k / t_max)) / 2.0


@kernel
def optimal_init(loss, alpha, epsilon):
    """scikit-learn's offset for 'optimal': the first rate equals typw / max(1, dL)."""
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    eta_first = typw / max(1.0, loss_dloss(loss, -typw, 1.0, epsilon))
    return 1.0 / (eta_first * alpha)


RATE_BLOCK = C.ARENA_RATES  # learning rates computed ahead per call of fill_rates
_SERIES_T = 65536.0  # from this t on, (t + k)^-p comes from one pow and two short series


@kernel
def fill_one(schedule, t, hp, counters, out, lo, hi):
    """``out[k] = learning_rate(schedule, t + k)`` for ``lo <= k < hi``; inlined, so a
    literal code folds."""
    for k in range(lo, hi):
        out[k] = learning_rate(schedule, t + k, hp, counters)


@compiled
def fill_rates(schedule, t, hp, counters, out, lo, hi):
    """``out[k] = learning_rate(schedule, t + k)`` for ``lo <= k < hi`` (``hi <= len(out)``).

    Each entry depends on ``t`` (the block's first update) and ``k`` only, so filling
    a block in pieces gives the same bits as filling it at once: a call fills only the
    entries its rows will read (a 1,000-row ``partial_fit`` chunk starts and ends
    mid-block; filling whole blocks cost ~64 extra rates per call).

    Compiled on its own, not inlined: it runs once per ``RATE_BLOCK`` updates, and
    inlining its nine loops into every per-sample block made the first (cold-cache)
    compile of the kernels about 2.5x slower.

    'invscaling' needs a ``pow`` per update, which costs more than the whole update at
    small d. From ``t >= 65536`` on (``x = k / t <= 1e-3``) it is computed as

        eta0 t^-p (1 + x)^-p = eta0 t^-p exp(-p log1p(x))

    with ``log1p`` and ``exp`` as 6- and 5-term series (truncation < 1e-20, so the
    result is within a few ulps of the direct formula).
    """
    # One loop per schedule (fill_one with a literal code): with the code known, only
    # its formula is compiled into the loop. One loop over a run-time code let LLVM
    # speculate every formula's pow / cos / floor on every entry: 22 ns per rate even
    # for 'constant' (now ~1-3 ns).
    if schedule == C.SCHED_OPTIMAL:
        fill_one(C.SCHED_OPTIMAL, t, hp, counters, out, lo, hi)
    elif schedule == C.SCHED_CONSTANT:
        fill_one(C.SCHED_CONSTANT, t, hp, counters, out, lo, hi)
    elif schedule == C.SCHED_ADAPTIVE:
        fill_one(C.SCHED_ADAPTIVE, t, hp, counters, out, lo, hi)
    elif schedule == C.SCHED_INVERSE_TIME:
        fill_one(C.SCHED_INVERSE_TIME, t, hp, counters, out, lo, hi)
    elif schedule == C.SCHED_STEP:
        fill_one(C.SCHED_STEP, t, hp, counters, out, lo, hi)
    elif schedule == C.SCHED_EXPONENTIAL:
        fill_one(C.SCHED_EXPONENTIAL, t, hp, counters, out, lo, hi)
    elif schedule == C.SCHED_COSINE:
        fill_one(C.SCHED_COSINE, t, hp, counters, out, lo, hi)
    elif t >= _SERIES_T:  # invscaling
        p = hp[C.HP_POWER_T]
        base = hp[C.HP_ETA0] / t**p
        inv_t = 1.0 / t
        for k in range(lo, hi):
            x = k * inv_t
            lg = x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x * (0.2 - x / 6.0)))))
            z = -p * lg
            e = 1.0 + z * (1.0 + z / 2.0 * (1.0 + z / 3.0 * (1.0 + z / 4.0 * (1.0 + z / 5.0))))
            out[k] = base * e
    else:  # invscaling below the series' range
        fill_one(C.SCHED_INVSCALING, t, hp, counters, out, lo, hi)
