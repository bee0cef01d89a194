"""``partial_fit``'s streaming hot path, a mixin of the estimators.

At 1,000-row chunks every 100 ns of Python per call costs about 1% of streaming
throughput at d = 10 (bench/bench_stream.py). So a call on an already trained estimator
with plain arrays skips the general machinery: the constants it needs are armed once per
commit in a named record (:class:`Hot`), the guarded kernel of the problem's path
(``fastgd._driver.guarded_kernel``) snapshots, trains and checks in one call, and
``coef_`` / ``intercept_`` / ``t_`` are published when first read. Any case it does not
cover -- or any failure -- falls back to the general path with nothing changed, so
results and errors are those of the general path.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _ovr
from ._driver import (
    _SHARED,
    NO_WEIGHTS,
    PARALLEL_MIN_ENTRIES,
    PATH_BATCH,
    SHARD_MIN_ENTRIES,
    DivergenceWarning,
    grown,
    guarded_kernel,
    kernel_view,
    permutation,
    shared_full,
)
from ._kernels.targets import encode_labels, finite

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_FAST_DTYPES = (_F64, _F32)
# partial_fit appends one loss per chunk; on an endless stream only the most recent
# MAX_CURVE to 2 * MAX_CURVE entries are kept
MAX_CURVE = 1_000


class Hot(NamedTuple):
    """Constants of the ``partial_fit`` hot path, armed once per commit (:meth:`HotPath._arm`)."""

    n_features: int
    models: tuple  # one (LinearState, its arena, its loss curve) per linear model
    kernel: Callable  # the guarded kernel of the problem's path (fastgd._driver)
    hp: np.ndarray  # the kernel's hyperparameters
    spec: int  # the packed option codes
    batch_size: int  # 0: full batch
    shuffle: bool
    rng: np.random.Generator  # the shuffling stream, advanced in place
    labels: object  # None (regressor), (negative, positive) (binary) or the sorted classes
    cw_pairs: tuple | None  # per model (positive, negative) class weight, or None
    gen: list  # [count]: odd while a call changes the model (the estimator's training_state)
    n_threads: int = 1  # > 1: one-vs-rest models of big enough chunks train concurrently
    shard_rows: int = sys.maxsize  # chunks of this many rows go to the general path (shards)


class HotPath:
    """The streaming hot path of ``partial_fit`` (mixed into the estimators)."""

    def _arm(self, key: str = "_hot") -> Hot | None:
        """Constants of the ``partial_fit`` hot path, or None where it does not apply.

        Built on the first hot-path call after a commit and kept in ``attrs[key]`` until
        the next commit or parameter change, so a call looks nothing up twice. ``key`` is
        ``'_hot'`` for a model fitted without feature names (plain arrays), and
        ``'_hot_named'`` for one fitted on named columns, whose DataFrame chunks the
        estimator has converted after checking their names: an ndarray chunk for such a
        model never finds a record, so it takes the general path, which warns.
        """
        attrs = self.__dict__
        if (
            "_params_clean" not in attrs
            or "_lins" not in attrs
            or ("feature_names_in_" in attrs) is not (key == "_hot_named")
        ):
            return None
        labels, cw_pairs = None, None
        if self._is_classifier:
            known = attrs.get("classes_")
            if known is None or known.dtype.kind not in "iu" or "_cw_pairs" not in attrs:
                return None
            labels = (int(known[0]), int(known[1])) if known.shape[0] == 2 else known
            cw_pairs = tuple(None if pair == (1.0, 1.0) else pair for pair in self._cw_pairs)
            if all(pair is None for pair in cw_pairs):
                cw_pairs = None
        gen = attrs.get("_gen")
        if gen is None or any(lin.loss_limit is None for lin in self._lins):
            return None  # unpickled, or divergence limits not measured (a loaded checkpoint)
        problem = self._problem
        if (
            problem.n_threads > 1
            and problem.path == PATH_BATCH
            and (
                problem.batch_size == 0  # full batch: a chunk may be big enough
                or problem.batch_size * self.n_features_in_ >= PARALLEL_MIN_ENTRIES
            )
        ):
            # the general path sums such batches on threads (block sums); the guarded
            # kernels are serial: one path for these options keeps one result
            return None
        shard_rows = sys.maxsize
        if problem.n_threads > 1 and len(self._lins) == 1 and problem.path != PATH_BATCH:
            # per-sample chunks this big train as shards on threads (_driver.shard_epoch)
            shard_rows = max(
                2 * problem.n_threads, -(-SHARD_MIN_ENTRIES // max(1, self.n_features_in_))
            )
        hot = Hot(
            n_features=self.n_features_in_,
            models=tuple((lin, lin.arena, lin.loss_curve) for lin in self._lins),
            kernel=guarded_kernel(problem),
            hp=problem.hp,
            spec=problem.spec(),
            batch_size=problem.batch_size,
            shuffle=bool(self.shuffle),
            rng=self._rng_state,
            labels=labels,
            cw_pairs=cw_pairs,
            gen=gen,
            n_threads=problem.n_threads if len(self._lins) > 1 else 1,
            shard_rows=shard_rows,
        )
        attrs[key] = hot
        return hot

    def _fast_partial_fit(self, X, y, sample_weight, classes=None, key="_hot") -> bool:
        """``partial_fit`` without the general machinery, for the streaming hot path.

        Taken when the estimator is already trained, its parameters are unchanged and
        a chunk of plain arrays arrives: 2-D float32/float64 C-contiguous X, 1-D y
        (float64 targets, or integer labels of the known classes), sample weights None
        or a float64 vector. Mini-batch buffering, class weights, one-vs-rest and
        shuffling work as in the general path, with the same kernel and state, so the
        result is identical. Anything else -- or a chunk whose training fails -- returns
        False, with nothing changed, and the general path handles it, errors included.

        At 1,000-row chunks every 100 ns here costs about 1% of streaming throughput at
        d = 10 (bench/bench_stream.py): hence the armed constants (:meth:`_arm`), the
        shared full-length weight and order arrays, and ``coef_`` / ``intercept_`` /
        ``t_`` published when first read (:meth:`__getattr__`) instead of per call.
        """
        attrs = self.__dict__
        hot = attrs.get(key)
        if hot is None:
            hot = self._arm(key)
            if hot is None:
                return False
        if type(X) is not np.ndarray or type(y) is not np.ndarray or X.ndim != 2 or y.ndim != 1:
            return False
        n, d = X.shape
        dtype = X.dtype
        if (
            n == 0
            or n >= hot.shard_rows
            or d != hot.n_features
            or y.shape[0] != n
            or not X.flags.c_contiguous
            or not (dtype is _F64 or dtype is _F32 or dtype in _FAST_DTYPES)
        ):
            return False
        labels = hot.labels
        if labels is None:  # a regressor trains on y itself
            ydt = y.dtype
            if not ((ydt is _F64 or ydt == _F64) and y.flags.c_contiguous):
                return False
            targets = (y,)
        else:
            targets = self._fast_targets(y, classes, labels, n)
            if targets is None:
                return False
        unit = sample_weight is None  # the kernel then reads no weights (NO_WEIGHTS)
        if unit:
            sw = NO_WEIGHTS
        elif (
            type(sample_weight) is np.ndarray
            and sample_weight.dtype == np.float64
            and sample_weight.ndim == 1
            and sample_weight.shape[0] == n
            and sample_weight.flags.c_contiguous
            and finite(sample_weight)
            and (sample_weight >= 0).all()
        ):
            sw = sample_weight
        else:
            return False
        batch_size = hot.batch_size
        keep = n
        new_pending = None
        if batch_size > 1:
            pending = attrs.get("_pending")
            if pending is not None:
                if type(pending[0]) is not np.ndarray or pending[0].dtype != dtype:
                    return False  # sparse or other-dtype rows waiting: the general path
                if unit:
                    sw = shared_full("ones", n)[:n]
                X = np.concatenate([pending[0], X])
                targets = [np.concatenate([pending[1][:, k], t[:n]]) for k, t in enumerate(targets)]
                sw = np.concatenate([pending[2], sw])
                n = X.shape[0]
                unit = False
            keep = n - n % batch_size
            if keep < n:
                if unit:
                    sw = shared_full("ones", n)[:n]
                    unit = False
                new_pending = (
                    X[keep:].copy(),
                    np.ascontiguousarray(np.array([t[keep:n] for t in targets]).T),
                    np.array(sw[keep:n], dtype=np.float64),
                )
                if not (np.isfinite(new_pending[0]).all() and np.isfinite(new_pending[1]).all()):
                    return False  # the general path refuses non-finite waiting rows
        # training_state copies a model only while this count is even and unchanged
        gen = hot.gen
        gen[0] += 1
        try:
            if keep > 0:
                if not X.flags.writeable:  # one compiled signature for writable and read-only X
                    X = kernel_view(X)
                trained = self._train_hot(hot, X, targets, sw, unit, n, keep)
                if not trained:
                    return False
                if trained == 2:  # some model's loss passed its divergence limit
                    grew = self._hot_grown(hot, X[:keep], targets, sw, keep)
                    if grew is not None:
                        attrs.pop(key, None)  # re-armed with the lifted limit
                        warnings.warn(grew, DivergenceWarning, stacklevel=3)
                if attrs.pop("_published", False):  # published again when first read
                    attrs.pop("coef_", None)
                    attrs.pop("intercept_", None)
                    attrs.pop("t_", None)
            if new_pending is not None or batch_size > 1:
                attrs["_pending"] = new_pending
            attrs["n_iter_"] = 1
        finally:
            gen[0] += 1
        return True

    def _hot_grown(self, hot: Hot, X, targets, sw, keep) -> str | None:
        """:func:`fastgd._driver.grown` on the rows a hot-path call trained on."""

        def weight_of(k):
            w = sw[:keep] if sw.shape[0] else np.ones(keep)
            pair = None if hot.cw_pairs is None else hot.cw_pairs[k]
            return w if pair is None else w * np.where(targets[k][:keep] > 0, *pair)

        return grown(self._lins, self._problem, X, lambda k: targets[k][:keep], weight_of)

    @staticmethod
    def _train_hot(hot: Hot, X, targets, sw, unit, n, keep) -> int:
        """One guarded kernel call per model over the first ``keep`` rows; all or nothing.

        A failure (a non-finite prediction, target or parameter) -- or an interrupt --
        restores every model from its arena's snapshot and returns 0. Otherwise 1, or 2
        when a model's mean loss passed its divergence limit (``LinearState.loss_limit``,
        compared by the kernel).
        """
        if hot.n_threads > 1 and keep * hot.n_features >= _ovr.MIN_ENTRIES:
            return _train_hot_threads(hot, X, targets, sw, unit, n, keep)
        models = hot.models
        shuffle = hot.shuffle
        rng = hot.rng
        kernel = hot.kernel
        rng_state = rng.bit_generator.state if shuffle else None
        order = None
        if not shuffle:
            order = _SHARED["arange"]
            if order.shape[0] < keep:
                order = shared_full("arange", keep)
        cw_pairs = hot.cw_pairs
        grew = False
        done = 0  # models started; -1 once all have trained
        n_curve = 0
        try:
            for k in range(len(models)):
                _, arena, curve = models[k]
                # the arena's snapshot is invalid until the kernel has taken it: an
                # interrupt before the call restores nothing (nothing changed yet)
                arena[-1] = 0.0
                n_curve = len(curve)
                done = k + 1
                if shuffle:
                    order = permutation(rng, keep)
                wk = sw if cw_pairs is None or cw_pairs[k] is None else None
                if wk is None:
                    pos, neg = cw_pairs[k]
                    base = shared_full("ones", n)[:n] if unit else sw[:n]
                    wk = base * np.where(targets[k][:n] > 0, pos, neg)
                yk = targets[k]
                if not (yk.flags.writeable and wk.flags.writeable):  # read-only memory
                    yk, wk = kernel_view(yk), kernel_view(wk)
                sumloss = kernel(X, yk, wk, order, keep, arena, hot.hp, hot.spec)
                if not sumloss >= 0.0:  # one test in the common case
                    if sumloss != sumloss:  # NaN: not finite (the general path says why)
                        break
                    grew = True  # negative: past the divergence limit (the kernel's test)
                    sumloss = -sumloss
                curve.append(sumloss / keep)
            else:
                done = -1
        finally:  # Ctrl-C included: the whole call is undone
            if done >= 0:
                for k in range(done):  # the earlier models each added one loss
                    lin, _, curve = models[k]
                    lin.restore_arena(n_curve if k == done - 1 else len(curve) - 1)
                if rng_state is not None:
                    rng.bit_generator.state = rng_state
        if done >= 0:
            return 0
        for _, _, curve in models:
            if len(curve) > 2 * MAX_CURVE:
                del curve[:-MAX_CURVE]  # bounded memory on endless streams
        return 2 if grew else 1

    def _fast_targets(self, y, classes, labels, n):
        """Per-model float64 targets (each at least ``n`` long), or None (general path)."""
        if labels is None:  # regressor
            dtype = y.dtype
            if (dtype is _F64 or dtype == _F64) and y.flags.c_contiguous:
                return (y,)
            return None
        if y.dtype.kind not in "iu":
            return None
        attrs = self.__dict__
        if classes is not None and classes is not attrs.get("_fast_classes"):
            if not np.array_equal(classes, self.classes_):
                return None
            attrs["_fast_classes"] = classes  # the same object next time: no comparison
        if type(labels) is tuple:
            buf = attrs.get("_ybuf")
            if buf is None or buf.shape[0] < n:
                buf = np.empty(max(n, 1024))
                attrs["_ybuf"] = buf
            if not encode_labels(y, labels[0], labels[1], buf):
                return None  # an unknown label: the general path names it
            return (buf,)
        known = labels
        idx = np.searchsorted(known, y)
        if (idx >= known.shape[0]).any() or not (
            known[np.minimum(idx, known.shape[0] - 1)] == y
        ).all():
            return None
        Y = np.full((known.shape[0], n), -1.0)
        Y[idx, np.arange(n)] = 1.0
        return Y


def _train_hot_threads(hot: Hot, X, targets, sw, unit, n, keep) -> int:
    """:meth:`HotPath._train_hot` with the one-vs-rest models on threads
    (:func:`fastgd._ovr.run_models`): the permutations drawn from the shared generator
    in model order, every model's result checked after all have trained, the call
    undone as a whole on a failure or an interrupt (after every worker has finished its
    kernel call). The same bits as the serial loop."""
    models = hot.models
    n_models = len(models)
    shuffle = hot.shuffle
    rng = hot.rng
    kernel, hp, spec = hot.kernel, hot.hp, hot.spec
    rng_state = rng.bit_generator.state if shuffle else None
    orders = [None if shuffle else shared_full("arange", keep)] * n_models
    cw_pairs = hot.cw_pairs
    inputs = []
    for k in range(n_models):
        wk = sw if cw_pairs is None or cw_pairs[k] is None else None
        if wk is None:
            pos, neg = cw_pairs[k]
            base = shared_full("ones", n)[:n] if unit else sw[:n]
            wk = base * np.where(targets[k][:n] > 0, pos, neg)
        yk = targets[k]
        if not (yk.flags.writeable and wk.flags.writeable):  # read-only memory
            yk, wk = kernel_view(yk), kernel_view(wk)
        inputs.append((yk, wk))
        models[k][1][-1] = 0.0  # no snapshot taken yet: nothing to restore

    def prepare(k):
        orders[k] = permutation(rng, keep)

    def train(k, stop):
        yk, wk = inputs[k]
        return kernel(X, yk, wk, orders[k], keep, models[k][1], hp, spec)

    def undo():
        for lin, _, curve in models:
            lin.restore_arena(len(curve))
        if rng_state is not None:
            rng.bit_generator.state = rng_state

    try:
        sums = _ovr.run_models(n_models, hot.n_threads, train, prepare if shuffle else None)
    except BaseException:  # Ctrl-C: the whole call is undone
        undo()
        raise
    grew = False
    for sumloss in sums:
        if not sumloss >= 0.0:
            if sumloss != sumloss:  # NaN: not finite (the general path says why)
                undo()
                return 0
            grew = True  # negative: past the divergence limit (the kernel's test)
    for sumloss, (_, _, curve) in zip(sums, models, strict=True):
        curve.append((sumloss if sumloss >= 0.0 else -sumloss) / keep)
        if len(curve) > 2 * MAX_CURVE:
            del curve[:-MAX_CURVE]  # bounded memory on endless streams
    return 2 if grew else 1
