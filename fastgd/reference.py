"""fastgd's readable twin: every kernel step written as a plain NumPy loop.

This module is public and imports no numba. Use it to check your own
implementation (a GPU kernel, a port, a new optimizer) against steps whose every
formula is written out here:

>>> import numpy as np
>>> from fastgd import reference
>>> X = np.array([[1.0, 2.0], [3.0, 1.0], [1.0, 1.0]])
>>> y = X @ np.array([1.5, 1.5]) + 0.1
>>> params = np.array([1.0, 1.0, 0.0])          # w = [1, 1], b = 0
>>> state, counters = reference.init_state(2), reference.init_counters()
>>> cfg = reference.Config(optimizer="sgd", learning_rate="constant", eta0=0.2,
...                        penalty=None, batch_size=3)
>>> _ = reference.run_epoch(X, y, np.ones(3), np.arange(3), params, state, counters, cfg)
>>> params.round(8).tolist()
[1.6, 1.42666667, 0.32]

It consumes the same ``order`` arrays and mutates the same ``params``,
``state`` and ``counters`` as the compiled kernels (``fastgd._kernels``), and the
test-suite holds the two together to ``rtol=1e-10``. The formulas:

Losses (``p = x.w + b``; classification labels ``y`` in {-1, +1}, ``z = p y``)
    squared_error 0.5 (p - y)^2; huber; epsilon_insensitive; squared_epsilon_insensitive;
    log_loss log(1 + exp(-z)); hinge max(0, 1 - z); perceptron max(0, -z);
    squared_hinge max(0, 1 - z)^2; modified_huber -- all scikit-learn's definitions,
    see :func:`loss_value` and :func:`loss_dloss` (derivatives clipped to +-1e12).
Penalty
    ``alpha R(w)`` with ``R = (1 - l1_ratio)/2 ||w||^2 + l1_ratio ||w||_1`` (l2: l1_ratio=0,
    l1: l1_ratio=1); the intercept is never penalised. Plain SGD applies L2 as a shrink
    ``w *= max(0, 1 - eta alpha (1 - l1_ratio))`` and L1 by Tsuruoka's cumulative penalty;
    the other optimizers add ``alpha (1 - l1_ratio) w`` to the gradient and soft-threshold
    by ``eta alpha l1_ratio`` after the step.
Batches
    The gradient of a batch is the *mean* over its rows of ``sw_i dL/dp_i [x_i, 1]``,
    all ``p_i`` from the parameters before the batch.
Optimizers and schedules
    :func:`optimizer_step` and :func:`learning_rate` (torch.optim / scikit-learn formulas).
"""

from __future__ import annotations

import math
from dataclasses import fields, make_dataclass

import numpy as np

from . import options

MAX_DLOSS = 1e12

# Rows of ``state`` and slots of ``counters`` -- the same layout as fastgd._layout.
ST_M1, ST_M2, ST_M3, ST_AVG, ST_Q = 0, 1, 2, 3, 4
N_ST = 5
SC_T, SC_U, SC_ETA = 0, 1, 2


def _config_default(h: options.Hyper):
    value = h.fallback if h.default is None else h.default
    if h.kind == "bool":
        return bool(value)
    if h.kind == "int":
        return int(value)
    return float(value)


#: every option and hyperparameter of one run, names as in the estimators; the fields
#: and defaults come from the registry (fastgd.options), so a new hyperparameter is here
#: as soon as it has a row there
Config = make_dataclass(
    "Config",
    [
        ("loss", str, "squared_error"),
        ("penalty", "str | None", "l2"),
        ("optimizer", str, "sgd"),
        ("learning_rate", str, "invscaling"),
        ("batch_size", int, 1),
    ]
    + [
        (h.name, {"real": float, "int": int, "bool": bool}[h.kind], _config_default(h))
        for h in options.HYPERS
    ],
    namespace={"__module__": __name__},
)
Config.__doc__ = """Every option and hyperparameter of one run (names as in the estimators).

``batch_size`` is a row count; use ``len(order)`` for full batch. ``average`` is the first
update number entering the running average (0: off). ``optimal_init`` is the offset of the
'optimal' schedule (see :func:`optimal_init`). Fields and defaults (from
:mod:`fastgd.options`): """ + ", ".join(f"``{f.name}={f.default!r}``" for f in fields(Config))


