"""Integer codes for every option and the slot layout of the kernel arrays.

The numba kernels never see strings: options arrive as ``int64`` codes (one
compiled specialisation serves every combination of options), numeric
hyperparameters as one ``float64`` vector ``hp`` indexed by the ``HP_*`` slots,
the optimizer moments as rows of one 2-D ``state`` array (``ST_*`` rows) and the
scalar counters as one ``float64`` vector ``counters`` (``SC_*`` slots).
"""

from __future__ import annotations

import numpy as np

# --- losses (scikit-learn's definitions; classification labels are -1/+1) ---------
LOSS_SQUARED_ERROR = 0
LOSS_HUBER = 1
LOSS_EPSILON_INSENSITIVE = 2
LOSS_SQUARED_EPSILON_INSENSITIVE = 3
LOSS_LOG_LOSS = 4
LOSS_HINGE = 5
LOSS_SQUARED_HINGE = 6
LOSS_MODIFIED_HUBER = 7
LOSS_PERCEPTRON = 8

LOSSES = {
    "squared_error": LOSS_SQUARED_ERROR,
    "huber": LOSS_HUBER,
    "epsilon_insensitive": LOSS_EPSILON_INSENSITIVE,
    "squared_epsilon_insensitive": LOSS_SQUARED_EPSILON_INSENSITIVE,
    "log_loss": LOSS_LOG_LOSS,
    "hinge": LOSS_HINGE,
    "squared_hinge": LOSS_SQUARED_HINGE,
    "modified_huber": LOSS_MODIFIED_HUBER,
    "perceptron": LOSS_PERCEPTRON,
}
REGRESSION_LOSSES = (
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
)
CLASSIFICATION_LOSSES = (
    "hinge",
    "log_loss",
    "modified_huber",
    "squared_hinge",
    "perceptron",
) + REGRESSION_LOSSES

# --- penalties ------------------------------------------------------------------
PENALTY_NONE = 0
PENALTY_L2 = 1
PENALTY_L1 = 2
PENALTY_ELASTICNET = 3

PENALTIES = {
    None: PENALTY_NONE,
    "l2": PENALTY_L2,
    "l1": PENALTY_L1,
    "elasticnet": PENALTY_ELASTICNET,
}

# --- optimizers (torch.optim's single-tensor formulas) ----------------------------
OPT_SGD = 0
OPT_MOMENTUM = 1
OPT_NESTEROV = 2
OPT_ADAGRAD = 3
OPT_RMSPROP = 4
OPT_ADAM = 5
OPT_ADAMW = 6

OPTIMIZERS = {
    "sgd": OPT_SGD,
    "momentum": OPT_MOMENTUM,
    "nesterov": OPT_NESTEROV,
    "adagrad": OPT_ADAGRAD,
    "rmsprop": OPT_RMSPROP,
    "adam": OPT_ADAM,
    "adamw": OPT_ADAMW,
}

# --- learning-rate schedules (functions of the update number t >= 1) --------------
SCHED_CONSTANT = 0
SCHED_OPTIMAL = 1
SCHED_INVSCALING = 2
SCHED_ADAPTIVE = 3
SCHED_INVERSE_TIME = 4
SCHED_STEP = 5
SCHED_EXPONENTIAL = 6
SCHED_COSINE = 7

SCHEDULES = {
    "constant": SCHED_CONSTANT,
    "optimal": SCHED_OPTIMAL,
    "invscaling": SCHED_INVSCALING,
    "adaptive": SCHED_ADAPTIVE,
    "inverse_time": SCHED_INVERSE_TIME,
    "step": SCHED_STEP,
    "exponential": SCHED_EXPONENTIAL,
    "cosine": SCHED_COSINE,
}

# --- slots of the float64 hyperparameter vector ``hp`` ----------------------------
HP_ETA0 = 0  # base learning rate
HP_ALPHA = 1  # penalty strength
HP_L1_RATIO = 2  # elastic-net mixing (1 = pure L1)
HP_EPSILON = 3  # huber / epsilon-insensitive threshold
HP_POWER_T = 4  # invscaling exponent
HP_OPTIMAL_INIT = 5  # t offset of the 'optimal' schedule (derived from alpha, loss)
HP_T0 = 6  # inverse_time offset: eta0 * t0 / (t0 + k)
HP_GAMMA = 7  # step / exponential decay factor
HP_STEP_SIZE = 8  # updates between two 'step' decays
HP_T_MAX = 9  # cosine period in updates
HP_ETA_MIN = 10  # cosine floor
HP_MOMENTUM = 11
HP_DAMPENING = 12
HP_BETA1 = 13
HP_BETA2 = 14
HP_EPS = 15
HP_WEIGHT_DECAY = 16  # AdamW's decoupled decay
HP_LR_DECAY = 17  # Adagrad
HP_RHO = 18  # RMSprop squared-gradient decay (torch's alpha)
HP_AMSGRAD = 19  # 0.0 / 1.0
HP_CENTERED = 20  # 0.0 / 1.0
HP_FIT_INTERCEPT = 21  # 0.0 / 1.0
HP_AVERAGE = 22  # first update number that enters the average; 0 = no averaging
N_HP = 23

# --- rows of the float64 optimizer/penalty state array ``state`` (shape (N_ST, d+1))
ST_M1 = 0  # momentum buffer / Adagrad sum / RMSprop square_avg / Adam exp_avg
ST_M2 = 1  # RMSprop grad_avg (centered) / Adam exp_avg_sq
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
    (``n_features + 1 + ARENA_RATES``) and a validity flag (``run_epoch_guarded``)."""
    return 2 * ((n_features + 1) * (1 + N_ST) + N_SC) + n_features + 1 + ARENA_RATES + 1


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
