"""fastgd: linear models trained by gradient descent at C speed (numba kernels).

Public API: :class:`SGDRegressor`, :class:`SGDClassifier` (scikit-learn compatible),
:func:`load` (checkpoints), :func:`minimize` and :mod:`fastgd.reference` (the
pure-NumPy twin of every kernel). The options and their formulas are listed in
:mod:`fastgd.options`.

The submodules load on first use, so ``import fastgd`` stays fast and imports no
optional dependency: ``fastgd.stream`` (file and iterator readers; pyarrow for
Parquet), ``fastgd.plot`` (figures; matplotlib), ``fastgd.dask`` (the distributed
backend; dask and distributed), ``fastgd.reference``, ``fastgd.checkpoint``,
``fastgd.options``, ``fastgd.demo``, ``fastgd.benchmark`` and ``fastgd.cli``.
"""

from __future__ import annotations

import importlib

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

# imported by ``fastgd.<name>`` on first access (PEP 562), not by ``import fastgd``
_SUBMODULES = frozenset(
    (
        "benchmark",
        "checkpoint",
        "cli",
        "dask",
        "demo",
        "options",
        "plot",
        "reference",
        "stream",
    )
)


def __getattr__(name: str):
    """``fastgd.stream``, ``fastgd.plot``, ...: the submodule, imported on first access.

    A missing optional dependency raises the submodule's own ``ImportError`` (which
    says what to install); any other name raises ``AttributeError``.
    """
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module  # the next access is a plain attribute lookup
        return module
    raise AttributeError(f"module 'fastgd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
