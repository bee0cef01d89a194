"""One-vs-rest classes trained concurrently (n_jobs > 1): the bits of n_jobs=1.

``fastgd._ovr.MIN_ENTRIES`` is lowered to 0 here so that these small problems take the
threads, and the calling thread is slowed down (``_slow_main``) where a test must be sure
the pool's threads train some of the models.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp

from fastgd import DivergenceError, SGDClassifier, SGDRegressor, _driver, _hotpath, _ovr

N_JOBS = (1, 2, -1)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def _threads_for_small_problems(monkeypatch):
    monkeypatch.setattr(_ovr, "MIN_ENTRIES", 0)


def _data(n=160, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    scores = X @ rng.normal(size=(d, classes)) + 0.3 * rng.normal(size=(n, classes))
    return X, scores.argmax(axis=1)


def _state(model):
    return (
        model.coef_.copy(),
        np.atleast_1d(model.intercept_).copy(),
        model.t_,
        model.n_iter_,
        list(model.loss_curve_),
        [(lin.state.copy(), lin.counters.copy()) for lin in model._lins],
        model._rng_state.bit_generator.state,
    )


def _assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2:5] == b[2:5]
    for (s1, c1), (s2, c2) in zip(a[5], b[5], strict=True):
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(c1, c2)
    assert a[6] == b[6]


class _Threads:
    """Records which threads ran an epoch; the calling thread sleeps ``delay`` s in each,
    so the pool's threads take models too."""

    def __init__(self, monkeypatch, delay=0.002):
        self.names = set()
        real = _driver.run_epoch
        main = threading.main_thread()

        def run_epoch(*args):
            me = threading.current_thread()
            self.names.add(me.name)
            if me is main and delay:
                time.sleep(delay)
            return real(*args)

        monkeypatch.setattr(_driver, "run_epoch", run_epoch)

    @property
    def pooled(self):
        return any(name.startswith("fastgd-ovr") for name in self.names)


# ------------------------------------------------------------------ bit-identity
FIT_GRID = [
    dict(),
    dict(shuffle=False),
    dict(tol=None, max_iter=4),
    dict(shuffle=False, tol=None, max_iter=4),
    dict(early_stopping=True, n_iter_no_change=2),
    dict(class_weight={0: 2.0, 2: 0.5}, max_iter=20),
    dict(optimizer="adam", batch_size=16, max_iter=20),
    dict(optimizer="adam", batch_size=None, tol=None, max_iter=5),
    dict(batch_size=None, max_iter=5, tol=None),
    dict(batch_size=16, shuffle=False, max_iter=20),
    dict(optimizer="adam", max_iter=8, tol=None, penalty="elasticnet"),
    dict(average=10, max_iter=10),
]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("kw", FIT_GRID, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_fit_is_bit_identical_for_every_n_jobs(kw, sparse, monkeypatch):
    X, y = _data()
    sw = np.random.default_rng(5).uniform(0.5, 2.0, size=y.shape[0])
    Xin = sp.csr_matrix(X) if sparse else X
    threads = _Threads(monkeypatch)
    states = []
    for n_jobs in N_JOBS:
        for weights in (None, sw):
            model = SGDClassifier(random_state=0, n_jobs=n_jobs, **kw)
            states.append(_state(model.fit(Xin, y, sample_weight=weights)))
    for i in range(2, len(states)):
        _assert_same(states[i % 2], states[i])
    assert threads.pooled


def test_multiclass_fit_seeds_each_model():
    """A shuffled one-vs-rest fit gives model k the generator default_rng(seeds[k]),
    seeds = rng.integers(0, 2**63, size=K) from the fit's generator: each model equals a
    binary fit of its own problem on that generator."""
    X, y = _data()
    model = SGDClassifier(random_state=0, tol=None, max_iter=3).fit(X, y)
    rng = model._rng()  # the fit's generator
    seeds = rng.integers(0, 2**63, size=3)
    assert model._rng_state.bit_generator.state == rng.bit_generator.state
    for k in range(3):
        binary = SGDClassifier(tol=None, max_iter=3)
        binary._rng = lambda seed=int(seeds[k]): np.random.default_rng(seed)
        binary.fit(X, (y == k).astype(int))
        np.testing.assert_array_equal(binary.coef_[0], model.coef_[k])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "kw",
    [dict(), dict(shuffle=False), dict(optimizer="adam", batch_size=16), dict(batch_size=None)],
    ids=["sgd", "unshuffled", "adam16", "fullbatch"],
)
def test_partial_fit_stream_is_bit_identical(kw, sparse, monkeypatch):
    """A chunked stream: the general path (first call, CSR, sample weights) and the hot
    path (dense chunks once trained), class weights included."""
    X, y = _data(n=300)
    classes = np.arange(3)
    sw = np.random.default_rng(5).uniform(0.5, 2.0, size=y.shape[0])
    states = []
    for n_jobs in N_JOBS:
        threads = _Threads(monkeypatch)
        model = SGDClassifier(random_state=0, n_jobs=n_jobs, class_weight={1: 3.0}, **kw)
        for i, start in enumerate(range(0, 300, 50)):
            part = slice(start, start + 50)
            Xc = sp.csr_matrix(X[part]) if sparse else X[part]
            model.partial_fit(
                Xc, y[part], classes=classes, sample_weight=sw[part] if i % 2 else None
            )
        if kw.get("batch_size", 1) != 1:
            model.flush()
        states.append(_state(model))
        if n_jobs != 1:
            assert threads.pooled
    for state in states[1:]:
        _assert_same(states[0], state)


