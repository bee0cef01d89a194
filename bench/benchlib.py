"""Pieces shared by the benchmark suites in ``bench/`` and ``bench/bench_core.py``.

* the memory-bandwidth probes (``@numba.njit`` sums: single core, plain and with eight
  accumulators, and all cores with ``numba.prange``);
* the benchmark grid (:func:`throughput_cases`): size x implementation x mode x dtype,
  per profile (``tiny``, ``quick``, ``full``), slow peers restricted to a subset;
* the implementations timed per epoch (:func:`make_epoch`): fastgd's estimators and
  ``run_epoch``, ``fastgd.reference``, the seeds' textbook NumPy loops, scikit-learn,
  River and PyTorch (the last two only when importable);
* the time-to-accuracy problems and their exact optima.

This file is imported by pytest (``bench/`` is put on ``sys.path``) and by
``python bench/bench_core.py``; it holds the only ``@njit`` functions outside
``fastgd._kernels``, because they measure the machine, not fastgd.
"""

from __future__ import annotations

import gc
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from fastgd.benchmark import is_goal_row

# --------------------------------------------------------------------------- profiles
#: n values, d values, and the largest X (bytes) each profile allows.
PROFILES = {
    "tiny": dict(
        ns=(200, 1_000),
        ds=(10, 100),
        max_bytes=2e6,
        bw_bytes=8 * 2**20,
        tta_n=2_000,
        tta_d=10,
        tta_max_epochs=8,
    ),
    "quick": dict(
        ns=(1_000, 10_000, 100_000, 1_000_000),
        ds=(10, 100),
        max_bytes=1e9,
        bw_bytes=256 * 2**20,
        tta_n=50_000,
        tta_d=20,
        tta_max_epochs=40,
    ),
    "full": dict(
        ns=(1_000, 10_000, 100_000, 1_000_000, 10_000_000),
        ds=(10, 100, 1000),
        max_bytes=1e9,
        bw_bytes=1024 * 2**20,
        tta_n=200_000,
        tta_d=50,
        tta_max_epochs=80,
    ),
}

#: (optimizer, batch) of every mode; batch 0 is full batch.
MODES = {
    "sgd/1": ("sgd", 1),
    "sgd/32": ("sgd", 32),
    "sgd/1024": ("sgd", 1024),
    "sgd/full": ("sgd", 0),
    "adam/1": ("adam", 1),
    "adam/32": ("adam", 32),
    "adam/1024": ("adam", 1024),
    "adam/full": ("adam", 0),
}
QUICK_MODES = ("sgd/1", "sgd/32", "sgd/full", "adam/1", "adam/1024")

#: implementation name -> human label used in the report.
IMPLEMENTATIONS = {
    "fastgd": "fastgd SGDRegressor.fit (max_iter=1, tol=None)",
    "fastgd-kernel": "fastgd run_epoch (kernel only)",
    "reference": "fastgd.reference (pure NumPy twin)",
    "textbook": "seeds' textbook NumPy loop",
    "sklearn": "scikit-learn SGDRegressor.fit",
    "river": "River LinearRegression (learn_one / learn_many)",
    "torch": "PyTorch torch.optim loop",
}
FASTGD_IMPLS = ("fastgd", "fastgd-kernel")


def is_goal_case(case) -> bool:
    """Whether ``case`` is one of the pairs the core speed goals are computed from (timed
    over :data:`fastgd.benchmark.GOAL_ROUNDS` rounds)."""
    return is_goal_row(case.impl, case.mode, case.n)


@dataclass(frozen=True)
class Case:
    """One throughput benchmark: an implementation running one epoch of a mode."""

    impl: str
    mode: str
    n: int
    d: int
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.impl}-{self.mode}-n{self.n}-d{self.d}-{self.dtype}"

    @property
    def x_bytes(self) -> int:
        return self.n * self.d * np.dtype(self.dtype).itemsize


def _peer_limit(impl: str, mode: str, profile: str) -> int:
    """Largest n a (slow) implementation runs at; 0 when it does not run the mode."""
    opt, batch = MODES[mode]
    big = 10**7 if profile == "full" else 10**6
    if impl in FASTGD_IMPLS:
        return 10**9
    if impl == "sklearn":  # scikit-learn has per-sample plain SGD only
        return big if mode == "sgd/1" else 0
    if impl == "reference":
        return 10_000 if profile == "full" else 1_000
    if impl == "textbook":
        if batch == 0:
            return big  # one vectorised step per epoch
        return {1: 10_000, 32: 100_000}.get(batch, 10**6) * (10 if profile == "full" else 1)
    if impl == "river":
        return {1: 10_000, 32: 100_000}.get(batch, 100_000) if batch else 0
    if impl == "torch":
        return {1: 10_000, 32: 100_000}.get(batch, big)
    raise ValueError(impl)


