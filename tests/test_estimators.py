"""Tests of fastgd.SGDRegressor / fastgd.SGDClassifier (DESIGN.md sections 4, 6 and 10).

1. scikit-learn's estimator checks;
2. step-for-step equivalence with scikit-learn's SGD (per-sample plain SGD, shuffle off);
3. bad input: a ValueError/TypeError naming the argument, and the estimator left as it was;
4. divergence: an error naming the epoch, and a finite model afterwards;
5. behaviour: probabilities, partial_fit, warm start, early stopping, float32, pickling,
   every optimizer at every batch mode.
"""

from __future__ import annotations

import copy
import itertools
import pickle
import re
import warnings

import numpy as np
import pytest
import sklearn.linear_model as sk
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd import SGDClassifier, SGDRegressor, _driver, reference

# ----------------------------------------------------------------------------- data


def _standardized(n=300, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return (X - X.mean(axis=0)) / X.std(axis=0), rng


@pytest.fixture(scope="module")
def reg_data():
    X, rng = _standardized()
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.3 + 0.1 * rng.normal(size=X.shape[0])
    return X, y


@pytest.fixture(scope="module")
def clf_data():
    """Standardized X, binary labels {0, 1} and 3-class labels {0, 1, 2}."""
    X, rng = _standardized(seed=1)
    score = X @ np.array([1.0, -1.0, 0.5, 0.2, 0.0]) + 0.3 * rng.normal(size=X.shape[0])
    return X, (score > 0).astype(int), np.digitize(score, [-0.6, 0.6])


# ------------------------------------------------------------- 1. scikit-learn checks

EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "per-sample SGD visits a weighted row once but a repeated row twice (and the "
        "permutations differ), so the trajectories differ; scikit-learn marks its own SGD so."
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "the same reason on CSR input (sparse = dense: the same trajectories as dense)."
    ),
}


# Checks that legitimately stop at max_iter (pyproject turns every warning into an error).
CONVERGENCE_WARNING_CHECKS = {
    # max_iter=1000, n_iter_no_change=20 on make_blobs(cluster_std=20) with class weights
    # 1000 : 0.0001: scikit-learn's own SGDClassifier reaches max_iter and warns there too.
    "check_class_weight_classifiers",
    # default max_iter on 10 rows whose weights select a single class: the unweighted
    # rows' losses keep changing, so the tol rule never fires (scikit-learn's SGD too)
    "check_classifiers_one_label_sample_weights",
}


# Checks that fit the default SGDRegressor (eta0=0.01, invscaling) on unscaled features
# (rng.normal(loc=100)): the loss grows from ~0.5 to ~1e26 and fastgd says so with a
# DivergenceWarning; scikit-learn's SGDRegressor returns the same blown-up model silently.
DIVERGENCE_WARNING_CHECKS = {
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
}


@parametrize_with_checks(
    [SGDRegressor(), SGDClassifier()],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    with warnings.catch_warnings():
        if name in CONVERGENCE_WARNING_CHECKS:
            warnings.simplefilter("ignore", ConvergenceWarning)
        if name in DIVERGENCE_WARNING_CHECKS and isinstance(estimator, SGDRegressor):
            warnings.simplefilter("ignore", fastgd.DivergenceWarning)
        check(estimator)


# ------------------------------------------------ 2. equivalence with scikit-learn

RTOL = 1e-9
ATOL = 1e-12  # only for coefficients that both implementations leave at (almost) 0


def _assert_same_fit(ours, theirs):
    assert_allclose(ours.coef_, theirs.coef_, rtol=RTOL, atol=ATOL)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=RTOL, atol=ATOL)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_


def _both(fastgd_cls, sk_cls, X, y, *, sample_weight=None, **params):
    with warnings.catch_warnings():
        # max_iter-limited fits with a tol warn in both libraries alike
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = fastgd_cls(**params).fit(X, y, sample_weight=sample_weight)
        theirs = sk_cls(**params).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