def init_state(n_features: int) -> np.ndarray:
    """Zero optimizer/penalty state, shape ``(5, n_features + 1)`` float64."""
    return np.zeros((N_ST, n_features + 1))


def init_counters(eta0: float = 0.0) -> np.ndarray:
    """Counters ``[t=1, u=0, eta=eta0]`` (float64) before the first update."""
    return np.array([1.0, 0.0, float(eta0)])


# --------------------------------------------------------------------------- losses
def log1pexp(x: float) -> float:
    """``log(1 + exp(x))`` without overflow, piecewise as scikit-learn's loss module."""
    if x <= -37.0:
        return math.exp(x)
    if x <= -2.0:
        return math.log1p(math.exp(x))
    if x <= 18.0:
        return math.log(1.0 + math.exp(x))
    if x <= 33.3:
        return x + math.exp(-x)
    return x


def loss_value(loss: str, p: float, y: float, epsilon: float) -> float:
    """Loss ``L(p, y)`` (scikit-learn's definitions)."""
    if loss == "squared_error":
        return 0.5 * (p - y) * (p - y)
    if loss == "huber":
        a = abs(y - p)
        return 0.5 * a * a if a <= epsilon else epsilon * (a - 0.5 * epsilon)
    if loss == "epsilon_insensitive":
        return max(abs(y - p) - epsilon, 0.0)
    if loss == "squared_epsilon_insensitive":
        e = abs(y - p) - epsilon
        return e * e if e > 0.0 else 0.0
    if loss == "log_loss":  # log(1 + exp(-p y)) written with y01 = (y + 1) / 2
        return log1pexp(p) - (1.0 if y > 0.0 else 0.0) * p
    z = p * y
    if loss == "hinge":
        return 1.0 - z if z <= 1.0 else 0.0
    if loss == "perceptron":
        return -z if z <= 0.0 else 0.0
    if loss == "squared_hinge":
        return (1.0 - z) ** 2 if z < 1.0 else 0.0
    if loss == "modified_huber":
        if z >= 1.0:
            return 0.0
        if z >= -1.0:
            return (1.0 - z) * (1.0 - z)
        return -4.0 * z
    raise ValueError(f"unknown loss {loss!r}")


def loss_dloss(loss: str, p: float, y: float, epsilon: float) -> float:
    """Derivative ``dL/dp``, clipped to ``[-1e12, 1e12]`` as scikit-learn does."""
    if loss == "squared_error":
        g = p - y
    elif loss == "huber":
        r = p - y
        g = r if abs(r) <= epsilon else (epsilon if r > 0.0 else -epsilon)
    elif loss == "epsilon_insensitive":
        g = -1.0 if y - p > epsilon else 1.0 if p - y > epsilon else 0.0
    elif loss == "squared_epsilon_insensitive":
        z = y - p
        g = -2.0 * (z - epsilon) if z > epsilon else 2.0 * (-z - epsilon) if z < -epsilon else 0.0
    else:
        z = p * y
        if loss == "log_loss":  # expit(p) - y01, overflow-free
            y01 = 1.0 if y > 0.0 else 0.0
            if p > -37.0:
                e = math.exp(-p)
                g = ((1.0 - y01) - y01 * e) / (1.0 + e)
            else:
                g = math.exp(p) - y01
        elif loss == "hinge":
            g = -y if z <= 1.0 else 0.0
        elif loss == "perceptron":
            g = -y if z <= 0.0 else 0.0
        elif loss == "squared_hinge":
            g = -2.0 * y * (1.0 - z) if z < 1.0 else 0.0
        elif loss == "modified_huber":
            g = 0.0 if z >= 1.0 else 2.0 * (1.0 - z) * -y if z >= -1.0 else -4.0 * y
        else:
            raise ValueError(f"unknown loss {loss!r}")
    return min(max(g, -MAX_DLOSS), MAX_DLOSS)


def optimal_init(loss: str, alpha: float, epsilon: float) -> float:
    """scikit-learn's 'optimal' offset ``t_opt = 1 / (eta_1 alpha)``.

    ``typw = sqrt(1 / sqrt(alpha))`` and ``eta_1 = typw / max(1, dL/dp(-typw, 1))``.
    """
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    eta_first = typw / max(1.0, loss_dloss(loss, -typw, 1.0, epsilon))
    return 1.0 / (eta_first * alpha)


