"""Predictions on threads (issue 15): ``decision_function`` at n_jobs=1 against n_jobs=2.

The RCV1-shaped CSR problem of ``bench/sparse_data.py`` (781,265 x 47,152, ~77 nonzeros a
row, float64 and float32), a binary and a 4-class classifier, whole ``decision_function``
calls side by side in one run, alternating, best of ``--repeats``; next to them scipy's
product ``X @ coef_.T`` alone (what a prediction must at least do) and scikit-learn's
``SGDClassifier.decision_function`` on the same matrix. Dense X goes through BLAS, whose
own threads ``n_jobs`` does not change; one dense row is given for scale.

Run: ``python bench/bench_predict.py [--quick] [--out reports/predict.md]``
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="a tenth of the rows")
    p.add_argument("--out", default="reports/predict.md")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    import sklearn.linear_model as sk
    from bench_shards import _alternate
    from sparse_data import rcv1_like

    import fastgd

    load0 = os.getloadavg()[0]
    started = time.perf_counter()
    scale = 10 if args.quick else 1
    prob, _ = rcv1_like(n_rows=781_265 // scale, n_test=1000)
    rng = np.random.default_rng(0)
    lines = [
        "# Predictions on threads",
        "",
        f"`python bench/bench_predict.py{' --quick' if args.quick else ''} --repeats "
        f"{args.repeats}` on {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"CPUs, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
        f"{load0:.2f} at the start. Whole `decision_function` calls, best of {args.repeats} "
        "alternating runs. fastgd n_jobs=2 multiplies blocks of 1,024 rows on numba's "
        "threads and checks each column index as it reads it; n_jobs=1 validates the "
        "indices in a pass of its own, then scipy multiplies. Both give scipy's bits "
        "(`tests/test_parallel_predict.py`).",
        "",
        "| X | classes | n_jobs=1 s | n_jobs=2 s | speed-up | scipy X @ W s | "
        "scikit-learn s | n_jobs=2 vs scikit-learn | same bits |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    ok = True
    for dtype in (np.float64, np.float32):
        X = prob.X.astype(dtype)
        for classes in (2, 4):
            y = prob.y if classes == 2 else rng.integers(0, 4, size=X.shape[0])
            kw = dict(max_iter=1, tol=None, random_state=0)
            one = fastgd.SGDClassifier(**kw).fit(X[:20000], y[:20000])
            two = copy.deepcopy(one).set_params(n_jobs=2)  # the same model, on threads
            ref = sk.SGDClassifier(**kw).fit(X[:20000], y[:20000])
            W = one.coef_.T.astype(dtype)
            fns = {
                "one": lambda m=one, X=X: m.decision_function(X),
                "two": lambda m=two, X=X: m.decision_function(X),
                "scipy": lambda X=X, W=W: X @ W,
                "sklearn": lambda m=ref, X=X: m.decision_function(X),
            }
            best = _alternate(fns, args.repeats)
            same = np.array_equal(one.decision_function(X), two.decision_function(X))
            ok &= same
            lines.append(
                f"| CSR {X.shape[0]:,} x {X.shape[1]:,} {np.dtype(dtype).name} | {classes} | "
                f"{best['one']:.4f} | {best['two']:.4f} | {best['one'] / best['two']:.2f}x | "
                f"{best['scipy']:.4f} | {best['sklearn']:.4f} | "
                f"{best['sklearn'] / best['two']:.2f}x | {'yes' if same else 'NO'} |"
            )
    Xd = rng.normal(size=(1_000_000 // scale, 100))
    yd = Xd @ rng.normal(size=100)
    dense = {1: fastgd.SGDRegressor(max_iter=1, tol=None).fit(Xd[:5000], yd[:5000])}
    dense[2] = copy.deepcopy(dense[1]).set_params(n_jobs=2)
    best = _alternate({j: (lambda m=m: m.predict(Xd)) for j, m in dense.items()}, args.repeats)
    lines += [
        "",
        f"Dense X for scale, {Xd.shape[0]:,} x 100 float64, `SGDRegressor.predict`: n_jobs=1 "
        f"{best[1]:.4f} s, n_jobs=2 {best[2]:.4f} s (BLAS's own threads either way).",
        "",
        f"{time.perf_counter() - started:.0f} s in all; load average "
        f"{os.getloadavg()[0]:.2f} at the end (this script's own threads included).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        Path(args.out).write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
