"""Multi-core per-sample SGD on dense X (issue 15): local SGD on thread shards, averaged.

What holds (``fastgd._driver.shard_epoch``): the reference's twin
(``fastgd.reference.shard_epoch``) to rtol 1e-9 over the per-sample grid of options;
the same bits on every repeat for a given ``n_jobs``; ``n_jobs=1`` unchanged; one-vs-rest
models keep training as whole models on threads (bit-identical to ``n_jobs=1``); the
averaged model is as good as the serial one on a well-posed problem.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastgd import SGDClassifier, SGDRegressor, _driver, _grid

N, D = 4000, 40  # 160,000 entries per epoch: past SHARD_MIN_ENTRIES


def _per_sample_grid(loss, every=1):
    """The verification grid's per-sample plain-SGD configurations (intercept fitted:
    the intercept's handling is the serial kernels' and tested there), every ``every``-th."""
    rows = _grid.configurations(batch_sizes=(1,), losses=(loss,), optimizers=("sgd",))
    return [(n, c) for n, c in rows if n.endswith("intercept=True")][::every]


def _data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    w = rng.normal(size=D)
    y = X @ w + 0.3 + 0.1 * rng.normal(size=n)
    return X, y


def test_threshold_is_past_the_test_size():
    assert N * D >= _driver.SHARD_MIN_ENTRIES > 3000 * 40  # test_parallel_batch stays serial


@pytest.mark.parametrize(("loss", "n_threads"), [("squared_error", 2), ("hinge", 3)])
def test_shard_epoch_equals_the_reference(loss, n_threads):
    """Every per-sample configuration of the verification grid (penalties, averaging,
    schedules, intercept), the kernel's shards on threads against the reference's (few
    wide rows: the reference's per-row cost is Python's)."""
    X, y, sw = _grid.make_data(loss, n=660, d=200)
    worst = {}
    for name, cfg in _per_sample_grid(loss):
        worst[name] = _grid.compare(cfg, X, y, sw, epochs=2, n_threads=n_threads)
    assert worst
    bad = {k: v for k, v in worst.items() if not v < 1e-9}
    assert not bad, bad


def test_shards_are_used_and_deterministic(monkeypatch):
    X, y = _data()
    calls = []
    real = _driver.shard_epoch
    monkeypatch.setattr(_driver, "shard_epoch", lambda *a: calls.append(a[-1]) or real(*a))
    kw = dict(max_iter=3, tol=None, random_state=0, penalty="elasticnet", average=100)
    a = SGDRegressor(n_jobs=2, **kw).fit(X, y)
    b = SGDRegressor(n_jobs=2, **kw).fit(X, y)
    assert calls == [2] * 6
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.loss_curve_ == b.loss_curve_
    one = SGDRegressor(n_jobs=1, **kw).fit(X, y)
    serial = SGDRegressor(**kw).fit(X, y)
    assert calls == [2] * 6  # n_jobs=1: the serial kernel, unchanged
    np.testing.assert_array_equal(one.coef_, serial.coef_)
    assert not np.array_equal(a.coef_, serial.coef_)  # another algorithm, documented


def test_averaged_model_is_as_good_as_serial():
    X, y = _data(n=20_000)
    for kw in (dict(), dict(learning_rate="constant", eta0=0.001, average=1)):
        serial = SGDRegressor(max_iter=5, tol=None, random_state=0, **kw).fit(X, y)
        two = SGDRegressor(max_iter=5, tol=None, random_state=0, n_jobs=2, **kw).fit(X, y)
        Xv, yv = _data(seed=0, n=N)
        assert two.score(Xv, yv) > serial.score(Xv, yv) - 1e-3
    yc = (X @ np.ones(D) > 0).astype(int)
    serial = SGDClassifier(max_iter=5, tol=None, random_state=0).fit(X, yc)
    two = SGDClassifier(max_iter=5, tol=None, random_state=0, n_jobs=2).fit(X, yc)
    assert two.score(X, yc) > serial.score(X, yc) - 0.005


def test_one_vs_rest_models_are_not_sharded(monkeypatch):
    X, y = _data()
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    calls = []
    real = _driver.shard_epoch
    monkeypatch.setattr(_driver, "shard_epoch", lambda *a: calls.append(1) or real(*a))
    kw = dict(max_iter=2, tol=None, random_state=0)
    two = SGDClassifier(n_jobs=2, **kw).fit(X, labels)
    one = SGDClassifier(**kw).fit(X, labels)
    assert calls == []
    np.testing.assert_array_equal(two.coef_, one.coef_)
    # a binary classifier is one model: sharded
    SGDClassifier(n_jobs=2, **kw).fit(X, labels > 0)
    assert calls == [1, 1]


def test_partial_fit_big_chunks_shard_small_chunks_take_the_hot_path():
    X, y = _data()
    model = SGDRegressor(n_jobs=2, shuffle=False, random_state=0)
    model.partial_fit(X[:100], y[:100])
    model.partial_fit(X[100:200], y[100:200])
    assert model.__dict__.get("_hot") is not None  # small chunks: the hot path
    ref = SGDRegressor(shuffle=False, random_state=0)
    ref.partial_fit(X[:100], y[:100])
    ref.partial_fit(X[100:200], y[100:200])
    np.testing.assert_array_equal(model.coef_, ref.coef_)
    model.partial_fit(X, y)  # 4,000 x 40: the general path, as shards
    general = SGDRegressor(n_jobs=2, shuffle=False, random_state=0)
    general.partial_fit(X[:100], y[:100])
    general.partial_fit(X[100:200], y[100:200])
    general.partial_fit(X, y)
    np.testing.assert_array_equal(model.coef_, general.coef_)
    ref.partial_fit(X, y)
    assert not np.array_equal(model.coef_, ref.coef_)


def test_bad_row_on_the_shard_path_leaves_the_model():
    X, y = _data()
    X[3100, 5] = np.inf  # in the second shard
    model = SGDRegressor(n_jobs=2, max_iter=2, tol=None, shuffle=False)
    with pytest.raises(ValueError, match=r"\(row 3100\)"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def _sparse_grid_data(loss, seed=0):
    X, y, sw = _grid.make_data(loss, n=200, d=2000, seed=seed)
    mask = np.random.default_rng(seed).random(X.shape) < 0.35
    return X * mask, y, sw


def test_csr_shard_epoch_equals_the_reference():
    """CSR per-sample SGD shards (nonzeros past the threshold): the kernel's shards against
    the dense reference's (exact mode) and the CSR reference's (lazy updates)."""
    import dataclasses

    sp = pytest.importorskip("scipy.sparse")
    X, y, sw = _sparse_grid_data("hinge")
    Xs = sp.csr_matrix(X)
    assert Xs.nnz >= _driver.SHARD_MIN_ENTRIES
    worst = {}
    for name, cfg in _per_sample_grid("hinge", every=2):
        worst[name] = _grid.compare(cfg, X, y, sw, X_kernel=Xs, n_threads=2)
        if cfg.penalty in ("l1", "elasticnet"):  # where the lazy rule differs
            lazy = dataclasses.replace(cfg, lazy_updates=True)
            worst[name + " lazy"] = _grid.compare(
                lazy, X, y, sw, X_kernel=Xs, n_threads=2, sparse_reference=True
            )
    bad = {k: v for k, v in worst.items() if not v < 1e-9}
    assert not bad, bad


def test_csr_fit_on_threads_equals_the_dense_fit_on_threads():
    sp = pytest.importorskip("scipy.sparse")
    X, y, _ = _sparse_grid_data("log_loss", seed=2)
    kw = dict(loss="log_loss", max_iter=3, tol=None, random_state=0, n_jobs=2, average=50)
    dense = SGDClassifier(**kw).fit(X, y > 0)
    csr = SGDClassifier(**kw).fit(sp.csr_matrix(X), y > 0)
    np.testing.assert_allclose(csr.coef_, dense.coef_, rtol=1e-10, atol=1e-13)
    serial = SGDClassifier(**dict(kw, n_jobs=1)).fit(sp.csr_matrix(X), y > 0)
    assert not np.array_equal(csr.coef_, serial.coef_)  # the shards did run