def _slow_kernel(monkeypatch, delay=0.002, on_pool=None):
    """The hot path's kernels, the calling thread's slowed down; ``on_pool`` runs before
    each kernel call on a pool thread."""
    real = _hotpath.guarded_kernel
    main = threading.main_thread()
    seen = set()

    def guarded_kernel(problem):
        kernel = real(problem)

        def slow(*args):
            me = threading.current_thread()
            seen.add(me.name)
            if me is main:
                time.sleep(delay)
            elif on_pool is not None:
                on_pool()
            return kernel(*args)

        return slow

    monkeypatch.setattr(_hotpath, "guarded_kernel", guarded_kernel)
    return seen


@pytest.mark.parametrize("kw", [dict(), dict(shuffle=False), dict(optimizer="adam", batch_size=8)])
def test_hot_path_on_threads_is_bit_identical(kw, monkeypatch):
    X, y = _data(n=400)
    X32 = X.astype(np.float32)
    states = []
    for n_jobs in (1, 2):
        seen = _slow_kernel(monkeypatch)
        model = SGDClassifier(random_state=0, n_jobs=n_jobs, class_weight={0: 2.0}, **kw)
        model.partial_fit(X[:40], y[:40], classes=np.arange(3))
        for start in range(40, 400, 60):
            model.partial_fit(X[start : start + 60], y[start : start + 60])
            assert "_hot" in model.__dict__  # the hot path took the chunk
        model.partial_fit(X32[:60], y[:60])  # float32 chunks, another kernel signature
        states.append(_state(model))
        if n_jobs == 2:
            assert any(name.startswith("fastgd-ovr") for name in seen)
    _assert_same(states[0], states[1])


def test_hot_path_threshold_keeps_small_chunks_serial(monkeypatch):
    monkeypatch.setattr(_ovr, "MIN_ENTRIES", 10**9)
    seen = _slow_kernel(monkeypatch, delay=0.0)
    X, y = _data()
    model = SGDClassifier(random_state=0, n_jobs=2).partial_fit(X, y, classes=np.arange(3))
    model.partial_fit(X, y)
    assert seen == {"MainThread"}


# ------------------------------------------------------------ errors, interrupts
def test_first_bad_row_in_model_order_is_reported(monkeypatch):
    """Two NaN rows: with random_state=3, model 0 meets row 17 first and model 1 row
    123 (a pool thread's model, which fails first); the error is model 0's, and the
    estimator is unchanged. Also for a (general-path) partial_fit."""
    X, y = _data()
    X[[17, 123]] = np.nan
    fitted = SGDClassifier(random_state=3, max_iter=3, tol=None).fit(np.nan_to_num(X), y)
    for n_jobs in N_JOBS:
        _Threads(monkeypatch)
        model = SGDClassifier(random_state=3, n_jobs=n_jobs)
        with pytest.raises(ValueError, match=r"NaN or infinity \(row 17\)"):
            model.fit(X, y)
        assert not hasattr(model, "coef_")
        stream = SGDClassifier(random_state=3, n_jobs=n_jobs, max_iter=3, tol=None)
        stream.fit(np.nan_to_num(X), y)
        with pytest.raises(ValueError, match="NaN or infinity") as info:
            stream.partial_fit(sp.csr_matrix(X), y)
        if n_jobs == 1:
            message = str(info.value)
        assert str(info.value) == message
        _assert_same(_state(stream), _state(fitted))


