"""Multi-core mini- and full-batch epochs (issue 15): block-summed gradients on threads.

What holds (``fastgd._kernels.parallel``): the same bits for every thread count and on
every repeat; the reference's block-summed twin to rtol 1e-10; the serial kernel
(``n_jobs=1``, unchanged) to rounding; small batches and per-sample SGD stay serial.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from fastgd import SGDClassifier, SGDRegressor, _driver, _grid
from fastgd._kernels.parallel import BLOCK_ROWS, batch_epoch_parallel

N, D = 3000, 40  # a 2,000-row batch x 40 columns passes PARALLEL_MIN_ENTRIES


def _data(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = X @ rng.normal(size=D) + 0.1 * rng.normal(size=N)
    return X.astype(dtype), y


CONFIGS = [
    dict(batch_size=None, optimizer="adam", learning_rate="constant", eta0=0.05),
    dict(batch_size=2000, penalty="elasticnet", average=2, learning_rate="constant", eta0=0.05),
    dict(batch_size=1700, optimizer="rmsprop", centered=True, learning_rate="constant", eta0=0.01),
    dict(batch_size=None, optimizer="momentum", learning_rate="constant", eta0=0.1, penalty="l1"),
    dict(batch_size=2048, optimizer="adagrad", learning_rate="constant", eta0=0.5),
    dict(batch_size=None, optimizer="adamw", amsgrad=True, learning_rate="cosine", T_max=5),
    dict(batch_size=2000, optimizer="nesterov", learning_rate="constant", eta0=0.01),
]


def _kernel_args(model, X, y, order, sw):
    lin, pr = model._lins[0], model._problem
    return (
        X,
        y,
        sw,
        order,
        lin.params.copy(),
        lin.state.copy(),
        lin.counters.copy(),
        pr.hp,
        pr.loss,
        pr.penalty,
        pr.optimizer,
        pr.schedule,
        pr.batch_rows(order.shape[0]),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", range(len(CONFIGS)))
def test_every_thread_count_gives_the_same_bits(config, dtype):
    """The kernel on 1 and 2 of numba's threads, and the estimator at n_jobs 2 and -1."""
    X, y = _data(dtype)
    kw = CONFIGS[config]
    model = SGDRegressor(max_iter=1, tol=None, shuffle=False, **kw).fit(X[:50], y[:50])
    rng = np.random.default_rng(1)
    order = rng.permutation(N).astype(np.int64)
    sw = rng.uniform(0.5, 2.0, size=N)
    outs = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2, 2, 1):  # and repeats
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            args = _kernel_args(model, X, y, order, sw)
            result = batch_epoch_parallel(*args, BLOCK_ROWS)
            outs.append((result, args[4], args[5], args[6]))
    finally:
        numba.set_num_threads(before)
    for result, *arrays in outs[1:]:
        assert result == outs[0][0]
        for a, b in zip(arrays, outs[0][1:], strict=True):
            np.testing.assert_array_equal(a, b)
    fits = [
        SGDRegressor(max_iter=3, tol=None, random_state=0, n_jobs=jobs, **kw).fit(X, y)
        for jobs in (2, -1)
    ]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    assert fits[0].loss_curve_ == fits[1].loss_curve_


@pytest.mark.parametrize("batch", [None, 1700])
def test_parallel_kernel_equals_the_block_summed_reference(batch):
    """Every optimizer, schedule, penalty and intercept setting of the verification grid
    (squared loss), the kernel on two threads against the reference's block sums."""
    X, y, sw = _grid.make_data("squared_error", n=N, d=D)
    worst = {}
    for name, cfg in _grid.configurations(batch_sizes=(batch,), losses=("squared_error",)):
        worst[name] = _grid.compare(cfg, X, y, sw, epochs=2, n_threads=2)
    bad = {k: v for k, v in worst.items() if not v < 1e-9}
    assert not bad, bad


@pytest.mark.parametrize("config", [0, 1, 3])
def test_n_jobs_2_is_the_serial_fit_to_rounding_and_n_jobs_1_is_unchanged(config):
    X, y = _data()
    kw = CONFIGS[config]
    serial = SGDRegressor(max_iter=5, tol=None, random_state=0, **kw).fit(X, y)
    one = SGDRegressor(max_iter=5, tol=None, random_state=0, n_jobs=1, **kw).fit(X, y)
    two = SGDRegressor(max_iter=5, tol=None, random_state=0, n_jobs=2, **kw).fit(X, y)
    np.testing.assert_array_equal(one.coef_, serial.coef_)  # n_jobs=1: the serial kernel
    np.testing.assert_allclose(two.coef_, serial.coef_, rtol=1e-9, atol=1e-12)


