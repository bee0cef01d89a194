"""Predictions on threads (issue 15): large CSR inputs are multiplied by row blocks.

What holds (``fastgd._sparse.matvecs``, ``fastgd._kernels.parallel.csr_matvecs_parallel``):
scipy's bits for every thread count, dtype and number of outputs; the column indices are
checked by the kernel as it reads them, so a bad one gives check_csr's ValueError and a
NaN or inf among the values the usual row error, on the threaded path as on the serial
one; small inputs and ``n_jobs=1`` stay on scipy.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastgd import SGDClassifier, SGDRegressor, _sparse
from fastgd._kernels.parallel import csr_matvecs_parallel

sp = pytest.importorskip("scipy.sparse")


def _csr(n=3000, d=200, density=0.05, dtype=np.float64, seed=0, messy=True):
    """A CSR matrix with empty rows and, when ``messy``, unsorted indices, duplicate
    entries and explicit zeros."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = rng.normal(size=X.nnz)
    X = X.tolil()
    X[5] = 0.0  # empty rows
    X[n - 1] = 0.0
    X = X.tocsr()
    if messy:  # row 1: reversed (unsorted), plus a duplicate pair and an explicit zero
        lo, hi = X.indptr[1], X.indptr[2]
        cols = np.r_[X.indices[lo:hi][::-1], 7, 7, 3]
        vals = np.r_[X.data[lo:hi][::-1], 1.5, 2.5, 0.0]
        indptr = X.indptr.copy()
        indptr[2:] += 3
        X = sp.csr_matrix(
            (np.r_[X.data[:lo], vals, X.data[hi:]], np.r_[X.indices[:lo], cols, X.indices[hi:]],
             indptr),
            shape=X.shape,
        )  # fmt: skip
    X.data = X.data.astype(dtype)
    return X


@pytest.fixture
def threaded(monkeypatch):
    """Every prediction in the test takes the threaded product; the calls are counted."""
    monkeypatch.setattr(_sparse, "PARALLEL_NNZ", 1)
    calls = []
    real = _sparse.matvecs

    def spy(X, W, n_threads=1, *, threaded=False):
        calls.append(threaded)
        return real(X, W, n_threads, threaded=threaded)

    monkeypatch.setattr(_sparse, "matvecs", spy)
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [1, 4])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_kernel_gives_scipys_bits(dtype, K, n_threads):
    from fastgd._driver import on_threads

    X = _csr(dtype=dtype)
    assert not X.has_sorted_indices or not X.has_canonical_format
    W = np.random.default_rng(1).normal(size=(X.shape[1], K)).astype(dtype)
    ka = _sparse.kernel_arrays(X)
    out = np.full((X.shape[0], K), np.nan, dtype=dtype)
    with on_threads(n_threads):
        assert csr_matvecs_parallel(ka.data, ka.indices, ka.indptr, W, out, 64)
    np.testing.assert_array_equal(out, X @ W)
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "make, classes",
    [
        (lambda: SGDRegressor(max_iter=3, tol=None, random_state=0), None),
        (lambda: SGDClassifier(loss="log_loss", max_iter=3, tol=None, random_state=0), 2),
        (lambda: SGDClassifier(loss="log_loss", max_iter=3, tol=None, random_state=0), 4),
        (lambda: SGDClassifier(loss="modified_huber", max_iter=3, tol=None, random_state=0), 2),
        (lambda: SGDClassifier(loss="hinge", max_iter=3, tol=None, random_state=0), 4),
    ],
)
def test_estimators_on_threads_equal_n_jobs_1(threaded, make, classes, dtype):
    X = _csr(dtype=dtype)
    rng = np.random.default_rng(2)
    model = make()
    if classes is None:
        y = rng.normal(size=X.shape[0])
    else:
        y = rng.integers(0, classes, size=X.shape[0])
    model.fit(X, y)
    methods = ["predict"] + [m for m in ("decision_function", "predict_proba") if hasattr(model, m)]
    serial = {m: getattr(model, m)(X) for m in methods}
    assert threaded == [False] * len(serial)
    model.set_params(n_jobs=2)
    for method, want in serial.items():
        got = getattr(model, method)(X)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype and got.shape == want.shape
    assert threaded[len(serial) :] == [True] * len(serial)
    assert model.score(X, y) == make().fit(X, y).score(X, y)


def test_small_inputs_stay_on_scipy():
    X = _csr()
    assert X.nnz < _sparse.PARALLEL_NNZ
    assert not _sparse.threaded_product(X.nnz, 2)
    assert not _sparse.threaded_product(_sparse.PARALLEL_NNZ, 1)
    assert _sparse.threaded_product(_sparse.PARALLEL_NNZ, 2)


@pytest.mark.parametrize("bad", [-1, 200, 10**6])
def test_bad_index_raises_the_serial_message(threaded, bad):
    X = _csr(messy=False)
    model = SGDRegressor(max_iter=2, tol=None, random_state=0).fit(X, X @ np.ones(200))
    X.indices[X.indptr[700] + 1] = bad  # past scipy's construction-time checks
    messages = []
    for n_jobs in (1, 2):
        model.set_params(n_jobs=n_jobs)
        with pytest.raises(ValueError, match=f"column index {bad} in row 700") as err:
            model.predict(X)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert threaded == [True]  # n_jobs=1 was refused before any product ran


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nonfinite_values_name_the_row_on_both_paths(threaded, value, dtype):
    X = _csr(dtype=dtype, messy=False)
    model = SGDClassifier(max_iter=2, tol=None, random_state=0)
    model.fit(X, np.arange(X.shape[0]) % 3)
    X.data[X.indptr[1234]] = value
    for n_jobs in (1, 2):
        model.set_params(n_jobs=n_jobs)
        with pytest.raises(ValueError, match="row 1234"):
            model.decision_function(X)


def test_overflow_of_finite_values_is_returned_as_is(threaded):
    X = _csr(messy=False)
    model = SGDRegressor(max_iter=2, tol=None, random_state=0).fit(X, X @ np.ones(200))
    model.coef_ = np.full_like(model.coef_, 1e308)
    X.data[:] = 1e308
    model.set_params(n_jobs=2)
    out = model.predict(X)
    assert np.isinf(out).any()
    assert threaded == [True]


def test_check_csr_index_pass_and_first_nonfinite():
    X = _csr(messy=False)
    X.indices[3] = 10**6
    with pytest.raises(ValueError, match="column index"):
        _sparse.check_csr(X)
    assert _sparse.check_csr(X, check_indices=False) is X  # left to the threaded product
    for dtype in (np.float64, np.float32):
        data = np.ones(1000, dtype=dtype)
        assert _sparse.first_nonfinite(data, 1000) == -1
        data[[17, 400]] = [np.inf, np.nan]
        assert _sparse.first_nonfinite(data, 1000) == 17
        assert _sparse.first_nonfinite(data, 17) == -1
        data[17] = -np.inf
        assert _sparse.first_nonfinite(data, 1000) == 17
