"""Streaming: chunk invariance, the mini-batch buffer, checkpoints, interruption, overhead path."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastgd
from fastgd import SGDClassifier, SGDRegressor

N, D = 240, 6


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = X @ rng.normal(size=D) + 0.2 * rng.normal(size=N)
    return X, y


CONFIGS = [
    dict(),
    # alpha=0.01 diverges here (|coef| ~ 1e12: "optimal" is a classification schedule)
    # and 0.1 spikes to 1e7 times the start loss first, which fastgd reports; 1.0 does not
    dict(penalty="l1", learning_rate="optimal", alpha=1.0),
    dict(penalty="elasticnet", average=17, learning_rate="constant"),
    dict(learning_rate="adaptive", eta0=0.02),
    dict(optimizer="adam", learning_rate="constant", eta0=0.01),
    dict(optimizer="momentum", batch_size=7, learning_rate="cosine", T_max=40),
    dict(
        optimizer="rmsprop",
        batch_size=16,
        centered=True,
        penalty="l1",
        average=3,
        learning_rate="constant",
    ),
    dict(optimizer="adagrad", batch_size=5, learning_rate="step", gamma=0.5, step_size=9),
]


@pytest.mark.parametrize(
    "config",
    [
        dict(),
        dict(optimizer="adam", batch_size=7),
        # eta0 = 0.01 diverges here (an effective step of eta0 / (1 - momentum) times
        # |x|^2 ~ 40), which fastgd reports with a DivergenceWarning
        dict(optimizer="nesterov", learning_rate="constant", eta0=0.002),
    ],
)
def test_wide_rows_chunking_equals_one_pass(config):
    """At d = 40 (SIMD dot loops in both the per-sample and the batch epochs) any
    chunking still gives the bits of one pass."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 40))
    y = X @ rng.normal(size=40)
    whole = SGDRegressor(shuffle=False, **config)
    whole.partial_fit(X, y)
    parts = SGDRegressor(shuffle=False, **config)
    for a, b in ((0, 1), (1, 64), (64, 65), (65, 230), (230, 300)):
        parts.partial_fit(X[a:b], y[a:b])
    for u, v in zip(_state(whole), _state(parts), strict=True):
        np.testing.assert_array_equal(u, v)
    assert whole.n_pending_ == parts.n_pending_


def _chunks(cuts):
    cuts = sorted(set(c for c in cuts if 0 < c < N))
    return np.split(np.arange(N), cuts)


def _state(model):
    return [np.r_[lin.params, lin.state.ravel(), lin.counters] for lin in model._lins]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from(range(len(CONFIGS))), cuts=st.lists(st.integers(0, N), max_size=8))