# ------------------------------------------------------------------------ schedules
def learning_rate(cfg: Config, t: float, counters: np.ndarray) -> float:
    """Learning rate of update number ``t`` (1-based), with ``k = t - 1``.

    ===============  ==========================================================
    constant         eta0
    optimal          1 / (alpha (optimal_init + t - 1))
    invscaling       eta0 / t ** power_t
    adaptive         counters[SC_ETA] (eta0, divided by 5 whenever progress stalls)
    inverse_time     eta0 t0 / (t0 + k)
    step             eta0 gamma ** floor(k / step_size)
    exponential      eta0 gamma ** k
    cosine           eta_min + (eta0 - eta_min) (1 + cos(pi k / T_max)) / 2, k < T_max;
                     eta_min afterwards
    ===============  ==========================================================
    """
    k = t - 1.0
    s = cfg.learning_rate
    if s == "constant":
        return cfg.eta0
    if s == "optimal":
        return 1.0 / (cfg.alpha * (cfg.optimal_init + t - 1.0))
    if s == "invscaling":
        return cfg.eta0 / t**cfg.power_t
    if s == "adaptive":
        return float(counters[SC_ETA])
    if s == "inverse_time":
        return cfg.eta0 * cfg.t0 / (cfg.t0 + k)
    if s == "step":
        return cfg.eta0 * cfg.gamma ** math.floor(k / cfg.step_size)
    if s == "exponential":
        return cfg.eta0 * cfg.gamma**k
    if s == "cosine":
        if k >= cfg.T_max:
            return cfg.eta_min
        return (
            cfg.eta_min + (cfg.eta0 - cfg.eta_min) * (1.0 + math.cos(math.pi * k / cfg.T_max)) / 2.0
        )
    raise ValueError(f"unknown learning_rate {s!r}")


# ------------------------------------------------------------------------ penalties
def penalty_strengths(cfg: Config) -> tuple[float, float]:
    """``(l2c, l1c) = (alpha (1 - l1_ratio), alpha l1_ratio)`` for the configured penalty."""
    if cfg.penalty == "l2":
        return cfg.alpha, 0.0
    if cfg.penalty == "l1":
        return 0.0, cfg.alpha
    if cfg.penalty == "elasticnet":
        return cfg.alpha * (1.0 - cfg.l1_ratio), cfg.alpha * cfg.l1_ratio
    if cfg.penalty is None:
        return 0.0, 0.0
    raise ValueError(f"unknown penalty {cfg.penalty!r}")


def penalty_value(cfg: Config, w: np.ndarray) -> float:
    """``alpha R(w) = l2c ||w||^2 / 2 + l1c ||w||_1``."""
    l2c, l1c = penalty_strengths(cfg)
    return 0.5 * l2c * float(w @ w) + l1c * float(np.abs(w).sum())


def cumulative_l1(w: np.ndarray, q: np.ndarray, u: float) -> None:
    """Tsuruoka et al. (2009): clip each weight by the penalty it has not yet received.

    ``u`` is the total L1 penalty a weight could have received so far and ``q_j`` the
    penalty weight ``j`` actually received; ``w`` and ``q`` are changed in place.
    """
    for j in range(w.shape[0]):
        z = w[j]
        if z > 0.0:
            w[j] = max(0.0, z - (u + q[j]))
        elif z < 0.0:
            w[j] = min(0.0, z + (u - q[j]))
        q[j] += w[j] - z


