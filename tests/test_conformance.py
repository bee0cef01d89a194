"""fastgd against scikit-learn's own SGD estimators, side by side (issue 18, items 4-6).

1. DataFrames (pandas, polars): feature names, and warnings only where scikit-learn gives
   them; DataFrame chunks train as their arrays do;
2. partial_fit with early_stopping, ConvergenceWarning at max_iter=1, early stopping's
   validation rows with a RandomState instance, predict_proba's AttributeError,
   l1_ratio=None, sparsify / densify, float32 coef_;
3. small things: lazy submodules and a light ``import fastgd``.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sk
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import fastgd

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

PAIRS = [(sk.SGDRegressor, fastgd.SGDRegressor), (sk.SGDClassifier, fastgd.SGDClassifier)]
NAMES = ["alpha", "beta", "gamma", "delta"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3 + 0.1 * rng.normal(size=120)
    return X, y, (y > 0.3).astype(int), np.digitize(y, [-1.0, 1.0])


def _target(cls, data):
    X, y, yb, _ = data
    return yb if cls in (sk.SGDClassifier, fastgd.SGDClassifier) else y


def _frame(lib, X, names=NAMES):
    if lib == "pandas":
        return pd.DataFrame(X, columns=names)
    return pl.DataFrame(X, schema=names)


def _series(lib, y):
    return pd.Series(y, name="target") if lib == "pandas" else pl.Series("target", y)


def _calls(cls, X, y, X_other):
    """The warnings of fit, partial_fit, predict, score on ``X`` and predict on
    ``X_other``, as (category, message with the class name normalised)."""
    extra = {"classes": np.unique(y)} if "Classifier" in cls.__name__ else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = cls(max_iter=3, tol=None, random_state=0).fit(X, y)
        model.partial_fit(X, y, **extra)
        model.predict(X)
        model.score(X, y)
        model.predict(X_other)
        cls(max_iter=3, tol=None, random_state=0).partial_fit(X, y, **extra).partial_fit(X, y)
    return model, [(w.category, str(w.message)) for w in caught]


# ------------------------------------------------------------- 1. feature names
@pytest.mark.parametrize("lib", ["pandas", "polars"])
@pytest.mark.parametrize("y_kind", ["series", "list", "ndarray"])
@pytest.mark.parametrize("pair", PAIRS, ids=["regressor", "classifier"])
def test_feature_names_and_warnings_as_scikit_learn(data, lib, y_kind, pair):
    """A DataFrame X and a Series / list / array y: feature_names_in_ from X, and exactly
    scikit-learn's warnings (only predict on a plain array warns)."""
    X = data[0]
    y = _target(pair[0], data)
    frame = _frame(lib, X)
    y_in = {"series": _series(lib, y), "list": y.tolist(), "ndarray": y}[y_kind]
    theirs, their_warnings = _calls(pair[0], frame, y_in, X)
    ours, our_warnings = _calls(pair[1], frame, y_in, X)
    assert our_warnings == their_warnings
    assert len(our_warnings) == 1 and "does not have valid feature names" in our_warnings[0][1]
    assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    assert ours.feature_names_in_.dtype == object and ours.n_features_in_ == 4