def test_divergence_keeps_what_the_serial_loop_keeps(monkeypatch):
    """Model 1's parameters overflow at its third epoch (injected): the fit stands at
    model 0 trained, model 1 at its second epoch and model 2 untouched, as the serial
    loop leaves them -- also when a pool thread had trained or was training model 2."""
    X, y = _data()
    targets = [np.where(y == k, 1.0, -1.0) for k in range(3)]
    real = _driver.run_epoch

    def run_epoch(X, y, sw, order, params, *rest):
        k = next(k for k in range(3) if np.array_equal(y[: targets[k].shape[0]], targets[k]))
        if k:
            time.sleep(0.005)  # models 1 and 2 slow: model 2 starts before model 1 fails
        out = real(X, y, sw, order, params, *rest)
        calls[k] += 1
        if k == 1 and calls[k] == 3:
            params[0] = np.inf
        return out

    monkeypatch.setattr(_driver, "run_epoch", run_epoch)
    results = []
    for n_jobs in N_JOBS:
        calls = [0, 0, 0]
        model = SGDClassifier(random_state=0, n_jobs=n_jobs, tol=None, max_iter=8)
        with pytest.raises(DivergenceError, match="epoch #3") as info:
            model.fit(X, y)
        assert np.isfinite(model.coef_).all()
        results.append((str(info.value), _state(model)))
        if n_jobs != 1:
            assert calls[2] > 0  # model 2 did start on threads
    np.testing.assert_array_equal(results[0][1][0][2], 0.0)  # model 2 never started
    assert model.n_iter_ == 8
    for message, state in results[1:]:
        assert message == results[0][0]
        _assert_same(results[0][1], state)


def test_worker_keyboard_interrupt_keeps_the_previous_fit(monkeypatch):
    """As tests/test_hardening.py's serial test: an interrupt inside one of the models
    (here raised on a pool thread) undoes the whole one-vs-rest fit."""
    X, y = _data()
    model = SGDClassifier(max_iter=5, tol=None, random_state=0, n_jobs=2).fit(X, y)
    before = _state(model)
    real = _driver.run_epoch

    def interrupted(*args):
        if threading.current_thread() is threading.main_thread():
            time.sleep(0.002)
            return real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(_driver, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X[::-1], y[::-1])
    monkeypatch.undo()
    _assert_same(_state(model), before)


def _interrupt_main_from_pool(monkeypatch, *, hot):
    """Ctrl-C delivered to the calling thread while a pool thread trains: returns a
    counter of kernel calls still running (must be 0 once the interrupt surfaces)."""
    main_id = threading.main_thread().ident
    running = [0, 0]  # [in a kernel call now, calls started on the pool]
    sent = threading.Event()

    def on_pool():
        running[1] += 1
        if not sent.is_set():
            sent.set()
            signal.pthread_kill(main_id, signal.SIGINT)
        time.sleep(0.02)  # still busy when the interrupt reaches the caller

    if hot:
        real = _hotpath.guarded_kernel

        def guarded_kernel(problem):
            kernel = real(problem)

            def wrapped(*args):
                if threading.current_thread().ident == main_id:
                    time.sleep(0.05)
                    return kernel(*args)
                running[0] += 1
                try:
                    on_pool()
                    return kernel(*args)
                finally:
                    running[0] -= 1

            return wrapped

        monkeypatch.setattr(_hotpath, "guarded_kernel", guarded_kernel)
    else:
        real = _driver.run_epoch

        def run_epoch(*args):
            if threading.current_thread().ident == main_id:
                time.sleep(0.05)
                return real(*args)
            running[0] += 1
            try:
                on_pool()
                return real(*args)
            finally:
                running[0] -= 1

        monkeypatch.setattr(_driver, "run_epoch", run_epoch)
    return running


def test_ctrl_c_in_the_caller_waits_for_the_workers_and_undoes_the_fit(monkeypatch):
    X, y = _data(classes=4)
    model = SGDClassifier(max_iter=20, tol=None, random_state=0, n_jobs=2).fit(X, y)
    before = _state(model)
    running = _interrupt_main_from_pool(monkeypatch, hot=False)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X[::-1], y[::-1])
    assert running[0] == 0  # every worker had finished its kernel call
    assert running[1] < 3 * 20  # and stopped at its next epoch
    monkeypatch.undo()
    _assert_same(_state(model), before)


def test_ctrl_c_in_the_caller_undoes_a_hot_path_call(monkeypatch):
    X, y = _data(n=400, classes=4)
    model = SGDClassifier(random_state=0, n_jobs=2)
    model.partial_fit(X[:200], y[:200], classes=np.arange(4))
    model.partial_fit(X[200:300], y[200:300])  # armed
    before = _state(model)
    running = _interrupt_main_from_pool(monkeypatch, hot=True)
    model.__dict__.pop("_hot", None)  # re-armed with the wrapped kernel
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X[300:], y[300:])
    assert running[0] == 0
    monkeypatch.undo()
    model.__dict__.pop("_hot", None)
    _assert_same(_state(model), before)
    # the stream goes on as if the interrupted call had never happened
    model.partial_fit(X[300:], y[300:])
    twin = SGDClassifier(random_state=0, n_jobs=1)
    for part in (slice(0, 200), slice(200, 300), slice(300, 400)):
        twin.partial_fit(X[part], y[part], classes=np.arange(4))
    _assert_same(_state(model), _state(twin))