REG_GRID = [
    (lr, penalty, average)
    for lr, penalty, average in itertools.product(
        ["constant", "optimal", "invscaling"], ["l2", "l1", "elasticnet", None], [False, True]
    )
    # averaging with L1 differs on purpose: see test_average_with_l1_is_mean_of_exact_iterates
    if not (average and penalty in ("l1", "elasticnet"))
]


@pytest.mark.parametrize(("learning_rate", "penalty", "average"), REG_GRID)
def test_regressor_matches_sklearn(reg_data, learning_rate, penalty, average):
    X, y = reg_data
    alpha = 0.01
    if learning_rate == "optimal":
        # 'optimal' starts at eta ~ alpha^-1/4: keep the first steps stable on squared loss
        alpha, X = 0.1, 0.5 * X
    ours, theirs = _both(
        SGDRegressor,
        sk.SGDRegressor,
        X,
        y,
        learning_rate=learning_rate,
        penalty=penalty,
        average=average,
        alpha=alpha,
        eta0=0.01,
        max_iter=5,
        tol=None,
        shuffle=False,
    )
    _assert_same_fit(ours, theirs)
    assert np.abs(ours.coef_).max() < 10.0  # a tame trajectory, not a blow-up


def test_regressor_matches_sklearn_tol_stopped(reg_data):
    X, y = reg_data
    ours, theirs = _both(
        SGDRegressor,
        sk.SGDRegressor,
        X,
        y,
        alpha=0.01,
        eta0=0.01,
        tol=1e-3,
        max_iter=1000,
        shuffle=False,
    )
    _assert_same_fit(ours, theirs)
    assert 1 < ours.n_iter_ < 1000


def test_regressor_matches_sklearn_sample_weight(reg_data):
    X, y = reg_data
    sw = np.linspace(0.2, 2.0, X.shape[0])
    ours, theirs = _both(
        SGDRegressor,
        sk.SGDRegressor,
        X,
        y,
        sample_weight=sw,
        penalty="elasticnet",
        alpha=0.01,
        eta0=0.01,
        max_iter=4,
        tol=None,
        shuffle=False,
    )
    _assert_same_fit(ours, theirs)


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber", "perceptron"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_classifier_matches_sklearn(clf_data, loss, n_classes, class_weight):
    X, y2, y3 = clf_data
    y = y2 if n_classes == 2 else y3
    sw = np.linspace(0.5, 1.5, X.shape[0])
    # 'optimal' starts at eta = alpha^-1/4; modified_huber's quadratic piece then amplifies
    # rounding ~1e-16 -> 1e-7 within the first epoch at alpha=0.01 (chaotic, not a bug)
    alpha = 0.03 if loss == "modified_huber" else 0.01
    ours, theirs = _both(
        SGDClassifier,
        sk.SGDClassifier,
        X,
        y,
        sample_weight=sw,
        loss=loss,
        class_weight=class_weight,
        alpha=alpha,
        max_iter=5,
        tol=None,
        shuffle=False,
    )
    _assert_same_fit(ours, theirs)
    assert_array_equal(ours.classes_, theirs.classes_)
    assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("average", [False, True])
def test_classifier_matches_sklearn_tol_stopped(clf_data, average):
    X, _, y3 = clf_data
    ours, theirs = _both(
        SGDClassifier,
        sk.SGDClassifier,
        X,
        y3,
        loss="log_loss",
        alpha=0.01,
        penalty="l2",
        average=average,
        tol=1e-3,
        max_iter=1000,
        shuffle=False,
    )
    _assert_same_fit(ours, theirs)


def _reference_iterates(X, y, cfg, n_epochs):
    """Parameters after every update of per-sample plain SGD, from fastgd.reference."""
    d = X.shape[1]
    params = np.zeros(d + 1)
    state = reference.init_state(d)
    counters = reference.init_counters(cfg.eta0)
    sw = np.ones(X.shape[0])
    iterates = []
    for _ in range(n_epochs):
        for r in range(X.shape[0]):
            reference.run_epoch(X, y, sw, np.array([r]), params, state, counters, cfg)
            iterates.append(params.copy())
    return np.array(iterates)


