"""One-vs-rest models trained concurrently on Python threads.

The kernels release the GIL (``nogil=True``), so the binary problems of a one-vs-rest
classifier really run in parallel on threads. :func:`run_models` trains models
``0 .. K-1``: with one thread in model order on the calling thread, exactly as a plain
loop; with ``n_threads > 1`` on the calling thread plus ``n_threads - 1`` threads of one
module-level pool (reused across calls: a thread hand-off costs ~90 us here, a pool
made per call ~200 us), each taking the next model in model order.

What keeps the threaded run bit-identical to the serial loop:

* every model has its own state and reads only shared, unchanged inputs;
* whatever a model draws from a shared generator is drawn in model order under a lock
  (``prepare(k)``, called as model ``k`` is taken), so the stream is the serial one;
* the error raised is that of the first failing model in model order: models before
  it run to completion, models after it are stopped (at their next epoch) and the
  caller puts them back as they were, so the models end where the serial loop leaves
  them (which never started those after the failure);
* a ``KeyboardInterrupt`` (Ctrl-C reaches the calling thread; a worker can only raise
  one itself) stops every model at its next epoch, waits until every worker has
  finished its current kernel call and is re-raised: the call is then undone by the
  caller, as a serial one-vs-rest fit interrupted is.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as _wait

import numpy as np

# A one-vs-rest call trains its models concurrently only when one model's epoch has at
# least this many entries (rows x features): below it the two thread hand-offs of a
# call (~50 us each on this machine) cost more than they save. Measured with
# bench/bench_parallel_ovr.py --threshold (partial_fit hot path, 4 classes, 2 threads):
# threads/serial time 0.95 at 30,000 entries and 1.20 at 100,000 (d = 10), 0.87 at
# 100,000 and 1.28 at 300,000 (d = 100); 100 rows x 10 features on threads took 4x.
MIN_ENTRIES = 1 << 17

_POOL_LOCK = threading.Lock()
_POOL: tuple = (None, 0)  # (executor, max_workers), replaced as one value


def threads_for(problem, X, n_rows: int, n_models: int, epochs: int = 1) -> int:
    """Threads for :func:`run_models` on the general path: ``problem.n_threads`` when
    there are several models and each model's fewest ``epochs`` (rows x features each)
    reach :data:`MIN_ENTRIES`, else 1.

    Also 1 where the epochs themselves run on numba's threads (dense mini- / full-batch
    batches of ``_driver.PARALLEL_MIN_ENTRIES`` entries): the models then train in turn,
    each on every thread, so that a one-vs-rest fit gives the bits of that scheme
    whichever way its models are scheduled.
    """
    threads = problem.n_threads
    if threads <= 1 or n_models <= 1 or n_rows * X.shape[1] * epochs < MIN_ENTRIES:
        return 1
    from . import _driver

    batch = problem.batch_rows(n_rows)
    if (
        isinstance(X, np.ndarray)
        and problem.path == _driver.PATH_BATCH
        and batch * X.shape[1] >= getattr(_driver, "PARALLEL_MIN_ENTRIES", math.inf)
    ):
        return 1
    return threads


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist (it would wait on them forever)."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = (None, 0), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


class Stopped(Exception):
    """Raised by a model's training when :func:`run_models` asks it to stop."""


def _pool(workers: int) -> ThreadPoolExecutor:
    """The shared executor, grown to at least ``workers`` threads (it starts its threads
    only as tasks wait for one, so a large pool costs nothing until used)."""
    pool, size = _POOL
    if size >= workers:
        return pool
    return _grow(workers)


def _grow(workers: int) -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        old, size = _POOL
        if size >= workers:
            return old
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastgd-ovr")
        _POOL = (pool, workers)
        if old is not None:
            old.shutdown(wait=False)  # its queued and running tasks still complete
        return pool


def _submit(fn, workers: int):
    while True:
        pool = _pool(workers)
        try:
            return pool.submit(fn)
        except RuntimeError:  # shut down by a concurrent growth: take the new one
            if _POOL[0] is pool:
                raise