def test_any_chunking_equals_one_pass(config, cuts):
    """partial_fit over any chunking == one pass, to the last bit (buffer flushed at the end)."""
    X, y = _data()
    kw = dict(shuffle=False, **CONFIGS[config])
    one = SGDRegressor(**kw).partial_fit(X, y).flush()
    many = SGDRegressor(**kw)
    for rows in _chunks(cuts):
        many.partial_fit(X[rows], y[rows])
    many.flush()
    assert many.t_ == one.t_
    for a, b in zip(_state(many), _state(one), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(many.coef_, one.coef_)


@settings(max_examples=10, deadline=None)
@given(cuts=st.lists(st.integers(0, N), max_size=6))
def test_classifier_chunking_equals_one_pass(cuts):
    X, y = _data(1)
    labels = np.digitize(y, [-1.0, 1.0])
    kw = dict(
        loss="log_loss",
        shuffle=False,
        batch_size=4,
        optimizer="adam",
        learning_rate="constant",
        class_weight={0: 2.0, 1: 1.0, 2: 0.5},
    )
    one = SGDClassifier(**kw).partial_fit(X, labels, classes=[0, 1, 2]).flush()
    many = SGDClassifier(**kw)
    for rows in _chunks(cuts):
        many.partial_fit(X[rows], labels[rows], classes=[0, 1, 2])
    many.flush()
    np.testing.assert_array_equal(many.coef_, one.coef_)
    np.testing.assert_array_equal(many.intercept_, one.intercept_)


def test_minibatch_remainder_waits_for_next_chunk():
    X, y = _data()
    model = SGDRegressor(batch_size=10, shuffle=False, optimizer="sgd")
    model.partial_fit(X[:25], y[:25])
    assert model.n_pending_ == 5 and model.t_ == 3  # two whole batches made, five rows wait
    model.partial_fit(X[25:30], y[25:30])
    assert model.n_pending_ == 0 and model.t_ == 4
    model.partial_fit(X[30:33], y[30:33])
    before = model.coef_.copy()
    model.flush()
    assert model.n_pending_ == 0 and model.t_ == 5
    assert not np.array_equal(before, model.coef_)


def test_fast_path_equals_general_path():
    """The streaming fast path of partial_fit gives the same bits as the general path."""
    X, y = _data()
    fast = SGDRegressor(shuffle=True, random_state=4, penalty="elasticnet", average=30)
    slow = SGDRegressor(shuffle=True, random_state=4, penalty="elasticnet", average=30)
    for rows in np.array_split(np.arange(N), 8):
        fast.partial_fit(X[rows], y[rows])
        slow.partial_fit(X[rows].tolist(), y[rows].tolist())  # lists take the general path
    np.testing.assert_array_equal(fast.coef_, slow.coef_)
    assert fast.t_ == slow.t_


@pytest.mark.parametrize("kind", ["binary", "multiclass", "minibatch-weighted"])
def test_classifier_fast_path_equals_general_path(kind):
    X, y = _data(3)
    labels = (y > 0).astype(int) if kind == "binary" else np.digitize(y, [-1.0, 1.0])
    kw = dict(loss="hinge", shuffle=True, random_state=2, class_weight={0: 1.5})
    if kind == "minibatch-weighted":
        kw.update(batch_size=6, optimizer="adam", learning_rate="constant")
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=N)
    classes = np.unique(labels)
    fast, slow = SGDClassifier(**kw), SGDClassifier(**kw)
    for rows in np.array_split(np.arange(N), 7):
        sw = weights[rows] if kind == "minibatch-weighted" else None
        fast.partial_fit(X[rows], labels[rows], classes=classes, sample_weight=sw)
        slow.partial_fit(
            X[rows].tolist(),
            labels[rows].tolist(),
            classes=classes,
            sample_weight=None if sw is None else sw.tolist(),
        )
    np.testing.assert_array_equal(fast.coef_, slow.coef_)
    np.testing.assert_array_equal(fast.intercept_, slow.intercept_)
    assert fast.n_pending_ == slow.n_pending_ and fast.t_ == slow.t_