def test_average_with_l1_is_mean_of_exact_iterates(reg_data):
    """fastgd averages the exact iterates; scikit-learn's lazy average does not.

    scikit-learn keeps the average lazily (a scaled accumulator updated with each step's
    gradient) and applies the cumulative-L1 clipping to the weights only, so every L1
    truncation leaks into its average. fastgd's averaged ``coef_`` is the plain mean of
    the parameter vectors after each update, which is what this test recomputes with the
    readable twin.
    """
    X, y = reg_data
    params = dict(
        penalty="l1",
        alpha=0.01,
        learning_rate="constant",
        eta0=0.01,
        max_iter=3,
        tol=None,
        shuffle=False,
    )
    model = SGDRegressor(average=True, **params).fit(X, y)
    cfg = reference.Config(
        loss="squared_error",
        penalty="l1",
        learning_rate="constant",
        eta0=0.01,
        alpha=0.01,
        batch_size=1,
        average=0,
    )
    iterates = _reference_iterates(X, y, cfg, n_epochs=3)
    assert model.t_ == iterates.shape[0] + 1
    mean = iterates.mean(axis=0)
    assert_allclose(model.coef_, mean[:-1], rtol=1e-10, atol=1e-13)
    assert_allclose(model.intercept_, mean[-1:], rtol=1e-10, atol=1e-13)
    # the last iterate is scikit-learn's non-averaged model ...
    plain = sk.SGDRegressor(**params).fit(X, y)
    assert_allclose(iterates[-1, :-1], plain.coef_, rtol=RTOL, atol=ATOL)
    # ... but scikit-learn's averaged model is not the mean of those iterates
    lazy = sk.SGDRegressor(average=True, **params).fit(X, y)
    assert not np.allclose(lazy.coef_, mean[:-1], rtol=1e-3, atol=1e-6)


# ---------------------------------------------------------------------- 3. bad input

N, D = 60, 4


def _small():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, D))
    y = X @ np.array([1.0, 2.0, -1.0, 0.5])
    return X, y


def _fitted(cls):
    X, y = _small()
    if cls is SGDClassifier:
        y = (y > 0).astype(int)
    model = cls(max_iter=3, tol=None, random_state=0).fit(X, y)
    return model, X, y


def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


def _fitted_state(model):
    state = {k: copy.deepcopy(v) for k, v in vars(model).items() if k.endswith("_")}
    state["loss_curve_"] = model.loss_curve_  # a property computed from the models
    return state


def _assert_unchanged(model, before, twin, X, y):
    """Fitted attributes equal ``before``, and the model behaves as its untouched ``twin``."""
    after = _fitted_state(model)
    assert after.keys() == before.keys()
    for key in ("coef_", "intercept_", "t_", "n_iter_", "n_features_in_"):
        assert_array_equal(after[key], before[key], err_msg=key)
    assert after["loss_curve_"] == before["loss_curve_"]
    if "classes_" in before:
        assert_array_equal(after["classes_"], before["classes_"])
    # the hidden state too (parameters, optimizer moments, shuffling stream): the next
    # partial_fit continues exactly as if the failed call had never happened
    model.partial_fit(X, y)
    twin.partial_fit(X, y)
    assert_array_equal(model.coef_, twin.coef_)
    assert model.t_ == twin.t_


nan_row = N // 2

