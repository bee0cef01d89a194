"""Issue 17: silent blow-ups, state left changed by failed calls, clear messages.

The tests of each item failed on the code before its fix (checked against commit c3d6a23);
a few others guard what must stay: no warning on well-scaled data, fit's documented
last-finite-epoch rule, labels that already worked. Checkpoint hardening has its own file
(``test_checkpoint_safety.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastgd
from fastgd import DivergenceError, DivergenceWarning, SGDClassifier, SGDRegressor, _driver
from fastgd import stream as fstream


def _data(n=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ np.arange(1.0, d + 1) + 0.1 * rng.normal(size=n)


def _unscaled(n=300, d=4, seed=0):
    """Features around 100 with spread 1000: the defaults of plain SGD blow up here."""
    X, _ = _data(n, d, seed)
    X = X * 1e3 + 100.0
    return X, X @ np.arange(1.0, d + 1) * 10.0


def _state(model):
    return (
        [lin.params.copy() for lin in model._lins],
        [lin.state.copy() for lin in model._lins],
        [lin.counters.copy() for lin in model._lins],
        model.n_iter_,
        model.n_pending_,
        [len(lin.loss_curve) for lin in model._lins],
    )


def _assert_same_state(a, b):
    for u, v in zip(a[:3], b[:3], strict=True):
        for x, y in zip(u, v, strict=True):
            np.testing.assert_array_equal(x, y)
    assert a[3:] == b[3:]


# ------------------------------------------------------------ 8. blow-up is reported
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_blow_up_on_unscaled_data_warns(optimizer):
    """|coef| ~ 1e13 and R^2 ~ -1e21 with every number finite used to pass silently."""
    X, y = _unscaled()
    with pytest.warns(DivergenceWarning, match=r"Scale the features.*lower eta0") as record:
        model = SGDRegressor(optimizer=optimizer, max_iter=5, tol=None).fit(X, y)
    assert len(record) == 1
    assert record[0].filename == __file__  # it points at the caller's fit
    assert np.abs(model.coef_).max() > 1e9  # the model is returned as it is


def test_blow_up_in_a_stream_warns_once_hot_path_included():
    X, y = _unscaled(n=2000)
    model = SGDRegressor(shuffle=False)
    with pytest.warns(DivergenceWarning) as record:
        for lo in range(0, 2000, 100):
            model.partial_fit(X[lo : lo + 100], y[lo : lo + 100])
    assert len(record) == 1
    # the hot path takes the calls after the first: its check is the one that fired
    # when the loss passes the limit on a later chunk
    model = SGDRegressor(shuffle=False, eta0=1e-9)  # slow enough to start finite
    Xs, ys = _data(n=100)
    model.partial_fit(Xs, ys)  # measured at this scale
    assert model.__dict__.get("_hot") is None
    model.partial_fit(Xs, ys)
    assert model.__dict__.get("_hot") is not None
    with pytest.warns(DivergenceWarning):
        model.set_params(eta0=0.01)  # the general path again: a parameter changed
        model.partial_fit(X[:1000], y[:1000])


def test_hot_path_reports_growth(monkeypatch):
    """The hot path compares each call's loss with the limit measured at the start."""
    Xs, ys = _data(n=100)
    model = SGDRegressor(shuffle=False).partial_fit(Xs, ys)
    model.partial_fit(Xs, ys)  # armed
    hot = model.__dict__["_hot"]
    assert hot.models[0][1][-2] == model._lins[0].loss_limit  # the kernel reads it there
    # a chunk whose targets are 1e5 times larger: the loss grows 1e10 times
    with pytest.warns(DivergenceWarning, match="grew from"):
        assert model._fast_partial_fit(Xs, ys * 1e5, None)
    assert model._lins[0].loss_limit == np.inf  # warned once
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.partial_fit(Xs, ys * 1e5)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(optimizer="adam", learning_rate="constant", eta0=0.01, batch_size=16),
        dict(optimizer="momentum", learning_rate="constant", eta0=0.001),
        dict(penalty="l1", alpha=0.01),  # each its default schedule (optimal: classifier)
        dict(batch_size=None, optimizer="adagrad", learning_rate="constant", eta0=0.5),
    ],
)
@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_no_divergence_warning_on_scaled_data(cls, kw):
    X, y = _data()
    if cls is SGDClassifier:
        y = (y > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        cls(max_iter=20, tol=None, random_state=0, **kw).fit(X, y)


def test_perceptron_at_zero_weights_is_not_watched():
    """A zero start loss gives no scale to compare with."""
    X, y = _unscaled()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        model = SGDClassifier(loss="perceptron", max_iter=3, tol=None).fit(X, y > y.mean())
    assert model._lins[0].loss_limit == np.inf


def test_cli_fit_exits_non_zero_on_divergence(tmp_path, capsys):
    from fastgd import cli

    X, y = _unscaled(n=400)
    path = tmp_path / "big.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",")
    status = cli.main(["fit", str(path), "--no-progress", "--report", str(tmp_path / "r.json")])
    assert status == cli.EXIT_DIVERGED == 3
    assert "diverged" in capsys.readouterr().err
    assert (tmp_path / "r.json").exists()  # the results are still written
    Xs, ys = _data(n=400)
    np.savetxt(path, np.column_stack([Xs, ys]), delimiter=",")
    assert cli.main(["fit", str(path), "--no-progress"]) == 0


# ---------------------------------------- 9. the hot path checks the optimizer state
def test_hot_path_refuses_overflowed_adaptive_state():
    """Adagrad's squared-gradient sum overflowing to inf froze the coefficient on the hot
    path (only the parameters were checked) while the general path raised."""
    X, y = _data(n=200)
    model = SGDRegressor(optimizer="adagrad", learning_rate="constant", eta0=0.1, shuffle=False)
    model.partial_fit(X[:100], y[:100])
    model.partial_fit(X[100:150], y[100:150])
    assert model.__dict__.get("_hot") is not None  # the next call takes the hot path
    before = _state(model)
    Xbad = X[150:].copy()
    Xbad[3, 1] = 1e160  # gradient^2 overflows, the step is 0: parameters stay finite
    with pytest.raises(DivergenceError):
        model.partial_fit(Xbad, y[150:])
    _assert_same_state(_state(model), before)  # and item 12: nothing changed


# --------------------------------------------- 10. inputs refused, model unchanged
@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_object_y_with_none_is_refused(cls):
    X, y = _data()
    if cls is SGDClassifier:
        y = (y > 0).astype(int)
    model = cls(max_iter=3, tol=None).fit(X, y)
    coef = model.coef_.copy()
    bad = np.array(list(y), dtype=object)
    bad[7] = None
    with pytest.raises(ValueError, match="contains None.*position 7"):
        model.fit(X, bad)
    with pytest.raises(ValueError, match="contains None"):
        model.fit(X, list(bad))
    np.testing.assert_array_equal(model.coef_, coef)


@pytest.mark.parametrize("weight", [np.ones(300) + 1j, 1 + 0.5j])
def test_complex_sample_weight_is_refused(weight):
    X, y = _data()
    model = SGDRegressor(max_iter=2, tol=None).fit(X, y)
    coef = model.coef_.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(TypeError, match="sample_weight must be real"):
            model.fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(model.coef_, coef)


@pytest.mark.parametrize("labels", [(2**60, 2**60 + 1), (2**64 - 2, 2**64 - 1), (2**53, 2**53 + 1)])
def test_uint64_labels_near_the_top_of_the_range(labels):
    X, y = _data()
    y = np.where(y > 0, np.uint64(labels[1]), np.uint64(labels[0])).astype(np.uint64)
    model = SGDClassifier(max_iter=5, tol=None, random_state=0).fit(X, y)
    assert model.classes_.tolist() == list(labels) and model.classes_.dtype == np.uint64
    assert (model.predict(X) == y).mean() > 0.9
    model.partial_fit(X, y)
    assert (model.predict(X) == y).mean() > 0.9


# ------------------------------------------------- 11. Ctrl-C in a one-vs-rest fit
def test_interrupted_one_vs_rest_fit_keeps_the_previous_fit(monkeypatch):
    X, y = _data()
    labels = np.digitize(y, [-2.0, 2.0])
    model = SGDClassifier(max_iter=5, tol=None, random_state=0).fit(X, labels)
    coef, n_iter, classes = model.coef_.copy(), model.n_iter_, model.classes_.copy()
    real = _driver.run_epoch
    calls = []

    def interrupted(*args):
        out = real(*args)
        calls.append(1)
        if len(calls) == 7:  # in the second of three one-vs-rest problems
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(_driver, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X[::-1], labels[::-1])
    monkeypatch.undo()
    np.testing.assert_array_equal(model.coef_, coef)  # not all-zero, not half-trained
    assert model.n_iter_ == n_iter
    np.testing.assert_array_equal(model.classes_, classes)
    # a first fit interrupted leaves the estimator unfitted
    fresh = SGDClassifier(max_iter=5, tol=None)
    calls.clear()
    monkeypatch.setattr(_driver, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(X, labels)
    assert not hasattr(fresh, "coef_")


def test_interrupted_binary_fit_is_labelled(monkeypatch):
    """A single-model fit keeps its last completed epoch, and then also its classes_."""
    X, y = _data()
    labels = (y > 0).astype(int)
    real = _driver.run_epoch
    calls = []

    def interrupted(*args):
        out = real(*args)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(_driver, "run_epoch", interrupted)
    model = SGDClassifier(max_iter=10, tol=None)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, labels)
    monkeypatch.undo()
    assert model.n_iter_ == 2
    assert (
        model.predict(X).tolist()
        == model.classes_[(model.decision_function(X) > 0).astype(int)].tolist()
    )


# ----------------------------------------------- 12. a diverging partial_fit is undone
@pytest.mark.parametrize("batch_size", [1, 8])
def test_diverging_partial_fit_is_undone(batch_size):
    X, y = _data(n=200)
    model = SGDRegressor(batch_size=batch_size, shuffle=False)
    model.partial_fit(X[:101], y[:101])  # 101 rows: a mini-batch leaves 5 waiting
    before = _state(model)
    Xbad = X[101:190] * 1e200  # predictions overflow: DivergenceError
    with pytest.raises(DivergenceError):
        model.partial_fit(Xbad, y[101:190])
    _assert_same_state(_state(model), before)
    waiting = model._pending
    if batch_size > 1:
        np.testing.assert_array_equal(waiting[0], X[96:101])  # the buffer kept its rows
    # the stream goes on as if the failed call had never happened
    model.partial_fit(X[101:], y[101:])
    whole = SGDRegressor(batch_size=batch_size, shuffle=False).partial_fit(X, y)
    np.testing.assert_array_equal(model.coef_, whole.coef_)


def test_diverging_fit_keeps_its_last_finite_epoch():
    """fit (not partial_fit) keeps the documented behaviour: the last finite epoch."""
    X, y = _data(n=200)
    X = X.copy()
    X[150:] *= 1e200
    model = SGDClassifier(max_iter=5, tol=None)
    with pytest.raises(DivergenceError):
        model.fit(X, (y > 0).astype(int))
    assert hasattr(model, "coef_") and np.isfinite(model.coef_).all()
    assert model.classes_.tolist() == [0, 1]


# --------------------------------------------------------- 14. clear messages
def test_int8_labels_spanning_128_or_more():
    X, _ = _data(n=390)
    labels = (np.arange(390) % 130 - 65).astype(np.int8)
    model = SGDClassifier(max_iter=1, tol=None).fit(X, labels)
    assert model.classes_.tolist() == list(range(-65, 65))


def test_int16_labels_near_20000_with_many_rows():
    X, y = _data(n=12_000, d=2)
    labels = np.where(y > 0, 20_000, -20_000).astype(np.int16)
    model = SGDClassifier(max_iter=1, tol=None).fit(X, labels)
    assert model.classes_.tolist() == [-20_000, 20_000]
    assert (model.predict(X) == labels).mean() > 0.9


def test_big_endian_labels_and_features():
    X, y = _data()
    labels = (y > 0).astype(">i8")
    model = SGDClassifier(max_iter=5, tol=None, random_state=0).fit(X.astype(">f8"), labels)
    native = SGDClassifier(max_iter=5, tol=None, random_state=0).fit(X, labels.astype("<i8"))
    np.testing.assert_array_equal(model.coef_, native.coef_)
    model.partial_fit(X, labels)
    model.partial_fit(X.astype(">f8"), labels, classes=np.array([0, 1], ">i8"))


@pytest.mark.parametrize("fraction", [0.9999, 1e-6])
def test_validation_fraction_message_names_the_parameter(fraction):
    X, y = _data(n=50)
    labels = (y > 0).astype(int)
    with pytest.raises(ValueError, match="validation_fraction") as info:
        SGDClassifier(early_stopping=True, validation_fraction=fraction).fit(X, labels)
    assert str(info.value).startswith("early_stopping cannot split 50 samples")


def test_warm_start_with_a_new_feature_count_names_warm_start():
    X, y = _data()
    model = SGDRegressor(warm_start=True, max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match=r"warm_start=True .* shape \(4,\).* of 3 features"):
        model.fit(X[:, :3], y)
    assert model.coef_.shape == (4,)


def test_bad_row_is_counted_in_the_callers_X_and_in_the_stream():
    X, y = _data(n=400)
    Xbad = X.copy()
    Xbad[250, 2] = np.nan
    model = SGDRegressor(batch_size=16, shuffle=False).partial_fit(X[:200], y[:200])
    assert model.n_pending_ == 8
    # row 50 of this call's X (not 58 of the buffer plus X)
    with pytest.raises(ValueError, match=r"\(row 50\)"):
        model.partial_fit(Xbad[200:], y[200:])
    # a NaN in the rows that wait for the next mini-batch names its row too
    with pytest.raises(ValueError, match=r"row 50 of X, which waits"):
        model.partial_fit(Xbad[200:251], y[200:251])
    chunks = [(Xbad[lo : lo + 100], y[lo : lo + 100]) for lo in range(0, 400, 100)]
    with pytest.raises(ValueError, match=r"row 250 of the stream: row 50 of chunk 2"):
        fstream.fit_stream(SGDRegressor(), chunks, progress=False)
    with pytest.raises(ValueError, match=r"row 250 of the stream: row 50 of chunk 2"):
        fstream.fit_stream(SGDRegressor(), chunks, progress=False, validate=False)


def test_divergence_names_are_exported():
    assert fastgd.DivergenceError is DivergenceError
    assert issubclass(fastgd.DivergenceWarning, RuntimeWarning)


def test_stream_position_file_is_not_written_through_a_planted_link(tmp_path):
    """The ``.stream.json`` record used a fixed ``<name>.tmp`` temporary file."""
    X, y = _data(n=100)
    ck = tmp_path / "ck.npz"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "ck.npz.stream.json.tmp").symlink_to(victim)
    fstream.fit_stream(SGDRegressor(), [(X, y)], progress=False, checkpoint=ck)
    assert victim.read_text() == "keep me"
    assert fstream.stream_position(ck) == 100
