"""The Python epoch loop around the kernels: permutations, stopping, rollback.

Knows nothing of scikit-learn. One :class:`LinearState` is one linear model
(a regressor, or one binary problem of a one-vs-rest classifier).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import weakref
from dataclasses import dataclass

import numpy as np
from numba import config as numba_config

from . import _layout as C
from . import _sparse
from ._kernels import (
    batch_epoch,
    guarded_batch,
    guarded_general,
    guarded_plain,
    optimal_init,
    pcg64_shuffle,
    sgd_general_epoch,
    sgd_plain_epoch,
)
from ._kernels.targets import finite
from .options import Resolved


class DivergenceError(ValueError):
    """The parameters became non-finite; the model holds its last finite state."""

    def __init__(self, epoch: int):
        self.epoch = epoch
        super().__init__(
            f"Floating-point under-/overflow occurred at epoch #{epoch}: the parameters "
            "became non-finite and were reset to their last finite values. Scale the "
            "features (e.g. sklearn.preprocessing.StandardScaler) or lower eta0."
        )


class DivergenceWarning(RuntimeWarning):
    """The training loss grew by orders of magnitude: the model has most likely diverged.

    Raised as a warning, not an error, because every number is still finite (scikit-
    learn clips the loss derivative at 1e12, so plain SGD, momentum and Nesterov on
    unscaled data grow without ever overflowing) and the fitted model is returned.
    See ``fastgd._driver.watch_growth`` for the rule.
    """


# the training loss of an epoch (or partial_fit call) above this many times its value
# at the start parameters counts as divergence (DivergenceWarning)
GROWTH_LIMIT = 1e6
_WATCH_ROWS = 256


@dataclass
class Problem(Resolved):
    """Resolved options (:class:`fastgd.options.Resolved`) plus what the driver derives:
    the compiled path and the packed codes of the guarded kernels, and the threads a
    fit may use (``n_threads``, from ``n_jobs`` by :func:`fastgd._threads.resolve_n_jobs`)."""

    n_threads: int = 1

    def spec(self) -> int:
        """The option codes packed into one int for the ``guarded_*`` kernels."""
        codes = (self.loss, self.penalty, self.optimizer, self.schedule)
        if not all(0 <= c < 16 for c in codes) or self.batch_size < 0:
            raise ValueError(f"option codes out of the packed range: {codes}")
        return (
            self.loss
            | self.penalty << 4
            | self.optimizer << 8
            | self.schedule << 12
            | self.batch_size << 16
        )

    @property
    def path(self) -> str:
        return epoch_path(self.optimizer, self.penalty, self.batch_size, self.hp[C.HP_AVERAGE])


# ---------------------------------------------------------------- the compiled paths
PATH_PLAIN = "plain"  # per-sample plain SGD, no L1, no averaging: the carried dot
PATH_GENERAL = "general"  # per-sample plain SGD with L1 / elastic net / averaging
PATH_BATCH = "batch"  # mini- and full-batch, and every optimizer but plain SGD
_GUARDED = {PATH_PLAIN: guarded_plain, PATH_GENERAL: guarded_general, PATH_BATCH: guarded_batch}


def epoch_path(optimizer: int, penalty: int, batch_size: int, average: float) -> str:
    """Which compiled path trains a problem (``batch_size`` 0 is full batch)."""
    if batch_size != 1 or optimizer != C.OPT_SGD:
        return PATH_BATCH
    if penalty in (C.PENALTY_L1, C.PENALTY_ELASTICNET) or average != 0.0:
        return PATH_GENERAL
    return PATH_PLAIN


def guarded_kernel(problem: Problem):
    """The ``guarded_*`` kernel of ``problem``'s path (``partial_fit``'s hot path)."""
    return _GUARDED[problem.path]


class _Alias:
    """Exposes read-only memory through ``__array_interface__`` as writable, and keeps the
    original array alive (see :func:`kernel_view`)."""

    __slots__ = ("__array_interface__", "_keep")

    def __init__(self, a: np.ndarray):
        self._keep = a
        iface = dict(a.__array_interface__)
        iface["data"] = (iface["data"][0], False)
        self.__array_interface__ = iface


def kernel_view(a: np.ndarray) -> np.ndarray:
    """``a`` itself, or for read-only memory (a memmap opened ``mode='r'``) a view typed
    writable, so that writable and read-only inputs share one compiled signature.

    numba types a read-only array as another type, and its dispatcher types read-only
    arguments on a slow path (several us per call); a writable-typed alias costs neither.
    The kernels never write ``X``, ``y`` or ``sw``: only their types change.
    """
    if a.flags.writeable:
        return a
    return np.asarray(_Alias(a))


# a batch of at least this many entries (rows x features) goes to the threads when a fit
# may use more than one (smaller ones: two fork-joins per batch cost more than they save)
PARALLEL_MIN_ENTRIES = 1 << 16


def run_epoch(
    X,
    y,
    sw,
    order,
    params,
    state,
    counters,
    hp,
    loss,
    penalty,
    optimizer,
    schedule,
    batch_size,
    n_threads=1,
):
    """One epoch over ``X[order]`` on the compiled path of these options.

    The arguments of the kernels (``fastgd._kernels.sgd``), with ``batch_size`` a row
    count. ``X``, ``y`` and ``sw`` reach the kernel typed writable (:func:`kernel_view`: one
    signature per X dtype). ``n_threads > 1``: mini- and full-batch epochs on dense X
    with batches of at least :data:`PARALLEL_MIN_ENTRIES` entries run on that many of
    numba's threads (``fastgd._kernels.parallel``: block-summed gradients, the same bits
    for every thread count, within rounding of the serial kernel's); per-sample plain
    SGD epochs of at least :data:`SHARD_MIN_ENTRIES` entries (nonzeros for CSR) train
    ``n_threads`` shards and average them (:func:`shard_epoch`). Returns
    ``(sumloss, sumobj, bad)``.
    """
    y, sw = kernel_view(y), kernel_view(sw)
    if not isinstance(X, np.ndarray):  # CSR: a scipy.sparse matrix or its CSRArrays
        Xs = (
            X
            if isinstance(X, _sparse.CSRArrays)
            else _sparse.kernel_arrays(X, _lazy_per_sample(hp, optimizer, batch_size))
        )
        m = order.shape[0]
        if (
            n_threads > 1
            and batch_size == 1
            and optimizer == C.OPT_SGD
            and m >= 2 * n_threads
            and Xs.indptr[-1] * m >= SHARD_MIN_ENTRIES * max(1, Xs.shape[0])  # nonzeros
        ):
            return shard_epoch(
                Xs, y, sw, order, params, state, counters, hp, loss, penalty, optimizer,
                schedule, batch_size, n_threads,
            )  # fmt: skip
        if (
            n_threads > 1
            and csr_batch_on_threads(hp, optimizer, batch_size, Xs)
            and _THREADING["ok"] is not False
        ):
            return _parallel_batch_csr(
                Xs, y, sw, order, params, state, counters, hp, loss, penalty, optimizer,
                schedule, batch_size, n_threads,
            )  # fmt: skip
        return run_epoch_csr(
            Xs,
            y,
            sw,
            order,
            params,
            state,
            counters,
            hp,
            loss,
            penalty,
            optimizer,
            schedule,
            batch_size,
        )
    X = kernel_view(X)
    path = epoch_path(optimizer, penalty, batch_size, hp[C.HP_AVERAGE])
    if state.shape[0] < C.N_ST or counters.shape[0] < C.N_SC:
        # no room for the carry (the reference's 5-row state, 3 counters): plain SGD
        # then runs on the general path, which computes the same steps
        if state.shape[0] < C.ST_Q + 1 or counters.shape[0] < C.SC_ETA + 1:
            raise ValueError(
                f"state needs >= {C.ST_Q + 1} rows and counters >= "
                f"{C.SC_ETA + 1} slots, got {state.shape} and {counters.shape}."
            )
        if path == PATH_PLAIN:
            path = PATH_GENERAL
    if (
        n_threads > 1
        and path != PATH_BATCH
        and order.shape[0] * X.shape[1] >= SHARD_MIN_ENTRIES
        and order.shape[0] >= 2 * n_threads
    ):
        return shard_epoch(
            X, y, sw, order, params, state, counters, hp, loss, penalty, optimizer, schedule,
            batch_size, n_threads,
        )  # fmt: skip
    if path == PATH_PLAIN:
        if order.shape[0] == 0:
            return 0.0, 0.0, -1
        scratch = np.empty(X.shape[1] + C.ARENA_RATES)
        return sgd_plain_epoch(
            X, y, sw, order, params, state, counters, hp, loss, penalty, schedule, scratch
        )
    if path == PATH_GENERAL:
        return sgd_general_epoch(
            X, y, sw, order, params, state, counters, hp, loss, penalty, schedule
        )
    if (
        n_threads > 1
        and batch_size * X.shape[1] >= PARALLEL_MIN_ENTRIES
        and _THREADING["ok"] is not False
    ):
        return _parallel_batch(
            X, y, sw, order, params, state, counters, hp, loss, penalty, optimizer, schedule,
            batch_size, n_threads,
        )  # fmt: skip
    return batch_epoch(
        X, y, sw, order, params, state, counters, hp, loss, penalty, optimizer, schedule, batch_size
    )


# a per-sample epoch of at least this many entries (rows x features) on n_threads > 1
# trains n_threads shards of its rows concurrently and averages them (shard_epoch)
SHARD_MIN_ENTRIES = 1 << 17


def shard_epoch(
    X, y, sw, order, params, state, counters, hp, loss, penalty, optimizer, schedule,
    batch_size, n_threads,
):  # fmt: skip
    """A per-sample epoch as local SGD on ``n_threads`` shards, averaged once (the twin
    of :func:`fastgd.reference.shard_epoch`, which writes out the rule).

    The shards are consecutive pieces of ``order``, ``order[s m // T : (s + 1) m // T]``;
    each trains on its own copy of the start arrays with the serial per-sample kernel,
    the shards concurrently on Python threads (the kernels release the GIL,
    :func:`fastgd._ovr.run_models`). Then parameters and state are averaged, weighted by
    each shard's sample weight, in shard order, and the counters are those of the shard
    that took the most steps. Deterministic for a given ``n_threads``: the partition and
    the averaging order depend on nothing else. The carried dot of the fast path restarts
    from the averaged parameters.
    """
    from . import _ovr
    from ._kernels.distributed import weighted_mean_into

    m = order.shape[0]
    T = n_threads
    bounds = [s * m // T for s in range(T + 1)]
    copies = [(params.copy(), state.copy(), counters.copy()) for _ in range(T)]

    def train(s, stop):
        p, st, c = copies[s]
        return run_epoch(
            X, y, sw, order[bounds[s] : bounds[s + 1]], p, st, c, hp, loss, penalty,
            optimizer, schedule, batch_size, 1,
        )  # fmt: skip

    outs = _ovr.run_models(T, T, train)
    sumloss = sumobj = 0.0
    bad = -1
    for s, (sl, so, b) in enumerate(outs):
        sumloss += sl
        sumobj += so
        if b >= 0 and bad < 0:
            bad = bounds[s] + b
    if bad >= 0:
        return sumloss, sumobj, bad
    if sw.shape[0] == 0:
        weights = np.array([float(bounds[s + 1] - bounds[s]) for s in range(T)])
    else:
        weights = np.array([float(np.sum(sw[order[bounds[s] : bounds[s + 1]]])) for s in range(T)])
    if not weights.sum() > 0.0:
        weights[:] = 1.0
    weighted_mean_into(params, np.array([c[0] for c in copies]), weights)
    flat = np.array([c[1].reshape(-1) for c in copies])
    avg_state = state.reshape(-1).copy()
    weighted_mean_into(avg_state, flat, weights)
    state[:] = avg_state.reshape(state.shape)
    most = int(np.argmax([c[2][C.SC_T] for c in copies]))
    counters[:] = copies[most][2]
    if state.shape[0] > C.ST_XP and counters.shape[0] > C.SC_UP:
        # the carried dot restarts from the averaged parameters (w = 1 * wp + 0 * xp)
        d1 = params.shape[0]
        state[C.ST_WP, : d1 - 1] = params[: d1 - 1]
        state[C.ST_XP] = 0.0
        counters[C.SC_SP] = 1.0
        counters[C.SC_UP] = 0.0
    return sumloss, sumobj, -1


# whether numba has a thread-safe threading layer (None: not tried yet). fastgd asks for
# one ("threadsafe": TBB or OpenMP) unless NUMBA_THREADING_LAYER is set; numba's
# fallback, workqueue, aborts the process when two Python threads (one-vs-rest classes,
# a joblib pool) launch parallel kernels at once. Without one, batches run serially.
_THREADING: dict = {"ok": None}


def _threading_ok() -> bool:
    if _THREADING["ok"] is None:
        import os

        import numba

        if "NUMBA_THREADING_LAYER" not in os.environ:
            numba.config.THREADING_LAYER = "threadsafe"
        from ._kernels.parallel import probe

        try:
            probe()
            layer = numba.threading_layer()
        except (ValueError, RuntimeError, ImportError):  # "No threading layer could be loaded"
            layer = None
        _THREADING["ok"] = layer in ("tbb", "omp")
    return _THREADING["ok"]


@contextlib.contextmanager
def on_threads(n_threads: int):
    """Run the parallel kernels of the block on ``n_threads`` of numba's threads (set for
    the calling thread only: numba's thread count is thread-local), blocks handed out one
    at a time; yields False, leaving everything as it was, where no thread-safe layer
    loads (the caller then runs serially).

    One block at a time: a thread that wakes late takes fewer blocks (static halves made
    a 4,096-row mini-batch wait for the slower thread: 1.3x, not 1.7x).
    """
    if not _threading_ok():
        yield False
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
    chunk = numba.set_parallel_chunksize(1)
    try:
        yield True
    finally:
        numba.set_parallel_chunksize(chunk)
        numba.set_num_threads(before)


def _parallel_batch(X, y, sw, order, params, state, counters, hp, *codes_and_sizes):
    """:func:`fastgd._kernels.parallel.batch_epoch_parallel` on ``n_threads`` of numba's
    threads (:func:`on_threads`; serial where no layer loads)."""
    from ._kernels.parallel import BLOCK_ROWS, batch_epoch_parallel

    codes, n_threads = codes_and_sizes[:-1], codes_and_sizes[-1]
    with on_threads(n_threads) as threaded:
        if threaded:
            return batch_epoch_parallel(
                X, y, sw, order, params, state, counters, hp, *codes, BLOCK_ROWS
            )
    return batch_epoch(X, y, sw, order, params, state, counters, hp, *codes)


def csr_batch_on_threads(hp, optimizer: int, batch_size: int, Xs) -> bool:
    """Whether a CSR mini- or full-batch epoch of these options runs on numba's threads
    (``n_jobs > 1``): exact updates without intercept decay (the lazy rules and
    scikit-learn's decay stay serial), a batch of at least :data:`PARALLEL_MIN_ENTRIES`
    nonzeros, and at least four nonzeros per column of the blocks' dense sums (else
    zeroing and adding those rows costs more than the threads save)."""
    if batch_size <= 1 or hp[C.HP_LAZY_UPDATES] != 0.0 or hp[C.HP_INTERCEPT_DECAY] != 1.0:
        return False
    from ._kernels.parallel import csr_block_rows

    n, d = Xs.shape
    batch = min(batch_size, n)
    nnz = float(Xs.indptr[-1]) * batch / max(1, n)
    blocks = -(-batch // csr_block_rows(batch, d))
    return nnz >= PARALLEL_MIN_ENTRIES and nnz >= 4.0 * blocks * (d + 1) and blocks > 1


def _parallel_batch_csr(Xs, y, sw, order, params, state, counters, hp, *codes_and_sizes):
    """:func:`fastgd._kernels.parallel.csr_batch_epoch_parallel` on ``n_threads`` of
    numba's threads (:func:`on_threads`; serial where no layer loads)."""
    from ._kernels.parallel import csr_batch_epoch_parallel, csr_block_rows

    codes, n_threads = codes_and_sizes[:-1], codes_and_sizes[-1]
    batch = min(codes[-1], Xs.shape[0])
    with on_threads(n_threads) as threaded:
        if threaded:
            return csr_batch_epoch_parallel(
                Xs.data, Xs.indices, Xs.indptr, y, sw, order, params, state, counters, hp,
                *codes, csr_block_rows(batch, Xs.shape[1]),
            )  # fmt: skip
    return run_epoch_csr(Xs, y, sw, order, params, state, counters, hp, *codes)


def _lazy_per_sample(hp, optimizer: int, batch_size: int) -> bool:
    """Whether CSR training takes lazy per-sample steps (which want canonical rows)."""
    return hp[C.HP_LAZY_UPDATES] != 0.0 and batch_size == 1 and optimizer != C.OPT_SGD


def run_epoch_csr(
    Xs, y, sw, order, params, state, counters, hp, loss, penalty, optimizer, schedule, batch_size
):
    """:func:`run_epoch` on CSR input (``Xs`` a :class:`fastgd._sparse.CSRArrays`).

    Per-sample plain SGD takes ``csr_sgd_epoch``; lazy per-sample steps of another
    optimizer on canonical rows (no averaging) ``csr_lazy_sample_epoch``; everything else
    ``csr_batch_epoch`` (``fastgd._kernels.sparse``).
    """
    from ._kernels.sparse import csr_batch_epoch, csr_lazy_sample_epoch, csr_sgd_epoch

    if state.shape[0] < C.ST_Q + 1 or counters.shape[0] < C.SC_ETA + 1:
        raise ValueError(
            f"state needs >= {C.ST_Q + 1} rows and counters >= "
            f"{C.SC_ETA + 1} slots, got {state.shape} and {counters.shape}."
        )
    if params.shape[0] != Xs.shape[1] + 1:
        raise ValueError(f"params has {params.shape[0]} entries for {Xs.shape[1]} features.")
    if batch_size == 1 and optimizer == C.OPT_SGD:
        return csr_sgd_epoch(
            Xs.data,
            Xs.indices,
            Xs.indptr,
            y,
            sw,
            order,
            params,
            state,
            counters,
            hp,
            loss,
            penalty,
            schedule,
        )
    if Xs.canonical and _lazy_per_sample(hp, optimizer, batch_size) and hp[C.HP_AVERAGE] == 0:
        return csr_lazy_sample_epoch(
            Xs.data,
            Xs.indices,
            Xs.indptr,
            y,
            sw,
            order,
            params,
            state,
            counters,
            hp,
            loss,
            penalty,
            optimizer,
            schedule,
        )
    return csr_batch_epoch(
        Xs.data,
        Xs.indices,
        Xs.indptr,
        y,
        sw,
        order,
        params,
        state,
        counters,
        hp,
        loss,
        penalty,
        optimizer,
        schedule,
        batch_size,
    )


class LinearState:
    """Parameters (coef then intercept), optimizer state and counters of one model.

    The three arrays are views of one float64 *arena* (``arena``), followed there by
    room for a snapshot of them, scratch and a validity flag: the layout the
    ``guarded_*`` kernels take, so ``partial_fit``'s hot path hands the kernel one array per model. The
    arrays are only ever changed in place; ``params`` is ``(d + 1,)``, ``state``
    ``(N_ST, d + 1)`` and ``counters`` ``(N_SC,)``, all C-contiguous.
    """

    __slots__ = ("arena", "params", "state", "counters", "loss_curve", "_loss_limit")

    def __init__(
        self,
        params: np.ndarray,
        state: np.ndarray,
        counters: np.ndarray,
        loss_curve: list | None = None,
    ):
        d1 = params.shape[0]
        arena = np.zeros(C.arena_size(d1 - 1))
        self.arena = arena
        self.params = arena[:d1]
        self.state = arena[d1 : d1 * (1 + C.N_ST)].reshape(C.N_ST, d1)
        self.counters = arena[d1 * (1 + C.N_ST) : d1 * (1 + C.N_ST) + C.N_SC]
        self.params[:] = params
        self.state[:] = state
        self.counters[:] = counters
        self.loss_curve = [] if loss_curve is None else loss_curve
        self.loss_limit = None

    def __getstate__(self):
        # pickled arrays would come back as separate copies, no longer views of the arena
        return self.params, self.state, self.counters, self.loss_curve, self.loss_limit

    def __setstate__(self, state):
        self.__init__(*state[:4])
        if len(state) > 4:  # pickles from before the divergence watch have four entries
            self.loss_limit = state[4]

    @classmethod
    def new(cls, n_features: int, problem: Problem, coef=None, intercept: float = 0.0):
        params = np.zeros(n_features + 1)
        if coef is not None:
            params[:n_features] = coef
        params[n_features] = intercept
        state = C.new_state(n_features)
        if problem.optimizer == C.OPT_ADAGRAD:
            state[C.ST_M1] = problem.initial_accumulator_value
        counters = C.new_counters(problem.hp[C.HP_ETA0])
        return cls(params, state, counters)

    @property
    def loss_limit(self) -> float | None:
        """The mean training loss above which a fit reports divergence (watch_growth):
        None until measured, inf when not watched. Kept in the arena too, where the
        guarded kernels compare each call's loss with it."""
        return self._loss_limit

    @loss_limit.setter
    def loss_limit(self, value: float | None) -> None:
        self._loss_limit = value
        self.arena[-2] = math.inf if value is None else value

    def copy(self) -> LinearState:
        twin = LinearState(self.params, self.state, self.counters, list(self.loss_curve))
        twin.loss_limit = self.loss_limit
        return twin

    def snapshot(self) -> tuple:
        """Cheap copy of the arrays (the loss curve is only appended to: keep its length)."""
        return self.params.copy(), self.state.copy(), self.counters.copy(), len(self.loss_curve)

    def rollback(self, snap: tuple) -> None:
        params, state, counters, n_curve = snap
        self.params[:] = params
        self.state[:] = state
        self.counters[:] = counters
        del self.loss_curve[n_curve:]

    def restore_arena(self, n_curve: int) -> None:
        """Undo a guarded kernel call from the arena's snapshot, if the kernel took it."""
        arena = self.arena
        if arena[-1] == 1.0:
            live = self.params.shape[0] * (1 + C.N_ST) + C.N_SC
            arena[:live] = arena[live : 2 * live]
        del self.loss_curve[n_curve:]

    @property
    def t(self) -> float:
        return float(self.counters[C.SC_T])

    def model(self, problem: Problem) -> np.ndarray:
        """Served parameters: the running average once averaging has started."""
        start = problem.hp[C.HP_AVERAGE]
        if start > 0 and start <= self.t - 1.0:
            return self.state[C.ST_AVG]
        return self.params


_SHARED = {"ones": np.ones(0), "arange": np.arange(0, dtype=np.int64)}
# every ones array _SHARED has held, by id (is_unit_weights): a view of one replaced by
# growth in another thread is still all ones
_ONES = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()  # growth only: one-vs-rest workers and user threads share them


def _new_shared_lock() -> None:  # a forked child: the lock may have been held by a thread
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_shared_lock)