# ----------------------------------------------------------------------- optimizers
def optimizer_step(
    cfg: Config,
    params: np.ndarray,
    g: np.ndarray,
    state: np.ndarray,
    counters: np.ndarray,
    eta: float,
    coords: np.ndarray | None = None,
) -> None:
    """One update of ``params`` (coefficients, intercept) with batch-mean gradient ``g``.

    ``t = counters[SC_T]`` is this update's number. For coefficients the non-SGD
    optimizers use ``g_j + l2c w_j``. torch.optim's single-tensor formulas:

    - sgd: ``w <- max(0, 1 - eta l2c) w - eta g``, ``b <- b - eta g_b``, then cumulative L1
    - momentum: ``buf <- g`` at t = 1, else ``momentum buf + (1 - dampening) g``;
      ``w <- w - eta buf``; nesterov: ``w <- w - eta (g + momentum buf)``
    - adagrad: ``s <- s + g^2``; ``w <- w - eta / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)``
    - rmsprop: ``v <- rho v + (1 - rho) g^2``; centered: ``ga <- ga + (1 - rho)(g - ga)`` and
      ``v~ = max(v - ga^2, 0)``; ``a = sqrt(v~) + eps``; with momentum
      ``buf <- momentum buf + g / a``, ``w <- w - eta buf``, else ``w <- w - eta g / a``
    - adam: ``m <- m + (1 - beta1)(g - m)``, ``v <- beta2 v + (1 - beta2) g^2``,
      amsgrad ``vmax <- max(vmax, v)``; ``w <- w - eta / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``
    - adamw: ``w <- w (1 - eta weight_decay)`` (coefficients) then adam
    - adamax: ``m <- m + (1 - beta1)(g - m)``, ``u <- max(beta2 u, |g| + eps)``,
      ``w <- w - eta / (1 - beta1^t) m / u`` (torch.optim.Adamax)

    After a non-SGD step, L1 soft-thresholds: ``w <- sign(w) max(|w| - eta l1c, 0)``.
    The intercept is updated only when ``fit_intercept``.

    ``coords`` (the lazy updates of sparse input, ``cfg.lazy_updates``): the coefficients
    with a nonzero in the step's rows, sorted. Only they (and the intercept) are updated:
    their moments, their step, the L2 term of their gradient, the L1 clip or soft-threshold;
    every other coefficient, and its moments, stays as it is. Two exceptions: plain 'sgd'
    still shrinks every coefficient by L2 (``w <- max(0, 1 - eta l2c) w``, exact at no cost
    by the scale trick), and Adam / AdamW take torch.optim.SparseAdam's form,
    ``w <- w - eta sqrt(1 - beta2^t) / (1 - beta1^t) m / (sqrt(v) + eps)`` (eps outside the
    bias correction).
    """
    d = params.shape[0] - 1
    n_upd = d + 1 if cfg.fit_intercept else d
    t = float(counters[SC_T])
    l2c, l1c = penalty_strengths(cfg)
    lazy = coords is not None
    if cfg.optimizer == "sgd":
        scale = max(0.0, 1.0 - l2c * eta) if cfg.penalty in ("l2", "elasticnet") else 1.0
        for j in range(d):
            params[j] = scale * params[j] - eta * g[j]
        if cfg.fit_intercept:
            params[d] -= eta * g[d]
        if cfg.penalty in ("l1", "elasticnet"):
            counters[SC_U] += l1c * eta
            if lazy:
                w, q = params[coords], state[ST_Q, coords]
                cumulative_l1(w, q, counters[SC_U])
                params[coords], state[ST_Q, coords] = w, q
            else:
                cumulative_l1(params[:d], state[ST_Q, :d], counters[SC_U])
        return
    m1, m2, m3 = state[ST_M1], state[ST_M2], state[ST_M3]
    updated = range(n_upd) if not lazy else [*coords, *([d] if cfg.fit_intercept else [])]
    for j in updated:
        gj = g[j] + l2c * params[j] if j < d else g[j]
        if cfg.optimizer in ("momentum", "nesterov"):
            m1[j] = gj if t == 1.0 else cfg.momentum * m1[j] + (1.0 - cfg.dampening) * gj
            step = gj + cfg.momentum * m1[j] if cfg.optimizer == "nesterov" else m1[j]
            params[j] -= eta * step
        elif cfg.optimizer == "adagrad":
            clr = eta / (1.0 + (t - 1.0) * cfg.lr_decay)
            m1[j] += gj * gj
            params[j] -= clr * (gj / (math.sqrt(m1[j]) + cfg.eps))
        elif cfg.optimizer == "rmsprop":
            m1[j] = cfg.rho * m1[j] + (1.0 - cfg.rho) * gj * gj
            if cfg.centered:
                m2[j] += (1.0 - cfg.rho) * (gj - m2[j])
                a = math.sqrt(max(m1[j] - m2[j] * m2[j], 0.0)) + cfg.eps
            else:
                a = math.sqrt(m1[j]) + cfg.eps
            if cfg.momentum > 0.0:
                m3[j] = cfg.momentum * m3[j] + gj / a
                params[j] -= eta * m3[j]
            else:
                params[j] -= eta * (gj / a)
        elif cfg.optimizer in ("adam", "adamw"):
            if cfg.optimizer == "adamw" and j < d:
                params[j] *= 1.0 - eta * cfg.weight_decay
            m1[j] += (1.0 - cfg.beta1) * (gj - m1[j])
            m2[j] = cfg.beta2 * m2[j] + (1.0 - cfg.beta2) * gj * gj
            v = m2[j]
            if cfg.amsgrad:
                m3[j] = max(m3[j], m2[j])
                v = m3[j]
            if lazy:  # torch.optim.SparseAdam
                step_size = eta * math.sqrt(1.0 - cfg.beta2**t) / (1.0 - cfg.beta1**t)
                params[j] -= step_size * (m1[j] / (math.sqrt(v) + cfg.eps))
            else:
                denom = math.sqrt(v) / math.sqrt(1.0 - cfg.beta2**t) + cfg.eps
                params[j] -= eta / (1.0 - cfg.beta1**t) * (m1[j] / denom)
        elif cfg.optimizer == "adamax":  # torch.optim.Adamax: the infinity norm u in m2
            m1[j] += (1.0 - cfg.beta1) * (gj - m1[j])
            m2[j] = max(cfg.beta2 * m2[j], abs(gj) + cfg.eps)
            params[j] -= eta / (1.0 - cfg.beta1**t) * (m1[j] / m2[j])
        else:
            raise ValueError(f"unknown optimizer {cfg.optimizer!r}")
    if l1c != 0.0:
        cols = slice(0, d) if not lazy else coords
        w = params[cols]
        params[cols] = np.sign(w) * np.maximum(np.abs(w) - eta * l1c, 0.0)


