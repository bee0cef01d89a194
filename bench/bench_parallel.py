"""Multi-core batch epochs (issue 15): n_jobs=1 against n_jobs=2, side by side in one run.

Full batch at n = 1e6, d = 100 float64 and mini-batch 4096, plain gradient steps
(``learning_rate='constant'``, no penalty), whole ``fit`` calls of ``--epochs`` epochs;
the same full-batch step in NumPy (BLAS threads) and, when installed, torch (2 threads)
for scale. Best of ``--repeats`` alternating runs; the ratios come from the same run.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_parallel.py
[--n 1000000] [--out reports/parallel.md]`` (unset both: they slow NumPy's BLAS).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import time
import warnings

import numpy as np

GOALS = {"full batch": 1.8, "mini-batch 4096": 1.6}


def _best(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _blas():
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(
            f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, "
            f"{p.get('num_threads')} threads)"
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        )
    except Exception:  # pragma: no cover
        return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="reports/parallel.md")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    import fastgd

    rng = np.random.default_rng(0)
    n, d, epochs = args.n, args.d, args.epochs
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    common = dict(penalty=None, learning_rate="constant", tol=None, shuffle=False)
    cases = {
        "full batch": dict(batch_size=None, eta0=0.5, max_iter=epochs),
        "mini-batch 4096": dict(batch_size=4096, eta0=0.05, max_iter=1),
    }
    rows = []
    for name, kw in cases.items():
        fits = {}
        for jobs in (1, 2):
            model = fastgd.SGDRegressor(n_jobs=jobs, **common, **kw)
            model.fit(X[:5000], y[:5000])  # compile outside the timing
            fits[jobs] = model
        times = {1: float("inf"), 2: float("inf")}
        for _ in range(args.repeats):  # alternate: drifts in machine load hit both alike
            for jobs, model in fits.items():
                times[jobs] = min(times[jobs], _best(lambda m=model: m.fit(X, y), 1))
        # n_jobs=2 sums gradients by fixed blocks of rows: its own bits for every thread
        # count, within rounding of the serial kernel's (tests/test_parallel_batch.py)
        gap = float(np.max(np.abs(fits[1].coef_ - fits[2].coef_)) / np.max(np.abs(fits[1].coef_)))
        rows.append((name, times[1], times[2], times[1] / times[2], gap))

    # the same full-batch step elsewhere, for scale
    w = np.zeros(d)

    def numpy_steps():
        nonlocal w
        w = np.zeros(d)
        for _ in range(epochs):
            r = X @ w - y
            w -= 0.5 * (X.T @ r) / n

    t_numpy = _best(numpy_steps, args.repeats)
    t_torch = None
    try:
        import torch

        torch.set_num_threads(2)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        def torch_steps():
            wt = torch.zeros(d, dtype=torch.float64)
            for _ in range(epochs):
                r = Xt @ wt - yt
                wt -= 0.5 * (Xt.T @ r) / n

        t_torch = _best(torch_steps, args.repeats)
    except ImportError:
        pass

    load = os.getloadavg()[0]
    lines = [
        "# fastgd multi-core batch epochs",
        "",
        f"`python bench/bench_parallel.py --n {n} --d {d} --epochs {epochs} --repeats "
        f"{args.repeats}` on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"load average {load:.2f} at the end; BLAS: {_blas()}. Whole `fit` calls, best of "
        f"{args.repeats} alternating runs; n x d = {n:,} x {d} float64.",
        "",
        "| case | n_jobs=1 s | n_jobs=2 s | speed-up | goal | max rel. coef gap |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ok = True
    for name, t1, t2, ratio, gap in rows:
        goal = GOALS[name]
        ok &= ratio >= goal
        verdict = "PASS" if ratio >= goal else "FAIL"
        lines.append(
            f"| {name} | {t1:.3f} | {t2:.3f} | {ratio:.2f}x | {goal}x {verdict} | {gap:.1e} |"
        )
    t2_full = rows[0][2]
    lines += [
        "",
        f"Full batch, {epochs} steps elsewhere: NumPy/BLAS {t_numpy:.3f} s "
        f"(fastgd n_jobs=2 is {t_numpy / t2_full:.2f}x that)"
        + (
            f", torch 2 threads {t_torch:.3f} s (fastgd n_jobs=2 is {t_torch / t2_full:.2f}x)."
            if t_torch is not None
            else "; torch not installed."
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