def _shared(kind: str, n: int) -> np.ndarray:
    """A length-``n`` view of one grown, shared array (ones or 0..n-1). Never write to it.

    Fits without sample weights, and epochs without shuffling, would otherwise fill
    an 8 MB array per million rows on every call (page faults included: ~15 ms).
    It stays writeable only because numba compiles read-only arrays as another type.
    """
    return _grown(kind, n)[:n]


def _grown(kind: str, n: int) -> np.ndarray:
    """The whole shared array of ``kind``, at least ``n`` long. Growth takes a lock and
    never shrinks it (two threads growing at once once left the smaller array)."""
    arr = _SHARED[kind]
    if arr.shape[0] >= n:
        return arr
    with _SHARED_LOCK:
        arr = _SHARED[kind]
        if arr.shape[0] < n:
            size = max(n, 2 * arr.shape[0])
            arr = np.ones(size) if kind == "ones" else np.arange(size, dtype=np.int64)
            if kind == "ones":
                _ONES[id(arr)] = arr
            _SHARED[kind] = arr
        return arr


_FAST_SHUFFLE_MIN = 2048  # below this, NumPy's own call is as fast (state marshalling)
_fast_shuffle_ok: bool | None = None  # checked against NumPy on first use


def permutation(rng: np.random.Generator, rows) -> np.ndarray:
    """``rng.permutation(rows)`` as int64: the same array and the same generator state.

    ``rows`` is a row count or a 1-D int64 array. For a PCG64 generator and at least
    ``_FAST_SHUFFLE_MIN`` rows the shuffle runs compiled (:mod:`._kernels.shuffle`,
    ~1.5x faster than NumPy's); the first call in a process compares it with NumPy
    and, should they ever disagree, NumPy's is used from then on.
    """
    global _fast_shuffle_ok
    is_array = isinstance(rows, np.ndarray)
    n = rows.shape[0] if is_array else int(rows)
    bitgen = rng.bit_generator
    if n < _FAST_SHUFFLE_MIN or type(bitgen) is not np.random.PCG64 or numba_config.DISABLE_JIT:
        return np.asarray(rng.permutation(rows), dtype=np.int64)
    if _fast_shuffle_ok is None:
        _fast_shuffle_ok = _fast_shuffle_agrees()
    if not _fast_shuffle_ok:
        return np.asarray(rng.permutation(rows), dtype=np.int64)
    out = np.array(rows, dtype=np.int64) if is_array else np.arange(n, dtype=np.int64)
    _pcg64_shuffle_into(bitgen, out)
    return out