# ------------------------------------------------------------------------- stress
def _stress_configs():
    rng = np.random.default_rng(11)
    data = {
        "clf": _data(n=200, d=6, classes=4, seed=1),
        "bin": _data(n=200, d=6, classes=2, seed=2),
    }
    Xr = rng.normal(size=(200, 6))
    data["reg"] = (Xr, Xr @ rng.normal(size=6))
    options = [
        dict(),
        dict(shuffle=False),
        dict(tol=None, max_iter=3),
        dict(optimizer="adam", batch_size=16, max_iter=10),
        dict(batch_size=None, max_iter=5, tol=None),
        dict(early_stopping=True, n_iter_no_change=2),
    ]
    configs = []
    for i in range(100):
        kind = ("clf", "clf", "bin", "reg")[i % 4]
        configs.append(
            dict(
                kind=kind,
                stream=i % 5 == 4,
                sparse=i % 7 == 3,
                params=dict(options[i % len(options)], random_state=i, n_jobs=N_JOBS[i % 3]),
            )
        )
    return data, configs


def _run(config, data):
    X, y = data[config["kind"]]
    if config["sparse"]:
        X = sp.csr_matrix(X)
    cls = SGDRegressor if config["kind"] == "reg" else SGDClassifier
    params = dict(config["params"])
    if config["stream"]:
        params.pop("early_stopping", None)  # partial_fit refuses it, as scikit-learn's does
    model = cls(**params)
    if config["stream"]:
        extra = {} if cls is SGDRegressor else {"classes": np.unique(y)}
        for start in range(0, 200, 40):
            model.partial_fit(X[start : start + 40], y[start : start + 40], **extra)
    else:
        model.fit(X, y)
    return model.coef_.copy(), np.atleast_1d(model.intercept_).copy(), model.n_iter_


def test_stress_100_fits_on_8_threads():
    data, configs = _stress_configs()
    serial = [_run(config, data) for config in configs]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda config: _run(config, data), configs))
    for i, (a, b) in enumerate(zip(serial, concurrent, strict=True)):
        np.testing.assert_array_equal(a[0], b[0], err_msg=str(configs[i]))
        np.testing.assert_array_equal(a[1], b[1], err_msg=str(configs[i]))
        assert a[2] == b[2]


# ------------------------------------------------------------ shared module state
def test_shared_arrays_grow_safely_across_threads():
    """Shared ones / 0..n-1 arrays grown from many threads at once: never shorter than
    asked, and a view of a replaced ones array is still recognised as unit weights."""
    old = _driver.unit_weights(10)
    sizes = np.random.default_rng(0).integers(1, 400_000, size=400)

    def grow(n):
        full = _driver.shared_full("arange", int(n))
        ones = _driver.unit_weights(int(n))
        return full.shape[0] >= n and ones.shape[0] == n and _driver.is_unit_weights(ones)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(grow, sizes))
    assert _driver.is_unit_weights(old)
    assert not _driver.is_unit_weights(np.ones(10))


def test_batch_gradients_on_threads_take_precedence():
    """Where numba's threads run the batch gradients (dense, batches of at least
    _driver.PARALLEL_MIN_ENTRIES entries), the models train in turn, each on every
    thread: a one-vs-rest fit then has that scheme's bits however it is scheduled."""
    X, _ = _data(n=3000, d=40)
    clf = SGDClassifier(n_jobs=2, batch_size=2048)
    problem = clf._make_problem()
    if problem.n_threads < 2:
        pytest.skip("one CPU: n_jobs=2 resolves to one thread")
    assert _ovr.threads_for(problem, X, 3000, 3) == 1
    assert _ovr.threads_for(problem, sp.csr_matrix(X), 3000, 3) == 2
    assert _ovr.threads_for(SGDClassifier(n_jobs=2)._make_problem(), X, 3000, 3) == 2
    assert _ovr.threads_for(problem, X, 3000, 1) == 1


def test_forked_child_trains_on_threads():
    """A child forked after the pool started gets a new pool (the parent's threads do
    not exist there)."""
    import multiprocessing

    X, y = _data()
    want = SGDClassifier(random_state=0, n_jobs=2).fit(X, y).coef_
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_fit_coef, (X, y)).get(timeout=60)
    np.testing.assert_array_equal(got, want)


def _fit_coef(X, y):
    _ovr.MIN_ENTRIES = 0
    return SGDClassifier(random_state=0, n_jobs=2).fit(X, y).coef_