BAD_DATA = {
    # name: (method, make (X, y, kwargs) from good X, y; exception, match)
    "X_nan": (lambda X, y: (_with(X, nan_row, 2, np.nan), y, {}), ValueError, r"X.*NaN"),
    "X_inf": (lambda X, y: (_with(X, nan_row, 1, np.inf), y, {}), ValueError, r"X.*inf"),
    "y_nan": (
        lambda X, y: (X, np.where(np.arange(N) == nan_row, np.nan, y), {}),
        ValueError,
        r"y.*NaN",
    ),
    "y_inf": (
        lambda X, y: (X, np.where(np.arange(N) == nan_row, np.inf, y), {}),
        ValueError,
        r"y.*inf",
    ),
    "X_1d": (lambda X, y: (X[:, 0], y, {}), ValueError, r"X.*2D array"),
    "X_3d": (lambda X, y: (X[:, :, None], y, {}), ValueError, r"X.*dim 3"),
    "length_mismatch": (
        lambda X, y: (X[:-1], y, {}),
        ValueError,
        r"X and y .*inconsistent numbers of samples",
    ),
    "X_empty": (lambda X, y: (X[:0], y[:0], {}), ValueError, r"X.*0 sample"),
    "X_strings": (
        lambda X, y: (np.full(X.shape, "a"), y, {}),
        (ValueError, TypeError),
        r"X.*(string|float)",
    ),
    "sample_weight_length": (
        lambda X, y: (X, y, {"sample_weight": np.ones(N - 1)}),
        ValueError,
        r"sample_weight",
    ),
    "sample_weight_negative": (
        lambda X, y: (X, y, {"sample_weight": np.where(np.arange(N) == 5, -1.0, 1.0)}),
        ValueError,
        r"sample_weight.*non-negative",
    ),
    "sample_weight_nan": (
        lambda X, y: (X, y, {"sample_weight": np.where(np.arange(N) == 5, np.nan, 1.0)}),
        ValueError,
        r"sample_weight.*NaN",
    ),
    # validation resets n_features_in_ before sample_weight is looked at
    "new_feature_count_and_bad_sample_weight": (
        lambda X, y: (X[:, :3], y, {"sample_weight": -np.ones(N)}),
        ValueError,
        r"sample_weight",
    ),
    "new_feature_count_and_nan": (
        lambda X, y: (_with(X, nan_row, 0, np.nan)[:, :3], y, {}),
        ValueError,
        r"X.*NaN",
    ),
}


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
@pytest.mark.parametrize(
    ("method", "case"),
    [
        (method, case)
        for method, case in itertools.product(["fit", "partial_fit"], sorted(BAD_DATA))
        # partial_fit cannot change the feature count: test_partial_fit_feature_count_change
        if not (method == "partial_fit" and case.startswith("new_feature_count"))
    ],
)
def test_bad_data_raises_and_leaves_model_unchanged(cls, method, case):
    make, exc, match = BAD_DATA[case]
    model, X, y = _fitted(cls)
    twin = copy.deepcopy(model)
    before = _fitted_state(model)
    Xb, yb, kwargs = make(X, y)
    with pytest.raises(exc, match=match):
        getattr(model, method)(Xb, yb, **kwargs)
    _assert_unchanged(model, before, twin, X, y)


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_predict_bad_X_names_X(cls):
    model, X, _ = _fitted(cls)
    method = "predict" if cls is SGDRegressor else "decision_function"
    with pytest.raises(ValueError, match=r"(?s)Invalid X.*Reshape your data"):
        getattr(model, method)(X[0])
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 4"):
        getattr(model, method)(X[:, :3])
    with pytest.raises((ValueError, TypeError), match=r"X.*(string|float)"):
        getattr(model, method)(np.full(X.shape, "a"))


def test_all_zero_sample_weight_rejected_by_fit():
    model, X, y = _fitted(SGDRegressor)
    twin, before = copy.deepcopy(model), _fitted_state(model)
    with pytest.raises(ValueError, match=r"sample_weight.*zero"):
        model.fit(X, y, sample_weight=np.zeros(N))
    _assert_unchanged(model, before, twin, X, y)