def _pcg64_shuffle_into(bitgen, out: np.ndarray) -> None:
    state = bitgen.state
    pcg, mask = state["state"], (1 << 64) - 1
    st = np.array(
        [
            pcg["state"] >> 64,
            pcg["state"] & mask,
            pcg["inc"] >> 64,
            pcg["inc"] & mask,
            state["has_uint32"],
            state["uinteger"],
        ],
        dtype=np.uint64,
    )
    pcg64_shuffle(out, st)
    pcg["state"] = (int(st[0]) << 64) | int(st[1])
    state["has_uint32"], state["uinteger"] = int(st[4]), int(st[5])
    bitgen.state = state


def _fast_shuffle_agrees() -> bool:
    """Whether the compiled shuffle reproduces NumPy's here (permutation and state)."""
    for seed, n in ((0, _FAST_SHUFFLE_MIN + 3), (12345, 3 * _FAST_SHUFFLE_MIN)):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        ours.integers(0, 7, size=3)  # leave a buffered 32-bit half in the state
        theirs.integers(0, 7, size=3)
        out = np.arange(n, dtype=np.int64)
        _pcg64_shuffle_into(ours.bit_generator, out)
        if not (
            np.array_equal(out, theirs.permutation(n))
            and ours.bit_generator.state == theirs.bit_generator.state
        ):
            return False
    return True