@pytest.mark.parametrize("shuffle", [True, False])  # False: SGDRegressor's inline path
def test_fast_path_failure_leaves_model_unchanged(shuffle):
    X, y = _data()
    model = SGDRegressor(shuffle=shuffle, random_state=0).partial_fit(X[:50], y[:50])
    model.partial_fit(X[50:60], y[50:60])  # armed: the next call takes a hot path
    coef, t, rng_state = model.coef_.copy(), model.t_, model._rng_state.bit_generator.state
    params, curve = model._lins[0].arena.copy(), list(model._lins[0].loss_curve)
    bad = X[60:110].copy()
    bad[20, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.partial_fit(bad, y[60:110])
    np.testing.assert_array_equal(model.coef_, coef)
    live = model._lins[0].params.size * 8 + 5  # params, state and counters
    np.testing.assert_array_equal(model._lins[0].arena[:live], params[:live])
    assert model._lins[0].loss_curve == curve
    assert model.t_ == t and model._rng_state.bit_generator.state == rng_state


@pytest.mark.parametrize("config", [0, 2, 5, 6])
def test_resume_in_new_process_is_bit_identical(tmp_path, config):
    X, y = _data()
    kw = dict(shuffle=True, random_state=7, **CONFIGS[config])
    chunks = np.array_split(np.arange(N), 5)
    ref = SGDRegressor(**kw)
    for rows in chunks:
        ref.partial_fit(X[rows], y[rows])
    part = SGDRegressor(**kw)
    for rows in chunks[:2]:
        part.partial_fit(X[rows], y[rows])
    part.save(tmp_path / "ck.npz")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    code = (
        "import numpy as np, fastgd\n"
        f"m = fastgd.load({str(tmp_path / 'ck.npz')!r})\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r}); y = np.load({str(tmp_path / 'y.npy')!r})\n"
        f"for rows in np.array_split(np.arange({N}), 5)[2:]:\n"
        "    m.partial_fit(X[rows], y[rows])\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.r_[m.coef_, m.intercept_, m.t_])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    np.testing.assert_array_equal(
        np.load(tmp_path / "out.npy"), np.r_[ref.coef_, ref.intercept_, ref.t_]
    )


def test_checkpoint_round_trip_classifier(tmp_path):
    X, y = _data(2)
    labels = np.where(y > 0, "yes", "no")
    model = SGDClassifier(
        loss="modified_huber",
        class_weight={"yes": 2.0},
        average=True,
        random_state=0,
        max_iter=5,
        tol=None,
    ).fit(X, labels)
    model.save(tmp_path / "c.npz")
    loaded = fastgd.load(tmp_path / "c.npz")
    assert type(loaded) is SGDClassifier and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    loaded.partial_fit(X, labels)
    model.partial_fit(X, labels)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


def test_corrupted_or_foreign_checkpoint_is_refused(tmp_path):
    X, y = _data()
    model = SGDRegressor(max_iter=3, tol=None).fit(X, y)
    path = tmp_path / "m.npz"
    model.save(path)
    raw = path.read_bytes()
    for pos in (len(raw) // 3, len(raw) // 2, len(raw) - 40):
        broken = bytearray(raw)
        broken[pos] ^= 0xFF
        (tmp_path / "bad.npz").write_bytes(bytes(broken))
        with pytest.raises(ValueError, match="checkpoint"):
            fastgd.load(tmp_path / "bad.npz")
    (tmp_path / "short.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="checkpoint"):
        fastgd.load(tmp_path / "short.npz")
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(ValueError, match="not a fastgd checkpoint"):
        fastgd.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not fitted"):
        SGDRegressor().save(tmp_path / "x.npz")


def _patch_guarded(monkeypatch, model, wrap):
    """Wrap every guarded kernel (partial_fit's hot path) for this test; re-arm ``model``."""
    from fastgd import _driver

    for path, kernel in list(_driver._GUARDED.items()):
        monkeypatch.setitem(_driver._GUARDED, path, wrap(kernel))
    model.__dict__.pop("_hot", None)


def test_keyboard_interrupt_during_fit_keeps_last_completed_epoch(monkeypatch, tmp_path):
    X, y = _data()
    from fastgd import _driver

    real = _driver.run_epoch
    calls = {"n": 0}

    def interrupted(*args):
        calls["n"] += 1
        out = real(*args)  # the epoch runs; Ctrl-C arrives as the kernel returns
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(_driver, "run_epoch", interrupted)
    model = SGDRegressor(max_iter=20, tol=None, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    monkeypatch.setattr(_driver, "run_epoch", real)
    three = SGDRegressor(max_iter=3, tol=None, random_state=0).fit(X, y)
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    np.testing.assert_array_equal(model.coef_, three.coef_)
    assert model.t_ == three.t_
    model.save(tmp_path / "after_interrupt.npz")  # usable and saveable
    model.partial_fit(X, y)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize(
    "kw", [dict(batch_size=8, optimizer="adam", learning_rate="constant"), dict()]
)  # dict(): SGDRegressor's inline path
def test_keyboard_interrupt_during_partial_fit_leaves_model_unchanged(monkeypatch, when, kw):
    """Ctrl-C is delivered when a kernel returns: the call is undone whether the kernel
    ran ("after": its state changes are rolled back) or not ("before")."""
    X, y = _data()
    model = SGDRegressor(shuffle=False, **kw).partial_fit(X[:100], y[:100])
    model.partial_fit(X[100:110], y[100:110])  # the fast path has a snapshot buffer now
    coef, t, pending = model.coef_.copy(), model.t_, model.n_pending_
    params = model._lins[0].params.copy()
    state = model._lins[0].state.copy()
    n_curve = len(model._lins[0].loss_curve)
    from fastgd import _driver

    def wrap(real):
        def interrupted(*args):
            if when == "after":
                real(*args)
            raise KeyboardInterrupt

        return interrupted

    monkeypatch.setattr(_driver, "run_epoch", wrap(_driver.run_epoch))  # general path
    _patch_guarded(monkeypatch, model, wrap)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X[110:200], y[110:200])
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X[110:200].tolist(), y[110:200].tolist())
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model._lins[0].params, params)
    np.testing.assert_array_equal(model._lins[0].state, state)
    assert len(model._lins[0].loss_curve) == n_curve
    assert model.t_ == t and model.n_pending_ == pending


def test_partial_fit_loss_curve_is_bounded():
    from fastgd import estimators

    X, y = _data()
    model = SGDRegressor(shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2 * estimators.MAX_CURVE + 5):
            model.partial_fit(X[:2], y[:2])
    assert len(model.loss_curve_) <= 2 * estimators.MAX_CURVE
    assert os.path.basename(estimators.__file__) == "estimators.py"


def test_checkpoint_without_carried_dot_loads_and_continues(tmp_path):
    """A checkpoint written before the carried dot (5 state rows, 3 counters) loads; the
    carry restarts from its coefficients, and training continues to the same model
    (within rounding) as an uninterrupted run."""
    import json

    from fastgd import checkpoint

    X, y = _data()
    whole = SGDRegressor(shuffle=False, random_state=0)
    whole.partial_fit(X, y)
    first = SGDRegressor(shuffle=False, random_state=0)
    first.partial_fit(X[:100], y[:100])
    path = tmp_path / "new.npz"
    first.save(path)
    with np.load(path, allow_pickle=False) as data:
        members = {name: data[name] for name in data.files}
    meta = json.loads(str(members.pop("__meta__")))
    members["lin0_state"] = members["lin0_state"][:5]
    members["lin0_counters"] = members["lin0_counters"][:3]
    meta["sha256"] = checkpoint._digest(members)
    old = tmp_path / "old.npz"
    np.savez(old, __meta__=np.array(json.dumps(meta)), **members)
    resumed = fastgd.load(old)
    assert resumed._lins[0].state.shape[0] > 5
    resumed.partial_fit(X[100:], y[100:])
    np.testing.assert_allclose(resumed.coef_, whole.coef_, rtol=1e-12)
    np.testing.assert_allclose(resumed.intercept_, whole.intercept_, rtol=1e-12)


@pytest.mark.parametrize("how", ["set_params", "attribute"])
def test_parameter_changed_between_chunks_takes_effect(how, monkeypatch):
    """A parameter changed after a partial_fit call (set_params or plain assignment)
    is used by the next call, exactly as the general path uses it."""
    X, y = _data()

    def run(fast):
        model = SGDRegressor(shuffle=False, learning_rate="constant", eta0=0.01)
        if not fast:
            monkeypatch.setattr(SGDRegressor, "_fast_partial_fit", lambda *a, **k: False)
        model.partial_fit(X[:50], y[:50])
        model.partial_fit(X[50:100], y[50:100])  # the hot path has armed its constants
        if how == "set_params":
            model.set_params(eta0=0.001)
        else:
            model.eta0 = 0.001
        model.partial_fit(X[100:], y[100:])
        monkeypatch.undo()
        return model.coef_

    unchanged = SGDRegressor(shuffle=False, learning_rate="constant", eta0=0.01)
    unchanged.partial_fit(X[:50], y[:50])
    unchanged.partial_fit(X[50:100], y[50:100])
    unchanged.partial_fit(X[100:], y[100:])
    fast, general = run(True), run(False)
    np.testing.assert_array_equal(fast, general)
    assert not np.array_equal(fast, unchanged.coef_)


def _general_only(monkeypatch, cls):
    monkeypatch.setattr(cls, "_fast_partial_fit", lambda *a, **k: False)


def test_hot_path_publishes_coef_on_first_read(monkeypatch):
    """After a hot-path call coef_, intercept_ and t_ are published when first read:
    equal to the general path's, and a copy (an array read earlier keeps its values)."""
    X, y = _data()
    model = SGDRegressor(shuffle=False).partial_fit(X[:50], y[:50])
    held = model.coef_
    held_values = held.copy()
    model.partial_fit(X[50:100], y[50:100])
    assert "coef_" not in vars(model) and "t_" not in vars(model)
    np.testing.assert_array_equal(held, held_values)
    general = SGDRegressor(shuffle=False)
    _general_only(monkeypatch, SGDRegressor)
    general.partial_fit(X[:50], y[:50]).partial_fit(X[50:100], y[50:100])
    monkeypatch.undo()
    np.testing.assert_array_equal(model.coef_, general.coef_)
    np.testing.assert_array_equal(model.intercept_, general.intercept_)
    assert model.t_ == general.t_ == 101.0
    assert "coef_" in vars(model)  # published once, then an ordinary attribute
    assert model.coef_ is model.coef_
    assert not hasattr(SGDRegressor(), "coef_")


def test_pickle_after_hot_path_continues_identically():
    import pickle

    X, y = _data()
    model = SGDClassifier(shuffle=True, random_state=3)
    labels = (y > 0).astype(int)
    model.partial_fit(X[:60], labels[:60], classes=[0, 1])
    model.partial_fit(X[60:120], labels[60:120])
    assert "_hot" in vars(model) and "_ybuf" in vars(model)
    blob = pickle.dumps(model)
    copy = pickle.loads(blob)
    assert "_hot" not in vars(copy) and "_ybuf" not in vars(copy)
    np.testing.assert_array_equal(copy.coef_, model.coef_)
    for m in (model, copy):
        m.partial_fit(X[120:], labels[120:])
    np.testing.assert_array_equal(copy.coef_, model.coef_)
    np.testing.assert_array_equal(copy.intercept_, model.intercept_)


def test_interrupt_between_one_vs_rest_models_undoes_the_whole_call(monkeypatch):
    """Ctrl-C after the second of three one-vs-rest kernels of a hot-path call restores
    every model, its loss curve and the shuffling stream; the call can then be repeated."""

    X, y = _data()
    labels = np.digitize(y, [-0.5, 0.5])
    model = SGDClassifier(shuffle=True, random_state=0)
    model.partial_fit(X[:80], labels[:80], classes=[0, 1, 2])
    model.partial_fit(X[80:160], labels[80:160])
    before = [
        (lin.params.copy(), lin.state.copy(), lin.counters.copy(), len(lin.loss_curve))
        for lin in model._lins
    ]
    rng_before = model._rng_state.bit_generator.state
    calls = []

    def wrap(real):
        def interrupted(*args):
            result = real(*args)
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return result

        return interrupted

    _patch_guarded(monkeypatch, model, wrap)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X[160:], labels[160:])
    monkeypatch.undo()
    assert len(calls) == 2
    for lin, (params, state, counters, n_curve) in zip(model._lins, before, strict=True):
        np.testing.assert_array_equal(lin.params, params)
        np.testing.assert_array_equal(lin.state, state)
        np.testing.assert_array_equal(lin.counters, counters)
        assert len(lin.loss_curve) == n_curve
    assert model._rng_state.bit_generator.state == rng_before
    model.partial_fit(X[160:], labels[160:])
    whole = SGDClassifier(shuffle=True, random_state=0)
    for lo, hi in ((0, 80), (80, 160), (160, N)):
        whole.partial_fit(X[lo:hi], labels[lo:hi], classes=[0, 1, 2])
    np.testing.assert_array_equal(model.coef_, whole.coef_)