BAD_PARAMS = {
    "loss": ({"loss": "nope"}, ValueError, r"loss='nope'"),
    "penalty": ({"penalty": "l3"}, ValueError, r"penalty='l3'"),
    "optimizer": ({"optimizer": "lbfgs"}, ValueError, r"optimizer='lbfgs'"),
    "learning_rate": ({"learning_rate": "fast"}, ValueError, r"learning_rate='fast'"),
    "alpha": ({"alpha": -0.1}, ValueError, r"alpha"),
    "l1_ratio": ({"l1_ratio": 1.5}, ValueError, r"l1_ratio"),
    "eta0_constant": ({"learning_rate": "constant", "eta0": 0.0}, ValueError, r"eta0"),
    "beta1": ({"optimizer": "adam", "beta1": 1.0}, ValueError, r"beta1"),
    "batch_size": ({"batch_size": 0}, ValueError, r"batch_size"),
    "max_iter": ({"max_iter": 0}, ValueError, r"max_iter"),
    "momentum": ({"optimizer": "momentum", "momentum": 1.5}, ValueError, r"momentum"),
    "gamma_missing": ({"learning_rate": "step", "step_size": 10}, ValueError, r"gamma"),
    "alpha_type": ({"alpha": "big"}, TypeError, r"alpha"),
}


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
def test_bad_hyperparameter_raises_and_leaves_model_unchanged(cls, case):
    params, exc, match = BAD_PARAMS[case]
    model, X, y = _fitted(cls)
    twin, before = copy.deepcopy(model), _fitted_state(model)
    model.set_params(**params)
    with pytest.raises(exc, match=match):
        model.fit(X, y)
    model.set_params(**{k: twin.get_params()[k] for k in params})
    _assert_unchanged(model, before, twin, X, y)


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_partial_fit_feature_count_change(cls):
    model, X, y = _fitted(cls)
    twin, before = copy.deepcopy(model), _fitted_state(model)
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 4"):
        model.partial_fit(X[:, :3], y)
    _assert_unchanged(model, before, twin, X, y)


def test_partial_fit_classifier_needs_classes_first():
    X, y = _small()
    y = (y > 0).astype(int)
    model = SGDClassifier(random_state=0)
    with pytest.raises(ValueError, match=r"classes"):
        model.partial_fit(X, y)
    assert vars(model) == vars(SGDClassifier(random_state=0))  # still unfitted, nothing kept
    model.partial_fit(X, y, classes=[0, 1])  # and usable afterwards
    assert_array_equal(model.classes_, [0, 1])


def test_partial_fit_classifier_unseen_label():
    model = SGDClassifier(random_state=0)
    X, y = _small()
    y = (y > 0).astype(int)
    model.partial_fit(X, y, classes=[0, 1])
    twin, before = copy.deepcopy(model), _fitted_state(model)
    with pytest.raises(ValueError, match=r"y contains labels .*2.* not in classes"):
        model.partial_fit(X, np.where(np.arange(N) == 7, 2, y))
    _assert_unchanged(model, before, twin, X, y)


def test_early_stopping_all_zero_validation_weights():
    X, y = _small()
    model = SGDRegressor(early_stopping=True, validation_fraction=0.1, random_state=0)
    _, val = model._validation_split(None, N)
    sw = np.ones(N)
    sw[val] = 0.0  # weight only on the training rows
    with pytest.raises(ValueError, match=r"sample weights of the validation set"):
        model.fit(X, y, sample_weight=sw)
    assert not hasattr(model, "coef_")


# --------------------------------------------------------------------- 4. divergence


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_divergence_names_epoch_and_keeps_finite_model(cls):
    rng = np.random.default_rng(0)
    # unscaled: two columns on a scale where x.w overflows after one huge step
    X = rng.normal(size=(200, 4)) * np.array([1.0, 1e3, 1e160, 1e160])
    y = rng.normal(size=200)
    if cls is SGDClassifier:
        y = (y > 0).astype(int)
    model = cls(learning_rate="constant", eta0=1e6, max_iter=5, tol=None, random_state=0)
    with pytest.raises(ValueError, match=r"(?s)epoch #1\b.*[Ss]cal"):
        model.fit(X, y)
    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all()
    assert model.n_iter_ == 0 and model.loss_curve_ == []