def shared_full(kind: str, n: int) -> np.ndarray:
    """The whole shared array of ``kind`` (ones or 0..size-1), grown to at least ``n``.

    For kernels told how many entries to use (the guarded kernels): no slice per call.
    """
    return _grown(kind, n)


NO_WEIGHTS = np.empty(0)  # ``sw`` for the kernels: every weight is 1 (see _kernels.sgd)


def is_unit_weights(sw: np.ndarray) -> bool:
    """Whether ``sw`` is (a view of) the shared ones of :func:`unit_weights`."""
    ones = _SHARED["ones"]
    if sw is ones or (sw.base is ones and sw.strides == ones.strides):
        return True
    base = sw if sw.base is None else sw.base  # a ones array since replaced by growth
    return _ONES.get(id(base)) is base and sw.strides == base.strides


def unit_weights(n: int) -> np.ndarray:
    """``np.ones(n)`` (float64), shared: never write to it."""
    return _shared("ones", n)


def identity_order(n: int) -> np.ndarray:
    """``np.arange(n)`` (int64), shared: never write to it."""
    return _shared("arange", n)


def set_optimal_init(problem: Problem) -> None:
    if problem.schedule == C.SCHED_OPTIMAL:
        problem.hp[C.HP_OPTIMAL_INIT] = optimal_init(
            problem.loss, problem.hp[C.HP_ALPHA], problem.hp[C.HP_EPSILON]
        )