# --------------------------------------------------------------------------- epochs
def _average(state: np.ndarray, params: np.ndarray, cfg: Config, t: float) -> None:
    """Running mean of the parameters after every update ``t >= average``."""
    if 0 < cfg.average <= t:
        mu = 1.0 / (t - cfg.average + 1.0)
        state[ST_AVG] += (params - state[ST_AVG]) * mu


def sgd_epoch_per_sample(X, y, sw, order, params, state, counters, cfg: Config):
    """Per-sample plain SGD, scikit-learn's ``_plain_sgd`` step for step.

    For each row ``r`` of ``order``, with ``t`` the update number::

        p   = x.w + b;             eta = learning_rate(t)
        upd = -eta clip(dL/dp(p, y)) sw_r
        w  <- max(0, 1 - eta l2c) w + upd x;   b <- b + upd
        u  <- u + eta l1c;  cumulative_l1(w, q, u)
        running average of (w, b);             t <- t + 1

    Returns ``(sumloss, sumobj, bad)`` like :func:`run_epoch`.
    """
    d = X.shape[1]
    l2c, l1c = penalty_strengths(cfg)
    sumloss = sumobj = 0.0
    for i, r in enumerate(order):
        x = X[r].astype(np.float64)
        p = float(x @ params[:d]) + params[d]
        if not math.isfinite(p):
            return sumloss, sumobj, i
        t = float(counters[SC_T])
        eta = learning_rate(cfg, t, counters)
        loss = loss_value(cfg.loss, p, y[r], cfg.epsilon)
        sumloss += loss
        sumobj += loss + penalty_value(cfg, params[:d])
        upd = -eta * loss_dloss(cfg.loss, p, y[r], cfg.epsilon) * sw[r]
        if cfg.penalty in ("l2", "elasticnet"):
            params[:d] *= max(0.0, 1.0 - l2c * eta)
        params[:d] += upd * x
        if cfg.fit_intercept:
            params[d] += upd
        if cfg.penalty in ("l1", "elasticnet"):
            counters[SC_U] += l1c * eta
            cumulative_l1(params[:d], state[ST_Q, :d], counters[SC_U])
        _average(state, params, cfg, t)
        counters[SC_T] = t + 1.0
    return sumloss, sumobj, -1


