"""Fits on a Dask cluster: train where the partitions live, never gather X.

``SGDRegressor().fit(X, y)`` with a dask array or dask DataFrame ``X`` (dense or
scipy.sparse CSR blocks) trains on the workers of the current ``distributed.Client``
(or the one passed to :func:`fit`). The partitions are loaded and validated once on the
workers that hold them and kept there; the client only ever holds parameters, optimizer
state, and per-partition sums. Three schemes (``scheme=``):

``"gradient"``
    Synchronous steps: each batch's gradient is the sum of the partitions' gradient sums,
    computed by fastgd's kernels on the workers (``fastgd._kernels.distributed``),
    added in partition order on the client, which takes the optimizer step (any
    optimizer, schedule and penalty). **Guarantee:** the trajectory of the
    single-process full- or mini-batch fit with the same options (``batch_size=None``
    or an integer), equal up to the order of one sum per step (``rtol`` 1e-12 in
    practice); the same bits whichever worker computes a partition, or how often. Cost:
    one round trip per batch, so this is the scheme for full batch and large batches.
``"average"``
    Local SGD (iterative parameter mixing): each round every partition runs fastgd's
    own kernel for one local epoch (or ``local_rows`` rows) from the broadcast
    parameters and optimizer state, with its own seed ``(seed, model, round,
    partition)``; the client then averages the partitions' parameters, weighted by the
    sample weight each saw -- and, for the adaptive optimizers (Adagrad, RMSprop, Adam,
    AdamW, Adamax), per coordinate by ``weight x`` the partition's second-moment
    accumulator, as Vowpal Wabbit's ``--adaptive`` allreduce does -- and the optimizer
    state by sample weight; counters (``t``, the adaptive schedule's rate) are those of
    the partition that took the most steps. One round trip per round, ``max_iter``
    rounds. **Guarantee:** reproducible for given partitions and ``random_state``
    (whichever worker runs what); it is *not* the single-process trajectory. On IID
    partitions it converges like the single-process fit with a decaying schedule.
``"sequential"``
    ``partial_fit`` over the partitions in order, on the worker that holds each one (the
    model travels, X does not), ``max_iter`` passes; the model is fetched after every
    partition and, with ``checkpoint=``, saved there, so :func:`fit` resumes from the
    last completed partition. **Guarantee:** bit for bit a single-process
    ``partial_fit`` over the same partitions in order (then :meth:`~fastgd.SGDRegressor.flush`). One worker
    busy at a time: this is dask-ml's ``Incremental``, without dask-ml.

``scheme="auto"`` (what ``estimator.fit`` on a dask collection uses): ``"gradient"`` for
mini- and full-batch problems, ``"sequential"`` for per-sample SGD (``batch_size=1``),
whose gradient rounds would be one round trip per row.

Faults: every task is a pure function of its inputs (a persisted partition, the
parameters of the round), so when a worker dies the scheduler recomputes its
partitions from their lineage and reruns its tasks elsewhere; no partition is lost or
counted twice, and the result is the one without the fault (bit for bit for all three
schemes: the average scheme's seeds do not depend on the worker).

Workers: the kernels a fit needs are compiled (or loaded from numba's cache) on every
worker before the first round by a worker plugin, which also runs on workers that join
later. ``predict`` / ``decision_function`` / ``predict_proba`` on a dask collection
return a lazy dask array, one block per partition (:func:`predict`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import uuid
from collections.abc import Sequence

import numpy as np

from . import _layout as C
from . import _sparse
from ._driver import (
    NO_WEIGHTS,
    BadRowError,
    identity_order,
    is_unit_weights,
    run_epoch,
    run_epochs,
)

SCHEMES = ("auto", "gradient", "average", "sequential")

# the state row whose entries weigh each partition's coefficient in the average scheme
_ACCUMULATOR = {
    C.OPT_ADAGRAD: C.ST_M1,
    C.OPT_RMSPROP: C.ST_M1,
    C.OPT_ADAM: C.ST_M2,
    C.OPT_ADAMW: C.ST_M2,
    C.OPT_ADAMAX: C.ST_M2,
}


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a dask collection (array, DataFrame, Series), without importing
    dask unless ``obj`` comes from it."""
    if not type(obj).__module__.startswith("dask"):
        return False
    import dask

    return dask.is_dask_collection(obj)


def _get_client(client):
    try:
        from distributed import get_client
    except ImportError:  # pragma: no cover - the extra is not installed
        raise ImportError(
            "Fitting on a dask collection needs the 'distributed' package: "
            "pip install 'fastgd[dask]'."
        ) from None
    if client is not None:
        return client
    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "fit on a dask collection trains on a dask.distributed cluster, and there is no "
            "client: create one first (distributed.Client() for a local cluster, "
            "Client('tcp://scheduler:8786') for a running one) or pass client= to "
            "fastgd.dask.fit."
        ) from None


