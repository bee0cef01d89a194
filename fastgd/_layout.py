"""Slots and codes of the kernels' arrays, computed from the registry in one place.

The numba kernels never see strings: options arrive as ``int64`` codes, numeric
hyperparameters as one ``float64`` vector ``hp`` indexed by the ``HP_*`` slots, the
optimizer moments as rows of one 2-D ``state`` array (``ST_*`` rows) and the scalar
counters as one ``float64`` vector ``counters`` (``SC_*`` slots).

The option codes (``LOSS_*``, ``PENALTY_*``, ``OPT_*``, ``SCHED_*``) and the ``HP_*``
slots are generated from :mod:`fastgd.options` below: ``OPT_ADAM`` is
``options.OPTIMIZERS['adam'].code``, ``HP_BETA1`` the index of ``beta1`` in
``options.HYPERS``. numba reads them as compile-time constants.
"""

from __future__ import annotations

import numpy as np

from . import options

_PREFIX = {"loss": "LOSS_", "penalty": "PENALTY_", "optimizer": "OPT_", "schedule": "SCHED_"}

for _kind, _table in options.KINDS.items():
    for _name, _row in _table.items():
        globals()[_PREFIX[_kind] + ("NONE" if _name is None else _name.upper())] = _row.code
    globals()["N_" + _PREFIX[_kind].rstrip("_") + "_CODES"] = len(_table)
for _slot, _h in enumerate(options.HYPERS):
    globals()["HP_" + _h.name.upper()] = _slot
N_HP = options.N_HP

# name -> code tables (the estimators' strings)
LOSSES = {name: row.code for name, row in options.LOSSES.items()}
PENALTIES = {name: row.code for name, row in options.PENALTIES.items()}
OPTIMIZERS = {name: row.code for name, row in options.OPTIMIZERS.items()}
SCHEDULES = {name: row.code for name, row in options.SCHEDULES.items()}
REGRESSION_LOSSES = options.REGRESSION_LOSSES
CLASSIFICATION_LOSSES = options.CLASSIFICATION_LOSSES

# --- rows of the float64 optimizer/penalty state array ``state`` (shape (N_ST, d+1))
ST_M1 = 0  # momentum buffer / Adagrad sum / RMSprop square_avg / Adam(ax) exp_avg
ST_M2 = 1  # RMSprop grad_avg (centered) / Adam exp_avg_sq / Adamax exp_inf
ST_M3 = 2  # RMSprop momentum buffer / Adam max_exp_avg_sq (AMSGrad)
ST_AVG = 3  # averaged coefficients and intercept (averaged SGD)
ST_Q = 4  # Tsuruoka's cumulative L1: total penalty actually applied per coefficient
ST_WP = 5  # carried dot (per-sample fast path): coefficients before the last update
ST_XP = 6  # carried dot: the last row visited (as float64)
N_ST = 7

# --- slots of the float64 counter vector ``counters`` ------------------------------
SC_T = 0  # number of the next update (starts at 1)
SC_U = 1  # Tsuruoka's u: total L1 penalty each weight could have received
SC_ETA = 2  # current learning rate of the 'adaptive' schedule
SC_SP = 3  # carried dot: the last update's shrink factor ``s`` (w <- s w + u x)
SC_UP = 4  # carried dot: the last update's step ``u``
N_SC = 5

ARENA_RATES = 64  # learning rates computed ahead (the kernels' RATE_BLOCK)


def arena_size(n_features: int) -> int:
    """Length of one model's arena: params, state and counters, a copy of them, scratch
    (``n_features + 1 + ARENA_RATES``), the divergence limit on the mean loss and a
    validity flag (the guarded kernels)."""
    return 2 * ((n_features + 1) * (1 + N_ST) + N_SC) + n_features + 1 + ARENA_RATES + 2


def new_state(n_features: int) -> np.ndarray:
    """A zero ``(N_ST, n_features + 1)`` state array (no carried dot yet)."""
    return np.zeros((N_ST, n_features + 1))


def new_counters(eta0: float = 0.0) -> np.ndarray:
    """Counters of a model before its first update: ``t = 1``, ``u = 0``, ``eta = eta0``."""
    counters = np.zeros(N_SC)
    counters[SC_T] = 1.0
    counters[SC_ETA] = eta0
    counters[SC_SP] = 1.0
    return counters


def code(table: dict, name, argument: str) -> int:
    """Look ``name`` up in ``table`` or raise a ValueError listing the choices."""
    try:
        return table[name]
    except (KeyError, TypeError):
        choices = ", ".join(repr(k) for k in table)
        raise ValueError(
            f"{argument}={name!r} is not supported; choose one of {choices}."
        ) from None


def make_hp(**values: float) -> np.ndarray:
    """The ``hp`` vector from hyperparameter names (``eta0=...``); the others are 0."""
    hp = np.zeros(N_HP)
    for name, value in values.items():
        hp[options.HYPERS.index(options.HYPER[name])] = float(value)
    return hp