def batch_epoch(X, y, sw, order, params, state, counters, cfg: Config, block_rows=None):
    """Mini-batch / full-batch epoch: batches of ``cfg.batch_size`` consecutive rows of ``order``.

    Per batch ``B``: ``g = mean_{i in B} sw_i clip(dL/dp(p_i, y_i)) [x_i, 1]`` (every ``p_i``
    from the parameters before the batch), ``optimizer_step`` with
    ``eta = learning_rate(t)``, the running average, ``t <- t + 1``.
    Returns ``(sumloss, sumobj, bad)`` like :func:`run_epoch`.

    ``block_rows``: the multi-core kernel's reduction (``n_jobs > 1``,
    ``fastgd._kernels.parallel``): the batch is cut into blocks of ``block_rows``
    consecutive rows, each block's gradient terms summed, then the block sums added in
    block order -- the same numbers summed in another order than without it.
    """
    d = X.shape[1]
    sumloss = sumobj = 0.0
    for start in range(0, len(order), cfg.batch_size):
        rows = order[start : start + cfg.batch_size]
        Xb = X[rows].astype(np.float64)
        p = Xb @ params[:d] + params[d]
        finite = np.isfinite(p)
        if not finite.all():
            return sumloss, sumobj, start + int(np.argmin(finite))
        pen = penalty_value(cfg, params[:d])
        dl = np.empty(len(rows))
        for k, r in enumerate(rows):
            loss = loss_value(cfg.loss, p[k], y[r], cfg.epsilon)
            sumloss += loss
            sumobj += loss + pen
            dl[k] = loss_dloss(cfg.loss, p[k], y[r], cfg.epsilon) * sw[r]
        if block_rows is None:
            g = np.append(dl @ Xb, dl.sum()) / len(rows)
        else:
            g = np.zeros(d + 1)
            for lo in range(0, len(rows), block_rows):  # each block's sum, in block order
                blk = slice(lo, lo + block_rows)
                g += np.append(dl[blk] @ Xb[blk], dl[blk].sum())
            g /= len(rows)
        t = float(counters[SC_T])
        eta = learning_rate(cfg, t, counters)
        optimizer_step(cfg, params, g, state, counters, eta)
        _average(state, params, cfg, t)
        counters[SC_T] = t + 1.0
    return sumloss, sumobj, -1