@pytest.mark.parametrize("pair", PAIRS, ids=["regressor", "classifier"])
def test_feature_name_rules_as_scikit_learn(data, pair):
    """Names from an ndarray fit, renamed / reordered columns, non-string names."""
    X = data[0]
    y = _target(pair[0], data)
    for cls in pair:  # fitted on an array, predicted on a frame: "X has feature names"
        _, caught = _calls(cls, X, y, _frame("pandas", X))
        assert len(caught) == 1 and "X has feature names, but" in caught[0][1]
    for columns in (["alpha", "beta", "gamma", "epsilon"], NAMES[::-1]):
        messages = []
        for cls in pair:
            model = cls(max_iter=2, tol=None).fit(_frame("pandas", X), y)
            with pytest.raises(ValueError, match="The feature names should match") as info:
                model.predict(_frame("pandas", X, columns))
            messages.append(str(info.value))
        assert messages[1] == "Invalid X: " + messages[0]  # fastgd names the argument
    for cls in pair:  # integer column names are no feature names, in either library
        model = cls(max_iter=2, tol=None).fit(pd.DataFrame(X), y)
        assert not hasattr(model, "feature_names_in_")
        model.predict(X)  # no warning (filterwarnings=error)
    # a stream of frames, then an array chunk: scikit-learn's warning, from each
    extra = {"classes": np.unique(y)} if "Classifier" in pair[0].__name__ else {}
    for cls in pair:
        model = cls(max_iter=2, tol=None).fit(_frame("pandas", X), y)
        model.partial_fit(_frame("pandas", X), y, **extra)
        model.partial_fit(_frame("pandas", X), y, **extra)
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            model.partial_fit(X, y, **extra)
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            model.partial_fit(X, y, **extra)
    # a refit on an array forgets the names, in both
    for cls in pair:
        model = cls(max_iter=2, tol=None).fit(_frame("polars", X), y).fit(X, y)
        assert not hasattr(model, "feature_names_in_")


