"""Compiled kernels against fastgd.reference over the whole option grid, plus the seeds' numbers."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from fastgd import SGDRegressor, _grid
from fastgd import _layout as C

OPTIMIZERS = list(_grid.OPTIMIZER_VARIANTS)


def _grid_failures(loss, optimizer, *, tol, epochs=2, float32=False, average=0):
    """Worst deviations above ``tol`` over penalty x schedule x batch x intercept x weights."""
    failures = []
    count = 0
    for name, cfg in _grid.configurations(losses=(loss,), optimizers=(optimizer,)):
        cfg.average = average
        X, y, sw = _grid.make_data(loss)
        for weighted in (False, True):
            weights = sw if weighted else np.ones_like(sw)
            X_kernel = X.astype(np.float32) if float32 else None
            dev = _grid.compare(
                cfg, X, y, weights, epochs=epochs, X_kernel=X_kernel, model_only=float32
            )
            count += 1
            if not dev <= tol:
                failures.append(f"{name}/weighted={weighted}: {dev:.3g}")
    return count, failures


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", _grid.LOSSES)
def test_kernel_equals_reference_float64(loss, optimizer):
    count, failures = _grid_failures(loss, optimizer, tol=1e-10)
    assert count == 4 * 8 * 3 * 2 * 2
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", ["squared_error", "log_loss", "hinge"])
@pytest.mark.parametrize("average", [1, 9])
def test_kernel_equals_reference_averaged(loss, optimizer, average):
    _, failures = _grid_failures(loss, optimizer, tol=1e-10, average=average)
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", _grid.LOSSES)
def test_float32_input_matches_float64(loss, optimizer):
    """float32 X (kept float32 in memory) against the float64 reference: the model to rtol 1e-4."""
    _, failures = _grid_failures(loss, optimizer, tol=1e-4, float32=True)
    assert not failures, "\n".join(failures[:20])


def test_deviation_is_detected():
    """The comparison can fail: a 1e-6 change of one hyperparameter on one side is caught."""
    import dataclasses

    for opt in ("adam", "sgd", "rmsprop-centered-momentum"):
        name, cfg = next(_grid.configurations(losses=("squared_error",), optimizers=(opt,)))
        X, y, sw = _grid.make_data("squared_error")
        assert _grid.compare(cfg, X, y, sw) <= 1e-10
        nudged = dataclasses.replace(cfg, eta0=cfg.eta0 * (1 + 1e-6))
        assert _grid.compare(cfg, X, y, sw, reference_cfg=nudged) > 1e-8, name


def test_kernel_args_leaves_config_unchanged():
    name, cfg = next(_grid.configurations(batch_sizes=(None,)))
    cfg.learning_rate = "optimal"
    before = repr(cfg)
    _grid.kernel_args(cfg, 24)
    assert repr(cfg) == before


def test_nonfinite_row_stops_both_at_same_position():
    name, cfg = next(_grid.configurations(losses=("squared_error",), optimizers=("sgd",)))
    X, y, sw = _grid.make_data("squared_error")
    X = X.copy()
    X[7, 1] = np.nan
    from fastgd import reference
    from fastgd._driver import run_epoch

    loss, penalty, opt, sched, batch, hp = _grid.kernel_args(cfg, len(y))
    order = np.arange(len(y), dtype=np.int64)
    d = X.shape[1]
    k = run_epoch(
        X,
        y,
        sw,
        order,
        np.zeros(d + 1),
        np.zeros((C.N_ST, d + 1)),
        np.array([1.0, 0.0, cfg.eta0]),
        hp,
        loss,
        penalty,
        opt,
        sched,
        batch,
    )
    r = reference.run_epoch(
        X,
        y,
        sw,
        order,
        np.zeros(d + 1),
        reference.init_state(d),
        reference.init_counters(cfg.eta0),
        cfg,
    )
    assert k[2] == r[2] == 7


_COMPILE_SCRIPT = r"""
import json, warnings
import numpy as np
from fastgd import _grid, SGDRegressor, SGDClassifier
from fastgd import _kernels as K
from fastgd._kernels.targets import all_finite, encode_binary
warnings.simplefilter("ignore")
for name, cfg in _grid.configurations(batch_sizes=(1, 4, None)):
    X, y, sw = _grid.make_data(cfg.loss, n=12)
    for dtype in (np.float64, np.float32):
        Xk = X.astype(dtype)
        _grid.compare(cfg, X, y, sw, epochs=1, X_kernel=Xk)
        Xk.flags.writeable = False  # a memmap opened read-only: the same signature
        _grid.compare(cfg, X, y, sw, epochs=1, X_kernel=Xk)
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
for dtype in (np.float64, np.float32, np.int64):
    for writeable in (True, False):
        Xd = (X * 10).astype(dtype)
        Xd.flags.writeable = writeable
        SGDRegressor(max_iter=3, batch_size=4, optimizer="adam").fit(Xd, X[:, 0])
        SGDClassifier(max_iter=3, average=True).fit(Xd, X[:, 0] > 0, sample_weight=np.ones(40))
        for labels in (np.int64, np.int32, np.int8, np.uint8):
            yl = (np.arange(40) % 3).astype(labels)
            clf = SGDClassifier(max_iter=3).partial_fit(Xd, yl, classes=[0, 1, 2])
            clf.partial_fit(Xd, yl)  # the streaming fast path (float X only)
            clf2 = SGDClassifier(max_iter=3).partial_fit(Xd, yl % 2, classes=[0, 1])
            clf2.partial_fit(Xd, yl % 2)
            reg = SGDRegressor(max_iter=3).partial_fit(Xd, X[:, 0])
            reg.partial_fit(Xd, X[:, 0])
        big = rng.normal(size=(3000, 3))  # enough rows for the compiled shuffle
        SGDRegressor(max_iter=2, tol=None, random_state=0).fit(big.astype(dtype),
                                                               np.ascontiguousarray(big[:, 0]))
        SGDRegressor(max_iter=2, tol=None, random_state=0, penalty="l1").fit(
            big.astype(dtype), np.ascontiguousarray(big[:, 0]))
