"""CSR input: sparse = dense over the option grid, the lazy updates against their twin,
scikit-learn's sparse trajectories, the estimators' sparse API and its errors."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from fastgd import SGDClassifier, SGDRegressor, _grid, reference
from fastgd import _layout as C
from fastgd._driver import run_epoch


def _sparsify(X, seed=0, density=0.45):
    """Zero out most entries of ``X`` (in place) and return it."""
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) > density] = 0.0
    return X


def messy_csr(X, seed=0):
    """A CSR matrix equal to dense ``X`` whose rows hold unsorted indices, explicit zeros and
    duplicate entries (split values that add up): every storage quirk at once."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for i in range(X.shape[0]):
        r_cols, r_vals = [], []
        for j in np.flatnonzero(X[i]):
            v = float(X[i, j])
            if rng.random() < 0.3:  # a duplicate pair summing to v
                a = v * rng.uniform(0.2, 0.8)
                r_cols += [j, j]
                r_vals += [a, v - a]
            else:
                r_cols.append(j)
                r_vals.append(v)
        if X.shape[1] > 0 and rng.random() < 0.5:  # an explicit zero
            r_cols.append(int(rng.integers(X.shape[1])))
            r_vals.append(0.0)
        perm = rng.permutation(len(r_cols))
        rows += [i] * len(r_cols)
        cols += [r_cols[k] for k in perm]
        vals += [r_vals[k] for k in perm]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=X.shape[0]))])
    M = sp.csr_matrix(
        (np.array(vals, dtype=X.dtype), np.array(cols, dtype=np.int32), indptr), shape=X.shape
    )
    assert not M.has_canonical_format
    assert_allclose(M.toarray(), X, rtol=1e-15, atol=1e-15)
    return M


# ----------------------------------------------------- 1. the kernels over the grid
@pytest.mark.parametrize("loss", _grid.LOSSES)
def test_csr_kernels_equal_dense_reference(loss):
    """Every penalty x optimizer x schedule x batch size x intercept: the CSR kernels on a
    matrix with every storage quirk equal the dense reference on ``X.toarray()``."""
    X, y, sw = _grid.make_data(loss, n=24, d=6)
    Xs = messy_csr(_sparsify(X))
    failures = []
    for name, cfg in _grid.configurations(losses=(loss,)):
        dev = _grid.compare(cfg, X, y, sw, X_kernel=Xs)
        if not dev <= 1e-10:
            failures.append(f"{name}: {dev:.3g}")
    assert not failures, failures[:10]


@pytest.mark.parametrize("loss", ["squared_error", "hinge", "log_loss", "huber"])
def test_csr_averaged_and_float32_equal_dense_reference(loss):
    """Bottou's sparse averaging equals the dense running mean (float64, rtol 1e-10); float32
    CSR data against the float64 dense reference to 1e-4."""
    X, y, sw = _grid.make_data(loss, n=24, d=6)
    X = _sparsify(X, seed=3)
    Xs = messy_csr(X, seed=3)
    X32 = sp.csr_matrix(X.astype(np.float32))
    failures = []
    for name, cfg in _grid.configurations(losses=(loss,)):
        for average in (1, 7):
            c = dataclasses.replace(cfg, average=average)
            dev = _grid.compare(c, X, y, sw, X_kernel=Xs)
            if not dev <= 1e-10:
                failures.append(f"{name} average={average}: {dev:.3g}")
        dev32 = _grid.compare(cfg, X, y, sw, X_kernel=X32, model_only=True)
        if not dev32 <= 1e-4:
            failures.append(f"{name} float32: {dev32:.3g}")
    assert not failures, failures[:10]


