"""scikit-learn compatible estimators around the fastgd kernels.

``fastgd.SGDRegressor`` and ``fastgd.SGDClassifier`` take scikit-learn's parameter
names and defaults, so switching is a one-line import change, and add
``optimizer``, ``batch_size`` and the optimizer / schedule hyperparameters.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from . import _docs, _ovr, _sparse, checkpoint, options
from . import _layout as C
from ._driver import (
    BadRowError,
    DivergenceError,
    DivergenceWarning,
    LinearState,
    Problem,
    _bad_row_error,
    _lazy_per_sample,
    grown,
    identity_order,
    kernel_view,
    permutation,
    run_epochs,
    set_optimal_init,
    unit_weights,
    watch_growth,
)
from ._hotpath import _F32, _F64, _FAST_DTYPES, MAX_CURVE, HotPath
from ._kernels.targets import encode_labels, finite
from ._threads import resolve_n_jobs
from .options import check_bool as _check_bool
from .options import check_int as _check_int
from .options import check_real as _check_real

if TYPE_CHECKING:  # pragma: no cover - annotations only (typing.Self from Python 3.11)
    from typing_extensions import Self

# plain 2-D float NumPy input takes the fast path below, everything else goes through
# scikit-learn's validation
# published from the models when first read after a partial_fit hot-path call
_LAZY_ATTRS = frozenset(("coef_", "intercept_", "t_"))
# SGDClassifier's methods that exist for log_loss and modified_huber only
_PROBA_METHODS = frozenset(("predict_proba", "predict_log_proba"))


def _validate_data(*args, **kwargs):
    from sklearn.utils.validation import validate_data

    return validate_data(*args, **kwargs)


def _check_y(y, **kwargs):
    # scikit-learn's own check of y alone; validate_data(self, "no_validation", y) would
    # also check the placeholder X's feature names and warn that "X does not have valid
    # feature names" on every fit of a model trained on a DataFrame
    from sklearn.utils.validation import _check_y as check_y

    return check_y(y, **kwargs)


_FLOAT_BLOCKS = (np.dtype(np.float64), np.dtype(np.float32))


def _frame_kind(X) -> str | None:
    """``'pandas'`` or ``'polars'`` for a DataFrame of those libraries, else None.

    Only looks the classes up when the library is already imported (X cannot be one of
    its frames otherwise): nothing is imported here.
    """
    name = type(X).__name__
    if name != "DataFrame":
        return None
    for lib in ("pandas", "polars"):
        module = sys.modules.get(lib)
        if module is not None and isinstance(X, module.DataFrame):
            return lib
    return None


def _frame_array(X, kind: str):
    """``(array, names)`` of a DataFrame whose columns are all float32 / float64 and
    named by strings: the C-contiguous float array scikit-learn's ``check_array`` would
    make of it (float32 when every column is float32, else float64) and the column
    names (a pandas Index or a list of str). None for anything else (other dtypes,
    extension or sparse columns, non-string names), which scikit-learn validates.

    The one cost that stays is the transposition: both libraries store a frame by
    column, the kernels read rows.
    """
    if kind == "pandas":
        names = X.columns
        if names.shape[0] == 0 or names.inferred_type != "string":
            return None  # no names, or some that are not strings: scikit-learn's rules
        # the dtypes from pandas' block manager (private, but there since pandas 0.x):
        # 1 us where the public ``X.dtypes`` builds a Series in 15; anything unexpected
        # falls back to scikit-learn's validation
        mgr = getattr(X, "_mgr", None)
        blocks = getattr(mgr, "blocks", None)
        if blocks is None:
            return None
        if not all(block.dtype in _FLOAT_BLOCKS for block in blocks):
            return None  # int, bool, object, extension (nullable) or sparse columns
        arr = np.ascontiguousarray(X.to_numpy())
    else:
        import polars as pl

        names = X.columns
        if not names or not all(dt in (pl.Float64, pl.Float32) for dt in X.dtypes):
            return None
        arr = X.to_numpy(order="c")
    if arr.ndim != 2 or arr.dtype not in _FLOAT_BLOCKS or not arr.flags.c_contiguous:
        return None
    return arr, names


def _csr_coef(coef):
    """``coef`` as scikit-learn's ``sparsify`` makes it: a CSR matrix of the same shape
    (a ``csr_array`` under ``sklearn.set_config(sparse_interface="sparray")``)."""
    from scipy import sparse
    from sklearn import get_config

    try:
        csr = sparse.csr_array(coef)
    except (TypeError, ValueError):  # a SciPy without 1-D sparse arrays
        csr = sparse.csr_array(np.atleast_2d(coef))
    if get_config().get("sparse_interface", "spmatrix") == "sparray":
        return csr
    return sparse.csr_matrix(csr)


def _dense(coef) -> np.ndarray:
    """``coef_`` as an ndarray (it is a CSR matrix after :meth:`_BaseSGD.sparsify`)."""
    return coef.toarray() if _sparse.issparse(coef) else coef


def _same_names(names, cached) -> bool:
    """Whether two frames' column names are equal (the same object: no comparison)."""
    if names is cached:
        return True
    if isinstance(names, list):  # polars
        return isinstance(cached, list) and names == cached
    if isinstance(cached, list) or not hasattr(names, "equals"):
        return False
    # two pandas Indexes: their arrays' own comparison where they have one (pandas 3's
    # string columns: 0.6 us against Index.equals' 3 us a call)
    values, other = getattr(names, "_values", None), getattr(cached, "_values", None)
    if type(values) is type(other) and hasattr(values, "equals"):
        return bool(values.equals(other))
    return bool(names.equals(cached))


def _series_array(y):
    """A pandas / polars Series of a plain NumPy integer or float dtype as an ndarray
    (no copy where the library allows), else None (scikit-learn's checks handle it).

    pandas hands out its memory read-only (copy-on-write): such an array is returned as
    :func:`fastgd._driver.kernel_view` (typed writable, never written), so that the
    kernels that read y keep one compiled signature.
    """
    if type(y).__name__ != "Series":
        return None
    arr = None
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(y, pd.Series):
        if isinstance(y.dtype, np.dtype) and y.dtype.kind in "iuf":
            arr = y.to_numpy()
    else:
        pl = sys.modules.get("polars")
        if (
            pl is not None
            and isinstance(y, pl.Series)
            and (y.dtype.is_float() or y.dtype.is_integer())
            and not y.null_count()
        ):
            arr = y.to_numpy()
    if arr is None or arr.ndim != 1:
        return None
    return arr if arr.flags.writeable else kernel_view(arr)


def _is_dask(X) -> bool:
    """Whether ``X`` is a dask collection (trained and predicted on by :mod:`fastgd.dask`)."""
    return type(X).__module__.startswith("dask")


def _labels_present(y) -> np.ndarray:
    """``np.unique(y)``; integer labels in a small range are counted instead of hashed.

    A million int64 labels: about 1.5 ms counted against 5.5 ms in ``np.unique``.
    """
    if y.dtype.kind in "iu" and y.shape[0] > 0:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo <= 4 * y.shape[0] + 1024:
            # offsets from the minimum in y's own width: they wrap for narrow or extreme
            # labels (int8 spanning 128, uint64 near 2**64) but, read as unsigned, are
            # exact, since the span fits the width; a signed intp difference would not be
            y = y.astype(y.dtype.newbyteorder("="), copy=False)
            base = y.dtype.type(lo)
            unsigned = np.dtype(f"u{y.dtype.itemsize}")
            offsets = (y - base).view(unsigned)
            # the span fits an intp: 8-byte offsets are read as one without a copy
            offsets = offsets.view(np.intp) if y.dtype.itemsize == 8 else offsets.astype(np.intp)
            counts = np.bincount(offsets, minlength=hi - lo + 1)
            present = np.flatnonzero(counts).astype(unsigned)
            return (present + base.view(unsigned)).view(y.dtype)
    return np.unique(y)


def _refuse_missing_labels(y) -> None:
    """A ``ValueError`` for a None in an object / list ``y`` (a missing target or label)."""
    arr = y if isinstance(y, np.ndarray) else None
    if arr is None and isinstance(y, (list, tuple)):
        arr = np.asarray(y, dtype=object)
    if arr is not None and arr.dtype == object and any(v is None for v in arr.ravel()):
        row = next(i for i, v in enumerate(arr.ravel()) if v is None)
        raise ValueError(
            f"Invalid y: it contains None (first at position {row}); remove the rows with "
            "missing targets or fill them in before fitting."
        )


def _column_or_1d(y):
    if isinstance(y, np.ndarray) and y.ndim == 1:
        return y
    from sklearn.utils.validation import column_or_1d

    return column_or_1d(y, warn=True)


