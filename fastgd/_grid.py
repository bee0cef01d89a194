"""The one table of configurations behind the kernel-vs-reference checks.

``fastgd verify``, the test-suite (tests/test_kernels.py) and the benchmark grid
all iterate :func:`configurations`, so a new option added here is checked
everywhere at once. Each configuration is a :class:`fastgd.reference.Config`
plus the matching kernel arguments (:func:`kernel_args`).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from . import _codes as C
from .reference import Config

LOSSES = tuple(C.LOSSES)
PENALTIES = (None, "l2", "l1", "elasticnet")
SCHEDULES = tuple(C.SCHEDULES)

# Optimizer variants: the name plus the hyperparameters that switch on its branches.
OPTIMIZER_VARIANTS = {
    "sgd": dict(optimizer="sgd"),
    "momentum": dict(optimizer="momentum", momentum=0.9, dampening=0.1),
    "nesterov": dict(optimizer="nesterov", momentum=0.8),
    "adagrad": dict(optimizer="adagrad", lr_decay=0.01, eps=1e-10),
    "rmsprop": dict(optimizer="rmsprop", rho=0.9, momentum=0.0),
    "rmsprop-centered-momentum": dict(optimizer="rmsprop", rho=0.9, centered=True, momentum=0.5),
    "adam": dict(optimizer="adam"),
    "adam-amsgrad": dict(optimizer="adam", amsgrad=True),
    "adamw": dict(optimizer="adamw", weight_decay=0.05),
}

# Per-schedule hyperparameters, chosen so a few epochs on the test data stay finite.
SCHEDULE_PARAMS = {
    "constant": dict(eta0=0.05),
    "optimal": dict(alpha=2.0),
    "invscaling": dict(eta0=0.1, power_t=0.3),
    "adaptive": dict(eta0=0.05),
    "inverse_time": dict(eta0=0.1, t0=5.0),
    "step": dict(eta0=0.1, gamma=0.5, step_size=7),
    "exponential": dict(eta0=0.1, gamma=0.97),
    "cosine": dict(eta0=0.1, T_max=30, eta_min=0.001),
}


def make_data(loss: str, n: int = 24, d: int = 3, seed: int = 0, dtype=np.float64):
    """Small well-scaled problem: ``X`` (n, d), targets for ``loss``, sample weights."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * 0.5 / np.sqrt(d)).astype(dtype)
    w = rng.normal(size=d)
    score = X.astype(np.float64) @ w + 0.1 * rng.normal(size=n)
    if loss in C.REGRESSION_LOSSES:
        y = score + 0.3
    else:
        y = np.where(score > 0, 1.0, -1.0)
    sw = rng.uniform(0.5, 2.0, size=n)
    return X, y, sw


def configurations(batch_sizes=(1, 5, None), losses=LOSSES, optimizers=None):
    """Yield ``(name, Config)`` over loss x penalty x optimizer x schedule x batch x intercept.

    ``batch_size=None`` is full batch (``Config.batch_size=0``, resolved by the caller).
    """
    optimizers = OPTIMIZER_VARIANTS if optimizers is None else optimizers
    for loss, penalty, opt, sched, batch, fit_intercept in itertools.product(
        losses, PENALTIES, optimizers, SCHEDULES, batch_sizes, (True, False)
    ):
        params = dict(alpha=1e-3, l1_ratio=0.4, epsilon=0.05)
        params.update(OPTIMIZER_VARIANTS[opt])
        params.update(SCHEDULE_PARAMS[sched])
        cfg = Config(loss=loss, penalty=penalty, learning_rate=sched,
                     batch_size=0 if batch is None else batch,
                     fit_intercept=fit_intercept, **params)
        name = f"{loss}/{penalty}/{opt}/{sched}/batch={batch}/intercept={fit_intercept}"
        yield name, cfg


def resolve(cfg: Config, n_rows: int) -> Config:
    """A copy of ``cfg`` with the derived fields filled in: the 'optimal' schedule's
    offset and the row count of a full batch (``batch_size=0``)."""
    from ._kernels import optimal_init

    cfg = dataclasses.replace(cfg)
    if cfg.learning_rate == "optimal":
        cfg.optimal_init = float(optimal_init(C.LOSSES[cfg.loss], cfg.alpha, cfg.epsilon))
    if cfg.batch_size == 0:
        cfg.batch_size = n_rows
    return cfg


