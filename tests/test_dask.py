"""Fits on a real Dask cluster (``LocalCluster(processes=True)``, two one-thread workers).

One cluster for the whole file (it starts in a few seconds); every fit is small, so the
file runs in about a minute. What is held: the gradient scheme equals the
single-process full- / mini-batch fit (rtol 1e-12) for every optimizer, dense and CSR,
regressor and classifier; the sequential scheme equals single-process ``partial_fit``
over the same partitions bit for bit, and resumes from its checkpoint; the average
scheme reaches the least-squares optimum within 1e-3 relative excess loss and is
reproducible; a worker killed mid-fit changes no bit of the result.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastgd  # noqa: E402
import fastgd.dask as fdask  # noqa: E402
from fastgd import SGDClassifier, SGDRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    # the cluster's own shutdown and lost-worker messages go to logging, but a closed
    # comm may also surface as a ResourceWarning / RuntimeWarning from tornado
    "ignore::ResourceWarning",
    "ignore:.*coroutine.*never awaited:RuntimeWarning",
)

N, D, CHUNK = 3000, 6, 1100  # three partitions of 1100, 1100 and 800 rows


@pytest.fixture(scope="module")
def client():
    # distributed's nannies run in this process and set OMP_NUM_THREADS=1 (and MKL's,
    # OpenBLAS's) here as well as for the workers ('distributed.nanny.pre-spawn-environ'):
    # put the environment back after the module, or later files' n_jobs would be capped
    environ = dict(os.environ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        c = distributed.Client(cluster)
    yield c
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c.close()
        cluster.close()
    os.environ.clear()
    os.environ.update(environ)
    from fastgd import _threads

    _threads._CACHE["limits"] = None  # re-read the caps from the restored environment


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    w = rng.normal(size=D)
    y = X @ w + 0.5 + 0.1 * rng.normal(size=N)
    labels = np.digitize(X @ w + 0.3 * rng.normal(size=N), [-1.0, 0.5])  # 3 classes
    sw = rng.uniform(0.5, 2.0, size=N)
    return X, y, labels, sw


def _dask(*arrays):
    return [da.from_array(a, chunks=(CHUNK, a.shape[1]) if a.ndim == 2 else CHUNK) for a in arrays]


GRADIENT_CONFIGS = [
    dict(optimizer="sgd", learning_rate="invscaling", eta0=0.05, penalty="l2", alpha=1e-3),
    dict(optimizer="adam", learning_rate="constant", eta0=0.05, penalty=None),
    dict(optimizer="adagrad", learning_rate="constant", eta0=0.2, penalty="elasticnet"),
    dict(optimizer="rmsprop", learning_rate="cosine", eta0=0.01, T_max=20, penalty="l1"),
    dict(optimizer="nesterov", learning_rate="constant", eta0=0.05, momentum=0.9, average=5),
    dict(optimizer="adamw", learning_rate="step", eta0=0.05, step_size=5, gamma=0.5),
]


@pytest.mark.parametrize("config", GRADIENT_CONFIGS, ids=lambda c: c["optimizer"])
def test_gradient_scheme_equals_full_batch(client, data, config):
    X, y, _, sw = data
    dX, dy, dsw = _dask(X, y, sw)
    kw = dict(config, batch_size=None, max_iter=20, tol=None, random_state=0)
    ref = SGDRegressor(**kw).fit(X, y, sample_weight=sw)
    model = fdask.fit(SGDRegressor(**kw), dX, dy, sample_weight=dsw, scheme="gradient")
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.loss_curve_, ref.loss_curve_, rtol=1e-12)
    assert model.n_iter_ == ref.n_iter_ == 20
    assert model.t_ == ref.t_


@pytest.mark.parametrize("shuffle", [False, True])
def test_gradient_scheme_equals_mini_batch(client, data, shuffle):
    """Batches of 512 rows cut across partitions; shuffled, each task gets its rows."""
    X, y, _, _ = data
    dX, dy = _dask(X, y)
    kw = dict(
        batch_size=512, optimizer="momentum", momentum=0.9, learning_rate="constant",
        eta0=0.01, max_iter=3, tol=None, shuffle=shuffle, random_state=3,
    )  # fmt: skip
    ref = SGDRegressor(**kw).fit(X, y)
    model = fdask.fit(SGDRegressor(**kw), dX, dy)  # auto: gradient for batch problems
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)
    np.testing.assert_allclose(model.loss_curve_, ref.loss_curve_, rtol=1e-12)
    # the model goes on streaming exactly as the single-process one (same rng state)
    model.partial_fit(X[:700], y[:700])
    ref.partial_fit(X[:700], y[:700])
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)


def test_gradient_scheme_stops_as_single_process(client, data):
    X, y, _, _ = data
    dX, dy = _dask(X, y)
    kw = dict(batch_size=None, learning_rate="adaptive", eta0=0.1, tol=1e-4, max_iter=200)
    ref = SGDRegressor(**kw).fit(X, y)
    model = SGDRegressor(**kw).fit(dX, dy)  # the estimator's own fit sends it to fastgd.dask
    assert model.n_iter_ == ref.n_iter_ < 200
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_gradient_scheme_classifier(client, data, n_classes):
    X, _, labels, sw = data
    y = labels if n_classes == 3 else (labels > 0).astype(int)
    dX, dy, dsw = _dask(X, y, sw)
    kw = dict(
        loss="log_loss", batch_size=None, optimizer="adam", learning_rate="constant",
        eta0=0.05, max_iter=10, tol=None, class_weight="balanced", random_state=0,
    )  # fmt: skip
    ref = SGDClassifier(**kw).fit(X, y, sample_weight=sw)
    model = SGDClassifier(**kw).fit(dX, dy, sample_weight=dsw)
    np.testing.assert_array_equal(model.classes_, ref.classes_)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-12, atol=1e-14)
    proba = model.predict_proba(dX)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(X), rtol=1e-10)
    np.testing.assert_array_equal(model.predict(dX).compute(), ref.predict(X))


def test_gradient_scheme_csr_partitions(client, data):
    sp = pytest.importorskip("scipy.sparse")
    from dask import delayed

    X, y, _, _ = data
    Xs = X * (np.abs(X) > 0.8)  # ~40% nonzeros
    blocks = [
        da.from_delayed(
            delayed(sp.csr_matrix)(Xs[s : s + CHUNK]),
            shape=(min(CHUNK, N - s), D),
            dtype=np.float64,
            meta=sp.csr_matrix((0, D)),
        )
        for s in range(0, N, CHUNK)
    ]
    dX = da.concatenate(blocks, axis=0)
    (dy,) = _dask(y)
    kw = dict(batch_size=None, optimizer="rmsprop", eta0=0.01, learning_rate="constant",
              max_iter=15, tol=None, penalty="l2")  # fmt: skip
    ref = SGDRegressor(**kw).fit(Xs, y)  # dense
    model = fdask.fit(SGDRegressor(**kw), dX, dy)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-10)


def test_dataframe_input_and_feature_names(client, data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, _, _ = data
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(D)]).assign(target=y)
    ddf = dd.from_pandas(frame, npartitions=3)
    features = [f"f{j}" for j in range(D)]
    kw = dict(batch_size=None, optimizer="adam", eta0=0.05, learning_rate="constant",
              max_iter=10, tol=None)  # fmt: skip
    ref = SGDRegressor(**kw).fit(frame[features], y)
    model = SGDRegressor(**kw).fit(ddf[features], ddf["target"])
    assert list(model.feature_names_in_) == features
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)
    pred = model.predict(ddf[features])
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(pred.compute(), ref.predict(frame[features]), rtol=1e-10, atol=1e-14)


def test_sequential_scheme_is_partial_fit_bit_for_bit(client, data):
    X, y, labels, _ = data
    dX, dy = _dask(X, y)
    kw = dict(random_state=0, max_iter=2, tol=None)  # per-sample SGD: auto is sequential
    model = SGDRegressor(**kw).fit(dX, dy)
    ref = SGDRegressor(**kw)
    for _ in range(2):
        for s in range(0, N, CHUNK):
            ref.partial_fit(X[s : s + CHUNK], y[s : s + CHUNK])
    np.testing.assert_array_equal(model.coef_, ref.coef_)
    np.testing.assert_array_equal(model.intercept_, ref.intercept_)
    assert model.n_iter_ == 2
    # a classifier with a mini-batch buffer: rows wait across partitions, flushed at the end
    kwc = dict(batch_size=64, optimizer="adagrad", eta0=0.1, learning_rate="constant",
               random_state=1, max_iter=1, tol=None)  # fmt: skip
    (dl,) = _dask(labels)
    clf = fdask.fit(SGDClassifier(**kwc), dX, dl, scheme="sequential")
    refc = SGDClassifier(**kwc)
    for s in range(0, N, CHUNK):
        refc.partial_fit(X[s : s + CHUNK], labels[s : s + CHUNK], classes=[0, 1, 2])
    refc.flush()
    np.testing.assert_array_equal(clf.coef_, refc.coef_)
    # fastgd.dask.partial_fit continues a stream on the workers
    more = fdask.partial_fit(ref, dX, dy)
    again = SGDRegressor(**kw)
    for _ in range(3):
        for s in range(0, N, CHUNK):
            again.partial_fit(X[s : s + CHUNK], y[s : s + CHUNK])
    np.testing.assert_array_equal(more.coef_, again.coef_)


def test_sequential_scheme_resumes_from_checkpoint(client, data, tmp_path):
    X, y, _, _ = data
    dX, dy = _dask(X, y)
    kw = dict(random_state=0, max_iter=2, tol=None, learning_rate="constant", eta0=0.01)
    path = tmp_path / "model.npz"
    full = fdask.fit(SGDRegressor(**kw), dX, dy, scheme="sequential", checkpoint=path)
    assert fastgd.load(path).t_ == full.t_  # saved after the last partition
    # stand at partition 4 of 6 (pass 2, partition 1), as if the fit had been killed there
    ref = SGDRegressor(**kw)
    for step in range(4):
        s = (step % 3) * CHUNK
        ref.partial_fit(X[s : s + CHUNK], y[s : s + CHUNK])
    ref.save(path)
    record = path.with_name(path.name + ".dask.json")
    import json

    rec = json.loads(record.read_text())
    rec["done"] = 4
    record.write_text(json.dumps(rec))
    resumed = fdask.fit(SGDRegressor(**kw), dX, dy, scheme="sequential", checkpoint=path)
    np.testing.assert_array_equal(resumed.coef_, full.coef_)
    # a record of another fit (other parameters) is ignored: a fresh fit
    other = fdask.fit(
        SGDRegressor(**dict(kw, eta0=0.02)), dX, dy, scheme="sequential", checkpoint=path
    )
    assert not np.array_equal(other.coef_, full.coef_)


def test_average_scheme_reaches_least_squares_and_reproduces(client, data):
    X, y, _, _ = data
    dX, dy = _dask(X, y)
    kw = dict(learning_rate="invscaling", eta0=0.02, max_iter=10, tol=None, random_state=0,
              penalty=None)  # fmt: skip
    model = fdask.fit(SGDRegressor(**kw), dX, dy, scheme="average")
    A = np.c_[X, np.ones(N)]
    opt = np.linalg.lstsq(A, y, rcond=None)[0]

    def mse(coef, b):
        return np.mean((X @ coef + b - y) ** 2)

    excess = mse(model.coef_, model.intercept_[0]) / mse(opt[:-1], opt[-1]) - 1.0
    assert 0 <= excess < 1e-3
    again = fdask.fit(SGDRegressor(**kw), dX, dy, scheme="average")
    np.testing.assert_array_equal(model.coef_, again.coef_)
    # adaptive optimizers: accumulator-weighted average, and rounds of local_rows rows
    ada = fdask.fit(
        SGDRegressor(optimizer="adagrad", eta0=0.1, learning_rate="constant", max_iter=30,
                     tol=None, random_state=0, penalty=None),
        dX, dy, scheme="average", local_rows=200,
    )  # fmt: skip
    excess = mse(ada.coef_, ada.intercept_[0]) / mse(opt[:-1], opt[-1]) - 1.0
    assert excess < 1e-2  # a single-process fit over as many rows: 3e-3
    assert ada.t_ == 30 * 200 + 1  # counters of the partition with the most steps


KILL_CASES = {
    "gradient": dict(batch_size=None, optimizer="adam", eta0=0.01, learning_rate="constant",
                     max_iter=150, tol=None),
    "average": dict(optimizer="adagrad", eta0=0.1, learning_rate="constant", max_iter=120,
                    tol=None, random_state=0),
    "sequential": dict(learning_rate="constant", eta0=0.001, max_iter=40, tol=None,
                       random_state=0),
}  # fmt: skip


@pytest.mark.parametrize("scheme", list(KILL_CASES))
def test_killed_worker_changes_nothing(client, data, scheme):
    """SIGKILL a worker process in the middle of a fit: the scheduler recomputes its
    partitions from their lineage and reruns its tasks, the nanny starts a new worker, and
    the fit completes with the bits of an undisturbed fit (every scheme: each task is a
    pure function of its inputs, the average scheme's seeds do not name workers)."""
    X, y, _, _ = data
    dX, dy = _dask(X, y)
    kw = KILL_CASES[scheme]
    local = dict(local_rows=100) if scheme == "average" else {}
    began = time.perf_counter()
    calm = fdask.fit(SGDRegressor(**kw), dX, dy, scheme=scheme, **local)
    took = time.perf_counter() - began
    client.wait_for_workers(2, timeout=180)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    result = {}

    def run():
        try:
            result["model"] = fdask.fit(SGDRegressor(**kw), dX, dy, scheme=scheme, **local)
        except BaseException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.4 * took)  # well into the rounds (the undisturbed fit took `took`)
    assert thread.is_alive()  # the kill lands in the middle of the fit
    os.kill(victim, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive()
    assert "error" not in result, result.get("error")
    np.testing.assert_array_equal(result["model"].coef_, calm.coef_)
    np.testing.assert_array_equal(result["model"].intercept_, calm.intercept_)
    np.testing.assert_array_equal(result["model"].loss_curve_, calm.loss_curve_)
    client.wait_for_workers(2, timeout=180)
    assert victim not in client.run(os.getpid).values()
    # the replacement worker ran the warm-up plugin too
    names = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all(any(n.startswith("fastgd-warm-") for n in v) for v in names.values())


def test_bad_input_names_the_row_and_leaves_the_model(client, data):
    X, y, _, _ = data
    Xb = X.copy()
    Xb[1500, 2] = np.nan  # row 400 of the second partition
    dX, dy = _dask(Xb, y)
    model = SGDRegressor(batch_size=None, max_iter=2, tol=None).fit(X[:50], y[:50])
    before = model.coef_.copy()
    with pytest.raises(ValueError, match=r"row 1500 .*row 400 of partition 1"):
        model.fit(dX, dy)
    np.testing.assert_array_equal(model.coef_, before)
    (dX,) = _dask(X)
    with pytest.raises(ValueError, match="early_stopping"):
        SGDRegressor(early_stopping=True, batch_size=None).fit(dX, dy)
    with pytest.raises(ValueError, match="3000 rows but y has 2999"):
        SGDRegressor(batch_size=None).fit(dX, da.from_array(y[:-1], chunks=500))
    # y chunked otherwise is cut like X (lazily): the same fit
    a = SGDRegressor(batch_size=None, max_iter=3, tol=None).fit(dX, da.from_array(y, chunks=500))
    b = SGDRegressor(batch_size=None, max_iter=3, tol=None).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    with pytest.raises(ValueError, match="scheme must be one of"):
        fdask.fit(SGDRegressor(), dX, dy, scheme="allreduce")
    with pytest.raises(ValueError, match="3000 rows but y has 10"):
        SGDRegressor(batch_size=None).fit(dX, y[:10])


def test_no_client_is_a_clear_error(monkeypatch):
    def none():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", none)
    with pytest.raises(ValueError, match=r"distributed.Client\(\)"):
        fdask._get_client(None)


def test_usable_inside_dask_ml_incremental(client, data):
    """dask-ml's Incremental calls partial_fit block by block: with its block shuffling off,
    the same bits as a single-process stream of partial_fit calls."""
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, _, labels, _ = data
    y = (labels > 0).astype(int)
    dX, dy = _dask(X, y)
    inc = wrappers.Incremental(
        SGDClassifier(random_state=0, shuffle=False), scoring="accuracy", shuffle_blocks=False
    )
    inc.fit(dX, dy, classes=[0, 1])
    ref = SGDClassifier(random_state=0, shuffle=False)
    for s in range(0, N, CHUNK):
        ref.partial_fit(X[s : s + CHUNK], y[s : s + CHUNK], classes=[0, 1])
    np.testing.assert_array_equal(inc.estimator_.coef_, ref.coef_)
    assert inc.score(dX, dy) == pytest.approx(ref.score(X, y))