class _Run:
    """The models of one call and who trains which (shared by its threads)."""

    __slots__ = ("train", "prepare", "n", "next", "limit", "lock", "results", "errors", "halt")

    def __init__(self, n_models: int, train, prepare):
        self.train, self.prepare, self.n = train, prepare, n_models
        self.next = 0  # the next model to take
        self.limit = n_models  # models from here on are not started, or stopped
        self.lock = threading.Lock()
        self.results: list = [None] * n_models
        self.errors: list = [None] * n_models
        self.halt = False  # a KeyboardInterrupt: every model stops

    def stopped(self, k: int) -> bool:
        return self.halt or k >= self.limit

    def _fail(self, k: int, exc: BaseException) -> None:
        self.errors[k] = exc
        if isinstance(exc, KeyboardInterrupt):
            self.halt = True
        elif not isinstance(exc, Stopped):
            with self.lock:
                self.limit = min(self.limit, k + 1)

    def work(self) -> None:
        """Train models until none is left (run on the caller and on the pool's threads)."""
        prepare = self.prepare
        while True:
            with self.lock:
                k = self.next
                if k >= self.limit or self.halt:
                    return
                self.next = k + 1
                try:
                    if prepare is not None:
                        prepare(k)  # in model order: the shared generator's serial stream
                except BaseException as exc:
                    self.errors[k] = exc
                    self.limit = min(self.limit, k + 1)
                    if isinstance(exc, KeyboardInterrupt):
                        self.halt = True
                    continue
            try:
                self.results[k] = self.train(k, lambda k=k: self.stopped(k))
            except BaseException as exc:  # re-raised by run_models
                self._fail(k, exc)


def _join(run: _Run, futures: list) -> BaseException | None:
    """Wait for every worker to finish its current model; a Ctrl-C meanwhile halts the
    run and is returned (the workers must not outlive the call: the caller undoes it)."""
    interrupt = None
    for f in futures:
        if f.cancel():  # not started: the models it would have taken are done
            continue
        while True:
            try:
                _wait([f])
                break
            except KeyboardInterrupt as exc:
                run.halt = True
                interrupt = exc
        exc = f.exception()
        if exc is not None and interrupt is None:  # a bug in the loop itself
            interrupt = exc
    return interrupt


def run_models(
    n_models: int,
    n_threads: int,
    train: Callable,
    prepare: Callable | None = None,
    undo: Callable | None = None,
) -> list:
    """``[train(k, stop) for k in range(n_models)]`` on up to ``n_threads`` threads.

    ``prepare(k)``, if given, runs just before model ``k`` starts, in model order and
    never concurrently with another ``prepare``. ``stop`` is None in the serial loop,
    else a callable that turns true when model ``k`` should stop (raise
    :class:`Stopped`); a stopped model's state is the caller's to restore. Raises the
    first model's error in model order (after every thread has finished), or the
    ``KeyboardInterrupt`` that halted the run; before raising a model's error,
    ``undo(j)`` (if given) puts back each model ``j`` after it that was started.
    """
    workers = min(n_threads, n_models)
    if workers <= 1:
        results = []
        for k in range(n_models):
            if prepare is not None:
                prepare(k)
            results.append(train(k, None))
        return results
    run = _Run(n_models, train, prepare)
    futures = []
    interrupt = None
    try:
        for _ in range(workers - 1):
            futures.append(_submit(run.work, workers - 1))
        run.work()
    except BaseException as exc:  # Ctrl-C on the calling thread
        run.halt = True
        interrupt = exc
    joined = _join(run, futures)
    interrupt = interrupt or joined
    if interrupt is None and run.halt:
        interrupt = next(e for e in run.errors if isinstance(e, KeyboardInterrupt))
    if interrupt is not None:
        raise interrupt
    for k, exc in enumerate(run.errors):
        if exc is not None and not isinstance(exc, Stopped):
            if undo is not None:
                for j in range(k + 1, run.next):
                    undo(j)
            raise exc
    return run.results