kernels = (K.sgd_plain_epoch, K.sgd_general_epoch, K.batch_epoch, K.guarded_plain,
           K.guarded_general, K.guarded_batch, all_finite, encode_binary, K.pcg64_shuffle)
print(json.dumps({f.__name__: len(f.signatures) for f in kernels}))
"""


def test_one_compiled_signature_per_dtype():
    """The whole grid, both dtypes, writable and read-only X, every label dtype and the
    estimators compile each entry point once per X dtype."""
    out = subprocess.run(
        [sys.executable, "-c", _COMPILE_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    # Python reaches the epoch loops only through fastgd._driver (run_epoch and the
    # guarded kernels of partial_fit's hot path): at most one signature per X dtype
    # (float32, float64), read-only or not; none at all for a path the cache serves.
    for name in (
        "sgd_plain_epoch",
        "sgd_general_epoch",
        "batch_epoch",
        "guarded_plain",
        "guarded_general",
        "guarded_batch",
    ):
        assert counts[name] <= 2, counts
    assert counts["sgd_plain_epoch"] >= 1 and counts["batch_epoch"] >= 1, counts
    # contiguous writable float64 targets only (others go to NumPy); int64 labels only
    assert counts["all_finite"] <= 1 and counts["encode_binary"] <= 1, counts
    assert counts["pcg64_shuffle"] == 1, counts  # int64 orders only


# --------------------------------------------------------------- the seeds' numbers
SEED_X = np.array(
    [
        [1, 2],
        [3, 1],
        [1, 1],
        [0, 1],
        [2, 2],
        [-2, 3],
        [1, 2],
        [-1, -0.5],
        [0.5, 1.2],
        [2, 1],
        [-2, 3],
        [-1, 1],
    ],
    dtype=float,
)


def test_worked_example_first_minibatch():
    """12 observations, first batch of 3, w0=[1, 1], b0=0, seed eta 0.1 on the MSE gradient.

    The seed's gradient of mean((p - y)^2) is twice fastgd's, so its eta 0.1 is eta0=0.2.
    """
    y = SEED_X @ np.array([1.5, 1.5]) + 0.1
    model = SGDRegressor(
        optimizer="sgd",
        batch_size=3,
        learning_rate="constant",
        eta0=0.2,
        penalty=None,
        shuffle=False,
    )
    model.partial_fit(SEED_X[:3], y[:3])  # zeros start: use coef_init through fit instead
    model = SGDRegressor(
        optimizer="sgd",
        batch_size=3,
        learning_rate="constant",
        eta0=0.2,
        penalty=None,
        shuffle=False,
        max_iter=1,
        tol=None,
    )
    model.fit(SEED_X[:3], y[:3], coef_init=[1.0, 1.0], intercept_init=[0.0])
    np.testing.assert_allclose(model.coef_, [1.6, 1.42666667], atol=5e-9)
    np.testing.assert_allclose(model.intercept_, [0.32], atol=1e-12)


def test_seed_full_batch_line_fit():
    """x = 1..300, y = 0.5x + 2, zeros start, 200,000 full-batch epochs.

    The seed steps 1e-4 on X^T(p - y) / (2n), i.e. 5e-5 on fastgd's mean gradient.
    """
    x = np.arange(1, 301, dtype=float).reshape(-1, 1)
    y = 0.5 * x[:, 0] + 2
    model = SGDRegressor(
        batch_size=None,
        learning_rate="constant",
        eta0=5e-5,
        penalty=None,
        shuffle=False,
        max_iter=200_000,
        tol=None,
    )
    model.fit(x, y)
    assert model.n_iter_ == 200_000
    assert abs(model.coef_[0] - 0.5008287639956263) < 1e-9
    assert abs(model.intercept_[0] - 1.8339723159878247) < 1e-9


# ------------------------------------------------- every optimizer reaches the optimum
CONVERGENCE = {
    "sgd": dict(learning_rate="constant", eta0=0.5, batch_size=None, max_iter=3000),
    "momentum": dict(learning_rate="constant", eta0=0.2, batch_size=None, max_iter=2000),
    "nesterov": dict(learning_rate="constant", eta0=0.2, batch_size=None, max_iter=2000),
    "adagrad": dict(learning_rate="constant", eta0=0.5, batch_size=None, max_iter=5000),
    "rmsprop": dict(
        learning_rate="exponential", eta0=0.01, gamma=0.998, batch_size=None, max_iter=5000
    ),
    "adam": dict(
        learning_rate="exponential", eta0=0.05, gamma=0.997, batch_size=None, max_iter=5000
    ),
    "adamw": dict(
        learning_rate="exponential",
        eta0=0.05,
        gamma=0.997,
        batch_size=None,
        max_iter=5000,
        weight_decay=0.0,
    ),
}


@pytest.mark.parametrize("optimizer", list(CONVERGENCE))
def test_optimizer_reaches_least_squares_optimum(optimizer):
    rng = np.random.default_rng(1)
    n, d = 400, 4
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.7 + 0.3 * rng.normal(size=n)
    A = np.c_[X, np.ones(n)]
    best = np.linalg.lstsq(A, y, rcond=None)[0]
    f_best = np.mean((A @ best - y) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SGDRegressor(
            optimizer=optimizer, penalty=None, shuffle=False, tol=None, **CONVERGENCE[optimizer]
        ).fit(X, y)
    f = np.mean((X @ model.coef_ + model.intercept_[0] - y) ** 2)
    assert (f - f_best) / f_best <= 1e-8


@pytest.mark.parametrize("t", [1.0, 65_535.0, 65_536.0, 1e6 + 17, 3e9])
@pytest.mark.parametrize("power_t", [0.25, 0.5, 1.0])
def test_invscaling_rates_ahead_match_formula(t, power_t):
    """fill_rates' series form of eta0 / t^power_t stays within a few ulps of the formula."""
    from fastgd import reference
    from fastgd._kernels.scalar import RATE_BLOCK, fill_rates

    cfg = reference.Config(learning_rate="invscaling", eta0=0.3, power_t=power_t)
    hp = _grid.kernel_args(cfg, 10)[5]
    out = np.empty(RATE_BLOCK)
    fill_rates(C.SCHED_INVSCALING, t, hp, np.zeros(C.N_SC), out, 0, RATE_BLOCK)
    expected = [reference.learning_rate(cfg, t + k, np.zeros(3)) for k in range(RATE_BLOCK)]
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=0)
    # filled in pieces (as a chunk that starts and ends mid-block does): the same bits
    pieces = np.full(RATE_BLOCK, np.nan)
    for lo, hi in ((0, 5), (5, 6), (6, 40), (40, RATE_BLOCK)):
        fill_rates(C.SCHED_INVSCALING, t, hp, np.zeros(C.N_SC), pieces, lo, hi)
    np.testing.assert_array_equal(pieces, out)


