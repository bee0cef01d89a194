"""Where fastgd's threads come from: one function turns ``n_jobs`` into a thread count.

Every parallel scheme (one-vs-rest classes on Python threads over the GIL-free kernels,
the parallel batch kernels on numba's threading layer) asks :func:`resolve_n_jobs`, so
the limits below hold everywhere:

* ``n_jobs`` means what it means in scikit-learn: ``None`` is 1, ``-1`` all cores,
  ``-2`` all but one (``n_cpus + 1 + n_jobs``), a positive number that many;
* never more than the CPUs this process may run on (``os.sched_getaffinity``), than
  ``NUMBA_NUM_THREADS`` (numba's pool), than ``OMP_NUM_THREADS`` when it is set, or than
  threadpoolctl's current OpenMP limit (``threadpool_limits(1)`` around a call makes
  fastgd serial, as joblib does in its workers);
* inside a Dask worker, one thread: the worker's other task threads (or the other
  worker processes of the machine) have the other cores.
"""

from __future__ import annotations

import numbers
import os
import time


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_n_jobs(n_jobs) -> None:
    """``ValueError`` unless ``n_jobs`` is None or a non-zero integer."""
    if n_jobs is None:
        return
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(f"n_jobs must be None or an integer, got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None or 1 (serial), or -1 (all cores).")


_CACHE: dict = {"at": -1.0, "limits": None}
_TTL = 1.0  # seconds: threadpoolctl's scan of the loaded libraries costs ~2 ms


def _limits() -> list[int]:
    """The caps above, re-read at most once a second (a stream calls this per chunk)."""
    now = time.monotonic()
    if _CACHE["limits"] is None or now - _CACHE["at"] > _TTL:
        _CACHE["limits"], _CACHE["at"] = _read_limits(), now
    return _CACHE["limits"]


def _read_limits() -> list[int]:
    limits = [cpu_count()]
    try:
        from numba import config

        limits.append(int(config.NUMBA_NUM_THREADS))
    except Exception:  # pragma: no cover - numba always has it
        pass
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if omp.isdigit() and int(omp) > 0:
        limits.append(int(omp))
    try:  # threadpoolctl is a dependency of scikit-learn
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "openmp" and pool.get("num_threads"):
                limits.append(int(pool["num_threads"]))
    except Exception:  # pragma: no cover - threadpoolctl missing or broken
        pass
    try:
        import sys

        if "distributed" in sys.modules:
            from distributed import get_worker

            get_worker()  # ValueError outside a worker
            limits.append(1)  # the worker's other task threads, or other workers, use the rest
    except Exception:
        pass
    return limits


def resolve_n_jobs(n_jobs) -> int:
    """The number of threads a fit may use for ``n_jobs`` (see the module docstring)."""
    check_n_jobs(n_jobs)
    if n_jobs is None or n_jobs == 1:
        return 1
    n_cpus = cpu_count()
    wanted = n_jobs if n_jobs > 0 else max(1, n_cpus + 1 + n_jobs)
    return max(1, min([wanted, *_limits()]))