# ------------------------------------------------------------------- partitions
def _is_frame_like(obj) -> bool:
    return type(obj).__module__.startswith("dask.dataframe") and hasattr(obj, "npartitions")


def _is_dataframe(obj) -> bool:
    return _is_frame_like(obj) and getattr(obj, "ndim", 0) == 2


def _is_series(obj) -> bool:
    return _is_frame_like(obj) and getattr(obj, "ndim", 0) == 1


def _split_like(values, lengths: Sequence[int], name: str) -> list:
    """An in-memory ``y`` or ``sample_weight`` cut into the partitions' row counts."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {np.shape(values)}.")
    total = int(sum(lengths))
    if arr.shape[0] != total:
        raise ValueError(
            f"X has {total} rows but {name} has {arr.shape[0]} values; pass one per row of X."
        )
    bounds = np.cumsum([0, *lengths])
    return [arr[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]


def _row_parts(X):
    """``(delayed blocks, row counts or None, feature names or None)`` of a dask X."""
    if _is_dataframe(X):
        names = [str(c) for c in X.columns]
        all_str = all(isinstance(c, str) for c in X.columns)
        return list(X.to_delayed()), None, (names if all_str else None)
    if _is_series(X):
        raise ValueError("X is a dask Series (one column); pass a 2-D X, e.g. series.to_frame().")
    if getattr(X, "ndim", None) != 2:
        raise ValueError(f"X must be a 2-D dask array, got {getattr(X, 'ndim', '?')} dimension(s).")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})  # whole rows in every block (lazy: nothing is gathered)
    rows = X.chunks[0]
    lengths = None if any(math.isnan(r) for r in rows) else [int(r) for r in rows]
    return list(X.to_delayed()[:, 0]), lengths, None


def _vector_parts(v, n_parts: int, lengths, name: str, x_rows):
    """Blocks of ``y`` / ``sample_weight`` matching X's partitions."""
    if v is None:
        return [None] * n_parts
    if is_dask_collection(v):
        if _is_dataframe(v):
            if len(v.columns) != 1:
                raise ValueError(f"{name} must be one column, got {len(v.columns)}.")
            v = v[v.columns[0]]
        if not _is_series(v) and getattr(v, "ndim", 1) == 2:
            v = v[:, 0] if v.shape[1] == 1 else v
        if not _is_series(v):
            if v.ndim != 1:
                raise ValueError(f"{name} must be 1-D, got {v.ndim} dimensions.")
            if lengths is not None and tuple(v.chunks[0]) != tuple(lengths):
                if any(math.isnan(c) for c in v.chunks[0]):
                    v = v.compute_chunk_sizes()
                if int(sum(v.chunks[0])) != int(sum(lengths)):
                    raise ValueError(
                        f"X has {int(sum(lengths))} rows but {name} has "
                        f"{int(sum(v.chunks[0]))} values; pass one per row of X."
                    )
                v = v.rechunk({0: tuple(lengths)})
            blocks = list(v.to_delayed())
        else:
            blocks = list(v.to_delayed())
        if len(blocks) != n_parts:
            raise ValueError(
                f"{name} has {len(blocks)} partitions and X has {n_parts}; partition them "
                "alike (e.g. take both from one DataFrame: df[features], df[target])."
            )
        return blocks
    return _split_like(v, x_rows(), name)


# ------------------------------------------------------------------- worker side
def _to_matrix(x):
    """One partition of X as the kernels take it: C-contiguous float32/float64 ndarray or a
    validated scipy.sparse CSR matrix."""
    if _sparse.issparse(x):
        return _sparse.check_csr(x, finite=False)
    if hasattr(x, "to_numpy") and hasattr(x, "columns"):  # a pandas/polars partition
        kinds = {np.dtype(t).kind for t in x.dtypes} if hasattr(x, "dtypes") else set()
        if kinds and not kinds <= set("biuf"):
            raise TypeError(
                "X has non-numeric columns; encode them first (e.g. with "
                "sklearn.preprocessing.OneHotEncoder) or drop them."
            )
        dtype = (
            np.float32
            if kinds == {"f"} and all(np.dtype(t) == np.float32 for t in x.dtypes)
            else np.float64
        )
        x = x.to_numpy(dtype=dtype)
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"a partition of X has {x.ndim} dimension(s); X must be 2-D.")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"X has dtype {x.dtype}; pass real numbers.")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