@contextmanager
def _naming(argument):
    """Re-raise a validation error so that its message starts with the argument's name."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(f"Invalid {argument}: {exc}") from exc


def _param_name_set(cls) -> frozenset:
    """The constructor parameter names of ``cls`` as a set, cached on the class."""
    names = cls.__dict__.get("_param_name_set_cache")
    if names is None:
        names = frozenset(cls._get_param_names())
        cls._param_name_set_cache = names
    return names


# The training locks (_BaseSGD._training_lock): an estimator's is picked by its id (objects
# are 16-byte aligned, hence the shift), so an estimator carries no lock of its own that
# would show in vars() and stop pickling. Two estimators trained at once in two threads
# share one with probability 1/1024: they then take turns, nothing worse (no call holds
# two locks).
_LOCK_MASK = 1023
_LOCKS = tuple(threading.RLock() for _ in range(_LOCK_MASK + 1))

# the parameters fastgd.options resolves (options and their hyperparameters)
_OPTION_PARAMS = ("loss", "learning_rate", *options.estimator_defaults())


class _BaseSGD(HotPath, BaseEstimator):
    """Shared machinery: parameter checks, the fit / partial_fit loops, prediction."""

    _allowed_losses: tuple = ()

    # ------------------------------------------------------------------ options
    def _make_problem(self) -> Problem:
        """Validate every parameter and build the kernels' codes and ``hp`` vector.

        The options and their hyperparameters go through :func:`fastgd.options.resolve`
        (the registry and its cross-parameter rules); the rest are scikit-learn's.
        """
        _check_int("max_iter", self.max_iter, 1)
        if self.tol is not None:
            _check_real("tol", self.tol, 0.0)
        for name in ("shuffle", "early_stopping", "warm_start"):
            _check_bool(name, getattr(self, name))
        _check_int("verbose", self.verbose, 0)
        _check_real("validation_fraction", self.validation_fraction, 0.0, 1.0, True, True)
        _check_int("n_iter_no_change", self.n_iter_no_change, 1)
        if self.l1_ratio is None and self.penalty == "elasticnet":
            # scikit-learn's rule: None is accepted where the penalty does not read it
            raise ValueError(
                "l1_ratio must be set when penalty is 'elasticnet': pass a number in "
                "[0, 1] (e.g. l1_ratio=0.15), or another penalty."
            )
        values = {name: getattr(self, name) for name in _OPTION_PARAMS}
        resolved = options.resolve(values, losses=self._allowed_losses, owner=type(self).__name__)
        problem = Problem(**vars(resolved), n_threads=resolve_n_jobs(self.n_jobs))
        set_optimal_init(problem)
        return problem

    # --------------------------------------------------------------- validation
    def _check_X(self, X, *, reset: bool):
        """2-D float32/float64 C-contiguous X; sets or checks ``n_features_in_``."""
        if (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in _FAST_DTYPES
            and X.shape[0] > 0
            and X.shape[1] > 0
            and not hasattr(self, "feature_names_in_")
        ):
            if reset:
                self.n_features_in_ = X.shape[1]
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            return np.ascontiguousarray(X)
        if _sparse.issparse(X):
            return self._check_sparse_X(X, reset=reset)
        kind = _frame_kind(X)
        if kind is not None:
            arr = self._check_frame(X, kind, reset=reset)
            if arr is not None:
                return arr
        with _naming("X"):
            return _validate_data(
                self,
                X,
                reset=reset,
                accept_sparse=False,
                dtype=[np.float64, np.float32],
                order="C",
                ensure_all_finite=False,
            )

    def _check_frame(self, X, kind: str, *, reset: bool):
        """A pandas / polars DataFrame of float columns as the array scikit-learn's
        validation would make of it, with its feature names set (``reset``) or checked,
        without that validation's per-call cost; None when scikit-learn's rules have to
        speak (no or other names, a warning to give, other dtypes, no rows).

        The names are compared by the frame's own column index, cached against
        ``feature_names_in_`` (a chunk's columns are often the same object).
        """
        converted = _frame_array(X, kind)
        if converted is None or converted[0].shape[0] == 0:
            return None
        arr, names = converted
        attrs = self.__dict__
        if reset:
            fitted = np.asarray(names, dtype=object)  # as scikit-learn stores them
            self.feature_names_in_ = fitted
            self.n_features_in_ = arr.shape[1]
            attrs["_frame_names"] = (fitted, names)
            return arr
        fitted = attrs.get("feature_names_in_")
        if fitted is None or arr.shape[1] != self.n_features_in_:
            return None  # scikit-learn warns (fitted without names) or names the mismatch
        cached = attrs.get("_frame_names")
        if cached is None or cached[0] is not fitted or not _same_names(names, cached[1]):
            if len(names) != fitted.shape[0] or any(
                a != b for a, b in zip(names, fitted, strict=True)
            ):
                return None  # scikit-learn's message lists the unseen and missing names
            attrs["_frame_names"] = (fitted, names)
        return arr

    def _frame_chunk(self, X, y):
        """``(X, y)`` as arrays for the ``partial_fit`` hot path, for a model fitted on
        named columns: a DataFrame of float columns whose names are the fitted ones
        (:meth:`_check_frame`) and y an ndarray or a Series of a NumPy dtype; else None
        (the general path validates and warns as scikit-learn does)."""
        kind = _frame_kind(X)
        if kind is None:
            return None
        if type(y) is not np.ndarray:
            y = _series_array(y)
            if y is None:
                return None
        arr = self._check_frame(X, kind, reset=False)
        return None if arr is None else (arr, y)

    def _check_sparse_X(self, X, *, reset: bool, check_indices: bool = True):
        """A validated CSR matrix (:func:`fastgd._sparse.check_csr`): never densified.

        ``data`` is not scanned for NaN / inf here: a fit leaves that to the kernels,
        which stop at the first non-finite row (the fit then raises with the model
        unchanged, as for dense X), a prediction to :meth:`_check_finite_output`.
        ``check_indices=False``: see :meth:`_check_predict_X`.
        """
        from sklearn.utils.validation import _check_feature_names

        X = _sparse.check_csr(
            X,
            n_features=None if reset else self.n_features_in_,
            owner=type(self).__name__,
            finite=False,
            check_indices=check_indices,
        )
        _check_feature_names(self, X, reset=reset)
        if reset:
            self.n_features_in_ = X.shape[1]
        return X

    def _check_X_y(self, X, y, *, reset: bool):
        # X and y are validated one at a time so that every message names its argument.
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X = self._check_X(X, reset=reset)
        if type(y) is not np.ndarray:
            series = _series_array(y)
            if series is not None:
                y = series
        fast_y = (
            type(y) is np.ndarray
            and y.ndim == 1
            and (y.dtype.kind in "iub" or (y.dtype.kind == "f" and finite(y)))
        )
        if not fast_y:
            _refuse_missing_labels(y)
            with _naming("y"):
                y = _check_y(
                    y, y_numeric=not self._is_classifier, multi_output=False, estimator=self
                )
            if y.dtype.kind == "f" and not np.isfinite(y).all():
                # scikit-learn checks an object y for NaN before converting it, so a None
                # (or a NaN object) would arrive here as NaN and be blamed on divergence
                raise ValueError("Invalid y: Input y contains NaN or infinity.")
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {X.shape[0]} rows, y has "
                f"{y.shape[0]} values; pass one target per row of X."
            )
        return X, y

    @staticmethod
    def _check_sample_weight(sample_weight, n, *, allow_all_zero=True):
        if sample_weight is None:
            return unit_weights(n)  # shared read-only ones: no 8 MB fill per million rows
        if isinstance(sample_weight, numbers.Real):
            sw = np.full(n, float(sample_weight))
        else:
            try:
                raw = np.asarray(sample_weight)
                if raw.dtype.kind == "c":
                    raise TypeError(
                        "sample_weight must be real; complex weights are refused (their "
                        "imaginary part would be dropped). Pass np.real(sample_weight) if "
                        "that is what is meant."
                    )
                sw = raw.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"sample_weight must be numeric: {exc}") from None
            if sw.ndim != 1 or sw.shape[0] != n:
                raise ValueError(
                    f"sample_weight.shape == {sw.shape}, expected ({n},): one weight per row of X."
                )
            if sw is raw:  # astype copies unless asked not to: the caller's array is safe
                sw = sw.copy()
        if not np.isfinite(sw).all():
            raise ValueError("sample_weight contains NaN or infinity.")
        if (sw < 0).any():
            raise ValueError("sample_weight must be non-negative.")
        if not allow_all_zero and not (sw > 0).any():
            raise ValueError(
                "sample_weight must contain at least one non-zero weight; all weights are zero."
            )
        return sw

    @staticmethod
    def _check_init(value, shape, name):
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != shape and arr.size == int(np.prod(shape)):
            arr = arr.reshape(shape)
        if arr.shape != shape:
            raise ValueError(f"{name} has shape {np.shape(value)}, expected {shape}.")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity.")
        return arr

    def _rng(self):
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return np.random.default_rng(seed)

    # ---------------------------------------------------------------- training
    def _train(
        self,
        X,
        Y,
        sw,
        lins,
        problem,
        *,
        max_iter,
        rng,
        split=None,
        partial=False,
    ):
        """Run the driver on every binary/regression problem; commit only on success.

        ``Y`` has one column per linear model; ``split`` is early stopping's
        ``(training rows, validation rows)`` (:meth:`_validation_split`) or None.
        Non-finite input leaves ``lins`` as they were; divergence leaves each at its
        last finite epoch and re-raises.

        One-vs-rest models train concurrently when ``problem.n_threads > 1`` and the
        work pays for the threads (:func:`fastgd._ovr.threads_for`), with the same bits
        as in turn: ``partial`` (one epoch per model: partial_fit, flush) draws each
        model's permutation from ``rng`` in model order, as the serial loop does; a
        shuffled one-vs-rest ``fit`` gives model ``k`` its own generator,
        ``default_rng(seeds[k])`` with ``seeds = rng.integers(0, 2**63, size=K)`` drawn
        before training (for every ``n_jobs``, so that every ``n_jobs`` gives the same
        model whatever epoch each model stops at).
        """
        n = X.shape[0]
        rows = identity_order(n)
        val_rows = Xv = None
        if split is not None:
            rows, val_rows = split
            Xv = X[val_rows]
            if not np.isfinite(Xv.data if _sparse.issparse(Xv) else Xv).all():
                raise ValueError("Input X contains NaN or infinity; remove or impute them.")
            if not (sw[val_rows] > 0).any():
                raise ValueError(
                    "The sample weights of the validation set (early_stopping) are all zero; "
                    "use another random_state or validation_fraction."
                )
        n_models = len(lins)
        shuffle = self.shuffle
        tol, n_iter_no_change, verbose = self.tol, self.n_iter_no_change, self.verbose
        rngs = orders = None
        Xk = X
        if n_models > 1:
            if not isinstance(X, np.ndarray):  # CSR: the kernels' arrays once, not per model
                batch = problem.batch_rows(rows.shape[0])
                Xk = _sparse.kernel_arrays(
                    X, _lazy_per_sample(problem.hp, problem.optimizer, batch)
                )
            if shuffle and partial:
                orders = [None] * n_models  # drawn in model order by prepare
            elif shuffle:
                seeds = rng.integers(0, 2**63, size=n_models)
                rngs = [np.random.default_rng(int(seed)) for seed in seeds]

        def prepare(k):
            orders[k] = permutation(rng, rows)

        # one-vs-rest per-sample models: the classes train on threads (bit-identical to
        # n_jobs=1), each model's epochs serial -- not also as shards (_driver.shard_epoch)
        model_problem = problem
        if n_models > 1 and problem.path != "batch" and problem.n_threads > 1:
            model_problem = dataclasses.replace(problem, n_threads=1)

        def train(k, stop):
            score = None
            if val_rows is not None:
                score = self._validation_scorer(Xv, Y[val_rows, k], sw[val_rows], problem)
            factor = self._class_sw(Y[:, k], k)
            order = rows
            if orders is not None:
                order, orders[k] = orders[k], None
            return run_epochs(
                Xk,
                Y[:, k],
                sw if factor is None else sw * factor,
                order,
                lins[k],
                model_problem,
                max_iter=max_iter,
                tol=tol,
                n_iter_no_change=n_iter_no_change,
                shuffle=shuffle and orders is None,
                rng=rng if rngs is None else rngs[k],
                validation_score=score,
                verbose=verbose,
                stop=stop,
            )

        # the fewest epochs each model runs (stopping needs n_iter_no_change + 1)
        epochs = max_iter if tol is None else min(max_iter, n_iter_no_change + 1)
        threads = 1
        if not verbose:  # verbose: the epochs' lines in model order
            threads = _ovr.threads_for(problem, X, rows.shape[0], n_models, epochs)
        # ``lins`` are the call's own copies (or new): a failed call discards them (see
        # _fit_common and _atomic); on threads, the models after a failing one are put
        # back as they were (the serial loop never started them: fit keeps the others)
        entries = [lin.snapshot() for lin in lins] if threads > 1 else None
        results = _ovr.run_models(
            n_models,
            threads,
            train,
            prepare if orders is not None else None,
            undo=None if entries is None else lambda k: lins[k].rollback(entries[k]),
        )
        n_iters = [n_iter for n_iter, _ in results]
        return max(n_iters), all(converged for _, converged in results)

    def _class_sw(self, yk, k):
        """Class weights of problem ``k`` as a per-row factor (None when there are none)."""
        return None

    def _validation_split(self, y, n):
        from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

        if self._is_classifier:
            cv = StratifiedShuffleSplit(
                test_size=self.validation_fraction, random_state=self.random_state
            )
        else:
            cv = ShuffleSplit(test_size=self.validation_fraction, random_state=self.random_state)
        try:
            idx_train, idx_val = next(cv.split(np.zeros((n, 1)), y))
        except ValueError as exc:  # scikit-learn's message speaks of test_size
            raise ValueError(
                f"early_stopping cannot split {n} samples with validation_fraction="
                f"{self.validation_fraction}: {exc} (validation_fraction is passed to "
                "scikit-learn's splitter as test_size). Change validation_fraction, or pass "
                "more samples."
            ) from None
        if idx_train.shape[0] == 0 or idx_val.shape[0] == 0:
            raise ValueError(
                f"Splitting {n} samples with validation_fraction={self.validation_fraction} "
                "leaves an empty training or validation set; change validation_fraction."
            )
        return np.sort(idx_train).astype(np.int64), np.sort(idx_val)

    def _validation_scorer(self, Xv, yv, swv, problem):
        def score(lin):
            params = lin.model(problem)
            pred = Xv @ params[:-1] + params[-1]
            return self._binary_score(pred, yv, swv)

        return score

    def _publish(self, lins, problem):
        """Copy the served parameters (averaged when averaging has started) to the attributes.

        O(d) per call: ``loss_curve_`` is computed from the models only when read. The
        parameters are float64 inside; ``coef_`` takes the dtype of the fit's X (float32
        or float64, :attr:`_coef_dtype`), and ``intercept_`` that dtype for one-vs-rest
        and float64 for a binary problem, as scikit-learn 1.9 has them. After
        :meth:`sparsify`, ``coef_`` is published as a CSR matrix.
        """
        attrs = self.__dict__  # not parameters: skip __setattr__ (hot path)
        dtype = attrs.get("_coef_dtype", _F64)
        if len(lins) == 1:  # the streaming hot path: no list-of-arrays conversions
            lin = lins[0]
            model = lin.model(problem)
            attrs["coef_"] = model[None, :-1].astype(dtype)  # a copy
            attrs["intercept_"] = model[-1:].copy()
            attrs["t_"] = lin.t
        else:
            models = np.array([lin.model(problem) for lin in lins])
            attrs["coef_"] = models[:, :-1].astype(dtype)
            attrs["intercept_"] = models[:, -1].astype(dtype)
            attrs["t_"] = max(lin.t for lin in lins)
        if "_sparse_coef" in attrs:
            attrs["coef_"] = _csr_coef(attrs["coef_"])
        attrs["_published"] = True  # the hot path drops these three on a change

    @property
    def loss_curve_(self) -> list[float]:
        """Mean training loss per epoch (per ``partial_fit`` call), averaged over one-vs-rest
        problems (a problem that stopped early counts with its last value)."""
        lins = self.__dict__.get("_lins")
        if lins is None:
            raise AttributeError(f"{type(self).__name__} has no loss_curve_ before fit.")
        curves = [lin.loss_curve for lin in lins]
        if len(curves) == 1:
            return list(curves[0])
        longest = max(len(c) for c in curves)
        padded = [c + c[-1:] * (longest - len(c)) for c in curves if c]
        return [float(v) for v in np.mean(padded, axis=0)] if padded else []

    def _atomic(self, fit, *args, **kwargs):
        """Run ``fit``; on any failure but divergence, put every attribute back as it was.

        Validation resets ``n_features_in_`` and the classifier keeps per-call bookkeeping
        before the first kernel call, so a shallow restore of ``__dict__`` is what makes a
        failed call leave the estimator exactly as before (the models' arrays are only
        replaced on success, never changed in place).
        """
        saved = dict(self.__dict__)
        self._failure_committed = False
        try:
            return fit(*args, **kwargs)
        except BaseException:
            # fit keeps its last finite (divergence) or completed (Ctrl-C, one model)
            # epoch and says so by this flag; every other failure, and any failure of
            # partial_fit or flush, puts the estimator back as it was before the call
            if not self.__dict__.get("_failure_committed"):
                self.__dict__.clear()
                self.__dict__.update(saved)
            raise
        finally:
            self.__dict__.pop("_failure_committed", None)

    def _new_models(self, problem, n_models, d, coef_init, intercept_init, *, warm):
        """Fresh linear models for a fit: from ``coef_init`` / ``intercept_init``, or with
        ``warm`` and ``warm_start`` from the fitted parameters, else zeros (also used by
        :func:`fastgd.dask.fit`)."""
        if coef_init is None and warm and self.warm_start and hasattr(self, "coef_"):
            coef_init, intercept_init = self._fitted_init()
            if np.shape(coef_init)[-1] != d or np.size(intercept_init) != n_models:
                raise ValueError(
                    f"warm_start=True continues from the fitted coef_ of shape "
                    f"{np.shape(coef_init)}, but this X and y need "
                    f"{n_models} model(s) of {d} features; set warm_start=False to fit "
                    "this data from scratch."
                )
        coef0 = (
            np.zeros((n_models, d))
            if coef_init is None
            else self._check_init(
                coef_init, (n_models, d) if n_models > 1 else (d,), "coef_init"
            ).reshape(n_models, d)
        )
        b0 = (
            np.zeros(n_models)
            if intercept_init is None
            else self._check_init(intercept_init, (n_models,), "intercept_init")
        )
        return [LinearState.new(d, problem, coef0[k], b0[k]) for k in range(n_models)]

    def _fit_common(self, X, y, *, coef_init, intercept_init, sample_weight, max_iter, partial):
        problem = self._make_problem()
        first = not (partial and hasattr(self, "_lins"))
        if partial and first and self.early_stopping:
            # scikit-learn's check (on the first call, as there): a stream has no
            # validation set to stop on
            raise ValueError(
                "early_stopping should be False with partial_fit: partial_fit trains one "
                "epoch per call and holds out no validation rows. Set early_stopping=False, "
                "or call fit to train with early stopping."
            )
        X, y = self._check_X_y(X, y, reset=first)
        n, d = X.shape
        if first:
            # coef_ is published in X's dtype (scikit-learn's); the training is float64
            self.__dict__["_coef_dtype"] = _F32 if X.dtype == _F32 else _F64
        if not partial:
            self.__dict__.pop("_sparse_coef", None)  # fit publishes a dense coef_ again
        sw = self._check_sample_weight(sample_weight, n, allow_all_zero=partial)
        Y, labels = self._encode_targets(y, first=first, partial=partial)
        n_models = Y.shape[1]
        # early stopping's validation rows are drawn before the shuffling seed (below),
        # from random_state itself, as scikit-learn does: a RandomState instance then
        # holds out the same rows as scikit-learn's estimator
        split = self._validation_split(labels, n) if self.early_stopping and not partial else None
        if partial and not first:
            if problem.optimizer != self._optimizer_code:
                raise ValueError(
                    f"optimizer changed from {self._optimizer_name!r} to {self.optimizer!r} between "
                    "partial_fit calls; its state cannot carry over. Call fit to start again."
                )
            lins = [lin.copy() for lin in self._lins]
            # a copy: a failed call must not advance the shuffling stream
            rng = copy.deepcopy(self._rng_state)
        else:
            lins = self._new_models(
                problem, n_models, d, coef_init, intercept_init, warm=not partial
            )
            rng = self._rng()
        pending = None
        # rows of an earlier call waiting in the mini-batch buffer go first: errors count
        # rows of this call's X
        offset = 0 if first or not partial else self.n_pending_
        if partial:
            X, Y, sw, pending = self._with_pending(X, Y, sw, problem, first, offset)
            if X.shape[0] == 0:  # everything waits for a full mini-batch
                self._commit(lins, problem, rng, n_iter=1, pending=pending)
                return self
        # the divergence watch's start parameters, measured once per fit or stream (after
        # training: only the kernels have checked X, e.g. a CSR matrix's indices, by then)
        starts = [
            lin.params.copy() if lin.loss_limit is None or not partial else None for lin in lins
        ]
        try:
            n_iter, converged = self._train(
                X,
                Y,
                sw,
                lins,
                problem,
                max_iter=max_iter,
                rng=rng,
                split=split,
                partial=partial,
            )
        except BadRowError as exc:
            if offset and exc.row >= offset:
                raise exc.moved(-offset) from None
            raise
        except DivergenceError:
            # fit: the model stands at its last finite epoch (documented); partial_fit:
            # its one epoch failed, so the call is undone by _atomic, buffer included
            if not partial:
                self._commit(lins, problem, rng, n_iter=None, pending=pending)
                self._failure_committed = True
            raise
        except KeyboardInterrupt:
            # fit of one model: keep its last completed epoch. partial_fit (its one epoch
            # did not complete) and one-vs-rest (whose classes would stand at different
            # epochs) are undone by _atomic, so a previous fit survives
            if not partial and len(lins) == 1:
                self._commit(lins, problem, rng, n_iter=None, pending=pending)
                self._failure_committed = True
            raise
        if partial:
            for lin in lins:
                if len(lin.loss_curve) > 2 * MAX_CURVE:
                    del lin.loss_curve[:-MAX_CURVE]  # bounded memory on endless streams
        for k, lin in enumerate(lins):
            if starts[k] is not None:
                watch_growth(X, Y[:, k], self._curve_weights(sw, Y, k), lin, problem, starts[k])
        self._commit(lins, problem, rng, n_iter=n_iter, pending=pending)
        # scikit-learn warns whenever fit ran max_iter epochs with a tolerance set
        self._hit_max_iter = not partial and not converged and self.tol is not None
        self._watch(lins, problem, X, Y, sw)
        return self

    def _fitted_init(self):
        """``(coef, intercept)`` that ``warm_start`` continues from.

        The model's own float64 parameters while ``coef_`` and ``intercept_`` are the
        values it published (float32 after a float32 fit, CSR after :meth:`sparsify`),
        so that a warm start loses nothing to their rounding; whatever the user put
        there otherwise.
        """
        coef, intercept = np.asarray(_dense(self.coef_)), np.asarray(self.intercept_)
        attrs = self.__dict__
        lins, problem = attrs.get("_lins"), attrs.get("_problem")
        if lins is not None and problem is not None:
            models = np.array([lin.model(problem) for lin in lins])
            own_coef, own_b = models[:, :-1], models[:, -1]
            if (
                own_coef.size == coef.size
                and own_b.size == intercept.size
                and np.array_equal(own_coef.astype(coef.dtype).reshape(coef.shape), coef)
                and np.array_equal(
                    own_b.astype(intercept.dtype).reshape(intercept.shape), intercept
                )
            ):
                return own_coef.reshape(coef.shape), own_b.reshape(intercept.shape)
        return coef, intercept

    def _curve_weights(self, sw, Y, k):
        """Model ``k``'s row weights as its loss curve has them (class weights applied)."""
        factor = self._class_sw(Y[:, k], k)
        return sw if factor is None else sw * factor

    def _watch(self, lins, problem, X, Y, sw):
        """Keep the DivergenceWarning of a model that has diverged for the public method
        (:func:`fastgd._driver.grown`); O(1) unless a loss passed its limit."""
        grew = grown(lins, problem, X, lambda k: Y[:, k], lambda k: self._curve_weights(sw, Y, k))
        if grew is not None:
            self.__dict__["_grew"] = grew

    def _warn_after_call(self):
        """The warnings of the last call, raised from the public method (they point at the
        caller): :class:`DivergenceWarning` when the training loss grew by orders of
        magnitude (:func:`fastgd._driver.watch_growth`), scikit-learn's
        ConvergenceWarning when ``fit`` stopped at ``max_iter``."""
        grew = self.__dict__.pop("_grew", None)
        if grew is not None:
            warnings.warn(grew, DivergenceWarning, stacklevel=3)
        if self.__dict__.pop("_hit_max_iter", False):
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                "Maximum number of iteration reached before convergence. Consider increasing "
                "max_iter to improve the fit.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _with_pending(self, X, Y, sw, problem, first, offset):
        """Prepend the rows left over by the last call; hold back an incomplete mini-batch.

        Returns ``(X, Y, sw, pending)``: the rows to train on now (a multiple of
        ``batch_size``) and the remainder, which waits for the next call (or
        :meth:`flush`). Per-sample and full-batch training keep nothing back.
        """
        prev = None if first else getattr(self, "_pending", None)
        if prev is not None:
            X = _sparse.vstack(prev[0], X)  # CSR when either part is: nothing densified
            Y = np.concatenate([prev[1], Y])
            sw = np.concatenate([prev[2], sw])
        batch = problem.batch_size
        if batch <= 1:
            return X, Y, sw, None
        keep = X.shape[0] - X.shape[0] % batch
        if keep == X.shape[0]:
            return X, Y, sw, None
        pending = (X[keep:].copy(), Y[keep:].copy(), np.array(sw[keep:], dtype=np.float64))
        waiting = pending[0].data if _sparse.issparse(pending[0]) else pending[0]
        if not (np.isfinite(waiting).all() and np.isfinite(pending[1]).all()):
            # rows that wait are trained on by a later call: refuse them now, or every
            # later call would fail on them and the stream could not go on
            for i in range(pending[0].shape[0]):
                bad = _bad_row_error(pending[0], pending[1][:, 0], i)
                if bad is not None:
                    raise bad.moved(keep - offset, " of X, which waits for the next mini-batch")
        return X[:keep], Y[:keep], sw[:keep], pending

    def save(self, path) -> None:
        """Write the complete training state to ``path`` (``.npz``; see :mod:`fastgd.checkpoint`).

        ``fastgd.load(path)`` returns an estimator whose next ``partial_fit`` continues
        exactly where this one stands: a stream stopped, saved, loaded in a new
        process and continued is bit-identical to an uninterrupted one.
        """
        checkpoint.write(path, self.training_state())

    def training_state(self) -> dict:
        """Everything a resumed ``partial_fit`` needs, as plain values and arrays.

        Returns a dict: ``estimator`` (class name), ``params`` (``get_params()``),
        ``n_features_in``, ``n_iter``, ``optimizer``, ``models`` (per linear model:
        ``params`` (d+1,), ``state`` (N_ST, d+1), ``counters`` (N_SC,), ``loss_curve``),
        ``rng`` (the shuffling generator's state dict), ``pending`` (the rows waiting in
        the mini-batch buffer, ``(X, Y, sw)``, or None), ``classes``,
        ``feature_names_in`` (or None) and ``coef_dtype`` (``'float32'`` or
        ``'float64'``: the dtype ``coef_`` is published in). :meth:`from_training_state`
        inverts it; the arrays are copies.
        """
        # Under the training lock, no fit, flush or general partial_fit of another thread
        # can commit between the copies of two attributes. The partial_fit hot path takes
        # no lock (it would cost a fifth of its bookkeeping): it makes the generation
        # count ``_gen`` odd while it changes the model in place (its kernels run without
        # the GIL), and a copy is kept only if the count was even and unchanged across it.
        with self._training_lock():
            while True:
                gen = self.__dict__.get("_gen")
                before = 0 if gen is None else gen[0]
                if before & 1:
                    time.sleep(1e-4)  # a hot-path call is running: let it finish
                    continue
                state = self._copy_state()
                if gen is None or gen[0] == before:
                    return state

    def _copy_state(self) -> dict:
        if "_lins" not in self.__dict__:
            raise ValueError(f"{type(self).__name__} is not fitted: nothing to save.")
        pending = self.__dict__.get("_pending")
        return {
            "estimator": type(self).__name__,
            "params": self.get_params(),
            "n_features_in": int(self.n_features_in_),
            "n_iter": int(self.n_iter_),
            "optimizer": self._optimizer_name,
            "models": [
                {
                    "params": lin.params.copy(),
                    "state": lin.state.copy(),
                    "counters": lin.counters.copy(),
                    "loss_curve": list(lin.loss_curve),
                }
                for lin in self._lins
            ],
            "rng": self._rng_state.bit_generator.state,
            "pending": None if pending is None else tuple(a.copy() for a in pending),
            "classes": self.__dict__.get("classes_"),
            "feature_names_in": self.__dict__.get("feature_names_in_"),
            "target_name": self.__dict__.get("target_name_"),  # set by fastgd fit / fit_stream
            # the dtype coef_ is published in (float32 after a float32 fit); the
            # parameters themselves are float64
            "coef_dtype": self.__dict__.get("_coef_dtype", _F64).name,
        }

    def _training_lock(self) -> threading.RLock:
        """The estimator's lock: ``fit``, ``partial_fit``, ``flush`` and
        :meth:`training_state` hold it, so a save taken while another thread trains is a
        consistent snapshot. One of :data:`_LOCKS`, chosen by ``id``: nothing is stored
        on the estimator (``vars``, pickling and copies are unchanged)."""
        return _LOCKS[id(self) >> 4 & _LOCK_MASK]

    @classmethod
    def from_training_state(cls, state: dict):
        """An estimator standing exactly where :meth:`training_state` was taken.

        Every array is checked against the shapes the state implies before it is used
        (:func:`fastgd.checkpoint.check_state`: finite parameters and optimizer state,
        sane counters, the waiting rows, classes, RNG state), and the constructor
        parameters go through the validation ``fit`` applies; a state that does not fit
        together raises ``ValueError``.
        """
        if not isinstance(state, dict) or not isinstance(state.get("params"), dict):
            raise ValueError("a training state is a dict with a 'params' mapping.")
        params = dict(state["params"])
        unknown = sorted(repr(k) for k in params if k not in _param_name_set(cls))
        if unknown:
            raise ValueError(f"{cls.__name__} has no parameters {', '.join(unknown)}.")
        est = cls(**params)
        problem = est._make_problem()  # every option and hyperparameter, as fit checks them
        check_random_state(est.random_state)  # None, a seed in [0, 2**32) or a RandomState
        checked = checkpoint.check_state(state, est._is_classifier)
        lins = [LinearState(p, st, ct, curve) for p, st, ct, curve in checked["models"]]
        est.n_features_in_ = checked["n_features_in"]
        if checked["feature_names_in"] is not None:
            est.feature_names_in_ = checked["feature_names_in"]
        if state.get("target_name") is not None:
            est.target_name_ = str(state["target_name"])
        classes = checked["classes"]
        if classes is not None:
            est.classes_ = classes
            est._classes_arg = None
            # the class weights of each binary problem, as _encode_targets sets them
            # (flush and the partial_fit hot path read them); validates class_weight
            cw = est._expanded_class_weight(classes, classes)
            est._cw_pairs = (
                [(cw[1], cw[0])]
                if classes.shape[0] == 2
                else [(cw[k], 1.0) for k in range(classes.shape[0])]
            )
        coef_dtype = state.get("coef_dtype")
        if coef_dtype is not None:  # absent from checkpoints that do not record it
            if coef_dtype not in ("float32", "float64"):
                raise ValueError(
                    f"the training state's coef_dtype must be 'float32' or 'float64', got "
                    f"{coef_dtype!r:.80}."
                )
            est.__dict__["_coef_dtype"] = np.dtype(coef_dtype)
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = checked["rng"]
        est._commit(lins, problem, rng, n_iter=checked["n_iter"], pending=checked["pending"])
        trained_by = checked["optimizer"]
        if trained_by is not None and trained_by != est.optimizer:
            # optimizer changed by set_params after training: as in the saved estimator,
            # the next partial_fit refuses to carry this optimizer's state over
            est._optimizer_code = options.code("optimizer", trained_by)
            est._optimizer_name = trained_by
            est.__dict__.pop("_params_clean", None)
        return est

    @property
    def n_pending_(self) -> int:
        """Rows waiting in the mini-batch buffer of ``partial_fit`` (see :meth:`flush`)."""
        pending = getattr(self, "_pending", None)
        return 0 if pending is None else int(pending[0].shape[0])

    def flush(self):
        """Train on the rows waiting in ``partial_fit``'s mini-batch buffer, as one batch.

        With ``batch_size=B > 1``, ``partial_fit`` trains on whole batches only: the
        rows of an incomplete last batch wait for the next call, so any chunking of a
        stream gives the same batches as one pass. At the end of a stream call
        ``flush()`` to apply the remainder as one smaller batch (what ``fit`` does
        with the last batch of an epoch); ``fastgd.stream.fit_stream`` does it for you.
        Does nothing when the buffer is empty.
        """
        lock = _LOCKS[id(self) >> 4 & _LOCK_MASK]  # self._training_lock(), inlined
        lock.acquire()  # not `with`: half the cost on the partial_fit hot path
        try:
            if self.n_pending_ == 0:
                return self
            self._atomic(self._flush)
            return self._warn_after_call()
        finally:
            lock.release()

    def _flush(self):
        problem = self._make_problem()
        X, Y, sw = self._pending
        lins = [lin.copy() for lin in self._lins]
        rng = copy.deepcopy(self._rng_state)
        one_batch = dataclasses.replace(problem, batch_size=0)  # the remainder is one batch
        n_iter, _ = self._train(X, Y, sw, lins, one_batch, max_iter=1, rng=rng, partial=True)
        self._commit(lins, problem, rng, n_iter=n_iter, pending=None)
        self._watch(lins, problem, X, Y, sw)
        return self

    def _commit(self, lins, problem, rng, n_iter, pending=None):
        self.__dict__.pop("_hot", None)  # the hot path re-arms from the new state
        self.__dict__.pop("_hot_named", None)
        self.__dict__.pop("_hot_named", None)
        self.__dict__.setdefault("_gen", [0])  # the hot path's generation (training_state)
        self._pending = pending
        self._params_clean = True
        self._problem = problem
        self._lins = lins
        self._optimizer_code = problem.optimizer
        self._optimizer_name = self.optimizer
        self._rng_state = rng
        self._publish(lins, problem)
        if n_iter is not None:
            self.n_iter_ = n_iter
        else:
            self.n_iter_ = max(len(lin.loss_curve) for lin in lins)

    def __setattr__(self, name, value):
        # A constructor parameter set after training (set_params or plain assignment)
        # sends the next partial_fit through the general path, which re-reads every
        # parameter. A flag costs nothing per call; comparing all ~45 parameters on
        # every call cost 1 us of the streaming budget. The partial_fit hot path writes
        # its attributes into __dict__ directly: through this method they cost more
        # than the comparison saved.
        if name in _param_name_set(type(self)):
            self.__dict__.pop("_params_clean", None)
            self.__dict__.pop("_hot", None)
            self.__dict__.pop("_hot_named", None)
            self.__dict__.pop("_hot_named", None)
        object.__setattr__(self, name, value)

    def __getstate__(self):
        state = dict(super().__getstate__())  # (object's is the live __dict__ itself)
        state.pop("_hot", None)  # scratch of the partial_fit hot path, rebuilt on demand
        state.pop("_hot_named", None)
        state.pop("_hot_named", None)
        state.pop("_ybuf", None)
        state.pop("_frame_names", None)  # a cache of the last frame's column index
        state.pop("_gen", None)  # a count of this process's calls (training_state)
        return state

    def __getattr__(self, name):
        # Only called when normal lookup fails: the partial_fit hot path leaves coef_,
        # intercept_ and t_ out of __dict__ and they are published here on first read.
        attrs = self.__dict__
        if name in _LAZY_ATTRS and "_lins" in attrs and "_problem" in attrs:
            self._publish(attrs["_lins"], attrs["_problem"])
            return attrs[name]
        if name in _PROBA_METHODS and self._is_classifier:
            # the property refused (its AttributeError sends Python here): say why, as
            # scikit-learn does, instead of a bare "no attribute"
            try:
                self._check_proba()
            except AttributeError as exc:
                raise AttributeError(
                    f"This {type(self).__name__!r} has no attribute {name!r}: {exc}. Use "
                    "loss='log_loss' or loss='modified_huber' for probability estimates, "
                    "or decision_function for scores."
                ) from exc
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR (and CSC/COO, converted once) is never densified
        return tags

    def sparsify(self) -> Self:
        """Store ``coef_`` as a scipy.sparse CSR matrix (scikit-learn's ``sparsify``).

        Worth it when most coefficients are zero (an L1 or elastic-net fit): the
        matrix keeps only the nonzeros. ``intercept_`` stays dense; ``predict``,
        ``decision_function``, ``predict_proba`` and ``score`` work as before. Unlike
        scikit-learn's, ``partial_fit`` goes on training after it (the model's own
        parameters are dense and float64 inside) and keeps publishing a CSR ``coef_``;
        ``fit`` starts a new model with a dense one. :meth:`densify` undoes it.

        Returns
        -------
        self
            The estimator.
        """
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: call 'fit' or "
                "'partial_fit' before sparsify."
            )
        self.__dict__["_sparse_coef"] = True
        self.__dict__["coef_"] = _csr_coef(_dense(self.coef_))
        return self

    def densify(self) -> Self:
        """Store ``coef_`` as a dense ndarray again (the default; undoes :meth:`sparsify`).

        Returns
        -------
        self
            The estimator.
        """
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: call 'fit' or "
                "'partial_fit' before densify."
            )
        self.__dict__.pop("_sparse_coef", None)
        if _sparse.issparse(self.coef_):
            self.__dict__["coef_"] = self.coef_.toarray()
        return self

    def _check_predict_X(self, X, *, check_indices: bool = True):
        """X validated for a prediction. ``check_indices=False`` leaves a CSR matrix's
        column indices to the threaded product (:func:`fastgd._sparse.matvecs`), which
        must then follow; its values are checked after the product in any case
        (:meth:`_check_finite_output`)."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        if _sparse.issparse(X):
            return self._check_sparse_X(X, reset=False, check_indices=check_indices)
        return self._check_X(X, reset=False)

    @staticmethod
    def _check_finite_output(X, scores):
        """Non-finite scores come from non-finite X (or overflow, which is returned as is).

        For CSR X too: a NaN or inf among a row's stored values makes its every score NaN
        or inf (``inf * 0`` is NaN), so X's values need no pass of their own before the
        product -- only the rows whose scores are not finite are looked at.
        """
        bad = ~np.isfinite(scores)
        if bad.any():
            rows = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))
            sparse = _sparse.issparse(X)
            for row in rows:
                if _sparse.row_has_nonfinite(X, row) if sparse else not np.isfinite(X[row]).all():
                    raise BadRowError("X", int(row))
        return scores

    def _scores(self, X, coef):
        """``(X validated, X @ coef)`` for ``coef`` of shape (d,) or (d, K): CSR X on
        ``n_jobs`` threads when it is large (:func:`fastgd._sparse.matvecs`), dense X
        through BLAS (whose own threads threadpoolctl limits)."""
        threaded = False
        if _sparse.issparse(X):
            n_threads = resolve_n_jobs(self.n_jobs)
            try:
                nnz = int(X.nnz)
            except Exception:  # a malformed matrix: validation below names the problem
                nnz = 0
            threaded = _sparse.threaded_product(nnz, n_threads)
        X = self._check_predict_X(X, check_indices=not threaded)
        coef = coef.astype(X.dtype, copy=False)
        if _sparse.issparse(X):
            return X, _sparse.matvecs(X, coef, n_threads, threaded=threaded)
        return X, X @ coef

    def _raw_decision(self, X):
        coef = _dense(self.coef_) if hasattr(self, "coef_") else None  # CSR coef_: densified
        X, scores = self._scores(X, None if coef is None else coef.T)
        scores = scores + self.intercept_
        return self._check_finite_output(X, scores)


_REGRESSOR_EXAMPLE = """
    >>> import numpy as np
    >>> from fastgd import SGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3)); y = X @ [1.0, -2.0, 0.5] + 0.3
    >>> model = SGDRegressor(optimizer="adam", learning_rate="constant", eta0=0.05,
    ...                      batch_size=32, penalty=None, random_state=0).fit(X, y)
    >>> np.round(model.coef_, 2).tolist()
    [1.0, -2.0, 0.5]
