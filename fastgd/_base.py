"""scikit-learn's estimator protocol, implemented without importing scikit-learn.

Importing anything from scikit-learn imports SciPy's statistics module, about
0.9 s on the machines fastgd is benchmarked on -- more than a whole first fit.
The estimators therefore implement the protocol scikit-learn's tools rely on
(``get_params`` / ``set_params``, ``clone``, ``__sklearn_tags__``, ``score``,
``n_features_in_``) themselves, and import scikit-learn lazily, only on the
paths that need it: non-NumPy input (lists, DataFrames -- scikit-learn's own
``validate_data`` then handles feature names), ``score``, tags, early stopping,
class weights and error messages. ``isinstance(est, sklearn.base.BaseEstimator)``
is False; everything scikit-learn does with an estimator works (the test-suite
runs scikit-learn's full ``check_estimator``).
"""

from __future__ import annotations

import inspect

import numpy as np


class EstimatorBase:
    """``get_params``, ``set_params``, ``__repr__`` and tags, as scikit-learn's BaseEstimator."""

    _estimator_type: str = ""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        # cached per class: inspect.signature costs ~100 us, partial_fit's budget is ~10
        names = cls.__dict__.get("_param_names_cache")
        if names is None:
            sig = inspect.signature(cls.__init__)
            names = sorted(
                p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind != p.VAR_KEYWORD
            )
            cls._param_names_cache = names
        return list(names)

    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this estimator (``deep`` is accepted for scikit-learn compatibility)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set parameters by name; unknown names raise ``ValueError``."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name)
            default = defaults.get(name, inspect.Parameter.empty)
            same = value is default or (
                type(value) is type(default) and not isinstance(value, np.ndarray)
                and value == default
            )
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.utils import (
            ClassifierTags,
            InputTags,
            RegressorTags,
            Tags,
            TargetTags,
        )

        classifier = self._estimator_type == "classifier"
        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True),
            transformer_tags=None,
            classifier_tags=ClassifierTags(multi_class=True) if classifier else None,
            regressor_tags=None if classifier else RegressorTags(),
            input_tags=InputTags(sparse=False),
        )


def check_random_state(seed) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``: None (NumPy's global state), int or RandomState."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(
        f"random_state={seed!r} cannot be used to seed a numpy.random.RandomState instance; "
        "pass None, an int or a RandomState."
    )


def not_fitted(estimator) -> Exception:
    """scikit-learn's ``NotFittedError`` for ``estimator`` (imported only on this path)."""
    from sklearn.exceptions import NotFittedError

    return NotFittedError(
        f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
        "appropriate arguments before using this estimator."
    )