def _load(x, y, sw, classifier: bool) -> dict:
    """A partition as it stays on its worker, and what the client needs to know of it."""
    X = _to_matrix(x)
    n = X.shape[0]
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    info = {"n": n, "d": X.shape[1], "dtype": str(X.dtype), "sparse": _sparse.issparse(X)}
    if y.ndim != 1 or y.shape[0] != n:
        info["error"] = f"has {n} rows of X but y of shape {y.shape}"
        return {"X": X, "y": y, "sw": None, "info": info}
    if not classifier:
        if y.dtype.kind not in "biuf":
            info["error"] = f"has a y of dtype {y.dtype}; a regressor needs numbers"
        else:
            y = y.astype(np.float64)
    else:
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            info["error"] = "has NaN or infinity among its labels"
        elif y.dtype.kind == "O" and any(v is None for v in y):
            info["error"] = "has None among its labels"
    if sw is not None:
        sw = np.asarray(sw, dtype=np.float64).reshape(-1)
        if sw.shape[0] != n:
            info["error"] = f"has {n} rows of X but {sw.shape[0]} sample weights"
        elif not (np.isfinite(sw).all() and (sw >= 0).all()):
            info["error"] = "has sample weights that are negative, NaN or infinite"
    bad = -1
    if "error" not in info:
        data = X.data if _sparse.issparse(X) else X
        if not np.isfinite(data).all():
            bad_rows = (
                [r for r in range(n) if _sparse.row_has_nonfinite(X, r)]
                if _sparse.issparse(X)
                else np.flatnonzero(~np.isfinite(X).all(axis=1))
            )
            bad = int(bad_rows[0])
            info["bad_what"] = "X"
        elif not classifier and not np.isfinite(y).all():
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            info["bad_what"] = "y"
    info["bad"] = bad
    info["sumw"] = float(n if sw is None else sw.sum())
    if classifier and "error" not in info:
        labels, counts = np.unique(y, return_counts=True)
        info["labels"], info["counts"] = labels, counts
    return {"X": X, "y": y, "sw": sw, "info": info}


def _info(part: dict) -> dict:
    return part["info"]


def _encode(part: dict, classes, cw_pairs, dtype) -> dict:
    """The kernels' arrays of a partition: X (ndarray or CSR arrays), one contiguous
    float64 target vector and one weight vector per linear model."""
    from ._driver import kernel_view

    X = part["X"]
    if X.dtype != np.dtype(dtype):
        X = X.astype(dtype)
    y, sw = part["y"], part["sw"]
    n = X.shape[0]
    if classes is None:
        Ys = [np.ascontiguousarray(y, dtype=np.float64)]
    elif len(classes) == 2:
        Ys = [np.where(y == classes[1], 1.0, -1.0)]
    else:
        Ys = [np.where(y == c, 1.0, -1.0) for c in classes]
    base = np.ones(n) if sw is None else sw
    Ws = []
    for k, Yk in enumerate(Ys):
        w = base
        if cw_pairs is not None:
            pos, neg = cw_pairs[k]
            if not (pos == 1.0 and neg == 1.0):
                w = base * np.where(Yk > 0, pos, neg)
        Ws.append(NO_WEIGHTS if is_unit_weights(w) else np.ascontiguousarray(w))
    kX = _sparse.kernel_arrays(X) if _sparse.issparse(X) else kernel_view(X)
    wsum = [float(n) if W.shape[0] == 0 else float(W.sum()) for W in Ws]
    return {"X": kX, "Y": Ys, "W": Ws, "n": n, "wsum": wsum}


def _gradient(enc: dict, k: int, params, loss: int, epsilon: float, local, lo, hi):
    """Model ``k``'s gradient sum over the partition's rows ``local[lo:hi]`` (all rows when
    ``local`` is None and ``lo`` is None) at ``params``: ``(g (d+1,), loss sum, bad)``."""
    from ._kernels.distributed import csr_block
    from ._kernels.parallel import _block

    X, y, sw = enc["X"], enc["Y"][k], enc["W"][k]
    n = enc["n"]
    order = identity_order(n) if local is None else local
    lo = 0 if lo is None else lo
    hi = n if hi is None else hi
    d = params.shape[0] - 1
    gk = np.empty(d + 1)
    w = np.ascontiguousarray(params[:d])
    b = float(params[d])
    if isinstance(X, _sparse.CSRArrays):
        s, bad = csr_block(
            X.data, X.indices, X.indptr, y, sw, order, w, b, loss, epsilon, lo, hi, gk
        )
    else:
        s, bad = _block(X, y, sw, order, w, b, loss, epsilon, lo, hi, gk)
    return gk, s, int(bad)


def _local_order(n: int, seed, shuffle: bool, start: int, count: int | None) -> np.ndarray:
    """Rows ``start .. start + count`` of the partition's endless row stream: pass ``q``
    visits the rows in ``default_rng([*seed, q]).permutation(n)`` (or in order)."""
    if count is None:
        return (
            np.random.default_rng([*seed, 0]).permutation(n).astype(np.int64)
            if shuffle
            else identity_order(n).copy()
        )
    pos = start + np.arange(count, dtype=np.int64)
    q, i = np.divmod(pos, n)
    out = np.empty(count, dtype=np.int64)
    for qq in np.unique(q):
        perm = np.random.default_rng([*seed, int(qq)]).permutation(n) if shuffle else np.arange(n)
        sel = q == qq
        out[sel] = perm[i[sel]]
    return out