def available_impls() -> list[str]:
    """Implementations importable here (River and PyTorch are optional)."""
    out = ["fastgd", "fastgd-kernel", "reference", "textbook", "sklearn"]
    for name, module in (("river", "river"), ("torch", "torch")):
        try:
            __import__(module)
        except ImportError:
            continue
        out.append(name)
    return out


def throughput_cases(profile: str, ns=None, ds=None, impls=None) -> list[Case]:
    """Every throughput case of a profile, ordered so that cases sharing data are adjacent."""
    cfg = PROFILES[profile]
    ns = tuple(ns or cfg["ns"])
    ds = tuple(ds or cfg["ds"])
    impls = tuple(impls or available_impls())
    modes = tuple(MODES) if profile == "full" else QUICK_MODES
    cases = []
    for d in ds:
        for n in ns:
            for dtype in ("float64", "float32"):
                if n * d * np.dtype(dtype).itemsize > cfg["max_bytes"]:
                    continue
                for impl in impls:
                    # Peers other than fastgd and scikit-learn run float64 only; the
                    # kernel-only entry runs float32 for the per-sample fast path.
                    if dtype == "float32" and impl not in ("fastgd", "sklearn", "fastgd-kernel"):
                        continue
                    if d > 100 and impl in ("river", "reference"):
                        continue
                    for mode in modes:
                        if dtype == "float32" and impl == "fastgd-kernel" and mode != "sgd/1":
                            continue
                        if n <= _peer_limit(impl, mode, profile):
                            cases.append(Case(impl, mode, n, d, dtype))
    return cases


# --------------------------------------------------------------------------- data
def make_regression(n: int, d: int, dtype="float64", seed: int = 0):
    """Standard-normal ``X`` (C-contiguous, ``dtype``) and ``y = X w + noise`` (float64)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float64 if dtype == "float64" else np.float32)
    w = rng.standard_normal(d) / math.sqrt(d)
    y = X @ w.astype(X.dtype) + 0.1 * rng.standard_normal(n).astype(X.dtype)
    return np.ascontiguousarray(X), np.asarray(y, dtype=np.float64)


# --------------------------------------------------------------------------- epochs
def _hyper(opt: str) -> dict:
    # Small constant steps: one epoch stays finite for every batch size and d.
    return dict(eta0=1e-3) if opt == "adam" else dict(eta0=1e-3)


def fastgd_params(mode: str) -> dict:
    """Estimator parameters of a mode; per-sample SGD keeps scikit-learn's defaults."""
    opt, batch = MODES[mode]
    params = dict(max_iter=1, tol=None, random_state=0)
    if mode == "sgd/1":
        return params  # exactly the call a scikit-learn user makes
    params.update(
        optimizer=opt,
        batch_size=None if batch == 0 else batch,
        learning_rate="constant",
        **_hyper(opt),
    )
    return params


def _textbook_epoch(X, y, w, b, eta, batch, opt, adam_state):
    """The seeds' loop: per-row / per-batch NumPy updates on ``0.5 (p - y)^2``."""
    n = X.shape[0]
    if batch == 0:
        batch = n
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for start in range(0, n, batch):
        xb = X[start : start + batch]
        err = xb @ w + b - y[start : start + batch]
        gw = xb.T @ err / len(err)
        gb = err.mean()
        if opt == "sgd":
            w -= eta * gw
            b -= eta * gb
        else:
            m, v, t = adam_state
            t += 1
            m[:-1] = beta1 * m[:-1] + (1 - beta1) * gw
            m[-1] = beta1 * m[-1] + (1 - beta1) * gb
            v[:-1] = beta2 * v[:-1] + (1 - beta2) * gw * gw
            v[-1] = beta2 * v[-1] + (1 - beta2) * gb * gb
            step = eta * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
            w -= step[:-1]
            b -= step[-1]
            adam_state[2] = t
    return w, b


