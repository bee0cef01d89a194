"""fastgd: linear models trained by gradient descent at C speed (numba kernels).

Public API: :class:`SGDRegressor`, :class:`SGDClassifier` (scikit-learn compatible),
:func:`load` (checkpoints), :func:`minimize` and :mod:`fastgd.reference` (the
pure-NumPy twin of every kernel). The options and their formulas are listed in
:mod:`fastgd.options`.
"""

from __future__ import annotations

from ._driver import DivergenceError, DivergenceWarning
from ._minimize import MinimizeResult, minimize
from .estimators import SGDClassifier, SGDRegressor, load

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "DivergenceWarning",
    "MinimizeResult",
    "SGDClassifier",
    "SGDRegressor",
    "__version__",
    "load",
    "minimize",
]