def _local_run(enc: dict, k: int, params, state, counters, problem, seed, shuffle, start, count):
    """One round of the average scheme on one partition: fastgd's kernel from the
    broadcast arrays over the partition's next rows. Returns the new arrays, the loss
    and objective sums, the rows and their weight, and ``bad``."""
    n = enc["n"]
    if n == 0:
        return params, state, counters, 0.0, 0.0, 0, 0.0, -1
    order = _local_order(n, seed, shuffle, start, count)
    params, state, counters = params.copy(), state.copy(), counters.copy()
    sw = enc["W"][k]
    sumloss, sumobj, bad = run_epoch(
        enc["X"],
        enc["Y"][k],
        sw,
        order,
        params,
        state,
        counters,
        problem.hp,
        problem.loss,
        problem.penalty,
        problem.optimizer,
        problem.schedule,
        problem.batch_rows(order.shape[0]),
    )
    wsum = float(order.shape[0]) if sw.shape[0] == 0 else float(sw[order].sum())
    return params, state, counters, sumloss, sumobj, order.shape[0], wsum, int(bad)


def _partial_fit_part(est, part: dict, classes):
    """``est.partial_fit`` on one partition, on the worker that holds it."""
    kw = {} if classes is None else {"classes": classes}
    est.partial_fit(part["X"], part["y"], sample_weight=part["sw"], **kw)
    return est


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - without the extra, fit raises before using it
    _WorkerPlugin = object

_WARMED: set = set()  # (client id, plugin name) registered by this process


class Warmup(_WorkerPlugin):
    """A ``distributed`` worker plugin that compiles (or loads from numba's cache) the
    kernels a fit needs on every worker, including workers that join later.

    Parameters
    ----------
    estimator : SGDRegressor or SGDClassifier
        Its parameters choose the compiled path (a tiny fit of a clone runs it).
    dtypes : sequence of str
        The X dtypes to compile for (``"float64"``, ``"float32"``).
    sparse : bool
        Whether the partitions are CSR.
    """

    def __init__(self, estimator, dtypes: Sequence[str], sparse: bool):
        from sklearn.base import clone

        self.estimator = clone(estimator)
        self.dtypes = tuple(dtypes)
        self.sparse = sparse
        problem = estimator._make_problem()
        lazy = bool(problem.hp[C.HP_LAZY_UPDATES])
        # numba compiles per path and types, never per option value: one plugin per path
        kind = "csr" if sparse else "dense"
        self.name = (
            f"fastgd-warm-{type(estimator).__name__}-{'-'.join(self.dtypes)}-{kind}-"
            f"{problem.path}{'-lazy' if lazy else ''}"
        )

    def setup(self, worker=None) -> None:
        """Run the warm-up on this worker (distributed calls it)."""
        from ._kernels.distributed import warm

        for dtype in self.dtypes:
            warm(np.dtype(dtype))
            X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.2]], dtype=dtype)
            if self.sparse:
                import scipy.sparse as sp

                X = sp.csr_matrix(X)
            y = np.array([0, 1, 0, 1]) if self.estimator._is_classifier else np.zeros(4)
            model = copy.deepcopy(self.estimator).set_params(
                max_iter=1, tol=None, early_stopping=False, verbose=0, n_jobs=None
            )
            if hasattr(model, "class_weight"):
                model.set_params(class_weight=None)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model.fit(X, y)
                except ValueError:  # options a 4-row problem cannot take: nothing to warm
                    pass

    def teardown(self, worker=None) -> None:
        """Nothing to release."""