def make_epoch(case: Case, X, y):
    """A zero-argument callable running one epoch of ``case`` over ``X, y``."""
    opt, batch = MODES[case.mode]
    n, d = X.shape
    if case.impl == "fastgd":
        from fastgd import SGDRegressor

        params = fastgd_params(case.mode)

        def epoch():
            SGDRegressor(**params).fit(X, y)

        return epoch
    if case.impl == "fastgd-kernel":
        from fastgd import _grid, reference
        from fastgd import _layout as C
        from fastgd._driver import run_epoch

        cfg = reference.Config(
            optimizer=opt,
            batch_size=batch,
            learning_rate="invscaling" if case.mode == "sgd/1" else "constant",
            eta0=0.01 if case.mode == "sgd/1" else 1e-3,
        )
        loss, penalty, optimizer, schedule, bsz, hp = _grid.kernel_args(cfg, n)
        order = np.random.default_rng(0).permutation(n).astype(np.int64)
        sw = np.ones(n)
        params = np.zeros(d + 1)
        state = np.zeros((C.N_ST, d + 1))
        counters = np.array([1.0, 0.0, cfg.eta0])

        def epoch():
            run_epoch(
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
                bsz,
            )

        return epoch
    if case.impl == "reference":
        from fastgd import reference

        cfg = reference.Config(
            optimizer=opt,
            batch_size=batch or n,
            learning_rate="invscaling" if case.mode == "sgd/1" else "constant",
            eta0=0.01 if case.mode == "sgd/1" else 1e-3,
        )
        order = np.random.default_rng(0).permutation(n).astype(np.int64)
        sw = np.ones(n)

        def epoch():
            reference.run_epoch(
                X,
                y,
                sw,
                order,
                np.zeros(d + 1),
                reference.init_state(d),
                reference.init_counters(cfg.eta0),
                cfg,
            )

        return epoch
    if case.impl == "textbook":
        eta = 1e-3

        if batch == 1 and opt == "sgd":

            def epoch():  # the seeds' stochastic loop, row by row
                w = np.zeros(d)
                b = 0.0
                for i in range(n):
                    err = X[i] @ w + b - y[i]
                    w -= eta * err * X[i]
                    b -= eta * err
        else:

            def epoch():
                _textbook_epoch(
                    X, y, np.zeros(d), 0.0, eta, batch, opt, [np.zeros(d + 1), np.zeros(d + 1), 0]
                )

        return epoch
    if case.impl == "sklearn":
        from sklearn.linear_model import SGDRegressor

        params = dict(max_iter=1, tol=None, random_state=0)

        def epoch():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                SGDRegressor(**params).fit(X, y)

        return epoch
    if case.impl == "river":
        import pandas as pd
        from river import linear_model, optim

        rows = [dict(enumerate(r)) for r in X.tolist()] if batch == 1 else None
        frames = None
        if batch != 1:
            step = batch or n
            frames = [
                (pd.DataFrame(X[s : s + step]), pd.Series(y[s : s + step]))
                for s in range(0, n, step)
            ]
        yl = y.tolist()

        def epoch():
            o = optim.SGD(1e-3) if opt == "sgd" else optim.Adam(1e-3)
            model = linear_model.LinearRegression(optimizer=o, l2=0.0)
            if rows is not None:
                for xi, yi in zip(rows, yl, strict=True):
                    model.learn_one(xi, yi)
            else:
                for xb, yb in frames:
                    model.learn_many(xb, yb)

        return epoch
    if case.impl == "torch":
        import torch

        Xt = torch.from_numpy(X)
        yt = torch.from_numpy(y.astype(X.dtype))
        step = batch or n

        def epoch():
            w = torch.zeros(d, dtype=Xt.dtype, requires_grad=True)
            b = torch.zeros(1, dtype=Xt.dtype, requires_grad=True)
            o = (
                torch.optim.SGD([w, b], lr=1e-3)
                if opt == "sgd"
                else torch.optim.Adam([w, b], lr=1e-3)
            )
            for s in range(0, n, step):
                o.zero_grad()
                err = Xt[s : s + step] @ w + b - yt[s : s + step]
                (0.5 * (err * err).mean()).backward()
                o.step()

        return epoch
    raise ValueError(case.impl)


# --------------------------------------------------------------------------- bandwidth
@numba.njit(cache=True)
def sum_plain(a):
    """Plain serial sum (the core issue's yardstick; one add chain)."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s


@numba.njit(cache=True)
def sum_unrolled(a):
    """Sum with eight independent accumulators (bound by memory, not by add latency)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    n = a.shape[0]
    m = n - n % 8
    for i in range(0, m, 8):
        s0 += a[i]
        s1 += a[i + 1]
        s2 += a[i + 2]
        s3 += a[i + 3]
        s4 += a[i + 4]
        s5 += a[i + 5]
        s6 += a[i + 6]
        s7 += a[i + 7]
    for i in range(m, n):
        s0 += a[i]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@numba.njit(cache=True, parallel=True)