@pytest.mark.parametrize("loss", ["squared_error", "hinge", "log_loss", "modified_huber"])
def test_lazy_updates_equal_sparse_reference(loss):
    """The lazy rules and the intercept decay: the CSR kernels against the CSR reference."""
    X, y, sw = _grid.make_data(loss, n=24, d=6)
    Xs = messy_csr(_sparsify(X, seed=5), seed=5)
    clean = sp.csr_matrix(X)  # canonical rows: per-sample lazy steps take them directly
    failures = []
    variants = (
        dict(lazy_updates=True),
        dict(lazy_updates=True, average=3, intercept_decay=0.01),
        dict(intercept_decay=0.3),
    )
    for name, cfg in _grid.configurations(losses=(loss,)):
        for variant in variants:
            for label, M in (("messy", Xs), ("canonical", clean)):
                dev = _grid.compare(
                    dataclasses.replace(cfg, **variant), X, y, sw, X_kernel=M, sparse_reference=True
                )
                if not dev <= 1e-10:
                    failures.append(f"{name} {variant} {label}: {dev:.3g}")
    assert not failures, failures[:10]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_sparse_reference_equals_dense_reference(optimizer, penalty):
    """The readable CSR twin computes the dense twin's steps (exact mode)."""
    X, y, sw = _grid.make_data("squared_error", n=20, d=5)
    X = _sparsify(X, seed=1)
    Xs = messy_csr(X, seed=1)
    for batch in (1, 4):
        cfg = reference.Config(
            optimizer=optimizer,
            penalty=penalty,
            batch_size=batch,
            learning_rate="constant",
            eta0=0.05,
            average=2,
            alpha=1e-3,
        )
        order = np.random.default_rng(0).permutation(20)
        dense = [np.zeros(6), reference.init_state(5), reference.init_counters(0.05)]
        sparse = [a.copy() for a in dense]
        out_d = reference.run_epoch(X, y, sw, order, *dense, cfg)
        out_s = reference.run_epoch_csr(Xs.data, Xs.indices, Xs.indptr, y, sw, order, *sparse, cfg)
        for a, b in zip(dense, sparse, strict=True):
            assert_allclose(b, a, rtol=1e-12, atol=1e-14)
        assert_allclose(out_s[:2], out_d[:2], rtol=1e-12)


def test_lazy_updates_touch_only_the_batch_columns():
    """With lazy updates a column with no nonzero in a step keeps its value and moments."""
    X = np.zeros((8, 4))
    X[:, 0] = np.linspace(0.5, 1.5, 8)
    X[:4, 2] = 1.0  # column 2 only in the first batch, column 1 and 3 never
    y = np.linspace(-1.0, 1.0, 8)
    cfg = reference.Config(
        optimizer="adam", batch_size=4, learning_rate="constant", eta0=0.1, penalty="l2"
    )
    hp = _grid.kernel_args(cfg, 8)[-1]
    hp[C.HP_LAZY_UPDATES] = 1.0
    params, state, counters = np.full(5, 0.3), C.new_state(4), C.new_counters(0.1)
    state_before = state.copy()
    run_epoch(
        sp.csr_matrix(X),
        y,
        np.ones(8),
        np.arange(8, dtype=np.int64),
        params,
        state,
        counters,
        hp,
        C.LOSSES["squared_error"],
        C.PENALTIES["l2"],
        C.OPTIMIZERS["adam"],
        C.SCHEDULES["constant"],
        4,
    )
    assert params[1] == params[3] == 0.3  # never touched: not even L2 moved them
    assert (state[:, [1, 3]] == state_before[:, [1, 3]]).all()
    assert params[0] != 0.3 and params[2] != 0.3


def test_lazy_adam_is_torch_sparse_adam():
    """Lazy Adam follows torch.optim.SparseAdam's update, written out here from its docs."""
    rng = np.random.default_rng(0)
    d, lr, b1, b2, eps = 5, 0.01, 0.9, 0.999, 1e-8
    cfg = reference.Config(optimizer="adam", learning_rate="constant", eta0=lr, penalty=None)
    params = rng.normal(size=d + 1)
    state, counters = reference.init_state(d), reference.init_counters(lr)
    mine = params.copy()
    m, v = np.zeros(d + 1), np.zeros(d + 1)
    for step in range(1, 6):
        coords = np.sort(rng.choice(d, size=2, replace=False))
        g = np.zeros(d + 1)
        g[coords] = rng.normal(size=2)
        g[d] = rng.normal()
        counters[reference.SC_T] = step
        reference.optimizer_step(cfg, params, g, state, counters, lr, coords)
        idx = np.append(coords, d)  # SparseAdam: only the gradient's indices
        m[idx] = m[idx] + (1 - b1) * (g[idx] - m[idx])
        v[idx] = v[idx] + (1 - b2) * (g[idx] ** 2 - v[idx])
        step_size = lr * math.sqrt(1 - b2**step) / (1 - b1**step)
        mine[idx] -= step_size * m[idx] / (np.sqrt(v[idx]) + eps)
    assert_allclose(params, mine, rtol=1e-13)


