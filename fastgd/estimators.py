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
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from . import _docs, _sparse, checkpoint, options
from . import _layout as C
from ._driver import (
    DivergenceError,
    LinearState,
    Problem,
    identity_order,
    run_epochs,
    set_optimal_init,
    unit_weights,
)
from ._hotpath import _FAST_DTYPES, MAX_CURVE, HotPath
from ._kernels.targets import encode_labels, finite
from .options import check_bool as _check_bool
from .options import check_int as _check_int
from .options import check_real as _check_real

# plain 2-D float NumPy input takes the fast path below, everything else goes through
# scikit-learn's validation
# published from the models when first read after a partial_fit hot-path call
_LAZY_ATTRS = frozenset(("coef_", "intercept_", "t_"))


def _validate_data(*args, **kwargs):
    from sklearn.utils.validation import validate_data

    return validate_data(*args, **kwargs)


def _labels_present(y) -> np.ndarray:
    """``np.unique(y)``; integer labels in a small range are counted instead of hashed.

    A million int64 labels: about 1.5 ms counted against 5.5 ms in ``np.unique``.
    """
    if y.dtype.kind in "iu" and y.shape[0] > 0:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo <= 4 * y.shape[0] + 1024:
            counts = np.bincount((y - lo).astype(np.intp, copy=False), minlength=hi - lo + 1)
            return (np.flatnonzero(counts) + lo).astype(y.dtype)
    return np.unique(y)


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
        values = {name: getattr(self, name) for name in _OPTION_PARAMS}
        resolved = options.resolve(values, losses=self._allowed_losses, owner=type(self).__name__)
        problem = Problem(**vars(resolved))
        set_optimal_init(problem)
        return problem

    # --------------------------------------------------------------- validation
    def _check_X(self, X, *, reset: bool, finite: bool = False):
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
            return self._check_sparse_X(X, reset=reset, finite=finite)
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

    def _check_sparse_X(self, X, *, reset: bool, finite: bool):
        """A validated CSR matrix (:func:`fastgd._sparse.check_csr`): never densified.

        ``finite``: also check ``data`` for NaN / inf (prediction). A fit leaves that to
        the kernels, which stop at the first non-finite row; the fit then raises with
        the model unchanged, as for dense X.
        """
        from sklearn.utils.validation import _check_feature_names

        X = _sparse.check_csr(
            X,
            n_features=None if reset else self.n_features_in_,
            owner=type(self).__name__,
            finite=finite,
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
        fast_y = (
            type(y) is np.ndarray
            and y.ndim == 1
            and (y.dtype.kind in "iub" or (y.dtype.kind == "f" and finite(y)))
        )
        if not fast_y:
            with _naming("y"):
                y = _validate_data(
                    self,
                    "no_validation",
                    y,
                    reset=False,
                    y_numeric=not self._is_classifier,
                    multi_output=False,
                )
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
        if isinstance(sample_weight, numbers.Number):
            sw = np.full(n, float(sample_weight))
        else:
            try:
                sw = np.asarray(sample_weight, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"sample_weight must be numeric: {exc}") from None
            if sw.ndim != 1 or sw.shape[0] != n:
                raise ValueError(
                    f"sample_weight.shape == {sw.shape}, expected ({n},): one weight per row of X."
                )
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
    def _train(self, X, Y, sw, lins, problem, *, max_iter, rng, early_stopping, y_labels=None):
        """Run the driver on every binary/regression problem; commit only on success.

        ``Y`` has one column per linear model. Non-finite input leaves ``lins`` as they
        were; divergence leaves each at its last finite epoch and re-raises.
        """
        n = X.shape[0]
        rows = identity_order(n)
        val_rows = None
        if early_stopping:
            rows, val_rows = self._validation_split(y_labels, n)
            Xv = X[val_rows]
            if not np.isfinite(Xv.data if _sparse.issparse(Xv) else Xv).all():
                raise ValueError("Input X contains NaN or infinity; remove or impute them.")
            if not (sw[val_rows] > 0).any():
                raise ValueError(
                    "The sample weights of the validation set (early_stopping) are all zero; "
                    "use another random_state or validation_fraction."
                )
        n_iters, converged_all = [], True
        # ``lins`` are the call's own copies (or new): a failure discards them, and only an
        # interrupted one-vs-rest fit needs them back at their start (O(n_features) each,
        # so a single model takes no snapshot here: 47 ms per call at 2^20 columns before)
        saved = [lin.snapshot() for lin in lins] if len(lins) > 1 else None
        try:
            for k, lin in enumerate(lins):
                score = None
                if val_rows is not None:
                    score = self._validation_scorer(
                        X[val_rows], Y[val_rows, k], sw[val_rows], problem
                    )
                factor = self._class_sw(Y[:, k], k)
                n_iter, converged = run_epochs(
                    X,
                    Y[:, k],
                    sw if factor is None else sw * factor,
                    rows,
                    lin,
                    problem,
                    max_iter=max_iter,
                    tol=self.tol,
                    n_iter_no_change=self.n_iter_no_change,
                    shuffle=self.shuffle,
                    rng=rng,
                    validation_score=score,
                    verbose=self.verbose,
                )
                n_iters.append(n_iter)
                converged_all &= converged
        except DivergenceError:
            raise
        except KeyboardInterrupt:
            if saved is not None:
                # one-vs-rest: a model with some classes trained further than others
                # would be half-updated; undo the whole call instead
                for lin, snap in zip(lins, saved, strict=True):
                    lin.rollback(snap)
            raise
        except BaseException:
            if saved is not None:
                for lin, snap in zip(lins, saved, strict=True):
                    lin.rollback(snap)
            raise
        return max(n_iters), converged_all

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
        idx_train, idx_val = next(cv.split(np.zeros((n, 1)), y))
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

        O(d) per call: ``loss_curve_`` is computed from the models only when read.
        """
        if len(lins) == 1:  # the streaming hot path: no list-of-arrays conversions
            lin = lins[0]
            model = lin.model(problem)
            attrs = self.__dict__  # not parameters: skip __setattr__ (hot path)
            attrs["coef_"] = model[None, :-1].copy()
            attrs["intercept_"] = model[-1:].copy()
            attrs["t_"] = lin.t
            attrs["_published"] = True
            return
        models = np.array([lin.model(problem) for lin in lins])
        self.coef_ = models[:, :-1].copy()
        self.intercept_ = models[:, -1].copy()
        self.t_ = max(lin.t for lin in lins)
        self.__dict__["_published"] = True  # the hot path drops these three on a change

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
        self._interrupt_committed = False
        try:
            return fit(*args, **kwargs)
        except DivergenceError:
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and self.__dict__.get("_interrupt_committed"):
                return_state = None  # the model stands at its last completed epoch
            else:
                return_state = saved
            if return_state is not None:
                self.__dict__.clear()
                self.__dict__.update(return_state)
            raise
        finally:
            self.__dict__.pop("_interrupt_committed", None)

    def _fit_common(self, X, y, *, coef_init, intercept_init, sample_weight, max_iter, partial):
        problem = self._make_problem()
        first = not (partial and hasattr(self, "_lins"))
        X, y = self._check_X_y(X, y, reset=first)
        n, d = X.shape
        sw = self._check_sample_weight(sample_weight, n, allow_all_zero=partial)
        Y, labels = self._encode_targets(y, first=first, partial=partial)
        n_models = Y.shape[1]
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
            if coef_init is None and not partial and self.warm_start and hasattr(self, "coef_"):
                coef_init, intercept_init = self.coef_, self.intercept_
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
            lins = [LinearState.new(d, problem, coef0[k], b0[k]) for k in range(n_models)]
            rng = self._rng()
        pending = None
        if partial:
            X, Y, sw, pending = self._with_pending(X, Y, sw, problem, first)
            if X.shape[0] == 0:  # everything waits for a full mini-batch
                self._commit(lins, problem, rng, n_iter=1, pending=pending)
                return self
        try:
            n_iter, converged = self._train(
                X,
                Y,
                sw,
                lins,
                problem,
                max_iter=max_iter,
                rng=rng,
                early_stopping=self.early_stopping and not partial,
                y_labels=labels,
            )
        except DivergenceError:
            self._commit(lins, problem, rng, n_iter=None, pending=pending)
            raise
        except KeyboardInterrupt:
            # fit: keep the last completed epoch; partial_fit: its one epoch did not
            # complete, so the whole call is undone (by _atomic), buffer included
            if not partial:
                self._commit(lins, problem, rng, n_iter=None, pending=pending)
                self._interrupt_committed = True
            raise
        if partial:
            for lin in lins:
                if len(lin.loss_curve) > 2 * MAX_CURVE:
                    del lin.loss_curve[:-MAX_CURVE]  # bounded memory on endless streams
        self._commit(lins, problem, rng, n_iter=n_iter, pending=pending)
        self._hit_max_iter = not partial and not converged and self.tol is not None and max_iter > 1
        return self

    def _warn_if_not_converged(self):
        """scikit-learn's ConvergenceWarning, raised from the public ``fit`` (points at the caller)."""
        if self.__dict__.pop("_hit_max_iter", False):
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                "Maximum number of iteration reached before convergence. Consider increasing "
                "max_iter to improve the fit.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _with_pending(self, X, Y, sw, problem, first):
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
            raise ValueError(
                "Input X or y contains NaN or infinity in the rows that wait for the next "
                "mini-batch; remove or impute non-finite values before fitting."
            )
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
        the mini-batch buffer, ``(X, Y, sw)``, or None), ``classes`` and
        ``feature_names_in`` (or None). :meth:`from_training_state` inverts it; the
        arrays are copies.
        """
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
        }

    @classmethod
    def from_training_state(cls, state: dict):
        """An estimator standing exactly where :meth:`training_state` was taken.

        Every array is checked against the shapes the state implies before it is used;
        a state that does not fit together raises ``ValueError``.
        """
        params = dict(state["params"])
        est = cls(**params)
        problem = est._make_problem()
        d = int(state["n_features_in"])
        if d < 1:
            raise ValueError(f"n_features_in must be >= 1, got {d}.")
        lins = []
        for k, model in enumerate(state["models"]):
            p, st, ct = (
                np.asarray(model[key], dtype=np.float64) for key in ("params", "state", "counters")
            )
            if (
                p.shape != (d + 1,)
                or st.ndim != 2
                or st.shape[1] != d + 1
                or not 5 <= st.shape[0] <= C.N_ST
                or ct.ndim != 1
                or not 3 <= ct.shape[0] <= C.N_SC
            ):
                raise ValueError(f"model {k} has arrays of the wrong shape.")
            # states written before the carried dot have 5 state rows and 3 counters: the
            # missing carry restarts from the coefficients (see fastgd._kernels.carry)
            full_state = C.new_state(d)
            full_state[: st.shape[0]] = st
            full_counters = C.new_counters()
            full_counters[: ct.shape[0]] = ct
            lins.append(
                LinearState(p, full_state, full_counters, [float(v) for v in model["loss_curve"]])
            )
        n_models = len(lins)
        classes = state.get("classes")
        if est._is_classifier:
            if classes is None or len(classes) < 2:
                raise ValueError("a classifier's state needs at least two classes.")
            if n_models != (1 if len(classes) == 2 else len(classes)):
                raise ValueError(
                    f"{len(classes)} classes need "
                    f"{1 if len(classes) == 2 else len(classes)} models, got {n_models}."
                )
        elif n_models != 1:
            raise ValueError(f"a regressor's state has one model, got {n_models}.")
        est.n_features_in_ = d
        names = state.get("feature_names_in")
        if names is not None:
            if len(names) != d:
                raise ValueError(f"{len(names)} feature names for {d} features.")
            est.feature_names_in_ = np.asarray(names).astype(object)
        if classes is not None:
            est.classes_ = np.asarray(classes)
            est._classes_arg = None
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state["rng"]
        pending = state.get("pending")
        if pending is not None:
            pX = pending[0]
            if _sparse.issparse(pX):
                pX = _sparse.check_csr(pX, n_features=d, argument="the pending rows")
            else:
                pX = np.ascontiguousarray(pX)
            pY, psw = (np.asarray(a) for a in pending[1:])
            m = pX.shape[0] if pX.ndim == 2 else -1
            if (
                pX.ndim != 2
                or pX.shape[1] != d
                or pX.dtype not in _FAST_DTYPES
                or pY.shape != (m, n_models)
                or psw.shape != (m,)
            ):
                raise ValueError("the pending mini-batch rows have inconsistent shapes.")
            pending = (
                pX,
                np.asarray(pY, dtype=np.float64),
                np.asarray(psw, dtype=np.float64),
            )
        est._commit(lins, problem, rng, n_iter=int(state["n_iter"]), pending=pending)
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
        if self.n_pending_ == 0:
            return self
        return self._atomic(self._flush)

    def _flush(self):
        problem = self._make_problem()
        X, Y, sw = self._pending
        lins = [lin.copy() for lin in self._lins]
        rng = copy.deepcopy(self._rng_state)
        one_batch = dataclasses.replace(problem, batch_size=0)  # the remainder is one batch
        n_iter, _ = self._train(
            X, Y, sw, lins, one_batch, max_iter=1, rng=rng, early_stopping=False
        )
        self._commit(lins, problem, rng, n_iter=n_iter, pending=None)
        return self

    def _commit(self, lins, problem, rng, n_iter, pending=None):
        self.__dict__.pop("_hot", None)  # the hot path re-arms from the new state
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
        object.__setattr__(self, name, value)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_hot", None)  # scratch of the partial_fit hot path, rebuilt on demand
        state.pop("_ybuf", None)
        return state

    def __getattr__(self, name):
        # Only called when normal lookup fails: the partial_fit hot path leaves coef_,
        # intercept_ and t_ out of __dict__ and they are published here on first read.
        attrs = self.__dict__
        if name in _LAZY_ATTRS and "_lins" in attrs and "_problem" in attrs:
            self._publish(attrs["_lins"], attrs["_problem"])
            return attrs[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR (and CSC/COO, converted once) is never densified
        return tags

    def _check_predict_X(self, X):
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        return self._check_X(X, reset=False, finite=True)

    @staticmethod
    def _check_finite_output(X, scores):
        """Non-finite scores come from non-finite X (or overflow, which is returned as is)."""
        bad = ~np.isfinite(scores)
        if bad.any() and not _sparse.issparse(X):  # sparse X was checked finite already
            rows = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))
            if not np.isfinite(X[rows]).all():
                raise ValueError(
                    f"Input X contains NaN or infinity (row {rows[0]}); remove or impute "
                    "non-finite values."
                )
        return scores

    def _raw_decision(self, X):
        X = self._check_predict_X(X)
        scores = X @ self.coef_.T.astype(X.dtype, copy=False) + self.intercept_
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
        """
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
        return self._warn_if_not_converged()

    def partial_fit(self, X, y, sample_weight=None) -> SGDRegressor:
        """One epoch over ``X``, continuing parameters, optimizer state and ``t_``.

        Any chunking of a stream gives the same model as one pass over it in the same
        order (with ``shuffle=False``; ``shuffle=True`` shuffles within each chunk),
        bit for bit with per-sample updates. With ``batch_size > 1`` an incomplete last
        batch waits for the next call: see :meth:`flush`. With ``batch_size=None`` each
        call is one full-batch step over its chunk, so there the chunking matters.
        """
        if self._fast_partial_fit(X, y, sample_weight):
            return self
        return self._atomic(
            self._fit_common,
            X,
            y,
            coef_init=None,
            intercept_init=None,
            sample_weight=sample_weight,
            max_iter=1,
            partial=True,
        )

    def _publish(self, lins, problem):
        lin = lins[0]  # a regressor has one model
        model = lin.model(problem)
        attrs = self.__dict__  # not parameters: skip __setattr__ (hot path)
        attrs["coef_"] = model[:-1].copy()
        attrs["intercept_"] = model[-1:].copy()
        attrs["t_"] = lin.t
        attrs["_published"] = True  # the hot path drops these three on a change

    def predict(self, X) -> np.ndarray:
        """Return ``X @ coef_ + intercept_``, shape (n_samples,), float64 (float32 for float32 X)."""
        return self._raw_decision(X)

    def _raw_decision(self, X):
        X = self._check_predict_X(X)
        # intercept in X's dtype too: a float64 scalar would promote float32 results
        scores = X @ self.coef_.astype(X.dtype, copy=False) + self.intercept_.astype(X.dtype)[0]
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
        """
        self._atomic(
            self._fit_classifier, X, y, coef_init, intercept_init, sample_weight, False, None
        )
        return self._warn_if_not_converged()

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
        if self._fast_partial_fit(X, y, sample_weight, classes):
            return self
        return self._atomic(self._fit_classifier, X, y, None, None, sample_weight, True, classes)

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
        except DivergenceError:
            if not (kw["partial"] and hasattr(self, "classes_")):
                self.classes_ = self._new_classes
            raise

    def decision_function(self, X) -> np.ndarray:
        """Signed distance ``X @ coef_.T + intercept_``: (n_samples,) binary, else (n_samples, n_classes)."""
        scores = self._raw_decision(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, shape (n_samples,)."""
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
    state = checkpoint.read(path)
    classes = {"SGDRegressor": SGDRegressor, "SGDClassifier": SGDClassifier}
    cls = classes.get(state["estimator"])
    if cls is None:
        raise ValueError(f"{path}: unknown estimator {state['estimator']!r}.")
    try:
        return cls.from_training_state(state)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(
            f"{path}: the checkpoint's contents do not fit together ({exc})."
        ) from None
