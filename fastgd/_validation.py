"""Checks of scalar arguments shared by the estimators and :func:`fastgd.minimize`.

Each raises ``TypeError`` for a wrong type and ``ValueError`` for a value out of
range, with a message that names the argument and the allowed range.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

# optimizer-dependent defaults (torch's) for the hyperparameters left at None
OPTIMIZER_DEFAULTS = {
    "eps": {"adagrad": 1e-10},
    "momentum": {"momentum": 0.9, "nesterov": 0.9},
}
_FALLBACK = {"eps": 1e-8, "momentum": 0.0}


def optimizer_default(name: str, value, optimizer: str):
    """``value``, or the default of ``name`` for ``optimizer`` when ``value`` is None."""
    if value is not None:
        return value
    return OPTIMIZER_DEFAULTS[name].get(optimizer, _FALLBACK[name])


def check_real(name: str, value, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the interval given by ``low`` / ``high``; returns a float."""
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


def check_int(name: str, value, low: int) -> int:
    """An integer (not a bool) ``>= low``; returns an int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}.")
    return int(value)


def check_bool(name: str, value) -> bool:
    """True or False (NumPy's bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)