def test_lazy_adam_matches_torch_if_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    d, lr = 6, 0.05
    w0 = rng.normal(size=d)
    emb = torch.nn.Parameter(torch.tensor(w0[:, None], dtype=torch.float64))
    opt = torch.optim.SparseAdam([emb], lr=lr)
    cfg = reference.Config(
        optimizer="adam", learning_rate="constant", eta0=lr, penalty=None, fit_intercept=False
    )
    params = np.append(w0, 0.0)
    state, counters = reference.init_state(d), reference.init_counters(lr)
    for step in range(1, 5):
        coords = np.sort(rng.choice(d, size=3, replace=False))
        gv = rng.normal(size=3)
        opt.zero_grad()
        emb.grad = torch.sparse_coo_tensor(
            torch.tensor(coords[None, :]), torch.tensor(gv[:, None]), (d, 1), check_invariants=True
        )
        opt.step()
        g = np.zeros(d + 1)
        g[coords] = gv
        counters[reference.SC_T] = step
        reference.optimizer_step(cfg, params, g, state, counters, lr, coords)
    assert_allclose(params[:d], emb.detach().numpy()[:, 0], rtol=1e-12)


# --------------------------------------------------------------- 2. the estimators
@pytest.fixture(scope="module")
def sparse_reg():
    rng = np.random.default_rng(0)
    X = _sparsify(rng.normal(size=(240, 12)), seed=2)
    y = X @ rng.normal(size=12) + 0.4 + 0.05 * rng.normal(size=240)
    return X, y


REG_CONFIGS = [
    dict(),
    dict(penalty="l1", alpha=1e-3),
    dict(penalty="elasticnet", average=10),
    dict(optimizer="adam", batch_size=16, learning_rate="constant"),
    dict(optimizer="momentum", batch_size=None, learning_rate="constant", eta0=0.05),
    dict(early_stopping=True, n_iter_no_change=3),
    dict(loss="huber", learning_rate="adaptive", eta0=0.05),
]


@pytest.mark.parametrize("params", REG_CONFIGS, ids=lambda p: ",".join(map(str, p.items())))
@pytest.mark.parametrize("container", ["csr_matrix", "csr_array", "csc", "coo", "int64"])
def test_regressor_fit_on_sparse_equals_dense(sparse_reg, params, container):
    X, y = sparse_reg
    Xs = {
        "csr_matrix": sp.csr_matrix,
        "csr_array": sp.csr_array,
        "csc": sp.csc_matrix,
        "coo": sp.coo_matrix,
        "int64": lambda a: _int64_csr(a),
    }[container](X)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    dense = SGDRegressor(random_state=0, **params).fit(X, y, sample_weight=sw)
    sparse = SGDRegressor(random_state=0, **params).fit(Xs, y, sample_weight=sw)
    assert sparse.n_iter_ == dense.n_iter_
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-13)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-10)
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-10)
    assert_allclose(sparse.predict(Xs), dense.predict(X), rtol=1e-10, atol=1e-12)
    assert sparse.score(Xs, y) == pytest.approx(dense.score(X, y), rel=1e-10)