def test_divergence_in_a_later_epoch_keeps_last_finite_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) * np.array([1.0, 1e3, 1e5, 1.0])
    y = 0.01 * X.sum(axis=1) + rng.normal(size=200)
    # the L2 term in the gradient multiplies w by (1 - eta alpha) = -99 every step
    model = SGDRegressor(
        optimizer="momentum",
        batch_size=16,
        learning_rate="constant",
        eta0=1e6,
        max_iter=50,
        tol=None,
        random_state=0,
    )
    with pytest.raises(ValueError, match=r"epoch #\d+") as info:
        model.fit(X, y)
    epoch = int(re.search(r"epoch #(\d+)", str(info.value)).group(1))
    assert epoch > 1
    assert "scal" in str(info.value).lower()
    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all()
    assert model.n_iter_ == len(model.loss_curve_) == epoch - 1


# ---------------------------------------------------------------------- 5. behaviour


def test_predict_proba_only_for_probabilistic_losses(clf_data):
    X, y2, y3 = clf_data
    assert not hasattr(SGDClassifier(loss="hinge"), "predict_proba")
    assert not hasattr(SGDClassifier(loss="hinge").fit(X, y2), "predict_log_proba")
    assert not hasattr(SGDClassifier(loss="perceptron"), "predict_proba")
    for loss, y in itertools.product(["log_loss", "modified_huber"], [y2, y3]):
        model = SGDClassifier(loss=loss, max_iter=5, tol=None, random_state=0).fit(X, y)
        for Xp in (X, 1e4 * X):  # huge scores: no overflow warning, still normalised
            prob = model.predict_proba(Xp)
            assert prob.shape == (X.shape[0], len(model.classes_))
            assert ((prob >= 0) & (prob <= 1)).all()
            assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-12)
            if loss == "log_loss" and Xp is X:  # (saturated probabilities tie)
                assert_array_equal(model.classes_[prob.argmax(axis=1)], model.predict(X))
            logp = model.predict_log_proba(Xp)
            assert_allclose(np.exp(logp), prob, rtol=1e-12, atol=1e-300)