def test_late_epoch_equals_reference():
    """An epoch that starts at t = 100,000 (series rates) agrees with the reference."""
    name, cfg = next(_grid.configurations(losses=("squared_error",), optimizers=("sgd",)))
    cfg.learning_rate, cfg.power_t, cfg.eta0 = "invscaling", 0.25, 0.05
    X, y, sw = _grid.make_data("squared_error", n=300)
    from fastgd import reference
    from fastgd._driver import run_epoch

    loss, penalty, opt, sched, batch, hp = _grid.kernel_args(cfg, len(y))
    d = X.shape[1]
    ref = [np.zeros(d + 1), reference.init_state(d), np.array([1e5, 0.0, cfg.eta0])]
    ker = [a.copy() for a in ref]
    order = np.random.default_rng(3).permutation(len(y))
    reference.run_epoch(X, y, sw, order, *ref, cfg)
    run_epoch(X, y, sw, order, *ker, hp, loss, penalty, opt, sched, batch)
    for a, b in zip(ker, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("penalty", [C.PENALTY_NONE, C.PENALTY_L2, C.PENALTY_ELASTICNET])
def test_shuffled_epoch_equals_prepermuted_data_bitwise(penalty):
    """A shuffled order (rows gathered into a buffer) gives the same bits as the same rows
    stored in that order and read in place, across several gather blocks."""
    from fastgd._driver import run_epoch
    from fastgd._kernels.sgd import GATHER_BLOCK

    rng = np.random.default_rng(5)
    n, d = 3 * GATHER_BLOCK + 17, 11
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d)
    sw = rng.uniform(0.5, 2, size=n)
    order = rng.permutation(n)
    hp = np.zeros(C.N_HP)
    hp[C.HP_ETA0], hp[C.HP_ALPHA], hp[C.HP_L1_RATIO] = 0.01, 1e-3, 0.3
    hp[C.HP_FIT_INTERCEPT], hp[C.HP_AVERAGE] = 1.0, 100.0
    out = []
    for Xk, yk, swk, ok in (
        (X, y, sw, order),
        (X[order].copy(), y[order].copy(), sw[order].copy(), np.arange(n)),
    ):
        params, state = np.zeros(d + 1), np.zeros((C.N_ST, d + 1))
        counters = np.array([1.0, 0.0, 0.01])
        sums = run_epoch(
            Xk,
            yk,
            swk,
            ok,
            params,
            state,
            counters,
            hp,
            C.LOSS_SQUARED_ERROR,
            penalty,
            C.OPT_SGD,
            C.SCHED_CONSTANT,
            1,
        )
        out.append(np.r_[params, state.ravel(), counters, sums[:2]])
    np.testing.assert_array_equal(out[0], out[1])