def kernel_args(cfg: Config, n_rows: int) -> tuple:
    """Option codes, ``hp`` vector and batch rows for the kernel, from a reference Config.

    Returns ``(loss, penalty, optimizer, schedule, batch_rows, hp)``; ``cfg`` is not changed.
    """
    cfg = resolve(cfg, n_rows)
    hp = np.zeros(C.N_HP)
    for field in ("eta0", "alpha", "l1_ratio", "epsilon", "power_t", "t0", "gamma",
                  "step_size", "eta_min", "momentum", "dampening", "beta1", "beta2", "eps",
                  "weight_decay", "lr_decay", "rho"):
        hp[getattr(C, "HP_" + field.upper())] = float(getattr(cfg, field))
    hp[C.HP_T_MAX] = float(cfg.T_max)
    hp[C.HP_AMSGRAD] = float(cfg.amsgrad)
    hp[C.HP_CENTERED] = float(cfg.centered)
    hp[C.HP_FIT_INTERCEPT] = float(cfg.fit_intercept)
    hp[C.HP_AVERAGE] = float(cfg.average)
    hp[C.HP_OPTIMAL_INIT] = cfg.optimal_init
    loss = C.LOSSES[cfg.loss]
    return (loss, C.PENALTIES[cfg.penalty], C.OPTIMIZERS[cfg.optimizer],
            C.SCHEDULES[cfg.learning_rate], cfg.batch_size, hp)


def compare(cfg: Config, X, y, sw, epochs: int = 2, seed: int = 0, X_kernel=None,
            model_only: bool = False, reference_cfg: Config | None = None):
    """Run kernel and reference side by side; return the worst relative deviation.

    Both start from the same state and consume the same permutations. ``X_kernel``
    (default ``X``) lets the kernel read another copy (float32) of the data. The
    deviation is ``max |k - r| / max(|r|, 1e-3)`` over params, state, counters and
    the returned sums (``model_only``: params and sums -- optimizer buffers that cross
    zero make a poor relative yardstick for float32 input); ``inf`` when one side
    stopped on a non-finite value and the other did not.
    """
    from . import reference
    from ._kernels import run_epoch

    n, d = X.shape
    X_kernel = X if X_kernel is None else X_kernel
    codes = kernel_args(cfg, n)
    cfg = resolve(cfg if reference_cfg is None else reference_cfg, n)
    loss, penalty, optimizer, schedule, batch, hp = codes
    rng = np.random.default_rng(seed)
    ref = [np.zeros(d + 1), reference.init_state(d), reference.init_counters(cfg.eta0)]
    if cfg.optimizer == "adagrad":
        ref[1][reference.ST_M1] = 0.1
    # the kernel's arrays carry extra rows/slots (the carried dot of the per-sample fast
    # path); the rows and slots the reference has are compared
    ker = [ref[0].copy(), C.new_state(d), C.new_counters(cfg.eta0)]
    ker[1][: ref[1].shape[0]] = ref[1]
    worst = 0.0
    for _ in range(epochs):
        order = rng.permutation(n).astype(np.int64)
        out_r = reference.run_epoch(X, y, sw, order, *ref, cfg)
        out_k = run_epoch(X_kernel, y, sw, order, *ker, hp, loss, penalty, optimizer,
                          schedule, batch)
        if out_r[2] != out_k[2]:
            return float("inf")
        if out_r[2] >= 0:
            break
        shared = (ker[0], ker[1][: ref[1].shape[0]], ker[2][: ref[2].shape[0]])
        parts_k = (ker[0], np.array(out_k[:2])) if model_only else (*shared, np.array(out_k[:2]))
        parts_r = (ref[0], np.array(out_r[:2])) if model_only else (*ref, np.array(out_r[:2]))
        for a, b in zip(parts_k, parts_r, strict=True):
            dev = np.abs(a - b) / np.maximum(np.abs(b), 1e-3)
            worst = max(worst, float(dev.max()))
    return worst