def test_partial_fit_continues_t_and_matches_one_pass(reg_data):
    X, y = reg_data
    n = X.shape[0]
    params = dict(batch_size=1, shuffle=False, random_state=0, eta0=0.01)
    model = SGDRegressor(**params)
    model.partial_fit(X, y)
    assert model.t_ == n + 1
    model.partial_fit(X, y)
    assert model.t_ == 2 * n + 1
    # chunk invariance: two half chunks are one pass over the whole
    halves = SGDRegressor(**params).partial_fit(X[: n // 2], y[: n // 2])
    halves.partial_fit(X[n // 2 :], y[n // 2 :])
    whole = SGDRegressor(max_iter=1, tol=None, **params).fit(X, y)
    assert_allclose(halves.coef_, whole.coef_, rtol=1e-12)
    assert halves.t_ == whole.t_ == n + 1


def test_warm_start_starts_from_previous_coef(reg_data):
    X, y = reg_data
    params = dict(max_iter=2, tol=None, shuffle=False, eta0=0.01, learning_rate="constant")
    first = SGDRegressor(**params).fit(X, y)
    warm = copy.deepcopy(first).set_params(warm_start=True).fit(X, y)
    explicit = SGDRegressor(**params).fit(
        X, y, coef_init=first.coef_, intercept_init=first.intercept_
    )
    cold = copy.deepcopy(first).fit(X, y)
    assert_allclose(warm.coef_, explicit.coef_, rtol=1e-12)
    assert_allclose(warm.intercept_, explicit.intercept_, rtol=1e-12)
    assert_allclose(cold.coef_, first.coef_, rtol=1e-12)  # without warm_start: from zeros
    assert not np.allclose(warm.coef_, cold.coef_, rtol=1e-6)


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_early_stopping_stops(cls, reg_data, clf_data):
    X, y = reg_data if cls is SGDRegressor else (clf_data[0], clf_data[1])
    model = cls(early_stopping=True, n_iter_no_change=3, tol=1e-3, max_iter=1000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it converged: no warning
        model.fit(X, y)
    assert 3 < model.n_iter_ < 100
    assert len(model.loss_curve_) == model.n_iter_
    assert model.score(X, y) > (0.95 if cls is SGDRegressor else 0.85)


def test_convergence_warning_when_max_iter_reached(reg_data):
    X, y = reg_data
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        SGDRegressor(max_iter=2, tol=1e-12, random_state=0).fit(X, y)


def test_float32_stays_float32(reg_data, monkeypatch):
    X, y = reg_data
    seen = []
    original = _driver.run_epoch

    def spy(X, *args):
        seen.append(X.dtype)
        return original(X, *args)

    monkeypatch.setattr(_driver, "run_epoch", spy)
    params = dict(max_iter=5, tol=None, shuffle=False, eta0=0.01)
    m32 = SGDRegressor(**params).fit(X.astype(np.float32), y)
    assert seen and all(dt == np.float32 for dt in seen)
    m64 = SGDRegressor(**params).fit(X, y)
    pred32 = m32.predict(X.astype(np.float32))
    assert pred32.dtype == np.float32
    assert m32.coef_.dtype == np.float32  # scikit-learn 1.9's dtype; trained in float64
    assert m32._lins[0].params.dtype == np.float64
    assert_allclose(pred32, m64.predict(X), rtol=1e-4, atol=1e-4 * np.abs(y).max())
    assert_allclose(m32.coef_, m64.coef_, rtol=1e-4, atol=1e-6)


def test_loss_curve_has_one_entry_per_epoch(reg_data, clf_data):
    X, y = reg_data
    stopped = SGDRegressor(random_state=0).fit(X, y)
    assert len(stopped.loss_curve_) == stopped.n_iter_ < 1000
    Xc, _, y3 = clf_data
    capped = SGDClassifier(max_iter=4, tol=None, random_state=0).fit(Xc, y3)
    assert capped.n_iter_ == 4 and len(capped.loss_curve_) == 4
    assert all(np.isfinite(capped.loss_curve_))


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_pickle_round_trip(cls, reg_data, clf_data):
    X, y = reg_data if cls is SGDRegressor else (clf_data[0], clf_data[2])
    model = cls(
        max_iter=3, tol=None, random_state=0, optimizer="adam", eta0=0.01, learning_rate="constant"
    ).fit(X, y)
    clone = pickle.loads(pickle.dumps(model))
    method = "predict" if cls is SGDRegressor else "decision_function"
    assert_array_equal(getattr(clone, method)(X), getattr(model, method)(X))
    # the optimizer state and the shuffling stream survive too
    model.partial_fit(X, y)
    clone.partial_fit(X, y)
    assert_array_equal(clone.coef_, model.coef_)


OPTIMIZER_ETA0 = {
    "sgd": 0.05,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.5,
    "rmsprop": 0.01,
    "adam": 0.05,
    "adamw": 0.05,
}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZER_ETA0))
@pytest.mark.parametrize("batch_size", [1, 16, None])
def test_every_optimizer_fits_a_simple_regression(reg_data, optimizer, batch_size):
    X, y = reg_data
    eta0 = OPTIMIZER_ETA0[optimizer]
    if batch_size is None and optimizer in ("sgd", "momentum", "nesterov"):
        eta0 *= 10  # one update per epoch: a larger step
    model = SGDRegressor(
        optimizer=optimizer,
        batch_size=batch_size,
        learning_rate="constant",
        eta0=eta0,
        penalty=None,
        max_iter=200,
        tol=None,
        random_state=0,
    )
    model.fit(X, y)
    assert model.score(X, y) > 0.9
    assert model.n_iter_ == 200


def test_public_names():
    assert set(fastgd.__all__) >= {"SGDRegressor", "SGDClassifier"}


def test_estimators_are_scikit_learn_estimators():
    """BaseEstimator and the mixins: metadata routing of sample_weight through a Pipeline
    and GridSearchCV, the HTML repr, is_regressor / is_classifier."""
    import sklearn
    from sklearn.base import BaseEstimator, is_classifier, is_regressor
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert isinstance(SGDRegressor(), BaseEstimator) and is_regressor(SGDRegressor())
    assert isinstance(SGDClassifier(), BaseEstimator) and is_classifier(SGDClassifier())
    assert "SGDRegressor" in SGDRegressor(eta0=0.1)._repr_html_()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ [1.0, -1.0, 0.5]
    sw = rng.uniform(0.5, 2.0, size=120)
    with sklearn.config_context(enable_metadata_routing=True):
        reg = (
            SGDRegressor(random_state=0, max_iter=20, tol=None)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True)
        )
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), reg)
        pipe.fit(X, y, sample_weight=sw)
        direct = SGDRegressor(random_state=0, max_iter=20, tol=None).fit(
            StandardScaler().fit_transform(X), y, sample_weight=sw
        )
        np.testing.assert_array_equal(pipe[-1].coef_, direct.coef_)
        search = GridSearchCV(pipe, {"sgdregressor__eta0": [0.01, 0.02]}, cv=3)
        search.fit(X, y, sample_weight=sw)
        assert search.best_score_ > 0.99


