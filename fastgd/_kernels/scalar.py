"""Per-sample losses and the learning-rate schedules.

Options arrive as ``int64`` codes (``fastgd._layout``). Every dispatch over a code
ends in an explicit failure (``ValueError``) for an unknown code. The formulas are
scikit-learn's (losses, 'optimal', 'invscaling', 'adaptive') and torch's schedulers
(step, exponential, cosine) written as functions of the update number ``t >= 1``
(``k = t - 1`` updates have already been made).

What is inlined, by measurement (cold compile against run time, 2-core AMD EPYC):
numba's IR inlining (``inline='always'``) deep-copies the callee's IR at every call
site, and it was most of the cold compile (10 s for the per-sample kernel). So only
:func:`loss_grad` (one call per row, one call site per path) and the one-line rate
formulas are leaves; :func:`learning_rate` and :func:`fill_rates` are compiled once
and called (once per batch, once per ``RATE_BLOCK`` rows).
"""

from __future__ import annotations

import math

from .. import _layout as C
from ._jit import kernel, leaf

MAX_DLOSS = 1e12  # scikit-learn clips dloss to +-1e12 for numerical stability


@leaf
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


@leaf
def loss_grad(loss, p, y, epsilon):
    """``(L(p, y), dL/dp)`` for prediction ``p`` and target ``y`` (+-1 for classifiers).

    The derivative is clipped to ``+-1e12`` (scikit-learn's ``MAX_DLOSS``). An unknown
    code gives NaN, never the last formula: a ``raise`` here, inside the row loops, cost
    the L1 path 28% at d = 100 (it blocked LLVM's loop optimisations), so the entry points
    raise for an unknown code before their loops (:func:`check_codes`)::

        squared_error   0.5 (p - y)^2                       p - y
        huber           0.5 r^2 if |r| <= eps else eps (|r| - eps/2),  r = y - p
        eps-insensitive max(0, |y - p| - eps);  squared: max(0, |y - p| - eps)^2
        log_loss        log(1 + exp(p)) - y01 p  (= log(1 + exp(-y p)))   expit(p) - y01
        hinge           max(0, 1 - z);  perceptron: max(0, -z)          (z = p y)
        squared_hinge   max(0, 1 - z)^2
        modified_huber  0 if z >= 1, (1 - z)^2 if z >= -1, else -4 z
    """
    if loss == C.LOSS_SQUARED_ERROR:
        value = 0.5 * (p - y) * (p - y)
        g = p - y
    elif loss == C.LOSS_HUBER:
        r = p - y
        a = abs(r)
        if a <= epsilon:
            value = 0.5 * a * a
            g = r
        else:
            value = epsilon * (a - 0.5 * epsilon)
            g = epsilon if r > 0.0 else -epsilon
    elif loss == C.LOSS_EPSILON_INSENSITIVE:
        e = abs(y - p) - epsilon
        value = e if e > 0.0 else 0.0
        if y - p > epsilon:
            g = -1.0
        elif p - y > epsilon:
            g = 1.0
        else:
            g = 0.0
    elif loss == C.LOSS_SQUARED_EPSILON_INSENSITIVE:
        e = abs(y - p) - epsilon
        value = e * e if e > 0.0 else 0.0
        z = y - p
        if z > epsilon:
            g = -2.0 * (z - epsilon)
        elif z < -epsilon:
            g = 2.0 * (-z - epsilon)
        else:
            g = 0.0
    elif loss == C.LOSS_LOG_LOSS:
        y01 = 1.0 if y > 0.0 else 0.0
        value = log1pexp(p) - y01 * p
        if p > -37.0:
            e = math.exp(-p)
            g = ((1.0 - y01) - y01 * e) / (1.0 + e)
        else:
            g = math.exp(p) - y01
    elif loss == C.LOSS_HINGE:
        z = p * y
        value = 1.0 - z if z <= 1.0 else 0.0
        g = -y if z <= 1.0 else 0.0
    elif loss == C.LOSS_PERCEPTRON:
        z = p * y
        value = -z if z <= 0.0 else 0.0
        g = -y if z <= 0.0 else 0.0
    elif loss == C.LOSS_SQUARED_HINGE:
        m = 1.0 - p * y
        value = m * m if m > 0.0 else 0.0
        g = -2.0 * y * m if m > 0.0 else 0.0
    elif loss == C.LOSS_MODIFIED_HUBER:
        z = p * y
        if z >= 1.0:
            value = 0.0
            g = 0.0
        elif z >= -1.0:
            value = (1.0 - z) * (1.0 - z)
            g = 2.0 * (1.0 - z) * -y
        else:
            value = -4.0 * z
            g = -4.0 * y
    else:  # unreachable: every entry point checks its codes first (check_codes)
        value = math.nan
        g = math.nan
    if g < -MAX_DLOSS:
        g = -MAX_DLOSS
    elif g > MAX_DLOSS:
        g = MAX_DLOSS
    return value, g