def _int64_csr(X):
    M = sp.csr_matrix(X)
    M.indices = M.indices.astype(np.int64)
    M.indptr = M.indptr.astype(np.int64)
    return M


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(loss="log_loss", class_weight="balanced"),
        dict(loss="modified_huber", optimizer="adagrad", batch_size=8, learning_rate="constant"),
    ],
    ids=str,
)
def test_classifier_on_sparse_equals_dense(params):
    rng = np.random.default_rng(3)
    X = _sparsify(rng.normal(size=(200, 10)), seed=4)
    score = X @ rng.normal(size=10)
    y = np.digitize(score, [-0.5, 0.5])
    # alpha 0.01: the default 1e-4 makes 'optimal' take steps of ~1e3 at first, and that
    # chaotic start amplifies any difference of summation order (dense vs dense, too)
    common = dict(random_state=0, max_iter=20, tol=None, alpha=0.01)
    dense = SGDClassifier(**common, **params).fit(X, y)
    sparse = SGDClassifier(**common, **params).fit(messy_csr(X, seed=4), y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(
        sparse.decision_function(sp.csr_matrix(X)), dense.decision_function(X), rtol=1e-9
    )
    assert (sparse.predict(sp.csr_matrix(X)) == dense.predict(X)).all()
    if params.get("loss") in ("log_loss", "modified_huber"):
        assert_allclose(
            sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=1e-9, atol=1e-12
        )


def test_float32_sparse_stays_float32_and_matches_float64(sparse_reg):
    X, y = sparse_reg
    X32 = sp.csr_matrix(X.astype(np.float32))
    m32 = SGDRegressor(random_state=0, max_iter=5, tol=None).fit(X32, y)
    m64 = SGDRegressor(random_state=0, max_iter=5, tol=None).fit(sp.csr_matrix(X), y)
    assert m32.predict(X32).dtype == np.float32
    assert_allclose(m32.coef_, m64.coef_, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------- 3. scikit-learn's sparse fits
PARITY = [
    ("squared_error", "l2", False),
    ("huber", None, False),
    ("squared_error", "l2", 5),
    ("epsilon_insensitive", "l1", False),
    ("squared_error", "elasticnet", False),
]


@pytest.mark.parametrize(("loss", "penalty", "average"), PARITY)
def test_intercept_decay_reproduces_sklearn_sparse_regressor(sparse_reg, loss, penalty, average):
    """``intercept_decay=0.01`` (and ``lazy_updates`` for L1, scikit-learn's sparse rule)
    reproduce scikit-learn's sparse trajectories, shuffle off."""
    from sklearn.linear_model import SGDRegressor as SkSGDRegressor

    X, y = sparse_reg
    Xs = sp.csr_matrix(X)
    params = dict(loss=loss, penalty=penalty, average=average, shuffle=False, max_iter=7, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkSGDRegressor(**params).fit(Xs, y)
    ours = SGDRegressor(**params, intercept_decay=0.01, lazy_updates=True).fit(Xs, y)
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9, atol=1e-12)
    # and without the decay, sparse = dense: not scikit-learn's sparse fit
    plain = SGDRegressor(**params).fit(Xs, y)
    assert not np.allclose(plain.intercept_, theirs.intercept_, rtol=1e-6)


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber"])
def test_intercept_decay_reproduces_sklearn_sparse_classifier(loss):
    from sklearn.linear_model import SGDClassifier as SkSGDClassifier

    rng = np.random.default_rng(7)
    X = _sparsify(rng.normal(size=(150, 8)), seed=7)
    y = (X @ rng.normal(size=8) > 0.1).astype(int)
    Xs = sp.csr_matrix(X)
    params = dict(loss=loss, shuffle=False, max_iter=5, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkSGDClassifier(**params).fit(Xs, y)
    ours = SGDClassifier(**params, intercept_decay=0.01).fit(Xs, y)
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------- 4. streaming
def test_csr_and_mixed_chunks_are_chunk_invariant(sparse_reg):
    X, y = sparse_reg
    for batch_size in (1, 7):
        one = SGDRegressor(batch_size=batch_size, shuffle=False, random_state=0)
        one.partial_fit(X, y)
        chunked = SGDRegressor(batch_size=batch_size, shuffle=False, random_state=0)
        bounds = [0, 33, 50, 121, 122, 240]
        for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            part = X[lo:hi]
            chunked.partial_fit(sp.csr_matrix(part) if k % 2 == 0 else part, y[lo:hi])
        assert chunked.n_pending_ == one.n_pending_
        one.flush()
        chunked.flush()
        assert_allclose(chunked.coef_, one.coef_, rtol=1e-12, atol=1e-15)
        assert_allclose(chunked.intercept_, one.intercept_, rtol=1e-12)


def test_sparse_pending_rows_checkpoint_without_densifying(sparse_reg, tmp_path):
    import fastgd

    X, y = sparse_reg
    Xs = sp.csr_matrix(X)
    a = SGDRegressor(batch_size=16, optimizer="adam", learning_rate="constant", shuffle=False)
    a.partial_fit(Xs[:100], y[:100])
    assert sp.issparse(a._pending[0]) and a.n_pending_ == 4
    a.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        assert "pending_X_data" in npz.files and "pending_X" not in npz.files
    b = fastgd.load(tmp_path / "m.npz")
    assert sp.issparse(b._pending[0]) and b.n_pending_ == 4
    for m in (a, b):
        m.partial_fit(Xs[100:], y[100:])
        m.flush()
    assert_allclose(b.coef_, a.coef_, rtol=0, atol=0)


# ------------------------------------------------------------------- 5. bad input
def _bad(kind):
    M = sp.csr_matrix(np.eye(4, 3) + 0.5)
    if kind == "index_too_large":
        M.indices[2] = 3
    elif kind == "index_negative":
        M.indices[1] = -1
    elif kind == "indptr_decreasing":
        M.indptr[2] = M.indptr[1] - 1
    elif kind == "indptr_start":
        M.indptr[0] = 1
    elif kind == "indptr_past_end":
        M.indptr[-1] = M.indices.shape[0] + 5
    elif kind == "nan":
        M.data[4] = np.nan
    elif kind == "inf":
        M.data[0] = -np.inf
    return M


BAD = {
    "index_too_large": "column index 3 in row 0",
    "index_negative": "column index -1",
    "indptr_decreasing": "indptr decreases at row 1",
    "indptr_start": "indptr must start at 0",
    "indptr_past_end": "points past the end",
    "nan": "NaN or infinity",
    "inf": "NaN or infinity",
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict"])
def test_bad_sparse_input_is_a_clear_error_and_changes_nothing(kind, method):
    y = np.array([0.0, 1.0, 2.0, 3.0])
    model = SGDRegressor(max_iter=3, tol=None).fit(np.eye(4, 3), y)
    before = (model.coef_.copy(), model.intercept_.copy(), model.n_iter_, model.t_)
    with pytest.raises(ValueError, match=BAD[kind]):
        if method == "predict":
            model.predict(_bad(kind))
        else:
            getattr(model, method)(_bad(kind), y)
    assert_allclose(model.coef_, before[0], rtol=0, atol=0)
    assert (model.intercept_, model.n_iter_, model.t_) == (before[1], before[2], before[3])


def test_sparse_feature_count_mismatch():
    model = SGDRegressor(max_iter=2, tol=None).fit(sp.csr_matrix(np.eye(4, 3)), np.arange(4.0))
    with pytest.raises(ValueError, match="X has 5 features, but SGDRegressor is expecting 3"):
        model.partial_fit(sp.csr_matrix(np.ones((2, 5))), [1.0, 2.0])
    with pytest.raises(ValueError, match="X has 2 features"):
        model.predict(sp.csr_matrix(np.ones((2, 2))))


def test_complex_sparse_data_is_a_type_error():
    with pytest.raises(TypeError, match="complex"):
        SGDRegressor().fit(sp.csr_matrix(np.eye(3, dtype=complex)), [1.0, 2.0, 3.0])


def test_nonfinite_row_waiting_in_the_buffer_is_refused():
    X = sp.csr_matrix(np.eye(10, 4) + 0.1)
    X.data[-1] = np.nan  # in the last row, which would wait for the next mini-batch
    model = SGDRegressor(batch_size=3, shuffle=False)
    with pytest.raises(ValueError, match=r"row 9 of X, which waits for the next mini-batch"):
        model.partial_fit(X, np.arange(10.0))
    assert not hasattr(model, "coef_")


def test_one_signature_per_data_dtype():
    """int64 indices and any indptr dtype reach the kernels as int32 / int64: one compiled
    signature per data dtype and path."""
    from fastgd._kernels.sparse import csr_batch_epoch, csr_lazy_sample_epoch, csr_sgd_epoch

    rng = np.random.default_rng(0)
    X = _sparsify(rng.normal(size=(40, 5)))
    y = rng.normal(size=40)
    for dtype in (np.float32, np.float64):
        for make in (sp.csr_matrix, _int64_csr):
            Xs = make(X.astype(dtype))
            SGDRegressor(max_iter=2, tol=None).fit(Xs, y)
            SGDRegressor(max_iter=2, tol=None, optimizer="adam", batch_size=4).fit(Xs, y)
            SGDRegressor(max_iter=2, tol=None, optimizer="adam", lazy_updates=True).fit(Xs, y)
    assert len(csr_sgd_epoch.signatures) <= 2
    assert len(csr_batch_epoch.signatures) <= 2
    assert len(csr_lazy_sample_epoch.signatures) <= 2