def _carry_epoch(X, y, order, params, state, counters, penalty=C.PENALTY_L2):
    from fastgd._driver import run_epoch

    hp = np.zeros(C.N_HP)
    hp[C.HP_ETA0], hp[C.HP_ALPHA], hp[C.HP_FIT_INTERCEPT] = 0.01, 1e-3, 1.0
    return run_epoch(
        X,
        y,
        np.ones(len(y)),
        order,
        params,
        state,
        counters,
        hp,
        C.LOSS_SQUARED_ERROR,
        penalty,
        C.OPT_SGD,
        C.SCHED_CONSTANT,
        1,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 3, 10, 37, 100])
def test_carried_dot_split_calls_bitwise_equal_one_call(d, dtype):
    """The per-sample fast path (carried dot) gives the same bits whether the rows come
    in one call or in calls cut anywhere, at widths on both sides of the SIMD loop."""
    rng = np.random.default_rng(d)
    n = 700
    X = rng.normal(size=(n, d)).astype(dtype)
    y = X.astype(np.float64) @ rng.normal(size=d) + 0.1
    order = np.arange(n, dtype=np.int64)
    whole = [np.zeros(d + 1), C.new_state(d), C.new_counters(0.01)]
    _carry_epoch(X, y, order, *whole)
    parts = [np.zeros(d + 1), C.new_state(d), C.new_counters(0.01)]
    for a, b in ((0, 1), (1, 257), (257, 300), (300, n)):
        _carry_epoch(X, y, order[a:b], *parts)
    for u, v in zip(whole, parts, strict=True):
        np.testing.assert_array_equal(u, v)


def test_carried_dot_restarts_when_weights_change_outside():
    """Coefficients set between calls (warm start, another optimizer's step) are used as
    they are: the carry restarts from them and the result equals the reference."""
    from fastgd import reference

    rng = np.random.default_rng(0)
    n, d = 300, 12
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d)
    order = np.arange(n, dtype=np.int64)
    ker = [np.zeros(d + 1), C.new_state(d), C.new_counters(0.01)]
    _carry_epoch(X, y, order, *ker)
    ker[0][:d] = rng.normal(size=d)  # set from outside: the carry no longer matches
    ref = [ker[0].copy(), reference.init_state(d), ker[2][:3].copy()]
    _carry_epoch(X, y, order, *ker)
    cfg = reference.Config(
        loss="squared_error",
        penalty="l2",
        alpha=1e-3,
        eta0=0.01,
        learning_rate="constant",
        batch_size=1,
    )
    reference.run_epoch(X, y, np.ones(n), order, *ref, cfg)
    np.testing.assert_allclose(ker[0], ref[0], rtol=1e-12, atol=1e-14)