# ------------------------------------------------------------------- the client
class _Job:
    """One fit's persisted partitions and what is known of them."""

    def __init__(self, client, est, X, y, sample_weight):
        self.client = client
        self.classifier = bool(est._is_classifier)
        xs, lengths, names = _row_parts(X)
        if not xs:
            raise ValueError("X has no partitions.")
        self.names = names
        known = {"lengths": lengths}

        def x_rows():
            if known["lengths"] is None:
                known["lengths"] = [int(v) for v in X.map_partitions(len).compute()]
            return known["lengths"]

        ys = _vector_parts(y, len(xs), lengths, "y", x_rows)
        sws = _vector_parts(sample_weight, len(xs), lengths, "sample_weight", x_rows)
        from dask import delayed

        self.key = uuid.uuid4().hex[:12]
        loads = [
            delayed(_load, pure=False)(xp, yp, swp, self.classifier)
            for xp, yp, swp in zip(xs, ys, sws, strict=True)
        ]
        self.parts = client.compute(loads)  # persisted on the workers, never gathered
        infos = client.gather(client.map(_info, self.parts, pure=False))
        offset = 0
        for p, info in enumerate(infos):
            where = f"partition {p} of X (rows {offset}..{offset + info['n'] - 1})"
            if "error" in info:
                raise ValueError(f"{where} {info['error']}.")
            if info["bad"] >= 0:
                raise BadRowError(
                    info["bad_what"],
                    offset + info["bad"],
                    f" of X: row {info['bad']} of partition {p}",
                )
            offset += info["n"]
        self.infos = infos
        self.lengths = np.array([i["n"] for i in infos], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.n = int(self.offsets[-1])
        if self.n == 0:
            raise ValueError("X has 0 rows; pass at least one sample.")
        ds = {i["d"] for i in infos if i["n"] > 0}
        if len(ds) != 1:
            raise ValueError(
                f"the partitions of X have different numbers of columns: {sorted(ds)}."
            )
        self.d = ds.pop()
        dtypes = {i["dtype"] for i in infos if i["n"] > 0}
        self.dtype = "float32" if dtypes == {"float32"} else "float64"
        self.sparse = any(i["sparse"] for i in infos)
        self.sumw = sum(i["sumw"] for i in infos)
        self.encoded = None

    def classes(self):
        labels = [i["labels"] for i in self.infos if i["n"] > 0]
        return np.unique(np.concatenate(labels))

    def counts(self, classes):
        total = np.zeros(classes.shape[0], dtype=np.int64)
        for info in self.infos:
            if info["n"]:
                total[np.searchsorted(classes, info["labels"])] += info["counts"]
        return total

    def encode(self, classes, cw_pairs):
        self.encoded = [
            self.client.submit(
                _encode, part, classes, cw_pairs, self.dtype, key=f"fastgd-enc-{self.key}-{p}"
            )
            for p, part in enumerate(self.parts)
        ]
        self.wsum = self.client.gather(
            self.client.map(lambda e: e["wsum"], self.encoded, pure=False)
        )

    def release(self) -> None:
        """Let the workers drop this fit's partitions (dropping the futures releases them;
        ``Client.cancel`` of keys with dependents trips an assertion of the scheduler)."""
        self.parts = self.encoded = None

    def warm(self, est):
        plugin = Warmup(est, [self.dtype], self.sparse)
        key = (self.client.id, plugin.name)
        if key not in _WARMED:  # the scheduler keeps it for workers that join later
            self.client.register_plugin(plugin, name=plugin.name)
            _WARMED.add(key)


def _gradient_epoch(job: _Job, k: int, problem, shuffle: bool, counter: list):
    """The ``epoch_fn`` of :func:`fastgd._driver.run_epochs` for the gradient scheme."""
    client = job.client
    n = job.n
    batch = problem.batch_rows(n)
    n_batches = -(-n // batch)
    eps = float(problem.hp[C.HP_EPSILON])

    def epoch(order, lin):
        counter[0] += 1
        tag = f"{job.key}-{k}-{counter[0]}"
        locals_ = [None] * len(job.parts)
        bounds = []
        edges = np.arange(n_batches + 1, dtype=np.int64) * batch
        edges[-1] = n
        for p in range(len(job.parts)):
            s, m = int(job.offsets[p]), int(job.lengths[p])
            if n_batches == 1:
                bounds.append(np.array([0, m], dtype=np.int64))
            elif not shuffle:
                bounds.append(np.clip(edges - s, 0, m))
            else:
                # each task carries its own rows (not scattered data, which a worker
                # that dies would take with it: a task's arguments can be rerun)
                pos = np.flatnonzero((order >= s) & (order < s + m))
                locals_[p] = order[pos] - s
                bounds.append(np.searchsorted(pos, edges))
        sumloss = sumpen = 0.0
        for j in range(n_batches):
            params = lin.params.copy()
            encs, rows, los, his, keys = [], [], [], [], []
            for p, enc in enumerate(job.encoded):
                lo, hi = int(bounds[p][j]), int(bounds[p][j + 1])
                if hi > lo:
                    rows_p = None if locals_[p] is None else locals_[p][lo:hi]
                    if rows_p is not None:
                        lo, hi = 0, hi - lo
                    encs.append(enc)
                    rows.append(rows_p)
                    los.append(lo)
                    his.append(hi)
                    keys.append(f"fastgd-grad-{tag}-{j}-{p}")
            P = len(encs)
            # one message to the scheduler per round (client.map), not one per partition
            futures = client.map(
                _gradient, encs, [k] * P, [params] * P, [problem.loss] * P, [eps] * P, rows,
                los, his, key=keys,
            )  # fmt: skip
            results = client.gather(futures)
            g = np.zeros(job.d + 1)
            bad = -1
            for gk, s, b in results:  # partition order: the same sum on every run
                g += gk
                sumloss += s
                if b >= 0 and bad < 0:
                    bad = b
            if bad >= 0:
                return sumloss, sumloss + sumpen, bad
            size = float(edges[j + 1] - edges[j])
            sumpen += _step(lin, g, size, problem)
        return sumloss, sumloss + sumpen, -1

    return epoch


def _step(lin, g, size, problem) -> float:
    from ._kernels.distributed import apply_step

    return float(
        apply_step(
            lin.params, g, size, lin.state, lin.counters, problem.hp, problem.loss,
            problem.penalty, problem.optimizer, problem.schedule,
        )
    )  # fmt: skip


def _average_epoch(job: _Job, k: int, problem, shuffle, seed: int, local_rows, counter):
    """The ``epoch_fn`` of :func:`fastgd._driver.run_epochs` for the average scheme."""
    from ._kernels.distributed import coordinate_mean_into, weighted_mean_into

    client = job.client
    acc_row = _ACCUMULATOR.get(problem.optimizer)

    def epoch(order, lin):
        r = counter[0]
        counter[0] += 1
        live = [p for p in range(len(job.parts)) if job.lengths[p] > 0]
        count = None if local_rows is None else int(local_rows)
        start = 0 if local_rows is None else r * int(local_rows)
        seeds = [(seed, k, p) if local_rows is not None else (seed, k, p, r) for p in live]
        P = len(live)
        futures = client.map(
            _local_run, [job.encoded[p] for p in live], [k] * P, [lin.params] * P,
            [lin.state] * P, [lin.counters] * P, [problem] * P, seeds, [shuffle] * P,
            [start] * P, [count] * P, key=[f"fastgd-avg-{job.key}-{k}-{r}-{p}" for p in live],
        )  # fmt: skip
        results = client.gather(futures)
        bad = next((b for *_, b in results if b >= 0), -1)
        sumloss = sum(res[3] for res in results)
        sumobj = sum(res[4] for res in results)
        used = sum(res[5] for res in results)
        scale = job.n / used if used else 0.0
        if bad >= 0:
            return sumloss * scale, sumobj * scale, bad
        weights = np.array([res[6] for res in results])
        P = np.array([res[0] for res in results])
        S = np.array([res[1] for res in results])
        if acc_row is not None:
            coordinate_mean_into(lin.params, P, weights, np.ascontiguousarray(S[:, acc_row]))
        else:
            weighted_mean_into(lin.params, P, weights)
        flat = np.ascontiguousarray(S.reshape(S.shape[0], -1))
        state = lin.state.reshape(-1).copy()
        weighted_mean_into(state, flat, weights)
        lin.state[:] = state.reshape(lin.state.shape)
        most = int(np.argmax([res[2][C.SC_T] for res in results]))
        lin.counters[:] = results[most][2]
        return sumloss * scale, sumobj * scale, -1

    return epoch


def _prepare_models(est, job: _Job, coef_init, intercept_init):
    """Classes, class weights and fresh (or initial) linear models, as ``fit`` makes them."""
    problem = est._make_problem()
    problem.n_threads = 1
    classes = cw_pairs = None
    if job.classifier:
        classes = job.classes()
        if classes.shape[0] < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {classes.shape[0]} class."
            )
        cw = est.class_weight
        if cw is None:
            weights = np.ones(classes.shape[0])
        elif isinstance(cw, str) and cw == "balanced":
            counts = job.counts(classes)
            weights = job.n / (classes.shape[0] * counts.astype(np.float64))
        else:
            weights = est._expanded_class_weight(classes, classes)
        if classes.shape[0] == 2:
            cw_pairs = [(weights[1], weights[0])]
        else:
            cw_pairs = [(weights[k], 1.0) for k in range(classes.shape[0])]
    n_models = 1 if classes is None or classes.shape[0] == 2 else classes.shape[0]
    lins = est._new_models(problem, n_models, job.d, coef_init, intercept_init, warm=True)
    return problem, classes, cw_pairs, lins


def _set_fitted(est, job: _Job, classes) -> None:
    est.n_features_in_ = job.d
    if job.names is not None:
        est.feature_names_in_ = np.asarray(job.names, dtype=object)
    else:
        est.__dict__.pop("feature_names_in_", None)
    if classes is not None:
        est.classes_ = classes


def fit(
    estimator,
    X,
    y,
    *,
    scheme: str = "auto",
    sample_weight=None,
    coef_init=None,
    intercept_init=None,
    client=None,
    local_rows: int | None = None,
    checkpoint: str | os.PathLike | None = None,
):
    """Fit ``estimator`` on dask collections, training on the workers that hold them.

    Parameters
    ----------
    estimator : SGDRegressor or SGDClassifier
        Fitted in place (and returned); on failure it is left as it was.
    X : dask array of shape (n_samples, n_features) or dask DataFrame
        Blocks may be NumPy arrays (float32 kept, other numbers converted to float64),
        pandas partitions of numeric columns, or scipy.sparse CSR matrices. Column chunks
        are joined (``X.rechunk({1: -1})``, lazily).
    y : dask array or dask Series of shape (n_samples,), or array-like
        Partitioned like ``X`` (in-memory targets are cut into X's partitions).
    scheme : {"auto", "gradient", "average", "sequential"}
        See :mod:`fastgd.dask`. ``"auto"``: ``"gradient"`` unless ``batch_size=1``,
        then ``"sequential"``.
    sample_weight : dask array or Series of shape (n_samples,), or array-like, optional
    coef_init, intercept_init : array-like, optional
        Start parameters, as for ``estimator.fit`` (gradient and average schemes).
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    local_rows : int, optional
        Average scheme: rows each partition trains on per round (default: one local
        epoch, all its rows).
    checkpoint : path-like, optional
        Sequential scheme: save the model there after every partition, and resume from
        it when the file and its position record (``<checkpoint>.dask.json``) exist and
        match this fit (same partitions, rows and parameters).

    Returns
    -------
    estimator
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}.")
    if local_rows is not None and (
        isinstance(local_rows, bool) or not isinstance(local_rows, (int, np.integer))
        or local_rows < 1
    ):  # fmt: skip
        raise ValueError(f"local_rows must be a positive integer or None, got {local_rows!r}.")
    problem = estimator._make_problem()  # validates the parameters first
    if scheme == "auto":
        scheme = "sequential" if problem.batch_size == 1 else "gradient"
    if estimator.early_stopping:
        raise ValueError(
            "early_stopping=True holds out a validation set, which fits on dask collections "
            "do not support; set early_stopping=False (and tol, n_iter_no_change to stop "
            "on the training loss), or hold out a partition and score it yourself."
        )
    client = _get_client(client)
    if scheme == "sequential":
        if coef_init is not None or intercept_init is not None:
            raise ValueError(
                "the sequential scheme runs partial_fit, which takes no coef_init / "
                "intercept_init; use scheme='gradient' or 'average', or fit a first model."
            )
        return _fit_sequential(estimator, X, y, sample_weight, client, checkpoint)
    lock = estimator._training_lock()
    with lock:
        saved = dict(estimator.__dict__)
        try:
            _fit_rounds(
                estimator, X, y, sample_weight, client, scheme, coef_init, intercept_init,
                local_rows,
            )  # fmt: skip
        except BaseException:
            estimator.__dict__.clear()
            estimator.__dict__.update(saved)
            raise
    return estimator._warn_after_call()


def _fit_rounds(est, X, y, sample_weight, client, scheme, coef_init, intercept_init, local_rows):
    job = _Job(client, est, X, y, sample_weight)
    problem, classes, cw_pairs, lins = _prepare_models(est, job, coef_init, intercept_init)
    job.warm(est)
    job.encode(classes, cw_pairs)
    if problem.schedule == C.SCHED_OPTIMAL:
        from ._driver import set_optimal_init

        set_optimal_init(problem)
    rng = est._rng()
    rows = identity_order(job.n)
    n_models = len(lins)
    rngs = None
    if est.shuffle and n_models > 1:  # as the single-process fit: one generator a model
        seeds = rng.integers(0, 2**63, size=n_models)
        rngs = [np.random.default_rng(int(s)) for s in seeds]
    seed = int(rng.integers(0, 2**63)) if scheme == "average" else 0

    def train(k, stop):
        lin = lins[k]
        counter = [0]
        if scheme == "gradient":
            epoch_fn = _gradient_epoch(job, k, problem, est.shuffle, counter)
        else:
            epoch_fn = _average_epoch(job, k, problem, est.shuffle, seed, local_rows, counter)
        return run_epochs(
            None,
            None,
            None,
            rows,
            lin,
            problem,
            max_iter=est.max_iter,
            tol=est.tol,
            n_iter_no_change=est.n_iter_no_change,
            # a full batch's order changes only the order of one sum: no permutation of
            # all n rows per round on the client (the model's shuffling stream then
            # differs from a single-process fit's; the trajectory does not)
            shuffle=est.shuffle and scheme == "gradient" and problem.batch_rows(job.n) < job.n,
            rng=rng if rngs is None else rngs[k],
            verbose=est.verbose,
            stop=stop,
            epoch_fn=epoch_fn,
        )

    # one-vs-rest: each model's rounds from its own client thread, so the K models' tasks
    # share the workers instead of waiting for each other's round trips (each model has
    # its own state and generator: the same bits as in turn)
    from . import _ovr

    threads = 1 if est.verbose else n_models
    results = _ovr.run_models(n_models, threads, train)
    n_iters = [n_iter for n_iter, _ in results]
    converged = all(ok for _, ok in results)
    _set_fitted(est, job, classes)
    if cw_pairs is not None:
        est._cw_pairs = cw_pairs
    est._commit(lins, problem, rng, n_iter=max(n_iters))
    est._hit_max_iter = not converged and est.tol is not None and est.max_iter > 1
    job.release()


def _position_file(checkpoint) -> str:
    return os.fspath(checkpoint) + ".dask.json"


def _fit_sequential(
    est, X, y, sample_weight, client, checkpoint, passes=None, partial=False, classes=None
):
    from sklearn.base import clone

    from .estimators import load as load_checkpoint

    with est._training_lock():
        job = _Job(client, est, X, y, sample_weight)
        if job.classifier and classes is None:
            classes = job.classes()
        if partial and classes is not None and hasattr(est, "classes_"):
            classes = None  # later calls: partial_fit checks the labels itself
        model = copy.deepcopy(est) if partial else clone(est)
        job.warm(est)
        passes = est.max_iter if passes is None else passes
        stamp = {
            "partitions": len(job.parts),
            "rows": [int(v) for v in job.lengths],
            "params": {k: repr(v) for k, v in sorted(est.get_params().items())},
            "passes": passes,
        }
        done = 0
        if checkpoint is not None and os.path.exists(_position_file(checkpoint)):
            with open(_position_file(checkpoint)) as fh:
                record = json.load(fh)
            if record.get("stamp") == stamp and os.path.exists(checkpoint):
                model = load_checkpoint(checkpoint)
                done = int(record["done"])
        total = passes * len(job.parts)
        future = None
        for step in range(done, total):
            p = step % len(job.parts)
            if job.lengths[p] == 0:
                continue
            first = step == 0 and not partial
            future = client.submit(
                _partial_fit_part, model if future is None else future, job.parts[p],
                classes if first or (partial and step == done) else None,
                key=f"fastgd-seq-{job.key}-{step}",
            )  # fmt: skip
            if checkpoint is not None:
                model = future.result()
                model.save(checkpoint)
                tmp = _position_file(checkpoint) + f".{uuid.uuid4().hex[:8]}.tmp"
                with open(tmp, "w") as fh:
                    json.dump({"stamp": stamp, "done": step + 1}, fh)
                os.replace(tmp, _position_file(checkpoint))
        if future is not None:
            model = future.result()
        if not partial:
            model.flush()
            model.n_iter_ = passes
        job.release()
        attrs = {k: v for k, v in model.__dict__.items() if k not in est.get_params()}
        for k in [k for k in est.__dict__ if k not in est.get_params()]:
            del est.__dict__[k]
        est.__dict__.update(attrs)
        _set_fitted(est, job, getattr(model, "classes_", None))
    return est


def partial_fit(estimator, X, y, *, classes=None, sample_weight=None, client=None, checkpoint=None):
    """``estimator.partial_fit`` over the partitions of dask collections, in order, each on
    the worker that holds it (the sequential scheme, one pass; the model continues from
    where it stands, as a stream of ``partial_fit`` calls would).

    Parameters and return value as :func:`fit`; ``classes`` (classifier): all labels, on
    the first call (default: the labels found in ``y``).
    """
    client = _get_client(client)
    return _fit_sequential(
        estimator, X, y, sample_weight, client, checkpoint, passes=1, partial=True,
        classes=classes,
    )  # fmt: skip


def predict(estimator, X, method: str = "predict"):
    """``estimator.<method>`` of every block of the dask collection ``X``: a lazy dask
    array with one block per partition (rows), computed on the workers.

    Parameters
    ----------
    estimator : fitted SGDRegressor or SGDClassifier
    X : dask array of shape (n_samples, n_features) or dask DataFrame
    method : {"predict", "decision_function", "predict_proba", "predict_log_proba"}

    Returns
    -------
    dask.array.Array of shape (n_samples,) or (n_samples, n_classes)
    """
    import dask.array as da

    fn = getattr(estimator, method)  # AttributeError as the estimator's own
    two_d = method in ("predict_proba", "predict_log_proba") or (
        method == "decision_function" and np.ndim(estimator.intercept_) and
        np.size(estimator.intercept_) > 1
    )  # fmt: skip
    if method == "predict":
        ref = estimator.classes_ if estimator._is_classifier else np.zeros(0)
        dtype = ref.dtype if estimator._is_classifier else np.float64
    else:
        dtype = np.float64
    width = None
    if two_d:
        width = (
            np.size(estimator.classes_)
            if method != "decision_function"
            else np.size(estimator.intercept_)
        )
        if method != "decision_function" and np.size(estimator.classes_) == 2:
            width = 2
    if _is_dataframe(X):
        blocks = X.to_delayed()
        from dask import delayed

        arrays = [
            da.from_delayed(
                delayed(fn)(b),
                shape=(math.nan, width) if two_d else (math.nan,),
                dtype=dtype,
            )
            for b in blocks
        ]
        return da.concatenate(arrays, axis=0)
    if getattr(X, "ndim", None) != 2:
        raise ValueError("X must be a 2-D dask array or a dask DataFrame.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if two_d:
        return X.map_blocks(fn, dtype=dtype, chunks=(X.chunks[0], (width,)))
    return X.map_blocks(fn, dtype=dtype, drop_axis=1)