@leaf
def check_codes(loss, penalty, optimizer, schedule):
    """Raise ``ValueError`` for a code no registry row has (called once per entry point)."""
    if not 0 <= loss < C.N_LOSS_CODES:
        raise ValueError("unknown loss code")
    if not 0 <= penalty < C.N_PENALTY_CODES:
        raise ValueError("unknown penalty code")
    if not 0 <= optimizer < C.N_OPT_CODES:
        raise ValueError("unknown optimizer code")
    if not 0 <= schedule < C.N_SCHED_CODES:
        raise ValueError("unknown learning-rate schedule code")


@kernel
def loss_value(loss, p, y, epsilon):
    """``L(p, y)`` of :func:`loss_grad` (compiled on its own, for callers outside the loops);
    ``ValueError`` for an unknown code."""
    if not 0 <= loss < C.N_LOSS_CODES:
        raise ValueError("unknown loss code")
    return loss_grad(loss, p, y, epsilon)[0]


@kernel
def loss_dloss(loss, p, y, epsilon):
    """Clipped ``dL/dp`` of :func:`loss_grad`; ``ValueError`` for an unknown code."""
    if not 0 <= loss < C.N_LOSS_CODES:
        raise ValueError("unknown loss code")
    return loss_grad(loss, p, y, epsilon)[1]


@kernel
def optimal_init(loss, alpha, epsilon):
    """scikit-learn's offset for 'optimal': the first rate equals typw / max(1, dL)."""
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    eta_first = typw / max(1.0, loss_grad(loss, -typw, 1.0, epsilon)[1])
    return 1.0 / (eta_first * alpha)


# --------------------------------------------------------------------- rate formulas
# One leaf per schedule: the formula is written once, inlined into both the scalar
# learning_rate and the block fill_rates (tiny callees inline cheaply).
@leaf
def rate_optimal(alpha, t_opt, t):
    return 1.0 / (alpha * (t_opt + t - 1.0))


@leaf
def rate_invscaling(eta0, power_t, t):
    return eta0 / t**power_t


@leaf
def rate_inverse_time(eta0, t0, t):
    return eta0 * t0 / (t0 + (t - 1.0))


@leaf
def rate_step(eta0, gamma, step_size, t):
    return eta0 * gamma ** math.floor((t - 1.0) / step_size)


@leaf
def rate_exponential(eta0, gamma, t):
    return eta0 * gamma ** (t - 1.0)


@leaf
def rate_cosine(eta0, eta_min, t_max, t):
    k = t - 1.0
    if k >= t_max:
        return eta_min
    return eta_min + (eta0 - eta_min) * (1.0 + math.cos(math.pi * k / t_max)) / 2.0


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
    if schedule == C.SCHED_CONSTANT:
        return eta0
    if schedule == C.SCHED_OPTIMAL:
        return rate_optimal(hp[C.HP_ALPHA], hp[C.HP_OPTIMAL_INIT], t)
    if schedule == C.SCHED_INVSCALING:
        return rate_invscaling(eta0, hp[C.HP_POWER_T], t)
    if schedule == C.SCHED_ADAPTIVE:
        return counters[C.SC_ETA]
    if schedule == C.SCHED_INVERSE_TIME:
        return rate_inverse_time(eta0, hp[C.HP_T0], t)
    if schedule == C.SCHED_STEP:
        return rate_step(eta0, hp[C.HP_GAMMA], hp[C.HP_STEP_SIZE], t)
    if schedule == C.SCHED_EXPONENTIAL:
        return rate_exponential(eta0, hp[C.HP_GAMMA], t)
    if schedule == C.SCHED_COSINE:
        return rate_cosine(eta0, hp[C.HP_ETA_MIN], hp[C.HP_T_MAX], t)
    raise ValueError("unknown learning-rate schedule code")


