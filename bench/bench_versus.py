"""This checkout against an earlier revision of fastgd, side by side in one process.

    python bench/bench_versus.py --rev 17ae3da [--n 1000000] [--repeats 7] [--out FILE]

The shared 2-core machines these benchmarks run on vary by 1.5-4x within an hour (the
memory system above all), so a ratio against scikit-learn measured at another time says
little about a change. This script extracts ``fastgd/`` at ``--rev`` (``git archive``)
into a temporary directory as the package ``fastgd_base`` and times the whole
``SGDRegressor(...).fit`` of both, alternating, best of ``--repeats``, on the same arrays:
a regression shows as a ratio above 1 measured minutes apart at most.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# (d, dtype, shuffle, estimator parameters)
CASES = [
    (10, "float64", False, {}),
    (10, "float64", True, {}),
    (100, "float64", False, {}),
    (100, "float64", True, {}),
    (100, "float32", False, {}),
    (100, "float32", True, {}),
    (10, "float64", False, {"penalty": "l1"}),
    (100, "float64", False, {"penalty": "l1"}),
    (100, "float64", True, {"penalty": "elasticnet"}),
    (100, "float64", False, {"average": True}),
    (100, "float64", False, {"optimizer": "adam", "batch_size": 32, "learning_rate": "constant"}),
    (100, "float64", False, {"batch_size": None, "learning_rate": "constant"}),
]


def extract(rev: str) -> Path:
    """``fastgd/`` at ``rev`` as the package ``fastgd_base`` in a new temporary directory."""
    blob = subprocess.run(
        ["git", "archive", rev, "fastgd"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    where = Path(tempfile.mkdtemp(prefix="fastgd-base-"))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(where, filter="data")
    (where / "fastgd").rename(where / "fastgd_base")
    return where


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the git revision to compare against")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", help="also write the markdown table here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(extract(args.rev)))
    base = importlib.import_module("fastgd_base")
    import fastgd

    warnings.simplefilter("ignore")
    lines = [
        f"# fastgd at this checkout vs `{args.rev}`",
        "",
        f"`python bench/bench_versus.py --rev {args.rev} --n {args.n} --repeats {args.repeats}`"
        f", {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: the whole `fit` of "
        f"`SGDRegressor(max_iter=1, tol=None, random_state=0, ...)`, n = {args.n:,}, best of "
        f"{args.repeats} alternating runs in one process.",
        "",
        "| d | dtype | shuffle | parameters | base s | this s | this / base |",
        "|---:|---|---|---|---:|---:|---:|",
    ]
    rng = np.random.default_rng(0)
    for d, dtype, shuffle, params in CASES:
        X = rng.normal(size=(args.n, d)).astype(dtype)
        y = X.astype(np.float64) @ rng.normal(size=d)
        mods = {"base": base, "this": fastgd}
        best = {}
        for name, mod in mods.items():  # compile (or load) before timing
            mod.SGDRegressor(max_iter=1, tol=None, shuffle=shuffle, random_state=0, **params).fit(
                X[:5000], y[:5000]
            )
            best[name] = float("inf")
        for _ in range(args.repeats):
            for name, mod in mods.items():
                model = mod.SGDRegressor(
                    max_iter=1, tol=None, shuffle=shuffle, random_state=0, **params
                )
                t0 = time.perf_counter()
                model.fit(X, y)
                best[name] = min(best[name], time.perf_counter() - t0)
        label = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
        lines.append(
            f"| {d} | {dtype} | {shuffle} | {label} | {best['base']:.4f} | "
            f"{best['this']:.4f} | {best['this'] / best['base']:.2f} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