def test_strided_sample_weight_gives_the_same_model_without_a_recompile():
    from fastgd._kernels.targets import all_finite

    X, y = _data()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=2 * N)
    signatures = len(all_finite.signatures)
    models = []
    for sw in (weights[::2], np.ascontiguousarray(weights[::2])):
        model = SGDRegressor(shuffle=False).partial_fit(X[:50], y[:50])
        model.partial_fit(X[50:100], y[50:100])  # armed: the next call is a hot one
        model.partial_fit(X[100:], y[100:], sample_weight=sw[100:])
        models.append(model)
    np.testing.assert_array_equal(models[0].coef_, models[1].coef_)
    assert len(all_finite.signatures) <= max(signatures, 1)  # small arrays: NumPy


@pytest.mark.parametrize("name", ["regressor_adam_batch", "regressor_sgd", "classifier_l1_3class"])
def test_checkpoint_from_the_previous_release_loads_and_continues_identically(name):
    """Files written by fastgd before the per-path redesign (format version 1, commit
    17ae3da; tests/data) load, and their next partial_fit gives what that release
    computed after the same save: to a few ulps, since the release's own last bits
    depend on the CPU (17ae3da run on an AVX-512 machine differs from the recorded AVX2
    run by 2 ulps in one coefficient: a vectorised reduction's lane count). Bit-for-bit
    resumption on one machine is test_resume_in_new_process_is_bit_identical."""
    import json
    from pathlib import Path

    data = Path(__file__).parent / "data"
    expected = json.loads((data / "checkpoint_v1_expected.json").read_text())[name]
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3
    target = np.digitize(y, [-1.0, 1.0]) if name.startswith("classifier") else y
    model = fastgd.load(data / f"checkpoint_v1_{name}.npz")
    model.partial_fit(X[205:], target[205:])
    np.testing.assert_array_max_ulp(np.asarray(model.coef_).ravel(), expected["coef"], 16)
    np.testing.assert_array_max_ulp(np.asarray(model.intercept_).ravel(), expected["intercept"], 16)
    assert model.t_ == expected["t"]