def shard_epoch(X, y, sw, order, params, state, counters, cfg: Config, n_shards: int):
    """Per-sample SGD on ``n_shards`` shards, averaged once: the twin of a per-sample
    epoch with ``n_jobs > 1`` (local SGD, "one-shot" parameter averaging).

    The rows ``order`` (``m`` of them) are cut into consecutive shards
    ``S_s = order[s m // n_shards : (s + 1) m // n_shards]``. Each shard runs
    :func:`sgd_epoch_per_sample` on its own copy of the epoch's start ``(params, state,
    counters)``; then, with ``W_s = sum_{r in S_s} sw_r`` (its row count when every
    weight is 1; plain means if every ``W_s`` is 0)::

        params <- sum_s W_s params_s / sum_s W_s        (shards in order)
        state  <- sum_s W_s state_s  / sum_s W_s        (every row: moments, average, q)
        counters <- counters of the first shard with the largest t (the most steps)

    Returns the sums of the shards' ``(sumloss, sumobj)`` and ``bad``: -1, or the
    position in ``order`` of the first non-finite prediction (shards in order; every
    shard runs to its end or its own first bad row). ``X`` may be a scipy.sparse CSR
    matrix: each shard then runs :func:`sgd_epoch_per_sample_csr`.
    """
    m = order.shape[0]
    bounds = [s * m // n_shards for s in range(n_shards + 1)]
    outs, models = [], []
    for s in range(n_shards):
        p, st, c = params.copy(), state.copy(), counters.copy()
        part = order[bounds[s] : bounds[s + 1]]
        if isinstance(X, np.ndarray):
            outs.append(sgd_epoch_per_sample(X, y, sw, part, p, st, c, cfg))
        else:  # a scipy.sparse CSR matrix: the CSR twin per shard
            outs.append(
                sgd_epoch_per_sample_csr(X.data, X.indices, X.indptr, y, sw, part, p, st, c, cfg)
            )
        models.append((p, st, c, float(np.sum(sw[part]))))
    sumloss = sumobj = 0.0
    bad = -1
    for s, (sl, so, b) in enumerate(outs):
        sumloss += sl
        sumobj += so
        if b >= 0 and bad < 0:
            bad = bounds[s] + b
    if bad >= 0:
        return sumloss, sumobj, bad
    weights = [w for *_, w in models]
    if sum(weights) <= 0.0:
        weights = [1.0] * n_shards
    for target, which in ((params, 0), (state, 1)):
        num = np.zeros_like(target)
        den = 0.0
        for s in range(n_shards):
            num = num + weights[s] * models[s][which]
            den += weights[s]
        target[...] = num / den
    most = int(np.argmax([c[SC_T] for _, _, c, _ in models]))
    counters[:] = models[most][2]
    return sumloss, sumobj, -1


def run_epoch(X, y, sw, order, params, state, counters, cfg: Config, block_rows=None, shards=None):
    """One epoch over ``X[order]``; the twin of ``fastgd._kernels.run_epoch``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    y : ndarray of shape (n_samples,), float64 (-1/+1 for classification losses)
    sw : ndarray of shape (n_samples,), float64 -- sample times class weights
    order : ndarray of shape (m,), int64 -- rows to visit, in order
    params : ndarray of shape (n_features + 1,), float64 -- coefficients then intercept, in place
    state : ndarray of shape (5, n_features + 1), float64 -- optimizer moments, average, q; in place
    counters : ndarray of shape (3,), float64 -- ``[t, u, eta_adaptive]``, in place
    cfg : Config
    block_rows : int, optional
        Batch epochs: sum each batch's gradient by blocks of this many rows, as the
        multi-core kernel does (:func:`batch_epoch`).
    shards : int, optional
        Per-sample epochs: train this many shards and average them, as a fit with
        ``n_jobs > 1`` does (:func:`shard_epoch`).

    Returns
    -------
    sumloss : float
        Sum of the losses of the visited rows, each at the parameters before its update.
    sumobj : float
        Sum of loss plus ``alpha R(w)`` over the visited rows, at the same parameters
        (scikit-learn's stopping rule watches ``sumobj / n_rows``).
    bad : int
        -1, or the position in ``order`` where the prediction was not finite (the epoch
        stopped there; ``params`` may be half-updated).
    """
    if cfg.batch_size == 1 and cfg.optimizer == "sgd":
        if shards is not None and shards > 1:
            return shard_epoch(X, y, sw, order, params, state, counters, cfg, shards)
        return sgd_epoch_per_sample(X, y, sw, order, params, state, counters, cfg)
    return batch_epoch(X, y, sw, order, params, state, counters, cfg, block_rows)


# ----------------------------------------------------------------- sparse (CSR) twins
def csr_row(data, indices, indptr, r) -> tuple[np.ndarray, np.ndarray]:
    """``(columns, values)`` of row ``r`` of a CSR matrix, values as float64."""
    lo, hi = int(indptr[r]), int(indptr[r + 1])
    return np.asarray(indices[lo:hi], dtype=np.int64), np.asarray(data[lo:hi], dtype=np.float64)


def _touched(cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """The sorted columns with a nonzero value (explicit zeros touch nothing)."""
    return np.unique(cols[vals != 0.0])


def sgd_epoch_per_sample_csr(data, indices, indptr, y, sw, order, params, state, counters, cfg):
    """Per-sample plain SGD on CSR rows: :func:`sgd_epoch_per_sample`'s steps, row by row.

    ``data``, ``indices``, ``indptr`` are the CSR arrays of ``X``; everything else is as
    in :func:`run_epoch`. With ``cfg.lazy_updates`` off the steps are exactly the dense
    ones (the sparse = dense contract). Two sparse-only options:

    - ``cfg.intercept_decay``: ``b <- b + intercept_decay * upd`` (scikit-learn uses 0.01
      on sparse input);
    - ``cfg.lazy_updates``: Tsuruoka's cumulative L1 clips only the row's nonzero columns
      (scikit-learn's sparse rule); the other coefficients keep the penalty they are owed
      until a row touches them.

    L2 shrinks every coefficient and the running average covers every coefficient in
    both modes (the kernels do both in O(nonzeros) by the scale trick and Bottou's
    sparse averaging). Duplicate entries in a row add up, as in ``X.toarray()``.
    """
    d = params.shape[0] - 1
    l2c, l1c = penalty_strengths(cfg)
    sumloss = sumobj = 0.0
    for i, r in enumerate(order):
        cols, vals = csr_row(data, indices, indptr, r)
        p = float(vals @ params[cols]) + params[d]
        if not math.isfinite(p):
            return sumloss, sumobj, i
        t = float(counters[SC_T])
        eta = learning_rate(cfg, t, counters)
        loss = loss_value(cfg.loss, p, y[r], cfg.epsilon)
        sumloss += loss
        sumobj += loss + penalty_value(cfg, params[:d])
        upd = -eta * loss_dloss(cfg.loss, p, y[r], cfg.epsilon) * sw[r]
        if cfg.penalty in ("l2", "elasticnet"):
            params[:d] *= max(0.0, 1.0 - l2c * eta)
        np.add.at(params, cols, upd * vals)
        if cfg.fit_intercept:
            params[d] += cfg.intercept_decay * upd
        if cfg.penalty in ("l1", "elasticnet"):
            counters[SC_U] += l1c * eta
            if cfg.lazy_updates:
                cc = _touched(cols, vals)
                w, q = params[cc], state[ST_Q, cc]
                cumulative_l1(w, q, counters[SC_U])
                params[cc], state[ST_Q, cc] = w, q
            else:
                cumulative_l1(params[:d], state[ST_Q, :d], counters[SC_U])
        _average(state, params, cfg, t)
        counters[SC_T] = t + 1.0
    return sumloss, sumobj, -1


def batch_epoch_csr(data, indices, indptr, y, sw, order, params, state, counters, cfg):
    """Mini- and full-batch epoch on CSR rows: :func:`batch_epoch`'s steps.

    The batch gradient ``g = mean_i sw_i dL/dp_i [x_i, 1]`` is summed row by row over
    each row's nonzeros; its intercept entry is multiplied by ``cfg.intercept_decay``.
    With ``cfg.lazy_updates`` the step is :func:`optimizer_step` with ``coords`` = the
    columns with a nonzero in the batch (see there for each optimizer's lazy rule).
    """
    d = params.shape[0] - 1
    sumloss = sumobj = 0.0
    for start in range(0, len(order), cfg.batch_size):
        rows = order[start : start + cfg.batch_size]
        pen = penalty_value(cfg, params[:d])
        g = np.zeros(d + 1)
        touched = []
        preds = []
        for k, r in enumerate(rows):
            cols, vals = csr_row(data, indices, indptr, r)
            p = float(vals @ params[cols]) + params[d]
            if not math.isfinite(p):
                return sumloss, sumobj, start + k
            preds.append((r, p, cols, vals))
        for r, p, cols, vals in preds:
            loss = loss_value(cfg.loss, p, y[r], cfg.epsilon)
            sumloss += loss
            sumobj += loss + pen
            dl = loss_dloss(cfg.loss, p, y[r], cfg.epsilon) * sw[r]
            np.add.at(g, cols, dl * vals)
            g[d] += dl
            touched.append(_touched(cols, vals))
        g /= len(rows)
        g[d] *= cfg.intercept_decay
        t = float(counters[SC_T])
        eta = learning_rate(cfg, t, counters)
        coords = np.unique(np.concatenate(touched)) if cfg.lazy_updates else None
        optimizer_step(cfg, params, g, state, counters, eta, coords)
        _average(state, params, cfg, t)
        counters[SC_T] = t + 1.0
    return sumloss, sumobj, -1


def run_epoch_csr(data, indices, indptr, y, sw, order, params, state, counters, cfg, shards=None):
    """One epoch over the CSR rows ``order``; the twin of the compiled CSR paths.

    ``data`` (nnz,), ``indices`` (nnz,) and ``indptr`` (n_samples + 1,) are a CSR
    matrix's arrays (``X.data``, ``X.indices``, ``X.indptr``); the other arguments and
    the return value are :func:`run_epoch`'s. Without ``cfg.lazy_updates`` and with
    ``cfg.intercept_decay == 1`` the result equals ``run_epoch`` on ``X.toarray()``.
    ``shards``: per-sample epochs train that many shards and average them
    (:func:`shard_epoch`), as a fit with ``n_jobs > 1`` does.
    """
    if cfg.batch_size == 1 and cfg.optimizer == "sgd" and shards is not None and shards > 1:
        import scipy.sparse as sp

        n = indptr.shape[0] - 1
        X = sp.csr_matrix((data, indices, indptr), shape=(n, params.shape[0] - 1))
        return shard_epoch(X, y, sw, order, params, state, counters, cfg, shards)
    if cfg.batch_size == 1 and cfg.optimizer == "sgd":
        return sgd_epoch_per_sample_csr(
            data, indices, indptr, y, sw, order, params, state, counters, cfg
        )
    return batch_epoch_csr(data, indices, indptr, y, sw, order, params, state, counters, cfg)