class BadRowError(ValueError):
    """Input X or y has NaN or infinity in row ``row`` (counted as ``where`` says)."""

    def __init__(self, what: str, row: int, where: str = ""):
        self.what, self.row, self.where = what, row, where
        super().__init__(
            f"Input {what} contains NaN or infinity (row {row}{where}); remove or impute "
            "non-finite values."
        )

    def moved(self, offset: int, where: str = "") -> BadRowError:
        """The same error with the row counted from ``offset`` rows earlier."""
        return BadRowError(self.what, self.row + offset, where)


def _bad_row_error(X, y, row: int) -> BadRowError | None:
    nonfinite = (
        _sparse.row_has_nonfinite(X, row)
        if not isinstance(X, np.ndarray)
        else not np.isfinite(X[row]).all()
    )
    if nonfinite:
        return BadRowError("X", row)
    if not math.isfinite(y[row]):
        return BadRowError("y", row)
    return None


def run_epochs(
    X: np.ndarray,
    y: np.ndarray,
    sw: np.ndarray,
    rows: np.ndarray,
    lin: LinearState,
    problem: Problem,
    *,
    max_iter: int,
    tol: float | None,
    n_iter_no_change: int,
    shuffle: bool,
    rng: np.random.Generator,
    validation_score=None,
    verbose: int = 0,
    stop=None,
    epoch_fn=None,
) -> tuple[int, bool]:
    """Train ``lin`` for up to ``max_iter`` epochs over ``X[rows]``.

    scikit-learn's stopping rule: an epoch "does not improve" when its mean objective
    (loss plus penalty, each row at the parameters before its update) exceeds
    ``best - tol`` (or, with ``validation_score``, the score is below
    ``best + tol``); after ``n_iter_no_change`` such epochs the 'adaptive' schedule
    divides its rate by 5 (while above 1e-6) and every other schedule stops.

    On non-finite input the model is restored to its state at entry and a
    ``ValueError`` names the row; on divergence it is restored to its last finite
    epoch and :class:`DivergenceError` is raised; on ``KeyboardInterrupt`` it is at
    its last completed epoch. ``stop`` (one-vs-rest models on threads,
    :func:`fastgd._ovr.run_models`): a callable asked before each epoch after the first;
    true raises :class:`fastgd._ovr.Stopped`, the model left for the caller to restore.
    ``epoch_fn`` (the distributed schemes, :mod:`fastgd.dask`): ``epoch_fn(order, lin)``
    runs the epoch instead of :func:`run_epoch` and returns its ``(sumloss, sumobj,
    bad)``; ``bad >= 0`` then means divergence (it has checked its input itself and
    raises :class:`BadRowError` for a bad row), and ``X`` is not read.
    Returns ``(n_epochs, converged)``.
    """
    # One compiled signature per X dtype: every other array reaches the kernel as a
    # C-contiguous float64 / int64 vector (a column of a 2-D Y would be 'A' layout).
    y = np.ascontiguousarray(y, dtype=np.float64)
    sw = np.ascontiguousarray(sw, dtype=np.float64)
    if is_unit_weights(sw):
        sw = NO_WEIGHTS  # the kernels read no weight at all
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if epoch_fn is None and not isinstance(X, (np.ndarray, _sparse.CSRArrays)):  # once a fit
        X = _sparse.kernel_arrays(
            X, _lazy_per_sample(problem.hp, problem.optimizer, problem.batch_rows(rows.shape[0]))
        )
    entry = lin.snapshot()
    n_rows = rows.shape[0]
    batch = problem.batch_rows(n_rows)
    best_loss, best_score = math.inf, -math.inf
    no_improvement = 0
    tol_v = -math.inf if tol is None else tol
    epoch = 0
    for epoch in range(1, max_iter + 1):
        if stop is not None and epoch > 1 and stop():
            from ._ovr import Stopped

            raise Stopped
        before = lin.snapshot() if epoch > 1 else entry
        try:
            order = permutation(rng, rows) if shuffle else rows
            if epoch_fn is not None:
                try:
                    sumloss, sumobj, bad = epoch_fn(order, lin)
                except BadRowError:
                    lin.rollback(entry)
                    raise
                if bad >= 0:
                    lin.rollback(before)
                    raise DivergenceError(epoch)
            else:
                sumloss, sumobj, bad = run_epoch(
                    X,
                    y,
                    sw,
                    order,
                    lin.params,
                    lin.state,
                    lin.counters,
                    problem.hp,
                    problem.loss,
                    problem.penalty,
                    problem.optimizer,
                    problem.schedule,
                    batch,
                    problem.n_threads,
                )
                if bad >= 0:
                    err = _bad_row_error(X, y, int(order[bad]))
                    if err is not None:
                        lin.rollback(entry)
                        raise err
                    lin.rollback(before)
                    raise DivergenceError(epoch)
            # params, state and counters are one stretch of the arena: one compiled scan
            # (no boolean temporary; a few ms per call at a million columns before)
            if not finite(lin.arena[: lin.params.shape[0] * (1 + C.N_ST)]):
                lin.rollback(before)
                raise DivergenceError(epoch)
            lin.loss_curve.append(sumloss / n_rows)
        except KeyboardInterrupt:
            # Ctrl-C is delivered when the kernel returns: undo the unfinished epoch so
            # the model stands exactly at its last completed epoch
            lin.rollback(before)
            raise
        if verbose:
            print(
                f"-- Epoch {epoch}: avg. loss {sumloss / n_rows:.6g}, "
                f"norm {np.linalg.norm(lin.params[:-1]):.4g}, bias {lin.params[-1]:.6g}, "
                f"T {int(lin.t) - 1}"
            )
        if validation_score is not None:
            score = validation_score(lin)
            no_improvement = no_improvement + 1 if score < best_score + tol_v else 0
            best_score = max(best_score, score)
        else:
            objective = sumobj / n_rows
            no_improvement = no_improvement + 1 if objective > best_loss - tol_v else 0
            best_loss = min(best_loss, objective)
        if no_improvement >= n_iter_no_change:
            if problem.schedule == C.SCHED_ADAPTIVE and lin.counters[C.SC_ETA] > 1e-6:
                lin.counters[C.SC_ETA] /= 5.0
                no_improvement = 0
            else:
                return epoch, True
    return epoch, False