def test_grid_search_on_frames_gives_no_warning(data):
    """The issue's case: 21 warnings in a small grid search on a DataFrame and a Series."""
    from sklearn.model_selection import GridSearchCV

    X, y = data[0], data[1]
    search = GridSearchCV(
        fastgd.SGDRegressor(max_iter=5, tol=None, random_state=0),
        {"alpha": [1e-4, 1e-3], "eta0": [0.01, 0.02]},
        cv=3,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(_frame("pandas", X), _series("pandas", y))
        search.predict(_frame("pandas", X))
    assert caught == []
    assert list(search.best_estimator_.feature_names_in_) == NAMES


@pytest.mark.parametrize("lib", ["pandas", "polars"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_frame_chunks_train_as_their_arrays(data, lib, dtype):
    """partial_fit on DataFrame chunks and Series targets gives the bits of the same
    chunks as arrays (regressor and multiclass classifier), float32 kept float32."""
    X, y, _, y3 = data
    X = X.astype(dtype)
    for cls, target, extra in (
        (fastgd.SGDRegressor, y, {}),
        (fastgd.SGDClassifier, y3, {"classes": [0, 1, 2]}),
    ):
        framed = cls(shuffle=False, random_state=0)
        plain = cls(shuffle=False, random_state=0)
        for start in range(0, 120, 30):
            rows = slice(start, start + 30)
            framed.partial_fit(_frame(lib, X[rows]), _series(lib, target[rows]), **extra)
            plain.partial_fit(X[rows], target[rows], **extra)
        assert_array_equal(framed.coef_, plain.coef_)
        assert_array_equal(framed.intercept_, plain.intercept_)
        assert framed.coef_.dtype == dtype
        assert_array_equal(framed.predict(_frame(lib, X)), plain.predict(X))
    # a frame with NaN is refused with the row named, as an array with NaN is
    bad = X.copy()
    bad[7, 2] = np.nan
    model = fastgd.SGDRegressor().fit(_frame(lib, X), y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="row 7"):
        model.partial_fit(_frame(lib, bad), y)
    assert_array_equal(model.coef_, coef)


def test_mixed_and_non_float_frames_as_scikit_learn(data):
    """Integer, mixed and nullable columns go through scikit-learn's conversion."""
    X, y = data[0], data[1]
    mixed = pd.DataFrame({"a": X[:, 0], "b": (X[:, 1] * 10).astype(int), "c": X[:, 2]})
    ours = fastgd.SGDRegressor(max_iter=3, tol=None, shuffle=False).fit(mixed, y)
    plain = fastgd.SGDRegressor(max_iter=3, tol=None, shuffle=False).fit(
        mixed.to_numpy(dtype=np.float64), y
    )
    assert_array_equal(ours.coef_, plain.coef_)
    assert list(ours.feature_names_in_) == ["a", "b", "c"]
    nullable = pd.DataFrame({"a": pd.array([1.0, None, 2.0], dtype="Float64")})
    with pytest.raises(ValueError, match="NaN"):
        fastgd.SGDRegressor().fit(nullable, [1.0, 2.0, 3.0])


# ------------------------------------------------------------ 2. conformance
@pytest.mark.parametrize("pair", PAIRS, ids=["regressor", "classifier"])
def test_partial_fit_refuses_early_stopping_as_scikit_learn(data, pair):
    X = data[0]
    y = _target(pair[0], data)
    extra = {"classes": [0, 1]} if "Classifier" in pair[0].__name__ else {}
    for cls in pair:
        with pytest.raises(ValueError, match="early_stopping should be False with partial_fit"):
            cls(early_stopping=True).partial_fit(X, y, **extra)
    ours = pair[1](early_stopping=True)
    with pytest.raises(ValueError):
        ours.partial_fit(X, y, **extra)
    assert not hasattr(ours, "coef_")  # nothing was trained
    # scikit-learn checks on the first call only: after fit, partial_fit goes on
    for cls in pair:
        model = cls(early_stopping=True, random_state=0).fit(X, y)
        model.partial_fit(X, y)
        assert np.isfinite(model.coef_).all()


@pytest.mark.parametrize("pair", PAIRS, ids=["regressor", "classifier"])
def test_convergence_warning_at_max_iter_1(data, pair):
    X = data[0]
    y = _target(pair[0], data)
    for cls in pair:
        with pytest.warns(ConvergenceWarning, match="Maximum number of iteration reached"):
            cls(max_iter=1, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cls in pair:  # tol=None: no stopping criterion, no warning
            cls(max_iter=1, tol=None, random_state=0).fit(X, y)


@pytest.mark.parametrize("pair", PAIRS, ids=["regressor", "classifier"])
def test_random_state_instance_holds_out_scikit_learns_rows(data, pair):
    """With a RandomState, the validation rows are drawn before the shuffling seed, as in
    scikit-learn: unshuffled per-sample SGD then trains on the same rows and stops on the
    same validation scores (same coefficients, same epoch of stopping)."""
    X = data[0]
    y = _target(pair[0], data)
    params = dict(early_stopping=True, shuffle=False, n_iter_no_change=3, validation_fraction=0.2)
    rs_theirs, rs_ours = np.random.RandomState(7), np.random.RandomState(7)
    theirs = pair[0](random_state=rs_theirs, **params).fit(X, y)
    ours = pair[1](random_state=rs_ours, **params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10, atol=1e-12)
    # (scikit-learn's StratifiedShuffleSplit does not advance a RandomState it is given,
    # so the classifier's rows never depended on the order; ShuffleSplit does)
    # the split is the first thing drawn from the RandomState: a shuffled fit holds out
    # those rows too (it trains on the others only: refitting on them alone, without
    # early stopping and for as many epochs, gives the same model)
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    splitter = StratifiedShuffleSplit if "Classifier" in pair[0].__name__ else ShuffleSplit
    train, _ = next(
        splitter(test_size=0.2, random_state=np.random.RandomState(7)).split(X[:, :1], y)
    )
    again = pair[1](shuffle=False, max_iter=ours.n_iter_, tol=None, random_state=0)
    again.fit(X[np.sort(train)], y[np.sort(train)])
    assert_array_equal(again.coef_, ours.coef_)


def test_predict_proba_on_hinge_says_why(data):
    X, yb = data[0], data[2]
    theirs = sk.SGDClassifier(max_iter=3, tol=None).fit(X, yb)
    ours = fastgd.SGDClassifier(max_iter=3, tol=None).fit(X, yb)
    for name in ("predict_proba", "predict_log_proba"):
        assert not hasattr(ours, name) and not hasattr(theirs, name)
        with pytest.raises(AttributeError) as mine:
            getattr(ours, name)
        with pytest.raises(AttributeError) as sklearns:
            getattr(theirs, name)
        text = str(mine.value)
        assert text.startswith(str(sklearns.value))  # "This 'SGDClassifier' has no ..."
        assert "probability estimates are not available for loss='hinge'" in text
        assert "loss='log_loss'" in text
        assert str(mine.value.__cause__) == str(sklearns.value.__cause__)
    proba = fastgd.SGDClassifier(loss="log_loss", max_iter=3, tol=None).fit(X, yb)
    assert hasattr(proba, "predict_proba") and proba.predict_proba(X).shape == (120, 2)


@pytest.mark.parametrize("penalty", ["l2", "l1", None])
def test_l1_ratio_none_unless_elasticnet(data, penalty):
    X, y = data[0], data[1]
    params = dict(penalty=penalty, l1_ratio=None, shuffle=False, max_iter=4, tol=None)
    theirs = sk.SGDRegressor(**params).fit(X, y)
    ours = fastgd.SGDRegressor(**params).fit(X, y)
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)
    for cls in (sk.SGDRegressor, fastgd.SGDRegressor):
        with pytest.raises(ValueError, match="l1_ratio must be set when penalty is 'elasticnet'"):
            cls(penalty="elasticnet", l1_ratio=None).fit(X, y)
    model = fastgd.SGDRegressor(penalty="elasticnet", l1_ratio=None)
    with pytest.raises(ValueError):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("pair", PAIRS, ids=["regressor", "classifier"])
def test_sparsify_and_densify(data, pair):
    X = data[0]
    y = _target(pair[0], data)
    if "Classifier" in pair[0].__name__:
        y = data[3]  # three classes: a (3, d) coef_
    for cls in pair:
        with pytest.raises(NotFittedError):
            cls().sparsify()
    params = dict(penalty="l1", alpha=0.05, max_iter=5, tol=None, random_state=0)
    theirs = pair[0](**params).fit(X, y).sparsify()
    ours = pair[1](**params).fit(X, y)
    dense, before = ours.coef_.copy(), ours.predict(X)
    assert ours.sparsify() is ours
    assert type(ours.coef_) is type(theirs.coef_) and sp.issparse(ours.coef_)
    assert ours.coef_.format == "csr" and ours.coef_.shape == theirs.coef_.shape
    assert_array_equal(ours.coef_.toarray().reshape(dense.shape), dense)
    assert ours.coef_.nnz == np.count_nonzero(dense)  # only the nonzeros are stored
    assert_array_equal(ours.predict(X), before)
    assert_allclose(ours.predict(sp.csr_matrix(X)), before, rtol=1e-12, atol=1e-14)
    ours.score(X, y)
    clone = pickle.loads(pickle.dumps(ours))
    assert sp.issparse(clone.coef_)
    assert_array_equal(clone.predict(X), before)
    # partial_fit trains on and keeps coef_ sparse; densify gives the same values dense
    ours.partial_fit(X, y)
    ours.partial_fit(X, y)
    assert sp.issparse(ours.coef_)
    trained = ours.coef_.toarray().reshape(dense.shape)
    assert not np.array_equal(trained, dense)
    assert ours.densify() is ours and type(ours.coef_) is np.ndarray
    assert ours.coef_.shape == dense.shape and theirs.densify().coef_.shape == dense.shape
    assert_array_equal(ours.coef_, trained)
    assert ours.densify().coef_ is ours.coef_  # densify on a dense coef_: nothing changes
    # fit starts a new model, dense; warm_start continues from the sparse model's values
    ours.sparsify()
    warm = pickle.loads(pickle.dumps(ours)).set_params(warm_start=True, max_iter=1)
    explicit = pair[1](**dict(params, max_iter=1)).fit(
        X, y, coef_init=trained, intercept_init=ours.intercept_
    )
    warm.fit(X, y)
    assert type(warm.coef_) is np.ndarray
    assert_allclose(warm.coef_, explicit.coef_, rtol=1e-12)
    assert type(ours.fit(X, y).coef_) is np.ndarray


@pytest.mark.parametrize("kind", ["regressor", "binary", "multiclass"])
@pytest.mark.parametrize("sparse", [False, True])
def test_float32_coef_as_scikit_learn(data, kind, sparse):
    """float32 X: coef_ (and intercept_) in scikit-learn 1.9's dtypes; trained in float64."""
    X = data[0].astype(np.float32)
    X_in = sp.csr_matrix(X) if sparse else X
    target = {"regressor": data[1], "binary": data[2], "multiclass": data[3]}[kind]
    pair = PAIRS[0] if kind == "regressor" else PAIRS[1]
    params = dict(max_iter=3, tol=None, shuffle=False)
    theirs = pair[0](**params).fit(X_in, target)
    ours = pair[1](**params).fit(X_in, target)
    assert ours.coef_.dtype == theirs.coef_.dtype == np.float32
    assert ours.intercept_.dtype == theirs.intercept_.dtype
    assert all(lin.params.dtype == np.float64 for lin in ours._lins)
    wide = pair[1](**params).fit(X.astype(np.float64), target)
    assert wide.coef_.dtype == np.float64
    assert_allclose(ours.coef_, wide.coef_, rtol=1e-4, atol=1e-6)
    # the published values are the float64 parameters rounded once
    own = np.array([lin.model(ours._problem)[:-1] for lin in ours._lins])
    assert_array_equal(ours.coef_.reshape(own.shape), own.astype(np.float32))


def test_float32_through_partial_fit_warm_start_and_state(data):
    X, y = data[0], data[1]
    X32 = X.astype(np.float32)
    # partial_fit: the first call's dtype stays, whatever later chunks are
    stream = fastgd.SGDRegressor(shuffle=False).partial_fit(X32[:60], y[:60])
    assert stream.coef_.dtype == np.float32
    stream.partial_fit(X[60:], y[60:])
    assert stream.coef_.dtype == np.float32
    assert stream.predict(X32).dtype == np.float32
    # warm_start continues from the float64 parameters, not from the float32 coef_
    model = fastgd.SGDRegressor(shuffle=False, max_iter=3, tol=None).fit(X32, y)
    lin = model._lins[0]
    exact_coef, exact_b = lin.params[:-1].copy(), lin.params[-1:].copy()
    assert not np.array_equal(exact_coef.astype(np.float32).astype(np.float64), exact_coef)
    explicit = fastgd.SGDRegressor(shuffle=False, max_iter=3, tol=None).fit(
        X32, y, coef_init=exact_coef, intercept_init=exact_b
    )
    model.set_params(warm_start=True).fit(X32, y)
    assert_array_equal(model.coef_, explicit.coef_)
    assert_array_equal(model._lins[0].params, explicit._lins[0].params)
    # a user's own coef_ is respected by warm_start
    model.coef_ = np.zeros(4, dtype=np.float32)
    model.intercept_ = np.zeros(1)
    zero = fastgd.SGDRegressor(shuffle=False, max_iter=3, tol=None).fit(X32, y)
    assert_array_equal(model.fit(X32, y).coef_, zero.coef_)
    # the training state records the dtype; the restored model publishes it
    state = model.training_state()
    assert state["coef_dtype"] == "float32"
    restored = fastgd.SGDRegressor.from_training_state(state)
    assert restored.coef_.dtype == np.float32
    assert_array_equal(restored.coef_, model.coef_)
    restored.partial_fit(X32, y)
    model.partial_fit(X32, y)
    assert_array_equal(restored.coef_, model.coef_)
    with pytest.raises(ValueError, match="coef_dtype must be 'float32' or 'float64'"):
        fastgd.SGDRegressor.from_training_state(dict(state, coef_dtype="float16"))
    old = {k: v for k, v in state.items() if k != "coef_dtype"}  # an older state
    assert fastgd.SGDRegressor.from_training_state(old).coef_.dtype == np.float64


# ------------------------------------------------------------- 3. small things
def test_submodules_load_lazily():
    """fastgd.stream and fastgd.plot work after a plain ``import fastgd``, which itself
    imports none of the optional libraries (beyond what scikit-learn imports)."""
    code = """
import sys
import numba, scipy.sparse, sklearn.base, sklearn.exceptions, sklearn.utils
before = set(sys.modules)
import fastgd
new = set(sys.modules) - before
heavy = {"matplotlib", "pyarrow", "pandas", "polars", "dask", "distributed"}
bad = sorted(m for m in new if m.split(".")[0] in heavy)
lazy = sorted(m for m in new if m in {"fastgd.stream", "fastgd.plot", "fastgd.dask",
                                       "fastgd.demo", "fastgd.cli", "fastgd.benchmark"})
assert not bad and not lazy, (bad, lazy)
assert fastgd.stream.read_csv and fastgd.plot.loss_curves and fastgd.DivergenceError
assert "fastgd.stream" in sys.modules and "fastgd.plot" in sys.modules
assert "matplotlib" not in sys.modules  # fastgd.plot imports it when a figure is drawn
assert fastgd.stream is sys.modules["fastgd.stream"]
assert {"stream", "plot", "reference"} <= set(dir(fastgd))
try:
    fastgd.no_such_name
except AttributeError as exc:
    assert "no attribute 'no_such_name'" in str(exc)
else:
    raise AssertionError("no AttributeError")
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert issubclass(fastgd.DivergenceError, Exception) and "DivergenceError" in fastgd.__all__


def test_frame_chunks_take_the_hot_path(data):
    """A model fitted on named columns trains on DataFrame chunks on the partial_fit hot
    path (their names checked), and an array chunk still goes through the general path,
    which warns."""
    X, y = data[0], data[1]
    model = fastgd.SGDRegressor(shuffle=False).fit(_frame("pandas", X), y)
    model.partial_fit(_frame("pandas", X), _series("pandas", y))
    model.partial_fit(_frame("polars", X), _series("polars", y))
    assert "_hot_named" in model.__dict__ and "_hot" not in model.__dict__
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match="The feature names should match"):
        model.partial_fit(_frame("pandas", X, NAMES[::-1]), y)


def test_float32_checkpoint_file_keeps_the_coef_dtype(data, tmp_path):
    X32, y = data[0].astype(np.float32), data[1]
    model = fastgd.SGDRegressor(shuffle=False).partial_fit(X32, y)
    model.save(tmp_path / "model.npz")
    loaded = fastgd.load(tmp_path / "model.npz")
    assert loaded.coef_.dtype == np.float32
    assert_array_equal(loaded.coef_, model.coef_)
    loaded.partial_fit(X32, y)
    model.partial_fit(X32, y)
    assert_array_equal(loaded.coef_, model.coef_)
    wide = fastgd.SGDRegressor(shuffle=False).partial_fit(X32.astype(np.float64), y)
    wide.save(tmp_path / "wide.npz")
    assert fastgd.load(tmp_path / "wide.npz").coef_.dtype == np.float64


def test_frame_hot_path_record_is_dropped_on_every_change(data):
    """The named-columns hot-path record goes wherever the plain one goes: a new fit, a
    parameter change and pickling; DataFrame chunks then train the new model."""
    import pickle

    X, y = data[0], data[1]
    model = fastgd.SGDRegressor(shuffle=False).fit(_frame("pandas", X), y)
    model.partial_fit(_frame("pandas", X), y)
    assert "_hot_named" in model.__dict__
    model.fit(_frame("pandas", X), y)  # a new fit: new models, the old record must go
    assert "_hot_named" not in model.__dict__
    model.partial_fit(_frame("pandas", X), y)
    ref = fastgd.SGDRegressor(shuffle=False).fit(X, y).partial_fit(X, y)
    assert_array_equal(model.coef_, ref.coef_)
    model.set_params(eta0=0.02)
    assert "_hot_named" not in model.__dict__
    model.partial_fit(_frame("pandas", X), y)
    assert "_hot_named" not in pickle.loads(pickle.dumps(model)).__dict__