def test_small_batches_and_per_sample_stay_serial(monkeypatch):
    X, y = _data()
    calls = []
    real = _driver._parallel_batch
    monkeypatch.setattr(_driver, "_parallel_batch", lambda *a: calls.append(1) or real(*a))
    for kw in (dict(batch_size=32, optimizer="adam"), dict()):
        a = SGDRegressor(max_iter=2, tol=None, random_state=0, n_jobs=2, **kw).fit(X, y)
        b = SGDRegressor(max_iter=2, tol=None, random_state=0, **kw).fit(X, y)
        np.testing.assert_array_equal(a.coef_, b.coef_)
    assert calls == []
    SGDRegressor(max_iter=1, tol=None, batch_size=None, n_jobs=2).fit(X, y)
    assert calls == [1]


def test_bad_row_on_the_parallel_path():
    X, y = _data()
    X[2500, 3] = np.nan
    model = SGDClassifier(max_iter=2, tol=None, batch_size=None, n_jobs=2)
    with pytest.raises(ValueError, match=r"\(row 2500\)"):
        model.fit(X, y > 0)
    assert not hasattr(model, "coef_")


def test_n_jobs_is_validated():
    X, y = _data()
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_jobs"):
            SGDRegressor(n_jobs=bad).fit(X[:20], y[:20])


def test_partial_fit_with_threads_takes_one_path():
    """The hot path's guarded kernels are serial: with n_jobs > 1 a batch problem stays on
    the general path, so a stream's result does not depend on which path a call took."""
    X, y = _data()
    model = SGDRegressor(batch_size=2000, n_jobs=2, shuffle=False, learning_rate="constant")
    for lo in range(0, N, 1000):
        model.partial_fit(X[lo : lo + 1000], y[lo : lo + 1000])
        assert model.__dict__.get("_hot") is None
    whole = SGDRegressor(batch_size=2000, n_jobs=2, shuffle=False, learning_rate="constant")
    whole.partial_fit(X, y)
    np.testing.assert_array_equal(model.coef_, whole.coef_)
    assert model.n_pending_ == whole.n_pending_ == 1000


def _wide_sparse(seed=0, n=3000, d=60, density=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * (rng.random((n, d)) < density)
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("batch", [None, 2500])
def test_csr_batches_on_threads_equal_the_block_summed_reference(batch):
    """CSR mini- and full-batch epochs on two threads (exact updates): every optimizer,
    schedule and penalty of the grid against the dense reference's block sums."""
    sp = pytest.importorskip("scipy.sparse")
    X, y, sw = _grid.make_data("squared_error", n=N, d=60)
    X = X * (np.random.default_rng(1).random(X.shape) < 0.5)
    Xs = sp.csr_matrix(X)
    from fastgd._sparse import kernel_arrays

    cfgs = list(_grid.configurations(batch_sizes=(batch,), losses=("squared_error",)))
    probe = _grid.kernel_args(cfgs[0][1], N)
    assert _driver.csr_batch_on_threads(probe[-1], probe[2], probe[4], kernel_arrays(Xs))
    worst = {name: _grid.compare(cfg, X, y, sw, X_kernel=Xs, n_threads=2) for name, cfg in cfgs}
    bad = {k: v for k, v in worst.items() if not v < 1e-9}
    assert not bad, bad


def test_csr_batch_threads_same_bits_and_serial_fallbacks(monkeypatch):
    sp = pytest.importorskip("scipy.sparse")
    X, y = _wide_sparse()
    Xs = sp.csr_matrix(X)
    calls = []
    real = _driver._parallel_batch_csr
    monkeypatch.setattr(_driver, "_parallel_batch_csr", lambda *a: calls.append(1) or real(*a))
    kw = dict(batch_size=None, optimizer="adam", eta0=0.05, learning_rate="constant",
              max_iter=4, tol=None, random_state=0)  # fmt: skip
    two = SGDRegressor(n_jobs=2, **kw).fit(Xs, y)
    again = SGDRegressor(n_jobs=-1, **kw).fit(Xs, y)
    assert calls == [1] * 8
    np.testing.assert_array_equal(two.coef_, again.coef_)
    serial = SGDRegressor(**kw).fit(Xs, y)
    np.testing.assert_allclose(two.coef_, serial.coef_, rtol=1e-9, atol=1e-12)
    dense = SGDRegressor(n_jobs=2, **kw).fit(X, y)  # the dense kernel's blocks: same sums
    np.testing.assert_allclose(two.coef_, dense.coef_, rtol=1e-10, atol=1e-13)
    # lazy updates and scikit-learn's intercept decay stay on the serial kernel
    SGDRegressor(n_jobs=2, lazy_updates=True, **kw).fit(Xs, y)
    SGDRegressor(n_jobs=2, intercept_decay=0.01, **kw).fit(Xs, y)
    assert calls == [1] * 8