def sample_loss(X, y: np.ndarray, sw: np.ndarray, params: np.ndarray, problem: Problem) -> float:
    """``sum(sw * loss) / rows`` at ``params`` over up to 256 evenly spaced rows of ``X``.

    The loss without the penalty, per row as the loss curve has it; ``sw`` may be empty
    (all weights 1). One small prediction and a few hundred scalar loss evaluations
    (:func:`fastgd.reference.loss_value`). Non-finite X gives a non-finite result.
    """
    from . import reference

    n = X.shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, _WATCH_ROWS)).astype(np.int64))
    with np.errstate(all="ignore"):  # non-finite X is the kernels' to report, by row
        p = np.asarray(X[rows] @ params[:-1]).ravel() + params[-1]
    w = np.ones(rows.shape[0]) if sw.shape[0] == 0 else np.asarray(sw)[rows]
    name = next(k for k, code in C.LOSSES.items() if code == problem.loss)
    eps = float(problem.hp[C.HP_EPSILON])
    values = np.array(
        [reference.loss_value(name, pi, yi, eps) for pi, yi in zip(p, y[rows], strict=True)]
    )
    with np.errstate(all="ignore"):
        return float(np.dot(w, values) / rows.shape[0])


def watch_growth(
    X, y: np.ndarray, sw: np.ndarray, lin: LinearState, problem: Problem, params: np.ndarray
) -> None:
    """Set ``lin.loss_limit`` to :data:`GROWTH_LIMIT` times :func:`sample_loss` at the
    start ``params`` (the parameters before training; measured after it, once the
    kernels have validated ``X``).

    Where that loss is 0 (a perceptron at zero weights, a target fitted exactly) there
    is no scale to compare with and nothing is watched (``inf``).
    """
    start = sample_loss(X, y, sw, params, problem) if X.shape[0] else 0.0
    ok = math.isfinite(start) and start > 0.0
    lin.loss_limit = GROWTH_LIMIT * start if ok else math.inf