def test_works_inside_scikit_learn_tools():
    from sklearn.base import clone, is_classifier, is_regressor
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)) * [1, 10, 100, 1000]
    y = X @ [1.0, 0.1, 0.01, 0.001] + 0.5
    reg = fastgd.SGDRegressor(
        optimizer="adam",
        learning_rate="constant",
        eta0=0.05,
        batch_size=16,
        penalty=None,
        random_state=0,
        tol=None,
        max_iter=30,
    )
    assert is_regressor(reg) and not is_classifier(reg)
    assert is_classifier(fastgd.SGDClassifier())
    twin = clone(reg)
    assert twin is not reg and twin.get_params() == reg.get_params()
    pipe = make_pipeline(StandardScaler(), reg)
    assert cross_val_score(pipe, X, y, cv=3).min() > 0.99
    search = GridSearchCV(pipe, {"sgdregressor__eta0": [0.01, 0.05]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.99
    assert "eta0=0.05" in repr(reg) and "optimizer='adam'" in repr(reg)
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        reg.set_params(nope=1)


# ------------------------------------------- refused weights and eps (issue 17, item 10/14)
@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), "heavy", True])
def test_bad_class_weight_is_refused_and_changes_nothing(weight):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = SGDClassifier(max_iter=3, tol=None).fit(X, y)
    coef = model.coef_.copy()
    model.set_params(class_weight={0: weight, 1: 1.0})
    with pytest.raises(ValueError, match=r"class_weight\[0\].*finite non-negative"):
        model.fit(X, y)
    assert_allclose(model.coef_, coef, rtol=0, atol=0)


def test_eps_must_be_positive():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=r"eps must be a finite number in \(0, inf\)"):
        SGDRegressor(optimizer="adam", eps=0.0).fit(X, X[:, 0])


@pytest.mark.parametrize("name", ["batch_size", "max_iter", "n_iter_no_change"])
def test_huge_integer_options_are_refused(name):
    """2**63 does not fit the kernels' int64 (batch_size=2**63 used to hang)."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=rf"{name} must be <= 2\*\*62"):
        SGDRegressor(**{name: 2**63}).fit(X, X[:, 0])
