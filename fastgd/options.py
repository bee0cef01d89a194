"""The one declarative registry of fastgd's options.

Every loss, penalty, optimizer and learning-rate schedule is one :class:`Option` row
here: its name, its integer code (what the compiled kernels branch on), the
hyperparameters it reads, option-specific defaults, the optimizer-state rows it uses,
its formula, and the variants the kernel-vs-reference grid must cover. Every numeric
hyperparameter is one :class:`Hyper` row: its default, range and slot in the kernels'
``hp`` vector.

Everything else reads these tables: the ``hp`` slot constants and option codes of
``fastgd._layout``, validation (:func:`resolve`, used by the estimators and by
:func:`fastgd.minimize`), :class:`fastgd.reference.Config`, the test grid
(``fastgd._grid``), the plot defaults and the estimators' docstrings. Each
cross-parameter rule (nesterov needs momentum, AdamW's decoupled decay, the parameters
a schedule needs) is written once, in :func:`resolve`.

This module imports neither numba nor scikit-learn.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "HYPERS",
    "LOSSES",
    "OPTIMIZERS",
    "PENALTIES",
    "SCHEDULES",
    "Hyper",
    "Option",
    "Resolved",
    "resolve",
]


# ------------------------------------------------------------------------- hyperparameters
@dataclass(frozen=True)
class Hyper:
    """One numeric hyperparameter.

    ``default`` is the estimators' default; ``None`` means "resolved from the option"
    (see ``Option.defaults``), or "required by the option that reads it" when no
    option provides one. ``fallback`` is the concrete value used when nothing reads it
    (``fastgd.reference.Config``'s default). ``kind`` is ``'real'``, ``'int'`` or
    ``'bool'``; ``low``/``high`` bound the range (``*_open``: strict). ``slot`` is the
    hyperparameter's index in the kernels' ``hp`` vector (its order in :data:`HYPERS`).
    """

    name: str
    default: object
    fallback: float
    kind: str = "real"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    doc: str = ""

    @property
    def interval(self) -> str:
        lo = "(-inf" if self.low is None else ("(" if self.low_open else "[") + f"{self.low:g}"
        hi = "inf)" if self.high is None else f"{self.high:g}" + (")" if self.high_open else "]")
        return f"{lo}, {hi}"


# The order is the slot layout of ``hp``: existing slots keep their numbers (a checkpoint
# stores parameters, never ``hp``, but the kernels and the reference share these slots).
#: Every numeric hyperparameter, one :class:`Hyper` row each, in the order of the slots of
#: the kernels' ``hp`` vector.
HYPERS: tuple[Hyper, ...] = (
    Hyper(
        "eta0",
        0.01,
        0.01,
        low=0.0,
        doc="Base learning rate (must be > 0 for every schedule but 'optimal').",
    ),
    Hyper(
        "alpha",
        0.0001,
        0.0001,
        low=0.0,
        doc="Penalty strength; also the 'optimal' schedule's ``1 / (alpha (t_opt + t - 1))``.",
    ),
    Hyper(
        "l1_ratio",
        0.15,
        0.15,
        low=0.0,
        high=1.0,
        doc="Elastic-net mixing: ``R = (1 - l1_ratio)/2 ||w||^2 + l1_ratio ||w||_1``.",
    ),
    Hyper(
        "epsilon",
        0.1,
        0.1,
        low=0.0,
        doc="Threshold of 'huber', 'epsilon_insensitive' and 'squared_epsilon_insensitive'.",
    ),
    Hyper("power_t", 0.25, 0.25, doc="Exponent of 'invscaling': ``eta = eta0 / t^power_t``."),
    Hyper(
        "optimal_init",
        None,
        1.0,
        doc="Derived: offset ``t_opt`` of 'optimal' (scikit-learn's, from alpha and the loss).",
    ),
    Hyper(
        "t0",
        None,
        1.0,
        low=0.0,
        low_open=True,
        doc="Offset of 'inverse_time': ``eta = eta0 t0 / (t0 + k)``.",
    ),
    Hyper(
        "gamma",
        None,
        0.1,
        low=0.0,
        high=1.0,
        low_open=True,
        doc="Decay factor of 'step' and 'exponential' (per update).",
    ),
    Hyper("step_size", None, 1000, kind="int", low=1, doc="Updates between two 'step' decays."),
    Hyper(
        "T_max",
        None,
        1000,
        kind="int",
        low=1,
        doc="Half period of 'cosine' in updates; the rate stays at ``eta_min`` after it.",
    ),
    Hyper("eta_min", 0.0, 0.0, low=0.0, doc="Floor of 'cosine' (<= eta0)."),
    Hyper(
        "momentum",
        None,
        0.9,
        low=0.0,
        high=1.0,
        high_open=True,
        doc="Momentum factor: 0.9 for 'momentum' and 'nesterov', 0 for 'rmsprop'.",
    ),
    Hyper(
        "dampening",
        0.0,
        0.0,
        low=0.0,
        high=1.0,
        doc="Dampening of the momentum buffer (torch.optim.SGD).",
    ),
    Hyper(
        "beta1",
        0.9,
        0.9,
        low=0.0,
        high=1.0,
        high_open=True,
        doc="Decay of the first moment (Adam, AdamW, Adamax).",
    ),
    Hyper(
        "beta2",
        0.999,
        0.999,
        low=0.0,
        high=1.0,
        high_open=True,
        doc="Decay of the second moment (Adam, AdamW) or of the infinity norm (Adamax).",
    ),
    Hyper(
        "eps",
        None,
        1e-8,
        low=0.0,
        low_open=True,
        doc="Denominator guard (> 0): 1e-10 for 'adagrad', 1e-8 otherwise.",
    ),
    Hyper(
        "weight_decay",
        None,
        0.01,
        low=0.0,
        doc="AdamW's decoupled decay ``w <- w (1 - eta weight_decay)`` (0.01 when None); 'adamw' only.",
    ),
    Hyper(
        "lr_decay",
        0.0,
        0.0,
        low=0.0,
        doc="Adagrad's learning-rate decay: ``eta / (1 + (t - 1) lr_decay)``.",
    ),
    Hyper(
        "rho",
        0.99,
        0.99,
        low=0.0,
        high=1.0,
        high_open=True,
        doc="RMSprop's squared-gradient decay (torch's ``alpha``).",
    ),
    Hyper(
        "amsgrad",
        False,
        0.0,
        kind="bool",
        doc="Adam / AdamW: divide by the running maximum of the second moment.",
    ),
    Hyper(
        "centered",
        False,
        0.0,
        kind="bool",
        doc="RMSprop: subtract the squared running mean of the gradient.",
    ),
    Hyper(
        "fit_intercept", True, 1.0, kind="bool", doc="Fit the intercept ``b`` (never penalised)."
    ),
    Hyper(
        "average",
        False,
        0.0,
        kind="int",
        low=0,
        doc="Serve the running mean of the parameters from update ``average`` on (True: 1; False or 0: off).",
    ),
    Hyper(
        "intercept_decay",
        1.0,
        1.0,
        low=0.0,
        high=1.0,
        low_open=True,
        doc="Sparse X only: the intercept's update (per-sample) or gradient (batches) is "
        "multiplied by it. 1 keeps sparse fits equal to dense ones; 0.01 reproduces "
        "scikit-learn's sparse fits (its SPARSE_INTERCEPT_DECAY).",
    ),
    Hyper(
        "lazy_updates",
        False,
        0.0,
        kind="bool",
        doc="Sparse X only: each step touches only the coefficients with a nonzero in the "
        "step's rows (the L1 clip, the optimizer's moments and step; Adam and AdamW as "
        "torch.optim.SparseAdam; plain 'sgd' still shrinks every coefficient by L2). Off, a "
        "sparse fit equals the dense fit; per-sample plain SGD costs O(nonzeros) per row "
        "(L2 by the scale trick, Bottou's sparse averaging), while L1 / elastic net and every "
        "step of another optimizer or batch size cost O(n_features).",
    ),
)
HYPER = {h.name: h for h in HYPERS}
N_HP = len(HYPERS)
#: hyperparameters that are not estimator arguments (derived by :func:`resolve`)
DERIVED = ("optimal_init",)
#: not in ``hp``: read by the driver when it creates the optimizer state
STATE_INIT = (
    Hyper(
        "initial_accumulator_value",
        0.0,
        0.0,
        low=0.0,
        doc="Adagrad's starting sum of squared gradients.",
    ),
)


# --------------------------------------------------------------------------------- options
@dataclass(frozen=True)
class Option:
    """One choice of a loss, penalty, optimizer or schedule.

    ``code`` is what the kernels branch on (every dispatch fails on an unknown code);
    ``reads`` the hyperparameters the option uses, ``defaults`` its values for
    hyperparameters left at None, ``requires`` those it needs set, ``state`` the rows of
    the optimizer-state array it uses (``ST_M1`` ..), ``formula`` the update it computes
    and ``variants`` the hyperparameter sets that switch on each of its kernel branches
    (what the kernel-vs-reference grid runs).
    """

    kind: str
    name: str | None
    code: int
    formula: str
    reads: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    variants: dict = field(default_factory=dict)
    task: str = ""  # losses: 'regression' or 'classification'


def _table(kind: str, rows: list[Option]) -> dict:
    table = {}
    for code, row in enumerate(rows):
        if row.kind != kind or row.code != code:
            raise AssertionError(f"registry: {kind} {row.name!r} must have code {code}")
        table[row.name] = row
    return table


#: The losses by name (scikit-learn's definitions), each an :class:`Option` row.
LOSSES: dict = _table(
    "loss",
    [
        Option("loss", "squared_error", 0, "0.5 (p - y)^2;  dL/dp = p - y", task="regression"),
        Option(
            "loss",
            "huber",
            1,
            "0.5 r^2 if |r| <= epsilon else epsilon (|r| - epsilon / 2), r = y - p",
            reads=("epsilon",),
            task="regression",
        ),
        Option(
            "loss",
            "epsilon_insensitive",
            2,
            "max(0, |y - p| - epsilon)",
            reads=("epsilon",),
            task="regression",
        ),
        Option(
            "loss",
            "squared_epsilon_insensitive",
            3,
            "max(0, |y - p| - epsilon)^2",
            reads=("epsilon",),
            task="regression",
        ),
        Option(
            "loss",
            "log_loss",
            4,
            "log(1 + exp(-y p));  dL/dp = expit(p) - (y + 1) / 2",
            task="classification",
        ),
        Option("loss", "hinge", 5, "max(0, 1 - y p)", task="classification"),
        Option("loss", "squared_hinge", 6, "max(0, 1 - y p)^2", task="classification"),
        Option(
            "loss",
            "modified_huber",
            7,
            "0 if z >= 1, (1 - z)^2 if z >= -1, else -4 z (z = y p)",
            task="classification",
        ),
        Option("loss", "perceptron", 8, "max(0, -y p)", task="classification"),
    ],
)
REGRESSION_LOSSES = tuple(n for n, o in LOSSES.items() if o.task == "regression")
# a classifier takes the regression losses too (scikit-learn's SGDClassifier does)
CLASSIFICATION_LOSSES = (
    tuple(n for n, o in LOSSES.items() if o.task == "classification") + REGRESSION_LOSSES
)

#: The penalties by name (``None``, ``'l2'``, ``'l1'``, ``'elasticnet'``).
PENALTIES: dict = _table(
    "penalty",
    [
        Option("penalty", None, 0, "R(w) = 0"),
        Option("penalty", "l2", 1, "R(w) = 0.5 ||w||^2", reads=("alpha",)),
        Option("penalty", "l1", 2, "R(w) = ||w||_1", reads=("alpha",)),
        Option(
            "penalty",
            "elasticnet",
            3,
            "R(w) = (1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1",
            reads=("alpha", "l1_ratio"),
        ),
    ],
)

#: The optimizers by name (torch.optim's single-tensor formulas).
OPTIMIZERS: dict = _table(
    "optimizer",
    [
        Option(
            "optimizer",
            "sgd",
            0,
            "w <- max(0, 1 - eta l2c) w - eta g;  b <- b - eta g_b;  L1 by Tsuruoka's cumulative penalty",
            variants={"sgd": {}},
        ),
        Option(
            "optimizer",
            "momentum",
            1,
            "buf = g (t = 1) else momentum buf + (1 - dampening) g;  w <- w - eta buf",
            reads=("momentum", "dampening"),
            defaults={"momentum": 0.9},
            state=("ST_M1 buf",),
            variants={"momentum": {"momentum": 0.9, "dampening": 0.1}},
        ),
        Option(
            "optimizer",
            "nesterov",
            2,
            "buf as 'momentum';  w <- w - eta (g + momentum buf)",
            reads=("momentum", "dampening"),
            defaults={"momentum": 0.9},
            state=("ST_M1 buf",),
            variants={"nesterov": {"momentum": 0.8}},
        ),
        Option(
            "optimizer",
            "adagrad",
            3,
            "s <- s + g^2;  w <- w - eta / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)",
            reads=("lr_decay", "eps"),
            defaults={"eps": 1e-10},
            state=("ST_M1 sum",),
            variants={"adagrad": {"lr_decay": 0.01, "eps": 1e-10}},
        ),
        Option(
            "optimizer",
            "rmsprop",
            4,
            "v <- rho v + (1 - rho) g^2;  centered: ga <- ga + (1 - rho)(g - ga), v~ = v - ga^2;  "
            "a = sqrt(v~) + eps;  momentum > 0: buf <- momentum buf + g / a, w <- w - eta buf;  "
            "else w <- w - eta g / a",
            reads=("rho", "eps", "momentum", "centered"),
            defaults={"momentum": 0.0},
            state=("ST_M1 square_avg", "ST_M2 grad_avg", "ST_M3 momentum_buffer"),
            variants={
                "rmsprop": {"rho": 0.9, "momentum": 0.0},
                "rmsprop-centered-momentum": {"rho": 0.9, "centered": True, "momentum": 0.5},
            },
        ),
        Option(
            "optimizer",
            "adam",
            5,
            "m <- m + (1 - beta1)(g - m);  v <- beta2 v + (1 - beta2) g^2;  amsgrad: vmax <- max(vmax, v);  "
            "w <- w - eta / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)",
            reads=("beta1", "beta2", "eps", "amsgrad"),
            state=("ST_M1 exp_avg", "ST_M2 exp_avg_sq", "ST_M3 max_exp_avg_sq"),
            variants={"adam": {}, "adam-amsgrad": {"amsgrad": True}},
        ),
        Option(
            "optimizer",
            "adamw",
            6,
            "w <- w (1 - eta weight_decay) (coefficients), then 'adam'",
            reads=("beta1", "beta2", "eps", "amsgrad", "weight_decay"),
            state=("ST_M1 exp_avg", "ST_M2 exp_avg_sq", "ST_M3 max_exp_avg_sq"),
            variants={"adamw": {"weight_decay": 0.05}},
        ),
        Option(
            "optimizer",
            "adamax",
            7,
            "m <- m + (1 - beta1)(g - m);  u <- max(beta2 u, |g| + eps);  "
            "w <- w - eta / (1 - beta1^t) m / u  (torch.optim.Adamax)",
            reads=("beta1", "beta2", "eps"),
            state=("ST_M1 exp_avg", "ST_M2 exp_inf"),
            variants={"adamax": {}},
        ),
    ],
)

#: The learning-rate schedules by name (the estimators' ``learning_rate``).
SCHEDULES: dict = _table(
    "schedule",
    [
        Option(
            "schedule",
            "constant",
            0,
            "eta0",
            reads=("eta0",),
            variants={"constant": {"eta0": 0.05}},
        ),
        Option(
            "schedule",
            "optimal",
            1,
            "1 / (alpha (t_opt + t - 1))",
            reads=("alpha",),
            variants={"optimal": {"alpha": 2.0}},
        ),
        Option(
            "schedule",
            "invscaling",
            2,
            "eta0 / t^power_t",
            reads=("eta0", "power_t"),
            variants={"invscaling": {"eta0": 0.1, "power_t": 0.3}},
        ),
        Option(
            "schedule",
            "adaptive",
            3,
            "eta0, divided by 5 after n_iter_no_change epochs without improvement",
            reads=("eta0",),
            variants={"adaptive": {"eta0": 0.05}},
        ),
        Option(
            "schedule",
            "inverse_time",
            4,
            "eta0 t0 / (t0 + k)",
            reads=("eta0", "t0"),
            requires=("t0",),
            variants={"inverse_time": {"eta0": 0.1, "t0": 5.0}},
        ),
        Option(
            "schedule",
            "step",
            5,
            "eta0 gamma^floor(k / step_size)  (torch StepLR, per update)",
            reads=("eta0", "gamma", "step_size"),
            requires=("gamma", "step_size"),
            variants={"step": {"eta0": 0.1, "gamma": 0.5, "step_size": 7}},
        ),
        Option(
            "schedule",
            "exponential",
            6,
            "eta0 gamma^k  (torch ExponentialLR, per update)",
            reads=("eta0", "gamma"),
            requires=("gamma",),
            variants={"exponential": {"eta0": 0.1, "gamma": 0.97}},
        ),
        Option(
            "schedule",
            "cosine",
            7,
            "eta_min + (eta0 - eta_min) (1 + cos(pi min(k, T_max) / T_max)) / 2",
            reads=("eta0", "T_max", "eta_min"),
            requires=("T_max",),
            variants={"cosine": {"eta0": 0.1, "T_max": 30, "eta_min": 0.001}},
        ),
    ],
)

KINDS = {"loss": LOSSES, "penalty": PENALTIES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}
#: the estimator argument that names each kind of option
ARGUMENT = {
    "loss": "loss",
    "penalty": "penalty",
    "optimizer": "optimizer",
    "schedule": "learning_rate",
}


def code(kind: str, name, argument: str | None = None) -> int:
    """The code of option ``name`` of ``kind``, or a ValueError listing the choices."""
    table = KINDS[kind]
    try:
        return table[name].code
    except (KeyError, TypeError):
        choices = ", ".join(repr(k) for k in table)
        raise ValueError(
            f"{argument or ARGUMENT[kind]}={name!r} is not supported; choose one of {choices}."
        ) from None


# ------------------------------------------------------------------------------ validation
def check_real(name: str, value, low=None, high=None, low_open=False, high_open=False) -> float:
    """A finite real number in the given interval; ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be a finite number in {lo}, {hi}, got {value!r}.")
    return value


INT_MAX = 2**62  # every integer option fits the kernels' int64 with room for arithmetic


def check_int(name: str, value, low: int) -> int:
    """An integer (not a bool) in ``[low, 2**62]``; returns an int.

    The upper bound keeps every count an int64 the kernels can add to without wrapping
    (``batch_size=2**63`` overflowed into a hang before).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}.")
    if value > INT_MAX:
        raise ValueError(f"{name} must be <= 2**62, got {value}.")
    return int(value)


def check_bool(name: str, value) -> bool:
    """True or False (NumPy's bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_hyper(h: Hyper, value) -> float:
    """Validate ``value`` against the row ``h``; returns it as the float stored in ``hp``."""
    if h.kind == "bool":
        return float(check_bool(h.name, value))
    if h.kind == "int":
        return float(check_int(h.name, value, int(h.low)))
    return check_real(h.name, value, h.low, h.high, h.low_open, h.high_open)


@dataclass
class Resolved:
    """Validated options: int64 codes, the float64 ``hp`` vector and the batch size.

    ``batch_size`` 0 means full batch. ``initial_accumulator_value`` seeds Adagrad's sum.
    """

    loss: int
    penalty: int
    optimizer: int
    schedule: int
    batch_size: int
    hp: np.ndarray
    initial_accumulator_value: float = 0.0

    def batch_rows(self, n_rows: int) -> int:
        return n_rows if self.batch_size == 0 else self.batch_size


def resolve(
    values: dict, *, losses=tuple(LOSSES), schedules=tuple(SCHEDULES), owner: str = ""
) -> Resolved:
    """Validate a dictionary of option values (estimator parameter names) and resolve it.

    Hyperparameters missing from ``values`` take their default; those left at None take
    the option's default (``Option.defaults``) or, when an option reads them without
    one, raise. The cross-parameter rules live here and only here:

    * ``eta0 > 0`` for every schedule but 'optimal', which needs ``alpha > 0``;
    * a schedule's required hyperparameters (``Option.requires``) must be set, and
      'cosine' needs ``eta_min <= eta0``;
    * 'nesterov' needs ``momentum > 0`` and ``dampening = 0`` (as torch.optim.SGD);
    * ``weight_decay`` is AdamW's decoupled decay: set for another optimizer it raises.

    ``losses`` / ``schedules`` restrict the choices (``owner`` names who restricts them).
    Returns a :class:`Resolved`; the 'optimal' offset is filled in by the caller, who has
    the compiled ``optimal_init`` (``fastgd._driver.set_optimal_init``).
    """
    get = values.get
    loss_name = get("loss", "squared_error")
    if loss_name not in losses:
        who = f" by {owner}" if owner else ""
        raise ValueError(
            f"loss={loss_name!r} is not supported{who}; choose one of "
            + ", ".join(repr(v) for v in losses)
            + "."
        )
    sched_name = get("learning_rate", "invscaling")
    if isinstance(sched_name, str) and sched_name in SCHEDULES and sched_name not in schedules:
        raise ValueError(
            f"learning_rate={sched_name!r} is not available{' in ' + owner if owner else ''}; "
            "choose one of " + ", ".join(repr(v) for v in schedules) + "."
        )
    loss = LOSSES[loss_name]
    penalty = PENALTIES[_option_name("penalty", get("penalty", "l2"))]
    optimizer = OPTIMIZERS[_option_name("optimizer", get("optimizer", "sgd"))]
    schedule = SCHEDULES[_option_name("schedule", sched_name)]
    hp = np.zeros(N_HP)
    for slot, h in enumerate(HYPERS):
        if h.name in DERIVED:
            continue
        value = get(h.name, h.default)
        if value is None:
            value = optimizer.defaults.get(h.name)
        if value is None:
            if h.name in schedule.requires:
                raise ValueError(
                    f"learning_rate={schedule.name!r} needs {h.name}: {h.doc} "
                    f"({schedule.name}: eta = {schedule.formula})."
                )
            value = h.fallback  # read by no chosen option: a harmless concrete value
        if h.name == "average" and isinstance(value, (bool, np.bool_)):
            value = int(value)
        hp[slot] = check_hyper(h, value)
    slot = {h.name: i for i, h in enumerate(HYPERS)}
    eta0 = hp[slot["eta0"]]
    if schedule.name == "optimal":
        if hp[slot["alpha"]] == 0.0:
            raise ValueError(
                "alpha must be > 0 with learning_rate='optimal' (its rate is 1/(alpha t))."
            )
    elif eta0 <= 0.0:
        raise ValueError(f"eta0 must be > 0 with learning_rate={schedule.name!r}, got {eta0}.")
    if schedule.name == "cosine" and hp[slot["eta_min"]] > eta0:
        raise ValueError(
            f"eta_min must be <= eta0 for learning_rate='cosine', got {hp[slot['eta_min']]} > {eta0}."
        )
    if optimizer.name == "nesterov" and (
        hp[slot["momentum"]] <= 0.0 or hp[slot["dampening"]] != 0.0
    ):
        raise ValueError(
            "optimizer='nesterov' needs momentum > 0 and dampening=0 (as torch.optim.SGD)."
        )
    if "weight_decay" not in optimizer.reads:
        if get("weight_decay") is not None:
            raise ValueError(
                f"weight_decay is AdamW's decoupled decay and applies to optimizer='adamw' only "
                f"(got optimizer={optimizer.name!r}); for an L2 penalty with other optimizers use "
                "penalty='l2' and alpha."
            )
        hp[slot["weight_decay"]] = 0.0
    batch = get("batch_size", 1)
    batch_size = 0 if batch is None else check_int("batch_size", batch, 1)
    init = STATE_INIT[0]
    init_acc = check_real(init.name, get(init.name, init.default), init.low)
    return Resolved(
        loss.code, penalty.code, optimizer.code, schedule.code, batch_size, hp, init_acc
    )


def _option_name(kind: str, name):
    code(kind, name)  # raises with the list of choices
    return name


# where an estimator's default differs from the table's (scikit-learn's defaults)
ESTIMATOR_DEFAULTS = {
    "SGDRegressor": {"loss": "squared_error", "learning_rate": "invscaling"},
    "SGDClassifier": {"loss": "hinge", "learning_rate": "optimal", "power_t": 0.5},
}


def estimator_defaults(estimator: str | None = None) -> dict:
    """``{name: default}`` of every option and hyperparameter an estimator takes
    (``estimator``: the class name, for its own defaults of loss, schedule, power_t)."""
    out = {"penalty": "l2", "optimizer": "sgd", "batch_size": 1}
    for h in HYPERS + STATE_INIT:
        if h.name not in DERIVED:
            out[h.name] = h.default
    if estimator is not None:
        out.update(ESTIMATOR_DEFAULTS[estimator])
    return out
