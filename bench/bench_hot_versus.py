"""partial_fit's hot path against an earlier revision, side by side in one process.

    python bench/bench_hot_versus.py --rev c3d6a23 [--rows 100] [--d 10] [--calls 3000]

Times, for a regressor on ``--rows``-row chunks: the whole ``partial_fit`` call, the hot
path without the public method (``_fast_partial_fit``) and the guarded kernel alone, for
this checkout and for ``--rev`` (extracted as ``fastgd_base`` by ``bench_versus.extract``),
best of 9 alternating rounds. The Python bookkeeping is the call minus the kernel.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_versus import extract  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rev", required=True)
    p.add_argument("--rows", type=int, default=100)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--calls", type=int, default=3000)
    args = p.parse_args(argv)
    sys.path.insert(0, str(extract(args.rev)))
    import fastgd_base

    import fastgd

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.d))
    y = X @ rng.normal(size=args.d)
    models = {}
    for name, pkg in (("this checkout", fastgd), (args.rev, fastgd_base)):
        m = pkg.SGDRegressor(shuffle=False)
        m.partial_fit(X, y)
        m.partial_fit(X, y)  # armed
        models[name] = m
    best: dict = {}
    order = np.arange(args.rows)
    for _ in range(9):
        for name, m in models.items():
            for label, fn in (("call", lambda m=m: m.partial_fit(X, y)),
                              ("hot path", lambda m=m: m._fast_partial_fit(X, y, None))):  # fmt: skip
                t0 = time.perf_counter()
                for _ in range(args.calls):
                    fn()
                t = (time.perf_counter() - t0) / args.calls * 1e6
                best[name, label] = min(best.get((name, label), 1e9), t)
            hot = m.__dict__["_hot"]
            _, arena, _ = hot.models[0]
            t0 = time.perf_counter()
            for _ in range(args.calls):
                hot.kernel(X, y, np.ones(0), order, args.rows, arena, hot.hp, hot.spec)
            t = (time.perf_counter() - t0) / args.calls * 1e6
            best[name, "kernel"] = min(best.get((name, "kernel"), 1e9), t)
    print(f"partial_fit, {args.rows}-row chunks, d = {args.d}: microseconds per call, best of 9")
    print("| revision | call | hot path | kernel | bookkeeping |")
    print("|---|---:|---:|---:|---:|")
    for name in models:
        call, hot_t, ker = (best[name, k] for k in ("call", "hot path", "kernel"))
        print(f"| {name} | {call:.2f} | {hot_t:.2f} | {ker:.2f} | {call - ker:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