RATE_BLOCK = C.ARENA_RATES  # learning rates computed ahead per call of fill_rates
_SERIES_T = 65536.0  # from this t on, (t + k)^-p comes from one pow and two short series


@kernel
def fill_rates(schedule, t, hp, counters, out, lo, hi):
    """``out[k] = learning_rate(schedule, t + k)`` for ``lo <= k < hi`` (``hi <= len(out)``).

    Each entry depends on ``t`` (the block's first update) and ``k`` only, so filling
    a block in pieces gives the same bits as filling it at once: a call fills only the
    entries its rows will read (a 1,000-row ``partial_fit`` chunk starts and ends
    mid-block).

    One loop per schedule, the branch outside it: with one loop over a run-time code
    LLVM speculated every formula's pow / cos / floor on every entry (22 ns per rate
    even for 'constant'; now ~1-3 ns).

    'invscaling' needs a ``pow`` per update, which costs more than the whole update at
    small d. From ``t >= 65536`` on (``x = k / t <= 1e-3``) it is computed as

        eta0 t^-p (1 + x)^-p = eta0 t^-p exp(-p log1p(x))

    with ``log1p`` and ``exp`` as 6- and 5-term series (truncation < 1e-20, so the
    result is within a few ulps of the direct formula).
    """
    eta0 = hp[C.HP_ETA0]
    if schedule == C.SCHED_CONSTANT:
        for k in range(lo, hi):
            out[k] = eta0
    elif schedule == C.SCHED_ADAPTIVE:
        eta = counters[C.SC_ETA]
        for k in range(lo, hi):
            out[k] = eta
    elif schedule == C.SCHED_OPTIMAL:
        alpha = hp[C.HP_ALPHA]
        t_opt = hp[C.HP_OPTIMAL_INIT]
        for k in range(lo, hi):
            out[k] = rate_optimal(alpha, t_opt, t + k)
    elif schedule == C.SCHED_INVSCALING:
        p = hp[C.HP_POWER_T]
        if t >= _SERIES_T:
            base = eta0 / t**p
            inv_t = 1.0 / t
            for k in range(lo, hi):
                x = k * inv_t
                lg = x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x * (0.2 - x / 6.0)))))
                z = -p * lg
                e = 1.0 + z * (1.0 + z / 2.0 * (1.0 + z / 3.0 * (1.0 + z / 4.0 * (1.0 + z / 5.0))))
                out[k] = base * e
        else:
            for k in range(lo, hi):
                out[k] = rate_invscaling(eta0, p, t + k)
    elif schedule == C.SCHED_INVERSE_TIME:
        t0 = hp[C.HP_T0]
        for k in range(lo, hi):
            out[k] = rate_inverse_time(eta0, t0, t + k)
    elif schedule == C.SCHED_STEP:
        gamma = hp[C.HP_GAMMA]
        step_size = hp[C.HP_STEP_SIZE]
        for k in range(lo, hi):
            out[k] = rate_step(eta0, gamma, step_size, t + k)
    elif schedule == C.SCHED_EXPONENTIAL:
        gamma = hp[C.HP_GAMMA]
        for k in range(lo, hi):
            out[k] = rate_exponential(eta0, gamma, t + k)
    elif schedule == C.SCHED_COSINE:
        eta_min = hp[C.HP_ETA_MIN]
        t_max = hp[C.HP_T_MAX]
        for k in range(lo, hi):
            out[k] = rate_cosine(eta0, eta_min, t_max, t + k)
    else:
        raise ValueError("unknown learning-rate schedule code")