def test_carried_dot_nonfinite_row_publishes_weights_before_it():
    """A NaN row stops the fast path with the weights of the rows before it, like the
    reference, and a following call starts cleanly from them."""
    from fastgd import reference

    rng = np.random.default_rng(1)
    n, d = 200, 20
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d)
    X[150, 3] = np.nan
    order = np.arange(n, dtype=np.int64)
    ker = [np.zeros(d + 1), C.new_state(d), C.new_counters(0.01)]
    ref = [np.zeros(d + 1), reference.init_state(d), reference.init_counters(0.01)]
    cfg = reference.Config(
        loss="squared_error",
        penalty="l2",
        alpha=1e-3,
        eta0=0.01,
        learning_rate="constant",
        batch_size=1,
    )
    assert _carry_epoch(X, y, order, *ker)[2] == 150
    assert reference.run_epoch(X, y, np.ones(n), order, *ref, cfg)[2] == 150
    np.testing.assert_allclose(ker[0], ref[0], rtol=1e-12, atol=1e-14)
    assert _carry_epoch(X, y, order[151:], *ker)[2] == -1
    reference.run_epoch(X, y, np.ones(n), order[151:], *ref, cfg)
    np.testing.assert_allclose(ker[0], ref[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_wide_rows_equal_reference(optimizer):
    """At d = 40 the batch epochs use the vectorised dot and per-sample SGD runs its
    carried loop in SIMD lanes: both still equal the reference to rtol 1e-10."""
    failures = []
    for name, cfg in _grid.configurations(
        losses=("squared_error", "log_loss"), optimizers=(optimizer,), batch_sizes=(1, 5, None)
    ):
        if cfg.learning_rate not in ("constant", "invscaling") or not cfg.fit_intercept:
            continue
        X, y, sw = _grid.make_data(cfg.loss, n=30, d=40)
        for dtype in (np.float64, np.float32):
            dev = _grid.compare(
                cfg, X, y, sw, epochs=2, X_kernel=X.astype(dtype), model_only=dtype == np.float32
            )
            tol = 1e-10 if dtype == np.float64 else 1e-4
            if not dev <= tol:
                failures.append(f"{name}/{np.dtype(dtype).name}: {dev:.3g}")
    assert not failures, failures


@pytest.mark.parametrize("bad", [None, 0, 4095, 4096, 9999])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_all_finite_finds_any_nonfinite_entry(bad, value):
    """The compiled target check agrees with np.isfinite(...).all(), block edges included,
    and huge finite values do not overflow it."""
    from fastgd._kernels.targets import all_finite

    a = np.full(10_000, 1e308)
    a[::3] = -1e308
    if bad is not None:
        a[bad] = value
    assert all_finite(a) == bool(np.isfinite(a).all()) == (bad is None)


def test_empty_weights_are_unit_weights():
    """``sw`` empty (what the driver passes without sample weights) trains bit for bit as
    ``np.ones(n)`` on every path: carried dot, L1 / averaging (rows in place and
    gathered), mini-batch and full batch, sequential and shuffled."""
    from fastgd._driver import LinearState, run_epoch

    n, d = 40, 12  # d * 8 bytes >= 256: the sequential path prefetches rows too
    for _, cfg in _grid.configurations(batch_sizes=(1, 4, None), losses=("squared_error", "hinge")):
        X, y, _ = _grid.make_data(cfg.loss, n=n, d=d)
        loss, penalty, optimizer, schedule, batch, hp = _grid.kernel_args(cfg, n)
        for order in (np.arange(n), np.random.default_rng(1).permutation(n)):
            results = []
            for sw in (np.ones(n), np.empty(0)):
                lin = LinearState(np.zeros(d + 1), C.new_state(d), C.new_counters(cfg.eta0))
                out = run_epoch(
                    X,
                    y,
                    sw,
                    order,
                    lin.params,
                    lin.state,
                    lin.counters,
                    hp,
                    loss,
                    penalty,
                    optimizer,
                    schedule,
                    batch,
                )
                results.append((out, lin.arena.copy()))
            assert results[0][0] == results[1][0]
            np.testing.assert_array_equal(results[0][1], results[1][1])
