"""One-vs-rest classes on threads: n_jobs=1 against n_jobs=2, side by side in one process.

1. ``fit``: 4 classes, n = 200,000, d = 100, float64, per-sample SGD, 5 epochs
   (``tol=None``); n_jobs=1 and n_jobs=2 alternate, best of ``--repeats`` each, and the
   ratio is printed (the goal of the multi-core issue: at least 1.8x on 2 cores). The
   two fits are checked bit for bit equal.
2. ``--threshold``: the ``partial_fit`` hot path at chunks of 100 to 100,000 entries
   (rows x features, 4 classes, d = 10 and 100): the time per call on the serial loop and
   on threads, to place ``fastgd._ovr.MIN_ENTRIES`` where threads start to pay.

Run: ``python bench/bench_parallel_ovr.py [--repeats 3] [--threshold]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

GOAL_RATIO = 1.8


def _data(n, d, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    scores = X @ rng.normal(size=(d, classes))
    return X, scores.argmax(axis=1)


def fit_ratio(n=200_000, d=100, epochs=5, repeats=3):
    from fastgd import SGDClassifier

    X, y = _data(n, d)

    def model(n_jobs):
        return SGDClassifier(max_iter=epochs, tol=None, random_state=0, n_jobs=n_jobs)

    model(1).fit(X[:2000], y[:2000])  # compile / load the kernels
    best = {1: np.inf, 2: np.inf}
    fitted = {}
    for _ in range(repeats):
        for n_jobs in (1, 2):
            m = model(n_jobs)
            t0 = time.perf_counter()
            m.fit(X, y)
            best[n_jobs] = min(best[n_jobs], time.perf_counter() - t0)
            fitted[n_jobs] = m
    same = np.array_equal(fitted[1].coef_, fitted[2].coef_) and np.array_equal(
        fitted[1].intercept_, fitted[2].intercept_
    )
    return best[1], best[2], same


def _per_call(est, X, y, calls, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            est.partial_fit(X, y)
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def threshold_table(repeats=5):
    from fastgd import SGDClassifier, _ovr

    rows = []
    saved = _ovr.MIN_ENTRIES
    try:
        for d in (10, 100):
            for entries in (1_000, 10_000, 30_000, 100_000, 300_000, 1_000_000):
                n = max(1, entries // d)
                X, y = _data(n, d, seed=1)
                calls = max(5, min(500, 2_000_000 // entries))
                times = {}
                for label, n_jobs, threshold in (
                    ("serial", 1, saved),
                    ("threads", 2, 0),
                ):
                    _ovr.MIN_ENTRIES = threshold
                    est = SGDClassifier(random_state=0, n_jobs=n_jobs)
                    est.partial_fit(X, y, classes=np.arange(4))
                    est.partial_fit(X, y)  # armed: every further call is the hot path
                    times[label] = _per_call(est, X, y, calls, repeats)
                rows.append((d, n, entries, times["serial"], times["threads"]))
    finally:
        _ovr.MIN_ENTRIES = saved
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threshold", action="store_true", help="also the hot-path table")
    args = parser.parse_args(argv)
    print(f"cores available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()}")
    t1, t2, same = fit_ratio(repeats=args.repeats)
    print(
        f"one-vs-rest fit, 4 classes, n=200000, d=100, 5 epochs: n_jobs=1 {t1:.3f} s, "
        f"n_jobs=2 {t2:.3f} s, ratio {t1 / t2:.2f}x (goal {GOAL_RATIO}x); "
        f"bit-identical: {same}"
    )
    if args.threshold:
        print("\npartial_fit hot path, 4 classes, us per call (serial loop / threads):")
        print(f"{'d':>5} {'rows':>7} {'entries':>9} {'serial':>10} {'threads':>10} {'ratio':>6}")
        for d, n, entries, ts, tt in threshold_table():
            print(f"{d:>5} {n:>7} {entries:>9} {ts * 1e6:>10.1f} {tt * 1e6:>10.1f} {ts / tt:>6.2f}")


if __name__ == "__main__":
    main()