def sum_parallel(a, n_blocks):
    """All-core sum: ``n_blocks`` contiguous blocks (more blocks than threads) over prange."""
    n = a.shape[0]
    partial = np.zeros(n_blocks)
    for k in numba.prange(n_blocks):
        lo = n * k // n_blocks
        hi = n * (k + 1) // n_blocks
        s0 = s1 = s2 = s3 = 0.0
        m = lo + (hi - lo) - (hi - lo) % 4
        for i in range(lo, m, 4):
            s0 += a[i]
            s1 += a[i + 1]
            s2 += a[i + 2]
            s3 += a[i + 3]
        for i in range(m, hi):
            s0 += a[i]
        partial[k] = (s0 + s1) + (s2 + s3)
    return partial.sum()


BANDWIDTH_PROBES = {
    "single-core plain sum": lambda a: sum_plain(a),
    "single-core 8-accumulator sum": lambda a: sum_unrolled(a),
    "all-core parallel sum": lambda a: sum_parallel(a, 8 * numba.get_num_threads()),
}


def l3_bytes() -> int:
    """Largest cache of cpu0 in bytes (sysfs), 0 when unknown."""
    best = 0
    for idx in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (idx / "size").read_text().strip()
        except OSError:
            continue
        mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        try:
            best = max(best, int(text.rstrip("KMG")) * mult)
        except ValueError:
            continue
    return best


