"""Streaming speed goals of the streaming issue, measured side by side in one process.

1. Per-call overhead of ``partial_fit`` at 100-row chunks: the time of a call minus the
   time of the bare kernel on the same chunk (fastgd), and scikit-learn's whole call.
2. Streaming throughput at 1,000-row chunks as a fraction of the in-memory one-pass
   throughput (one ``partial_fit`` over the whole array), per-sample SGD.

Run: ``python bench/bench_stream.py [--out reports/stream_speed.md]``. Best of
``--repeats`` runs for every figure; ratios come from the same run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
import time
import warnings

import numpy as np

GOAL_OVERHEAD_US = 10.0
GOAL_STREAM_FRACTION = 0.90


def _best(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def per_call_overhead(d, calls, repeats, kind):
    """Seconds per partial_fit call at 100-row chunks: fastgd, its kernel alone, sklearn."""
    import sklearn.linear_model as sk

    import fastgd
    from fastgd._driver import run_epoch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, d))
    y = X @ rng.normal(size=d)
    if kind == "regressor":
        ours, theirs, target, extra = (
            fastgd.SGDRegressor(shuffle=False),
            sk.SGDRegressor(shuffle=False),
            y,
            {},
        )
    else:
        target = (y > 0).astype(int)
        extra = {"classes": np.array([0, 1])}
        ours, theirs = fastgd.SGDClassifier(shuffle=False), sk.SGDClassifier(shuffle=False)
    ours.partial_fit(X, target, **extra)
    theirs.partial_fit(X, target, **extra)
    lin, problem = ours._lins[0], ours._problem
    Y = np.where(target > 0, 1.0, -1.0) if kind == "classifier" else y
    sw, order = np.ones(100), np.arange(100)
    params, state, counters = lin.params.copy(), lin.state.copy(), lin.counters.copy()

    def fast():
        for _ in range(calls):
            ours.partial_fit(X, target, **extra)

    def kernel():
        for _ in range(calls):
            run_epoch(
                X,
                Y,
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
                1,
            )

    def sklearn_calls():
        for _ in range(calls // 10):
            theirs.partial_fit(X, target, **extra)

    t_fast, t_kernel, t_sk = 1e9, 1e9, 1e9
    for _ in range(repeats):  # alternate, so drifts in machine load hit all three alike
        t_fast = min(t_fast, _best(fast, 1) / calls)
        t_kernel = min(t_kernel, _best(kernel, 1) / calls)
        t_sk = min(t_sk, _best(sklearn_calls, 1) / (calls // 10))
    return t_fast, t_kernel, t_sk


def stream_fraction(n, d, chunk, repeats):
    """(one-pass seconds, streamed seconds) for per-sample SGD over n x d float64."""
    import fastgd

    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d)
    fastgd.SGDRegressor(shuffle=False).partial_fit(X[:1000], y[:1000])  # warm
    chunks = [(X[i : i + chunk], y[i : i + chunk]) for i in range(0, n, chunk)]

    def one_pass():
        fastgd.SGDRegressor(shuffle=False).partial_fit(X, y)

    def streamed():
        model = fastgd.SGDRegressor(shuffle=False)
        for Xc, yc in chunks:
            model.partial_fit(Xc, yc)

    t_one, t_stream = 1e9, 1e9
    for _ in range(repeats):
        t_one = min(t_one, _best(one_pass, 1))
        t_stream = min(t_stream, _best(streamed, 1))
    return t_one, t_stream


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--out", default="reports/stream_speed.md")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    lines = [
        "# fastgd streaming speed",
        "",
        f"`python bench/bench_stream.py --repeats {args.repeats} --calls {args.calls} "
        f"--n {args.n}` on {platform.processor() or platform.machine()}, "
        f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; best of "
        f"{args.repeats} alternating runs.",
        "",
        "## partial_fit per-call overhead, 100-row chunks",
        "",
        "| estimator | d | fastgd call µs | kernel alone µs | overhead µs | scikit-learn call µs "
        "| speed-up | goal (overhead <= 10 µs) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind in ("regressor", "classifier"):
        for d in (10, 100):
            t_fast, t_kernel, t_sk = per_call_overhead(d, args.calls, args.repeats, kind)
            over = (t_fast - t_kernel) * 1e6
            lines.append(
                f"| {kind} | {d} | {t_fast * 1e6:.1f} | {t_kernel * 1e6:.1f} | {over:.1f} "
                f"| {t_sk * 1e6:.1f} | {t_sk / t_fast:.0f}x | "
                f"{'PASS' if over <= GOAL_OVERHEAD_US else 'FAIL'} |"
            )
    lines += [
        "",
        "## Streaming throughput at 1,000-row chunks vs one pass in memory",
        "",
        f"Per-sample SGD, squared loss, float64, n = {args.n:,}.",
        "",
        "| d | one pass s | streamed s | one pass M rows/s | streamed M rows/s "
        "| fraction | goal (>= 90%) |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for d in (10, 100):
        t_one, t_stream = stream_fraction(args.n, d, 1000, args.repeats)
        frac = t_one / t_stream
        lines.append(
            f"| {d} | {t_one:.4f} | {t_stream:.4f} | {args.n / t_one / 1e6:.1f} | "
            f"{args.n / t_stream / 1e6:.1f} | {100 * frac:.0f}% | "
            f"{'PASS' if frac >= GOAL_STREAM_FRACTION else 'FAIL'} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    with open(args.out, "w") as fh:
        fh.write(report)


if __name__ == "__main__":
    main()