def grown(lins, problem: Problem, X, target_of, weight_of) -> str | None:
    """The :class:`DivergenceWarning` message when a model has diverged, else None.

    The rule: the last training loss (the epoch's, or the ``partial_fit`` call's, mean
    loss before each update) passed ``loss_limit`` -- the cheap test, made on every
    call -- *and* so does :func:`sample_loss` of the fitted (served) model on this
    call's ``X`` (``target_of(k)``, ``weight_of(k)``: model ``k``'s targets and
    weights). The second test keeps a transient out: an ``optimal`` schedule's first
    steps may spike the loss of a chunk and then settle. Each model warns once (its
    limit is then lifted).
    """
    for k, lin in enumerate(lins):
        limit = lin.loss_limit
        if limit is None or not lin.loss_curve or not lin.loss_curve[-1] > limit:
            continue
        now = sample_loss(X, target_of(k), weight_of(k), lin.model(problem), problem)
        if not now > limit:
            continue
        lin.loss_limit = math.inf
        which = f" (one-vs-rest model {k})" if len(lins) > 1 else ""
        return (
            f"The training loss grew from {limit / GROWTH_LIMIT:.3g} at the start "
            f"parameters to {now:.3g} at the fitted ones{which}, more than "
            f"{GROWTH_LIMIT:.0e} times: the model has most likely diverged (its "
            "coefficients are finite but meaningless). Scale the features (e.g. "
            "sklearn.preprocessing.StandardScaler) or lower eta0."
        )
    return None