"""


class SGDRegressor(RegressorMixin, _BaseSGD):
    """Linear regression by stochastic, mini-batch or full-batch gradient descent."""

    _allowed_losses = C.REGRESSION_LOSSES
    _estimator_type = "regressor"
    _is_classifier = False

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        n_jobs=None,
        random_state=None,
        learning_rate="invscaling",
        eta0=0.01,
        power_t=0.25,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        warm_start=False,
        average=False,
        optimizer="sgd",
        batch_size=1,
        momentum=None,
        dampening=0.0,
        beta1=0.9,
        beta2=0.999,
        eps=None,
        amsgrad=False,
        weight_decay=None,
        lr_decay=0.0,
        initial_accumulator_value=0.0,
        rho=0.99,
        centered=False,
        t0=None,
        gamma=None,
        step_size=None,
        T_max=None,
        eta_min=0.0,
        intercept_decay=1.0,
        lazy_updates=False,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.momentum = momentum
        self.dampening = dampening
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.amsgrad = amsgrad
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.initial_accumulator_value = initial_accumulator_value
        self.rho = rho
        self.centered = centered
        self.t0 = t0
        self.gamma = gamma
        self.step_size = step_size
        self.T_max = T_max
        self.eta_min = eta_min
        self.intercept_decay = intercept_decay
        self.lazy_updates = lazy_updates

    def _encode_targets(self, y, *, first, partial):
        # _check_X_y has already refused non-finite targets (a second scan of y cost
        # about 1 ms per million rows, 6% of a d=10 epoch)
        y = _column_or_1d(y).astype(np.float64, copy=False)
        return y.reshape(-1, 1), None

    @staticmethod
    def _binary_score(pred, y, sw):
        resid = np.sum(sw * (y - pred) ** 2)
        total = np.sum(sw * (y - np.average(y, weights=sw)) ** 2)
        return 1.0 - resid / total if total > 0 else 0.0

    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None) -> SGDRegressor:
        """Fit for up to ``max_iter`` epochs, starting again from ``coef_init`` (or zeros).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float32 stays float32 in memory; anything else becomes float64.
        y : array-like of shape (n_samples,)
        coef_init : array-like of shape (n_features,), optional
        intercept_init : array-like of shape (1,), optional
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights multiplying each row's gradient.

        Returns
        -------
        self : SGDRegressor

        Notes
        -----
        A dask array or DataFrame ``X`` trains on the workers of the current
        ``distributed.Client`` (:func:`fastgd.dask.fit`, ``scheme="auto"``).
        """
        if _is_dask(X):
            from . import dask as _dask

            return _dask.fit(
                self, X, y, coef_init=coef_init, intercept_init=intercept_init,
                sample_weight=sample_weight,
            )  # fmt: skip
        lock = _LOCKS[id(self) >> 4 & _LOCK_MASK]  # self._training_lock(), inlined
        lock.acquire()  # not `with`: half the cost on the partial_fit hot path
        try:
            self._atomic(
                self._fit_common,
                X,
                y,
                coef_init=coef_init,
                intercept_init=intercept_init,
                sample_weight=sample_weight,
                max_iter=self.max_iter,
                partial=False,
            )
            return self._warn_after_call()
        finally:
            lock.release()

    def partial_fit(self, X, y, sample_weight=None) -> SGDRegressor:
        """One epoch over ``X``, continuing parameters, optimizer state and ``t_``.

        Any chunking of a stream gives the same model as one pass over it in the same
        order (with ``shuffle=False``; ``shuffle=True`` shuffles within each chunk),
        bit for bit with per-sample updates. With ``batch_size > 1`` an incomplete last
        batch waits for the next call: see :meth:`flush`. With ``batch_size=None`` each
        call is one full-batch step over its chunk, so there the chunking matters.
        """
        if self._fast_partial_fit(X, y, sample_weight):  # lock-free (see training_state)
            return self
        if "feature_names_in_" in self.__dict__:  # a DataFrame chunk: its names checked
            chunk = self._frame_chunk(X, y)
            if chunk is not None and self._fast_partial_fit(
                *chunk, sample_weight, key="_hot_named"
            ):
                return self
        if _is_dask(X):  # one pass over the partitions, on their workers
            from . import dask as _dask

            return _dask.partial_fit(self, X, y, sample_weight=sample_weight)
        lock = _LOCKS[id(self) >> 4 & _LOCK_MASK]  # self._training_lock(), inlined
        lock.acquire()
        try:
            self._atomic(
                self._fit_common,
                X,
                y,
                coef_init=None,
                intercept_init=None,
                sample_weight=sample_weight,
                max_iter=1,
                partial=True,
            )
            return self._warn_after_call()
        finally:
            lock.release()

    def _publish(self, lins, problem):
        lin = lins[0]  # a regressor has one model
        model = lin.model(problem)
        attrs = self.__dict__  # not parameters: skip __setattr__ (hot path)
        # coef_ in the fit's X dtype, intercept_ float64 (scikit-learn 1.9's dtypes)
        attrs["coef_"] = model[:-1].astype(attrs.get("_coef_dtype", _F64))
        attrs["intercept_"] = model[-1:].copy()
        attrs["t_"] = lin.t
        if "_sparse_coef" in attrs:
            attrs["coef_"] = _csr_coef(attrs["coef_"])
        attrs["_published"] = True  # the hot path drops these three on a change

    def predict(self, X) -> np.ndarray:
        """Return ``X @ coef_ + intercept_``, shape (n_samples,), float64 (float32 for float32 X).

        A dask collection ``X`` gives a lazy dask array (:func:`fastgd.dask.predict`).
        """
        if _is_dask(X):
            from . import dask as _dask

            return _dask.predict(self, X, "predict")
        return self._raw_decision(X)

    def _raw_decision(self, X):
        coef = _dense(self.coef_).reshape(-1) if hasattr(self, "coef_") else None
        X, scores = self._scores(X, coef)
        # intercept in X's dtype too: a float64 scalar would promote float32 results
        scores = scores + self.intercept_.astype(X.dtype)[0]
        return self._check_finite_output(X, scores)


class SGDClassifier(ClassifierMixin, _BaseSGD):
    """Linear classifier (binary, or one-vs-rest multiclass) trained by gradient descent."""

    _allowed_losses = C.CLASSIFICATION_LOSSES
    _estimator_type = "classifier"
    _is_classifier = True

    def __init__(
        self,
        loss="hinge",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        n_jobs=None,
        random_state=None,
        learning_rate="optimal",
        eta0=0.01,
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        warm_start=False,
        average=False,
        optimizer="sgd",
        batch_size=1,
        momentum=None,
        dampening=0.0,
        beta1=0.9,
        beta2=0.999,
        eps=None,
        amsgrad=False,
        weight_decay=None,
        lr_decay=0.0,
        initial_accumulator_value=0.0,
        rho=0.99,
        centered=False,
        t0=None,
        gamma=None,
        step_size=None,
        T_max=None,
        eta_min=0.0,
        intercept_decay=1.0,
        lazy_updates=False,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.momentum = momentum
        self.dampening = dampening
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.amsgrad = amsgrad
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.initial_accumulator_value = initial_accumulator_value
        self.rho = rho
        self.centered = centered
        self.t0 = t0
        self.gamma = gamma
        self.step_size = step_size
        self.T_max = T_max
        self.eta_min = eta_min
        self.intercept_decay = intercept_decay
        self.lazy_updates = lazy_updates

    def _encode_targets(self, y, *, first, partial):
        if partial and first and getattr(self, "_classes_arg", None) is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        y = self._check_labels(y)
        present = _labels_present(y)  # the one pass over y that sorts or hashes it
        if first:
            classes = present if not partial else np.unique(self._classes_arg)
            if classes.shape[0] < 2:
                raise ValueError(
                    f"The number of classes has to be greater than one; got {classes.shape[0]} class."
                )
            self._new_classes = classes
        else:
            classes = self.classes_
            if (
                partial
                and self._classes_arg is not None
                and not np.array_equal(np.unique(self._classes_arg), classes)
            ):
                raise ValueError(
                    f"`classes={self._classes_arg!r}` is not the same as on the first call to "
                    f"partial_fit, which was {classes!r}."
                )
        unknown = present[~np.isin(present, classes)]
        if unknown.size:
            raise ValueError(f"y contains labels {unknown!r} that are not in classes {classes!r}.")
        cw = self._expanded_class_weight(classes, y)
        if classes.shape[0] == 2:
            Y = np.empty((y.shape[0], 1))
            if not (
                y.dtype.kind in "iu"
                and classes.dtype.kind in "iu"
                and encode_labels(y, int(classes[0]), int(classes[1]), Y[:, 0])
            ):
                Y = np.where(y == classes[1], 1.0, -1.0).reshape(-1, 1)
            self._cw_pairs = [(cw[1], cw[0])]
        else:
            Y = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
            self._cw_pairs = [(cw[k], 1.0) for k in range(classes.shape[0])]
        return Y, y

    @staticmethod
    def _check_labels(y):
        """1-D class labels; integer/bool NumPy labels skip scikit-learn's target checks."""
        if type(y) is np.ndarray and y.ndim == 1 and y.dtype.kind in "biu":
            return y
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(y)
        return _column_or_1d(y)

    def _expanded_class_weight(self, classes, y):
        cw = self.class_weight
        if cw is None:
            return np.ones(classes.shape[0])
        from sklearn.utils.class_weight import compute_class_weight

        if cw == "balanced":
            return compute_class_weight("balanced", classes=classes, y=y)
        if not isinstance(cw, dict):
            raise ValueError(f"class_weight must be a dict, 'balanced' or None, got {cw!r}.")
        unknown = [k for k in cw if k not in set(classes.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown!r} that are not in classes {classes!r}."
            )
        for label, weight in cw.items():
            # as for sample_weight: a negative or non-finite weight is an input error, not
            # something to report later as divergence
            if (
                isinstance(weight, (bool, np.bool_))
                or not isinstance(weight, numbers.Real)
                or not math.isfinite(weight)
                or weight < 0
            ):
                raise ValueError(
                    f"class_weight[{label!r}] = {weight!r}; class weights must be finite "
                    "non-negative numbers."
                )
        return compute_class_weight(cw, classes=classes, y=y)

    def _class_sw(self, yk, k):
        pos, neg = self._cw_pairs[k]
        if pos == 1.0 and neg == 1.0:
            return None
        return np.where(yk > 0, pos, neg)

    @staticmethod
    def _binary_score(pred, y, sw):
        return float(np.average((pred > 0) == (y > 0), weights=sw)) if sw.sum() > 0 else 0.0

    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None) -> SGDClassifier:
        """Fit for up to ``max_iter`` epochs (one-vs-rest for more than two classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels.
        coef_init : array-like of shape (n_classes, n_features) (binary: (n_features,))
        intercept_init : array-like of shape (n_classes,) (binary: (1,))
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self : SGDClassifier

        Notes
        -----
        A dask array or DataFrame ``X`` trains on the workers of the current
        ``distributed.Client`` (:func:`fastgd.dask.fit`, ``scheme="auto"``).
        """
        if _is_dask(X):
            from . import dask as _dask

            return _dask.fit(
                self, X, y, coef_init=coef_init, intercept_init=intercept_init,
                sample_weight=sample_weight,
            )  # fmt: skip
        lock = _LOCKS[id(self) >> 4 & _LOCK_MASK]  # self._training_lock(), inlined
        lock.acquire()  # not `with`: half the cost on the partial_fit hot path
        try:
            self._atomic(
                self._fit_classifier, X, y, coef_init, intercept_init, sample_weight, False, None
            )
            return self._warn_after_call()
        finally:
            lock.release()

    def partial_fit(self, X, y, classes=None, sample_weight=None) -> SGDClassifier:
        """One epoch over ``X``; ``classes`` (all labels) is required on the first call.

        Chunk invariance, the mini-batch buffer and :meth:`flush` work as for
        :meth:`SGDRegressor.partial_fit`.
        """
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: a chunk does not "
                "know the class frequencies of the stream. Compute them once, e.g. with "
                "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, "
                "y=y), and pass class_weight as a dict."
            )
        if self._fast_partial_fit(X, y, sample_weight, classes):  # lock-free: training_state
            return self
        if "feature_names_in_" in self.__dict__:  # a DataFrame chunk: its names checked
            chunk = self._frame_chunk(X, y)
            if chunk is not None and self._fast_partial_fit(
                *chunk, sample_weight, classes, key="_hot_named"
            ):
                return self
        if _is_dask(X):  # one pass over the partitions, on their workers
            from . import dask as _dask

            return _dask.partial_fit(self, X, y, sample_weight=sample_weight, classes=classes)
        lock = _LOCKS[id(self) >> 4 & _LOCK_MASK]  # self._training_lock(), inlined
        lock.acquire()
        try:
            self._atomic(self._fit_classifier, X, y, None, None, sample_weight, True, classes)
            return self._warn_after_call()
        finally:
            lock.release()

    def _fit_classifier(self, X, y, coef_init, intercept_init, sample_weight, partial, classes):
        self._classes_arg = None if classes is None else np.asarray(classes)
        had = hasattr(self, "classes_")
        self._fit_common(
            X,
            y,
            coef_init=coef_init,
            intercept_init=intercept_init,
            sample_weight=sample_weight,
            max_iter=1 if partial else self.max_iter,
            partial=partial,
        )
        if not (partial and had):
            self.classes_ = self._new_classes
        return self

    def _fit_common(self, X, y, **kw):
        try:
            return super()._fit_common(X, y, **kw)
        except (DivergenceError, KeyboardInterrupt):
            if self.__dict__.get("_failure_committed"):  # fit kept a model: label it
                self.classes_ = self._new_classes
            raise

    def decision_function(self, X) -> np.ndarray:
        """Signed distance ``X @ coef_.T + intercept_``: (n_samples,) binary, else (n_samples, n_classes)."""
        if _is_dask(X):  # a lazy dask array (fastgd.dask.predict)
            from . import dask as _dask

            return _dask.predict(self, X, "decision_function")
        scores = self._raw_decision(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, shape (n_samples,) (a lazy dask array for dask ``X``)."""
        if _is_dask(X):
            from . import dask as _dask

            return _dask.predict(self, X, "predict")
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]

    def _check_proba(self):
        if self.loss not in ("log_loss", "modified_huber"):
            raise AttributeError(f"probability estimates are not available for loss={self.loss!r}")
        return True

    @property
    def predict_proba(self):
        """Class probabilities, shape (n_samples, n_classes); log_loss and modified_huber only.

        log_loss: ``1 / (1 + exp(-f))`` per class, one-vs-rest normalised;
        modified_huber: ``(clip(f, -1, 1) + 1) / 2``, normalised (uniform where all are 0).
        Accessing it for another loss raises ``AttributeError`` (so ``hasattr`` is False).
        """
        self._check_proba()
        return self._predict_proba

    @property
    def predict_log_proba(self):
        """``log(predict_proba(X))`` (``-inf`` where a probability is 0)."""
        self._check_proba()
        return self._predict_log_proba

    def _predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes).

        log_loss: ``1 / (1 + exp(-f))`` per class, one-vs-rest normalised;
        modified_huber: ``(clip(f, -1, 1) + 1) / 2``, normalised (uniform where all are 0).
        """
        if _is_dask(X):  # a lazy dask array (fastgd.dask.predict)
            from . import dask as _dask

            return _dask.predict(self, X, "predict_proba")
        scores = self.decision_function(X)
        binary = scores.ndim == 1
        if binary:
            scores = scores[:, None]
        if self.loss == "log_loss":
            prob = np.exp(-np.logaddexp(0.0, -scores))  # 1 / (1 + exp(-f)), no overflow
        else:
            prob = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        if binary:
            return np.hstack([1.0 - prob, prob])
        total = prob.sum(axis=1, keepdims=True)
        zero = total[:, 0] == 0
        prob[zero] = 1.0
        total[zero] = prob.shape[1]
        return prob / total

    def _predict_log_proba(self, X) -> np.ndarray:
        prob = self._predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(prob)


SGDRegressor.__doc__ = _docs.class_doc(
    SGDRegressor,
    """Linear regression by stochastic, mini-batch or full-batch gradient descent.

Minimises ``(1/n) sum_i sw_i L(x_i . w + b, y_i) + alpha R(w)`` over ``w`` and ``b``,
one row (``batch_size=1``), a mini-batch or every row per update. The parameter names,
defaults and per-sample trajectory are scikit-learn's ``SGDRegressor``'s (a drop-in
replacement); ``optimizer``, ``batch_size`` and the optimizer and schedule
hyperparameters are fastgd's additions. Every step is also written out in NumPy in
:mod:`fastgd.reference`.""",
    C.REGRESSION_LOSSES,
    examples=_REGRESSOR_EXAMPLE,
)
SGDClassifier.__doc__ = _docs.class_doc(
    SGDClassifier,
    """Linear classifier (binary, or one-vs-rest multiclass) trained by gradient descent.

Each binary problem minimises ``(1/n) sum_i sw_i cw_i L(x_i . w + b, y_i) + alpha R(w)``
with ``y_i`` in {-1, +1} (``cw`` the class weights). The parameter names, defaults and
per-sample trajectory are scikit-learn's ``SGDClassifier``'s; ``optimizer``,
``batch_size`` and the optimizer and schedule hyperparameters are fastgd's additions.""",
    C.CLASSIFICATION_LOSSES,
    extra_attributes="""
classes_ : ndarray of shape (n_classes,)
    The class labels.""",
)


def load(path) -> SGDRegressor | SGDClassifier:
    """Load an estimator saved by ``estimator.save(path)``, ready to continue training.

    The file is read by :func:`fastgd.checkpoint.read` (untrusted input: no code runs)
    and the estimator rebuilt by its own :meth:`~SGDRegressor.from_training_state`.
    """
    state = checkpoint.read(path)  # ValueError naming the file for anything malformed
    classes = {"SGDRegressor": SGDRegressor, "SGDClassifier": SGDClassifier}
    cls = classes.get(state["estimator"])
    if cls is None:
        raise ValueError(f"{path}: unknown estimator {state['estimator']!r}.")
    try:
        return cls.from_training_state(state)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ValueError(
            f"{path}: the checkpoint's contents do not fit together ({exc})"
            + ("" if str(exc).endswith(".") else ".")
        ) from None
