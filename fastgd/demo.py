"""``fastgd demo``: short fits next to scikit-learn's, with timings."""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor as SkSGDRegressor

    from .estimators import SGDClassifier, SGDRegressor

    rng = np.random.default_rng(0)
    n, d = args.n, 20
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = X @ w_true + 0.5 + 0.1 * rng.normal(size=n)
    print(f"Linear regression, n={n}, d={d}: one epoch of per-sample SGD (shuffled)")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SGDRegressor(max_iter=1, tol=None).fit(X[:100], y[:100])  # compile / load cache
        for name, cls in (("fastgd", SGDRegressor), ("scikit-learn", SkSGDRegressor)):
            model = cls(max_iter=1, tol=None, random_state=0)
            t0 = time.perf_counter()
            model.fit(X, y)
            rows.append((name, time.perf_counter() - t0, model))
    for name, sec, model in rows:
        err = np.max(np.abs(model.coef_ - w_true))
        print(f"  {name:<13} {sec * 1e3:8.1f} ms  {n / sec / 1e6:6.2f} M samples/s  "
              f"max |coef - true| = {err:.3g}")
    print(f"  speed-up: {rows[1][1] / rows[0][1]:.1f}x")
    labels = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    clf = SGDClassifier(loss="log_loss", optimizer="adam", learning_rate="constant", eta0=0.01,
                        batch_size=64, penalty=None, max_iter=20, tol=None,
                        random_state=0)
    t0 = time.perf_counter()
    clf.fit(X, labels)
    sec = time.perf_counter() - t0
    print(f"Logistic regression with Adam, batch 64: {clf.n_iter_} epochs in {sec:.2f} s, "
          f"training accuracy {clf.score(X, labels):.4f}")
    return 0


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to the ``fastgd`` command line."""
    p = subparsers.add_parser("demo", help="a short fit next to scikit-learn's")
    p.add_argument("--n", type=int, default=200_000, help="rows of the synthetic problem")
    p.set_defaults(func=run)