def best_time(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` (gc collected before each)."""
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure_bandwidth(nbytes: int, repeats: int) -> tuple[int, dict]:
    """Best-of-``repeats`` ``(seconds, GB/s)`` of each probe over ``nbytes`` of float64."""
    a = np.ones(nbytes // 8, dtype=np.float64)  # np.ones touches every page
    small = np.ones(64)
    out = {}
    for name, fn in BANDWIDTH_PROBES.items():
        fn(small)  # compile / load from cache outside the timing
        t = best_time(lambda fn=fn, a=a: fn(a), repeats)
        out[name] = (t, a.nbytes / t / 1e9)
    size = a.nbytes
    del a
    gc.collect()
    return size, out


# --------------------------------------------------------------------------- accuracy
ALPHA = 1e-4  # scikit-learn's default L2 strength; every run minimises the same objective


@dataclass
class Problem:
    """A time-to-accuracy problem: data, task, and the optimal objective value."""

    name: str
    task: str  # "regression" or "classification"
    X: np.ndarray
    y: np.ndarray
    note: str = ""
    f_star: float = field(default=math.nan)

    def objective(self, coef, intercept) -> float:
        """Mean training loss plus ``ALPHA / 2 ||coef||^2`` (the intercept is not penalised)."""
        coef = np.ravel(coef)
        p = self.X @ coef + float(np.ravel(intercept)[0])
        if self.task == "regression":
            loss = 0.5 * np.mean((p - self.y) ** 2)
        else:
            s = np.where(self.y > 0, 1.0, -1.0)
            loss = np.mean(np.logaddexp(0.0, -s * p))
        return float(loss + 0.5 * ALPHA * coef @ coef)


def ridge_optimum(X, y, alpha=ALPHA):
    """Exact minimiser of ``0.5 mean((Xw + b - y)^2) + alpha/2 |w|^2`` by lstsq."""
    n, d = X.shape
    xm, ym = X.mean(axis=0), y.mean()
    A = np.vstack([X - xm, math.sqrt(n * alpha) * np.eye(d)])
    rhs = np.concatenate([y - ym, np.zeros(d)])
    w = np.linalg.lstsq(A, rhs, rcond=None)[0]
    return w, ym - xm @ w


def logistic_optimum(X, y, alpha=ALPHA, iters=100):
    """Minimiser of mean log-loss + ``alpha/2 |w|^2``: Newton's method run to machine precision.

    The objective is strongly convex (``alpha > 0``), so the long, tight reference run
    converges quadratically; it stops when the Newton decrement is below 1e-28.
    """
    n, d = X.shape
    s = np.where(y > 0, 1.0, -1.0)
    Z = np.hstack([X, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, alpha)
    reg[-1] = 0.0
    for _ in range(iters):
        z = s * (Z @ theta)
        sig = 0.5 * (1.0 + np.tanh(-0.5 * z))  # sigmoid(-z), overflow-free
        g = -(Z.T @ (s * sig)) / n + reg * theta
        h = (Z.T * (sig * (1 - sig))) @ Z / n + np.diag(reg)
        step = np.linalg.solve(h, g)
        theta -= step
        if g @ step < 1e-28:
            break
    return theta[:-1], theta[-1]


def accuracy_problems(profile: str) -> list[Problem]:
    """Synthetic regression and classification problems, plus two bundled real data sets."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    cfg = PROFILES[profile]
    n, d = cfg["tta_n"], cfg["tta_d"]
    rng = np.random.default_rng(42)
    # Correlated features (condition number of the covariance ~ 10): a realistic, not
    # trivially isotropic, problem.
    scales = np.linspace(1.0, math.sqrt(10.0), d)
    X = rng.standard_normal((n, d)) * scales / math.sqrt(10.0)
    w = rng.standard_normal(d)
    y_reg = X @ w + 0.5 + 0.5 * rng.standard_normal(n)
    score = X @ w * 2.0 / math.sqrt(d)
    y_clf = (rng.uniform(size=n) < 1 / (1 + np.exp(-score))).astype(float)

    def standardise(A):
        return (A - A.mean(axis=0)) / A.std(axis=0)

    db = load_diabetes()
    bc = load_breast_cancer()
    problems = [
        Problem(f"synthetic regression {n:,} x {d}", "regression", X, y_reg),
        Problem(f"synthetic logistic {n:,} x {d}", "classification", X, y_clf),
        Problem(
            "diabetes (sklearn bundled, 442 x 10)",
            "regression",
            standardise(db.data),
            (db.target - db.target.mean()) / db.target.std(),
            note="real data, standardised features and target",
        ),
        Problem(
            "breast cancer (sklearn bundled, 569 x 30)",
            "classification",
            standardise(bc.data),
            bc.target.astype(float),
            note="real data, standardised features; strongly correlated columns",
        ),
    ]
    for p in problems:
        coef, b = (ridge_optimum if p.task == "regression" else logistic_optimum)(p.X, p.y)
        p.f_star = p.objective(coef, b)
    return problems


#: name -> (library, estimator parameters) of the time-to-accuracy runs.
ACCURACY_CONFIGS = {
    "scikit-learn defaults": ("sklearn", {}),
    "fastgd defaults (same as scikit-learn)": ("fastgd", {}),
    "fastgd adam, batch 32": (
        "fastgd",
        dict(optimizer="adam", batch_size=32, learning_rate="constant", eta0=1e-3),
    ),
    "fastgd adam, batch 1024": (
        "fastgd",
        dict(optimizer="adam", batch_size=1024, learning_rate="constant", eta0=1e-2),
    ),
    "fastgd full-batch nesterov": (
        "fastgd",
        dict(
            optimizer="nesterov", batch_size=None, momentum=0.9, learning_rate="constant", eta0=0.1
        ),
    ),
}


def epoch_schedule(max_epochs: int) -> list[int]:
    """Epoch counts at which a fresh fit is timed: 1, 2, 3, 5, 8, ... (about x1.5)."""
    out, k = [], 1
    while k <= max_epochs:
        out.append(k)
        k = max(k + 1, int(round(k * 1.5)))
    return out


def time_to_accuracy_curve(
    problem: Problem, lib: str, params: dict, max_epochs: int, budget_s: float
) -> list[tuple[int, float, float]]:
    """``(epochs, fit seconds, relative excess objective)`` of fresh fits of growing length.

    Each point is one whole ``fit(max_iter=k, tol=None)`` call timed from scratch, so the
    seconds are what a user waits for that accuracy; the objective is evaluated outside
    the timing. Stops at relative excess <= 1e-7, at ``max_epochs`` or when the fits so far
    took ``budget_s``.
    """
    if lib == "fastgd":
        from fastgd import SGDClassifier, SGDRegressor
    else:
        from sklearn.linear_model import SGDClassifier, SGDRegressor
    cls = SGDRegressor if problem.task == "regression" else SGDClassifier
    base = dict(random_state=0, tol=None, alpha=ALPHA, penalty="l2")
    if problem.task == "classification":
        base["loss"] = "log_loss"
    base.update(params)
    points, spent = [], 0.0
    for k in epoch_schedule(max_epochs):
        est = cls(max_iter=k, **base)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            try:
                est.fit(problem.X, problem.y)
            except ValueError:  # divergence: no point
                break
            dt = time.perf_counter() - t
        spent += dt
        f = problem.objective(est.coef_, est.intercept_)
        excess = max((f - problem.f_star) / abs(problem.f_star), 0.0)
        points.append((k, dt, excess))
        if excess <= 1e-7 or spent > budget_s:
            break
    return points
