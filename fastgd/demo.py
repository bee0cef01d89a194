"""``fastgd demo``: every example of the tutorials fastgd grew from, one fastgd call each.

Each example is a function ``name(size='full', outdir=None) -> ExampleResult``: it runs
the tutorial's example with :class:`fastgd.SGDRegressor` / :class:`fastgd.SGDClassifier`
or :func:`fastgd.minimize`, checks what the example shows (recovered parameters,
convergence verdicts, the published numbers), and returns a printable table (learned
vs true parameters, loss, time), the numbers it checked and its figures (written as
PNG files to ``outdir`` when given). ``size='small'`` runs a smaller version of the
same example (used by the tests and ``fastgd demo --small``).

>>> from fastgd import demo
>>> result = demo.worked_example(size="small")
>>> result.values["w1"].round(8).tolist(), round(result.values["b1"], 8)
([1.6, 1.42666667], 0.32)

The tutorials write the squared loss as ``mean((p - y)^2)``; fastgd (like scikit-learn)
uses ``0.5 (p - y)^2``, so a tutorial's learning rate ``eta`` is fastgd's
``eta0 = 2 * eta``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._minimize import minimize
from .estimators import SGDClassifier, SGDRegressor

__all__ = ["EXAMPLES", "ExampleResult", "run_examples"]

TRUE_W = np.array([2.0, -3.0, 1.5])
TRUE_B = 4.0


# --------------------------------------------------------------------------- results
@dataclass
class ExampleResult:
    """What one example shows.

    Attributes
    ----------
    name, title : str
        Function name and a one-line description.
    rows : list of dict
        The printed table, one dict per row (same keys in every row).
    values : dict
        The numbers the example is about (learned parameters, verdicts, ...), for tests.
    checks : dict of str -> bool
        What the example claims, each claim with whether it held.
    figures : dict of str -> matplotlib Figure
        Its figures (empty when matplotlib is missing).
    paths : list of Path
        The PNG files written (``outdir`` given).
    seconds : float
        Wall time of the whole example.
    notes : list of str
        Lines printed under the table.
    """

    name: str
    title: str
    rows: list[dict] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict, repr=False)
    paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check held."""
        return all(self.checks.values())

    def table(self) -> str:
        """The rows as an aligned text table."""
        return format_table(self.rows)

    def __str__(self) -> str:
        lines = [f"== {self.name}: {self.title} ({self.seconds:.2f} s)", self.table()]
        lines += [f"   {n}" for n in self.notes]
        for claim, held in self.checks.items():
            lines.append(f"   [{'ok' if held else 'FAILED'}] {claim}")
        lines += [f"   figure: {p}" for p in self.paths]
        return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(f"{float(v):.4g}" for v in np.ravel(value)) + "]"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """Format ``rows`` (dicts with the same keys) as an aligned text table."""
    if not rows:
        return "   (no rows)"
    keys = list(rows[0])
    cells = [[_fmt(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = "   " + "  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))
    out = [line, "   " + "  ".join("-" * w for w in widths)]
    out += [
        "   " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------- helpers
def _check_size(size: str) -> bool:
    if size not in ("small", "full"):
        raise ValueError(f"size must be 'small' or 'full', got {size!r}.")
    return size == "small"


class _Example:
    """Collects rows, checks and figures while an example runs."""

    def __init__(self, name: str, title: str, outdir):
        self.result = ExampleResult(name=name, title=title)
        self.outdir = None if outdir is None else Path(outdir)
        self.t0 = time.perf_counter()

    def row(self, **row) -> None:
        self.result.rows.append(row)

    def check(self, claim: str, held) -> None:
        self.result.checks[claim] = bool(held)

    def figure(self, key: str, make: Callable[..., Any]) -> None:
        """Call ``make(path)`` (a fastgd.plot function); skipped without matplotlib."""
        try:
            import matplotlib  # noqa: F401
        except ImportError:  # pragma: no cover - matplotlib is a test dependency
            return
        path = None if self.outdir is None else self.outdir / f"{self.result.name}_{key}.png"
        fig = make(path)
        if isinstance(fig, tuple):
            fig = fig[-1]
        self.result.figures[key] = fig
        if path is not None:
            self.result.paths.append(path)

    def done(self, **values) -> ExampleResult:
        self.result.values.update(values)
        self.result.seconds = time.perf_counter() - self.t0
        return self.result


def _regression_data(n: int, noise: float = 0.1, seed: int = 0, w=TRUE_W, b=TRUE_B):
    rng = np.random.default_rng(seed)
    w = np.asarray(w, dtype=float)
    X = rng.normal(size=(n, w.shape[0]))
    y = X @ w + b + noise * rng.normal(size=n)
    return X, y


def _fit(model, X, y, **kw):
    """Fit and time; a fit stopped by max_iter is what these examples ask for, not a warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Maximum number of iteration reached")
        t0 = time.perf_counter()
        model.fit(X, y, **kw)
        return model, time.perf_counter() - t0


def _mse(model, X, y) -> float:
    return float(np.mean((model.predict(X) - y) ** 2))


def _param_row(method: str, model, X, y, seconds: float, w=TRUE_W, b=TRUE_B) -> dict:
    coef = np.ravel(model.coef_)
    return {
        "method": method,
        "w (learned)": coef,
        "w (true)": np.asarray(w, dtype=float),
        "b": float(np.ravel(model.intercept_)[0]),
        "b (true)": float(b),
        "max |error|": _param_error(model, w, b),
        "MSE": _mse(model, X, y),
        "epochs": int(model.n_iter_),
        "time (s)": seconds,
    }


def _param_error(model, w=TRUE_W, b=TRUE_B) -> float:
    coef = np.ravel(model.coef_)
    return float(max(np.max(np.abs(coef - w)), abs(float(np.ravel(model.intercept_)[0]) - b)))


def _plot():
    from . import plot

    return plot


def _reg(**kw) -> SGDRegressor:
    params = dict(penalty=None, learning_rate="constant", tol=None, random_state=0)
    params.update(kw)
    return SGDRegressor(**params)


# ===================================================================== the examples
WORKED_X = np.array(
    [
        [1, 2],
        [3, 1],
        [1, 1],
        [0, 1],
        [2, 2],
        [-2, 3],
        [1, 2],
        [-1, -0.5],
        [0.5, 1.2],
        [2, 1],
        [-2, 3],
        [-1, 1],
    ],
    dtype=float,
)
WORKED_Y = WORKED_X @ np.array([1.5, 1.5]) + 0.1


def worked_example(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """The worked 12-observation example: one mini-batch step by hand, then training.

    ``y = 1.5 x1 + 1.5 x2 + 0.1``; mini-batches of 3 in order, ``w0 = [1, 1]``,
    ``b0 = 0``; the tutorial's ``eta = 0.1`` on the mean-squared-error gradient is
    fastgd's ``eta0 = 0.2``. The first batch gives ``w1 = [1.6, 1.42666667]``,
    ``b1 = 0.32``; more epochs recover ``[1.5, 1.5]`` and ``0.1``.
    """
    small = _check_size(size)
    ex = _Example(
        "worked_example", "12 observations, mini-batches of 3, the first step by hand", outdir
    )
    X, y = WORKED_X, WORKED_Y
    first, sec1 = _fit(
        _reg(batch_size=3, max_iter=1, shuffle=False, eta0=0.2),
        X[:3],
        y[:3],
        coef_init=[1.0, 1.0],
        intercept_init=0.0,
    )
    # the same step written out: gradient of 0.5 (p - y)^2 averaged over the batch
    p = X[:3] @ [1.0, 1.0]
    by_hand_w = np.array([1.0, 1.0]) - 0.2 * (p - y[:3]) @ X[:3] / 3
    by_hand_b = -0.2 * np.mean(p - y[:3])
    epochs = 300 if small else 3000
    full, sec = _fit(
        _reg(batch_size=3, max_iter=epochs, shuffle=False, eta0=0.2),
        X,
        y,
        coef_init=[1.0, 1.0],
        intercept_init=0.0,
    )
    ex.row(
        step="after batch 1 (tutorial: w=[1.6, 1.42667], b=0.32)",
        w=first.coef_,
        b=float(first.intercept_[0]),
        MSE=_mse(first, X, y),
        epochs=1,
        **{"time (s)": sec1},
    )
    ex.row(
        step=f"after {epochs} epochs (true: w=[1.5, 1.5], b=0.1)",
        w=full.coef_,
        b=float(full.intercept_[0]),
        MSE=_mse(full, X, y),
        epochs=int(full.n_iter_),
        **{"time (s)": sec},
    )
    ex.check(
        "first batch: w1 = [1.6, 1.42666667], b1 = 0.32 (the published numbers)",
        np.allclose(first.coef_, [1.6, 1.42666667], atol=1e-8)
        and abs(first.intercept_[0] - 0.32) < 1e-12,
    )
    ex.check(
        "first batch equals the hand-written step", np.allclose(first.coef_, by_hand_w, rtol=1e-14)
    )
    ex.check(
        "training recovers w = [1.5, 1.5], b = 0.1 to 1e-6",
        np.allclose(full.coef_, [1.5, 1.5], atol=1e-6) and abs(full.intercept_[0] - 0.1) < 1e-6,
    )
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            {"mini-batch 3, eta0=0.2": full}, path=path, title="Worked example: training loss"
        ),
    )
    return ex.done(
        w1=first.coef_.copy(),
        b1=float(first.intercept_[0]),
        w=full.coef_.copy(),
        b=float(full.intercept_[0]),
        by_hand_w=by_hand_w,
        by_hand_b=by_hand_b,
    )


def line_fit(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """``y = 0.5 x + 2`` for ``x = 1..300``: 200,000 full-batch epochs from zero.

    The tutorial's ``eta = 1e-4`` on ``X^T (p - y) / (2 n)`` is fastgd's ``eta0 = 5e-5``;
    after 200,000 epochs ``w = 0.5008287639956263``, ``b = 1.8339723159878247``: the
    unscaled feature makes the intercept crawl. Standardising ``x`` first reaches
    ``w = 0.5``, ``b = 2`` in a few hundred epochs. The published numbers need the full
    run, so ``size='small'`` runs it too (about 2 s).
    """
    _check_size(size)
    ex = _Example(
        "line_fit", "y = 0.5 x + 2, x = 1..300, full-batch GD (published numbers)", outdir
    )
    x = np.arange(1, 301, dtype=float)
    X = x[:, None]
    y = 0.5 * x + 2.0
    model, sec = _fit(_reg(batch_size=None, max_iter=200_000, shuffle=False, eta0=5e-5), X, y)
    mu, sd = x.mean(), x.std()
    Xs = ((x - mu) / sd)[:, None]
    scaled, sec_s = _fit(_reg(batch_size=None, max_iter=500, shuffle=False, eta0=0.5), Xs, y)
    w_s = scaled.coef_[0] / sd
    b_s = scaled.intercept_[0] - scaled.coef_[0] * mu / sd
    ex.row(
        method="raw x, eta0=5e-5, 200,000 epochs",
        w=float(model.coef_[0]),
        b=float(model.intercept_[0]),
        **{"w (true)": 0.5, "b (true)": 2.0},
        MSE=_mse(model, X, y),
        epochs=int(model.n_iter_),
        **{"time (s)": sec},
    )
    ex.row(
        method="standardised x, eta0=0.5, 500 epochs",
        w=float(w_s),
        b=float(b_s),
        **{"w (true)": 0.5, "b (true)": 2.0},
        MSE=_mse(scaled, Xs, y),
        epochs=int(scaled.n_iter_),
        **{"time (s)": sec_s},
    )
    ex.result.notes.append("tutorial: w = 0.5008287639956263, b = 1.8339723159878247")
    ex.check(
        "w = 0.5008287639956263 and b = 1.8339723159878247 to 1e-9 (the published numbers)",
        abs(model.coef_[0] - 0.5008287639956263) < 1e-9
        and abs(model.intercept_[0] - 1.8339723159878247) < 1e-9,
    )
    ex.check(
        "standardised x recovers w = 0.5, b = 2 to 1e-9",
        abs(w_s - 0.5) < 1e-9 and abs(b_s - 2.0) < 1e-9,
    )

    def fit_figure(path):
        from .plot import _figure, _finish

        fig, ax = _figure()
        ax.scatter(x[::5], y[::5], s=8, color="k", label="data y = 0.5 x + 2")
        ax.plot(
            x,
            model.predict(X),
            lw=1.5,
            label=f"raw x: {model.coef_[0]:.4f} x + {model.intercept_[0]:.4f}",
        )
        ax.plot(x, w_s * x + b_s, lw=1.5, ls="--", label=f"standardised: {w_s:.4f} x + {b_s:.4f}")
        ax.set_xlabel("$x$")
        ax.set_ylabel("$y$")
        ax.set_title("y = 0.5 x + 2 fitted by full-batch gradient descent")
        ax.legend(fontsize="small")
        return _finish(fig, path)

    ex.figure("fit", fit_figure)
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            {"raw x, eta0=5e-5": model, "standardised x, eta0=0.5": scaled},
            path=path,
            title="y = 0.5 x + 2: training loss",
            log_x=True,
        ),
    )
    return ex.done(
        w=float(model.coef_[0]),
        b=float(model.intercept_[0]),
        w_scaled=float(w_s),
        b_scaled=float(b_s),
    )


def batch_minibatch_stochastic(
    size: str = "full", outdir: str | Path | None = None
) -> ExampleResult:
    """Linear regression by batch, mini-batch (32) and stochastic (per-sample) GD, compared."""
    small = _check_size(size)
    ex = _Example(
        "batch_minibatch_stochastic",
        "linear regression by batch, mini-batch and stochastic GD",
        outdir,
    )
    n = 500 if small else 5000
    X, y = _regression_data(n)
    configs = {
        "batch (full), eta0=0.1": dict(batch_size=None, eta0=0.1, max_iter=150),
        "mini-batch 32, eta0=0.05": dict(batch_size=32, eta0=0.05, max_iter=30),
        "stochastic (1), eta0=0.01": dict(batch_size=1, eta0=0.01, max_iter=10),
    }
    models = {}
    for label, cfg in configs.items():
        model, sec = _fit(_reg(**cfg), X, y)
        models[label] = model
        ex.row(**_param_row(label, model, X, y, sec))
    errors = {k: _param_error(m) for k, m in models.items()}
    ex.check("every method recovers w and b to 0.05", max(errors.values()) < 0.05)
    ex.check(
        "every loss curve ends near the noise level (MSE < 0.02)",
        all(_mse(m, X, y) < 0.02 for m in models.values()),
    )
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            models, path=path, title="Batch vs mini-batch vs stochastic GD"
        ),
    )
    ex.figure(
        "predictions",
        lambda path: _plot().predictions_vs_targets(
            y, {k: m.predict(X) for k, m in models.items()}, path=path
        ),
    )
    return ex.done(errors=errors, coef={k: m.coef_.copy() for k, m in models.items()})


def shuffled_minibatches(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """Mini-batches of data sorted by target, with and without reshuffling every epoch.

    Unshuffled, every epoch ends on the batches with the largest targets and the model
    is pulled towards them; reshuffling removes that bias.
    """
    small = _check_size(size)
    ex = _Example("shuffled_minibatches", "mini-batches of sorted data, shuffled or not", outdir)
    n = 1000 if small else 10_000
    X, y = _regression_data(n, noise=0.5)
    order = np.argsort(y)
    X, y = X[order], y[order]
    models = {}
    for label, shuffle in (
        ("in order (shuffle=False)", False),
        ("reshuffled (shuffle=True)", True),
    ):
        model, sec = _fit(_reg(batch_size=16, eta0=0.05, max_iter=20, shuffle=shuffle), X, y)
        models[label] = model
        ex.row(**_param_row(label, model, X, y, sec))
    err_sorted, err_shuffled = (_param_error(m) for m in models.values())
    ex.check(
        "reshuffling gives smaller parameter errors than sorted order", err_shuffled < err_sorted
    )
    ex.check("reshuffled mini-batches recover w and b to 0.1", err_shuffled < 0.1)
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            models, path=path, title="Mini-batches of sorted data: shuffled or not"
        ),
    )
    return ex.done(error_sorted=err_sorted, error_shuffled=err_shuffled)


def _quadratic_1d(x):
    return x[0] ** 2


def _quadratic_1d_grad(x):
    return 2.0 * x


def learning_rates(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """Gradient descent on ``f(x) = x^2`` from ``x = 5`` with several learning rates.

    ``x <- (1 - 2 eta) x``: too small is slow, up to 1 converges (oscillating above 0.5),
    above 1 diverges.
    """
    _check_size(size)
    ex = _Example(
        "learning_rates", "f(x) = x^2: converged / slow / diverged per learning rate", outdir
    )
    rates = [0.001, 0.01, 0.1, 0.5, 0.9, 1.1]
    holder: dict[str, Any] = {}

    def make(path):
        rows, fig = _plot().learning_rate_comparison(
            _quadratic_1d,
            _quadratic_1d_grad,
            [5.0],
            rates,
            max_iter=200,
            tol=1e-6,
            path=path,
            title="f(x) = x^2 from x = 5: learning rates compared",
        )
        holder["rows"] = rows
        return fig

    ex.figure("rates", make)
    rows = holder.get("rows")
    if rows is None:  # pragma: no cover - without matplotlib, the same runs without a figure
        rows = []
        for eta in rates:
            res = minimize(_quadratic_1d, _quadratic_1d_grad, [5.0], eta0=eta, max_iter=200)
            rows.append(
                {
                    "eta0": eta,
                    "x": res.x,
                    "f": res.fun,
                    "n_iter": res.n_iter,
                    "verdict": res.verdict,
                }
            )
    for r in rows:
        ex.row(
            eta0=r["eta0"],
            **{"final x": r["x"]},
            **{"f(x)": r["f"]},
            iterations=r["n_iter"],
            verdict=r["verdict"],
        )
    verdicts = [r["verdict"] for r in rows]
    ex.check(
        "verdicts: slow, slow, converged, converged, converged, diverged",
        verdicts == ["slow", "slow", "converged", "converged", "converged", "diverged"],
    )
    ex.check("eta0 = 0.5 reaches the minimum in one step", rows[3]["n_iter"] == 1)
    return ex.done(verdicts=verdicts, rows=rows)


def inverse_time_schedule(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """The tutorial's decaying rate ``eta_t = a / (t + b)`` against a constant rate.

    ``a / (t + b)`` with ``t`` counting from 0 is fastgd's ``learning_rate='inverse_time'``
    with ``eta0 = a / b`` and ``t0 = b``. On noisy data the constant rate keeps jittering
    around the solution; the decaying one settles closer.
    """
    small = _check_size(size)
    ex = _Example(
        "inverse_time_schedule", "eta_t = a / (t + b) vs a constant rate (per-sample SGD)", outdir
    )
    n = 2000 if small else 20_000
    X, y = _regression_data(n, noise=1.0)
    a, b = 5.0, 100.0
    models = {}
    for label, kw in (
        ("constant eta0=0.05", dict(learning_rate="constant", eta0=0.05)),
        (f"a/(t+b), a={a:g}, b={b:g}", dict(learning_rate="inverse_time", eta0=a / b, t0=b)),
    ):
        model, sec = _fit(_reg(batch_size=1, max_iter=5, **kw), X, y)
        models[label] = model
        ex.row(**_param_row(label, model, X, y, sec))
    err_const, err_inv = (_param_error(m) for m in models.values())
    ex.check("the decaying rate ends closer to the true parameters", err_inv < err_const)
    ex.check("a/(t+b) recovers w and b to 0.1", err_inv < 0.1)
    n_upd = 5 * n
    ex.figure(
        "schedule",
        lambda path: _plot().learning_rate_schedules(
            {
                "constant 0.05": dict(learning_rate="constant", eta0=0.05),
                f"a/(t+b), a={a:g}, b={b:g}": dict(learning_rate="inverse_time", eta0=a / b, t0=b),
            },
            n_upd,
            path=path,
            title="Constant vs inverse-time learning rate",
        ),
    )
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            models, path=path, title="Constant vs inverse-time rate: training loss"
        ),
    )
    return ex.done(error_constant=err_const, error_inverse_time=err_inv)


def _ravine(x):
    return 0.5 * (x[0] ** 2 + 25.0 * x[1] ** 2)


def _ravine_grad(x):
    return np.array([x[0], 25.0 * x[1]])


def momentum_vs_plain(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """Momentum against plain gradient descent on an elongated bowl and on linear regression.

    ``f(x, y) = (x^2 + 25 y^2) / 2`` with the same ``eta0 = 0.035``: plain GD crawls along
    the flat direction, momentum 0.7 gets there several times faster. The same on a
    linear regression with badly scaled features (mini-batches of 32, 10 epochs).
    """
    small = _check_size(size)
    ex = _Example(
        "momentum_vs_plain", "momentum vs plain GD (f = (x^2 + 25 y^2)/2, regression)", outdir
    )
    x0 = [4.0, 1.0]
    runs = {
        "plain GD": minimize(_ravine, _ravine_grad, x0, eta0=0.035, max_iter=5000, tol=1e-6),
        "momentum 0.7": minimize(
            _ravine,
            _ravine_grad,
            x0,
            optimizer="momentum",
            momentum=0.7,
            eta0=0.035,
            max_iter=5000,
            tol=1e-6,
        ),
    }
    for label, res in runs.items():
        ex.row(
            method=label,
            **{"final x": res.x},
            **{"f(x)": res.fun},
            iterations=res.n_iter,
            verdict=res.verdict,
        )
    n = 1000 if small else 10_000
    X, y = _regression_data(n)
    scales = np.array([1.0, 0.3, 3.0])
    X = X * scales  # badly scaled features: an elongated loss
    w_true = TRUE_W / scales
    models = {}
    for label, opt in (
        ("SGDRegressor sgd, batch 32", "sgd"),
        ("SGDRegressor momentum, batch 32", "momentum"),
    ):
        model, sec = _fit(_reg(optimizer=opt, batch_size=32, eta0=0.02, max_iter=10), X, y)
        models[label] = model
        row = _param_row(label, model, X, y, sec, w=w_true)
        ex.row(
            method=label,
            **{"final x": row["w (learned)"]},
            **{"f(x)": row["MSE"]},
            iterations=row["epochs"],
            verdict=f"max |error| {row['max |error|']:.3g}",
        )
    plain, mom = runs.values()
    ex.check("both converge on the bowl", plain.converged and mom.converged)
    ex.check("momentum needs fewer than half the iterations", mom.n_iter < plain.n_iter / 2)
    errs = [_param_error(m, w_true) for m in models.values()]
    ex.check("on badly scaled regression momentum ends closer after 10 epochs", errs[1] < errs[0])
    ex.check("momentum recovers w and b to 0.05 there", errs[1] < 0.05)
    ex.result.notes.append(
        "rows 3-4: final x = learned w, f(x) = training MSE, iterations = epochs"
    )
    ex.figure(
        "paths",
        lambda path: _plot().optimizer_paths(
            _ravine, runs, path=path, title="(x^2 + 25 y^2) / 2: plain GD vs momentum"
        ),
    )
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            models, path=path, title="Badly scaled regression: plain vs momentum"
        ),
    )
    return ex.done(iterations={k: r.n_iter for k, r in runs.items()}, errors=errs)


def _bowl(x):
    return x[0] ** 2 + 2.0 * x[1] ** 2


def _bowl_grad(x):
    return np.array([2.0 * x[0], 4.0 * x[1]])


def adam_rmsprop(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """Adam and RMSprop: paths on ``f(x, y) = x^2 + 2 y^2`` and a linear regression."""
    small = _check_size(size)
    ex = _Example("adam_rmsprop", "Adam and RMSprop (x^2 + 2y^2 paths, linear regression)", outdir)
    x0 = [3.0, 2.0]
    runs = {
        "plain GD eta0=0.1": minimize(_bowl, _bowl_grad, x0, eta0=0.1, max_iter=5000),
        "momentum eta0=0.05": minimize(
            _bowl, _bowl_grad, x0, optimizer="momentum", eta0=0.05, momentum=0.5, max_iter=5000
        ),
        "Adam eta0=0.1": minimize(_bowl, _bowl_grad, x0, optimizer="adam", eta0=0.1, max_iter=5000),
        "RMSprop eta0=0.01": minimize(
            _bowl, _bowl_grad, x0, optimizer="rmsprop", eta0=0.01, max_iter=5000
        ),
    }
    for label, res in runs.items():
        ex.row(
            method=label,
            **{"x / w (learned)": res.x},
            **{"f(x) / MSE": res.fun},
            iterations=res.n_iter,
            verdict=res.verdict,
        )
    n = 2000 if small else 20_000
    X, y = _regression_data(n)
    models = {}
    for label, kw in (
        ("SGDRegressor adam, batch 32", dict(optimizer="adam", eta0=0.01)),
        ("SGDRegressor rmsprop, batch 32", dict(optimizer="rmsprop", eta0=0.01)),
    ):
        model, sec = _fit(_reg(batch_size=32, max_iter=20 if small else 10, **kw), X, y)
        models[label] = model
        ex.row(
            method=label,
            **{"x / w (learned)": model.coef_},
            **{"f(x) / MSE": _mse(model, X, y)},
            iterations=int(model.n_iter_),
            verdict=f"max |error| {_param_error(model):.3g}",
        )
    ex.check("every optimizer converges on x^2 + 2y^2", all(r.converged for r in runs.values()))
    errs = {k: _param_error(m) for k, m in models.items()}
    ex.check("Adam and RMSprop recover w and b to 0.05", max(errs.values()) < 0.05)
    ex.figure(
        "paths",
        lambda path: _plot().optimizer_paths(
            _bowl, runs, path=path, title="x^2 + 2y^2: plain, momentum, Adam, RMSprop"
        ),
    )
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            models, path=path, title="Adam and RMSprop on linear regression"
        ),
    )
    return ex.done(verdicts={k: r.verdict for k, r in runs.items()}, errors=errs)


def step_exponential_decay(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """Step decay (halve every ``step_size`` updates) and exponential decay per update."""
    small = _check_size(size)
    ex = _Example("step_exponential_decay", "step and exponential learning-rate decay", outdir)
    n = 2000 if small else 20_000
    X, y = _regression_data(n, noise=0.5)
    n_upd = 5 * n
    specs = {
        "constant 0.05": dict(learning_rate="constant", eta0=0.05),
        f"step: halve every {n // 2} updates": dict(
            learning_rate="step", eta0=0.05, gamma=0.5, step_size=n // 2
        ),
        f"exponential: x{1 - 1 / n:g} per update": dict(
            learning_rate="exponential", eta0=0.05, gamma=1 - 1 / n
        ),
    }
    models = {}
    for label, kw in specs.items():
        model, sec = _fit(_reg(batch_size=1, max_iter=5, **kw), X, y)
        models[label] = model
        ex.row(**_param_row(label, model, X, y, sec))
    errs = [_param_error(m) for m in models.values()]
    ex.check("step and exponential decay recover w and b to 0.05", max(errs[1:]) < 0.05)
    ex.check("both decays end closer than the constant rate", max(errs[1:]) < errs[0])
    rate = {
        k: v["eta0"]
        * v.get("gamma", 1.0)
        ** ((n_upd - 1) // v["step_size"] if "step_size" in v else (n_upd - 1))
        for k, v in specs.items()
    }
    ex.result.notes.append(
        "last learning rate: " + ", ".join(f"{k}: {v:.3g}" for k, v in rate.items())
    )
    ex.figure(
        "schedule",
        lambda path: _plot().learning_rate_schedules(
            specs, n_upd, path=path, title="Step and exponential decay"
        ),
    )
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            models, path=path, title="Step and exponential decay: training loss"
        ),
    )
    return ex.done(errors=errs, last_rate=rate)


def l1_l2(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """L1 and L2 penalties: L1 sets irrelevant coefficients to exactly zero, L2 shrinks."""
    small = _check_size(size)
    ex = _Example("l1_l2", "L1 and L2 regularisation (5 relevant of 10 features)", outdir)
    n = 2000 if small else 20_000
    w_true = np.array([3.0, -2.0, 1.5, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0])
    X, y = _regression_data(n, noise=0.5, w=w_true, b=1.0)
    models = {}
    for label, kw in (
        ("no penalty", dict(penalty=None)),
        ("L2, alpha=0.1", dict(penalty="l2", alpha=0.1)),
        ("L1, alpha=0.05", dict(penalty="l1", alpha=0.05)),
    ):
        model, sec = _fit(_reg(batch_size=1, eta0=0.005, max_iter=10, **kw), X, y)
        models[label] = model
        row = _param_row(label, model, X, y, sec, w=w_true, b=1.0)
        row.pop("w (true)")
        row["zeros"] = int(np.sum(model.coef_ == 0.0))
        row["||w||"] = float(np.linalg.norm(model.coef_))
        ex.row(**row)
    none, l2, l1 = models.values()
    irrelevant = w_true == 0.0
    ex.check(
        "L1 sets at least 4 of the 5 irrelevant coefficients to exactly 0",
        np.sum(l1.coef_[irrelevant] == 0.0) >= 4,
    )
    ex.check("L1 keeps every relevant coefficient", np.all(l1.coef_[~irrelevant] != 0.0))
    ex.check("without a penalty no coefficient is exactly 0", np.all(none.coef_ != 0.0))
    ex.check(
        "L2 shrinks: ||w_L2|| < ||w_none||", np.linalg.norm(l2.coef_) < np.linalg.norm(none.coef_)
    )
    ex.figure(
        "coefficients",
        lambda path: _plot().coefficient_bars(
            {"true": w_true, **{k: m.coef_ for k, m in models.items()}},
            path=path,
            title="L1 zeroes irrelevant features, L2 shrinks all",
        ),
    )
    return ex.done(coef={k: m.coef_.copy() for k, m in models.items()}, w_true=w_true)


def early_stopping(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """Early stopping on a held-out validation split (scikit-learn's rule)."""
    small = _check_size(size)
    ex = _Example("early_stopping", "early stopping on a 20% validation split", outdir)
    n = 2000 if small else 20_000
    X, y = _regression_data(n, noise=0.5)
    model, sec = _fit(
        SGDRegressor(
            early_stopping=True,
            validation_fraction=0.2,
            n_iter_no_change=3,
            tol=1e-4,
            max_iter=1000,
            penalty=None,
            learning_rate="constant",
            eta0=0.01,
            random_state=0,
        ),
        X,
        y,
    )
    ex.row(**_param_row("early_stopping=True, max_iter=1000", model, X, y, sec))
    ex.check("stops long before max_iter=1000 (fewer than 50 epochs)", model.n_iter_ < 50)
    ex.check("recovers w and b to 0.1", _param_error(model) < 0.1)
    ex.check("R^2 > 0.95", model.score(X, y) > 0.95)
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            {"early_stopping=True": model}, path=path, title="Early stopping: training loss"
        ),
    )
    return ex.done(n_iter=int(model.n_iter_), score=float(model.score(X, y)))


def tolerance_stop(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """The tolerance stop: stop when the gradient norm (or the loss improvement) is small."""
    small = _check_size(size)
    ex = _Example("tolerance_stop", "stopping at a tolerance instead of a fixed count", outdir)
    runs = {
        tol: minimize(_bowl, _bowl_grad, [3.0, 2.0], eta0=0.05, max_iter=10_000, tol=tol)
        for tol in (1e-2, 1e-4, 1e-8)
    }
    for tol, res in runs.items():
        ex.row(
            method=f"minimize, tol={tol:g} on ||grad f||",
            **{"final x": res.x},
            **{"f(x)": res.fun},
            iterations=res.n_iter,
            verdict=res.verdict,
        )
    n = 1000 if small else 10_000
    X, y = _regression_data(n)
    model, sec = _fit(SGDRegressor(tol=1e-3, max_iter=1000, penalty=None, random_state=0), X, y)
    ex.row(
        method="SGDRegressor tol=1e-3 (loss improvement)",
        **{"final x": model.coef_},
        **{"f(x)": _mse(model, X, y)},
        iterations=int(model.n_iter_),
        verdict=f"stopped at epoch {model.n_iter_}",
    )
    its = [r.n_iter for r in runs.values()]
    ex.check(
        "every tolerance is met", all(r.converged and r.grad_norm <= t for t, r in runs.items())
    )
    ex.check("a tighter tolerance takes more iterations", its[0] < its[1] < its[2])
    ex.check(
        "SGDRegressor stops before max_iter and recovers w, b to 0.05",
        model.n_iter_ < 1000 and _param_error(model) < 0.05,
    )

    def grad_figure(path):
        from .plot import _figure, _finish

        fig, ax = _figure()
        res = runs[1e-8]
        ax.semilogy(res.grad_norm_history, lw=1.5, label="||grad f(x)||, eta0=0.05")
        for tol, r in runs.items():
            ax.axhline(tol, ls="--", lw=0.8, color="gray")
            ax.annotate(
                f"tol={tol:g}: stop at {r.n_iter}",
                (r.n_iter, tol),
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
            )
        ax.set_xlabel("iteration")
        ax.set_ylabel(r"gradient norm $\|\nabla f(x)\|$")
        ax.set_title("Tolerance stop on x^2 + 2y^2")
        ax.legend(fontsize="small")
        return _finish(fig, path)

    ex.figure("gradient_norm", grad_figure)
    return ex.done(iterations=dict(zip(runs, its, strict=True)), sgd_n_iter=int(model.n_iter_))


def logistic_regression(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """Logistic regression by full-batch gradient descent on data from a known model."""
    small = _check_size(size)
    ex = _Example("logistic_regression", "logistic regression by batch GD", outdir)
    n = 4000 if small else 40_000
    rng = np.random.default_rng(1)
    w_true, b_true = np.array([2.0, -1.0]), 0.5
    X = rng.normal(size=(n, 2))
    p_true = 1.0 / (1.0 + np.exp(-(X @ w_true + b_true)))
    labels = (rng.random(n) < p_true).astype(int)
    clf = SGDClassifier(
        loss="log_loss",
        batch_size=None,
        learning_rate="constant",
        eta0=1.0,
        penalty=None,
        max_iter=300,
        tol=None,
        shuffle=False,
    )
    clf, sec = _fit(clf, X, labels)
    p_hat = clf.predict_proba(X)[:, 1]
    err = float(max(np.max(np.abs(clf.coef_[0] - w_true)), abs(clf.intercept_[0] - b_true)))
    ex.row(
        method="SGDClassifier log_loss, full batch, eta0=1",
        **{"w (learned)": clf.coef_[0]},
        **{"w (true)": w_true},
        b=float(clf.intercept_[0]),
        **{"b (true)": b_true},
        **{"max |error|": err},
        **{"log-loss": float(clf.loss_curve_[-1])},
        accuracy=float(clf.score(X, labels)),
        epochs=int(clf.n_iter_),
        **{"time (s)": sec},
    )
    ex.check("recovers w and b to 0.2 (sampling noise of n labels)", err < 0.2)
    ex.check(
        "predicted probabilities within 0.05 of the true ones on average",
        float(np.mean(np.abs(p_hat - p_true))) < 0.05,
    )
    ex.check(
        "the loss decreases every epoch (full batch, small rate)",
        bool(np.all(np.diff(clf.loss_curve_) <= 1e-12)),
    )
    ex.figure(
        "probabilities",
        lambda path: _plot().predictions_vs_targets(
            p_true,
            {"batch GD": p_hat},
            path=path,
            title="Logistic regression: predicted vs true probability",
        ),
    )
    ex.figure(
        "loss",
        lambda path: _plot().loss_curves(
            {"log-loss, full batch": clf}, path=path, title="Logistic regression: training loss"
        ),
    )
    return ex.done(coef=clf.coef_[0].copy(), intercept=float(clf.intercept_[0]), error=err)


def _stream(n_chunks: int, chunk: int, seed: int = 3) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A simulated endless source: chunks of (X, y) arriving one by one."""
    rng = np.random.default_rng(seed)
    for _ in range(n_chunks):
        X = rng.normal(size=(chunk, TRUE_W.shape[0]))
        yield X, X @ TRUE_W + TRUE_B + 0.1 * rng.normal(size=chunk)


def streaming(size: str = "full", outdir: str | Path | None = None) -> ExampleResult:
    """A streaming simulation: ``partial_fit`` on chunks as they arrive."""
    small = _check_size(size)
    ex = _Example("streaming", "partial_fit on a stream of chunks", outdir)
    n_chunks, chunk = (50, 100) if small else (500, 200)
    model = _reg(batch_size=1, eta0=0.01, shuffle=False)
    warm = _reg(batch_size=1, eta0=0.01, shuffle=False)  # the timed path, compiled first
    for X, y in _stream(2, chunk):
        warm.partial_fit(X, y)
    seen, errors = [], []
    t0 = time.perf_counter()
    chunks = []
    for X, y in _stream(n_chunks, chunk):
        model.partial_fit(X, y)
        chunks.append((X, y))
        seen.append(len(chunks) * chunk)
        errors.append(_param_error(model))
    sec = time.perf_counter() - t0
    X_all = np.concatenate([c[0] for c in chunks])
    y_all = np.concatenate([c[1] for c in chunks])
    once = _reg(batch_size=1, eta0=0.01, shuffle=False).partial_fit(X_all, y_all)
    row = _param_row(f"{n_chunks} chunks of {chunk}", model, X_all, y_all, sec)
    row["epochs"] = "1 pass"
    ex.row(**row)
    ex.result.notes.append(
        f"{n_chunks * chunk / sec / 1e6:.2f} M samples/s including the Python loop over chunks"
    )
    ex.check("recovers w and b to 0.05 after one pass over the stream", errors[-1] < 0.05)
    ex.check(
        "chunked partial_fit equals one pass over the whole stream",
        np.allclose(model.coef_, once.coef_, rtol=1e-12, atol=0)
        and np.allclose(model.intercept_, once.intercept_, rtol=1e-12, atol=0),
    )

    def error_figure(path):
        from .plot import _figure, _finish

        fig, ax = _figure()
        ax.semilogy(seen, errors, lw=1.5, marker="o" if len(seen) <= 60 else None, ms=3)
        ax.set_xlabel("samples seen")
        ax.set_ylabel(r"$\max_j |\hat{\theta}_j - \theta_j|$ (parameters vs true values)")
        ax.set_title(f"Streaming: partial_fit on chunks of {chunk}")
        ax.grid(True, alpha=0.3)
        return _finish(fig, path)

    ex.figure("error", error_figure)
    return ex.done(errors=np.array(errors), coef=model.coef_.copy())


def sklearn_comparison(
    size: str = "full", outdir: str | Path | None = None, n: int | None = None
) -> ExampleResult:
    """fastgd next to scikit-learn's ``SGDRegressor`` on standardised data.

    One epoch of shuffled per-sample SGD each (timed), and the same run unshuffled, where
    the two libraries take identical steps (coefficients equal to ~1e-10). Then a logistic
    regression with Adam in batches of 64 (fastgd only).
    """
    small = _check_size(size)
    from sklearn.linear_model import SGDRegressor as SkSGDRegressor
    from sklearn.preprocessing import StandardScaler

    ex = _Example(
        "sklearn_comparison", "fastgd vs scikit-learn SGDRegressor on scaled data", outdir
    )
    n = n or (20_000 if small else 200_000)
    d = 20
    rng = np.random.default_rng(0)
    X_raw = rng.normal(loc=5.0, scale=rng.uniform(0.5, 20.0, size=d), size=(n, d))
    w_true = rng.normal(size=d)
    X = StandardScaler().fit_transform(X_raw)
    y = X @ w_true + 0.5 + 0.1 * rng.normal(size=n)
    # compile (or load from the cache) exactly the timed paths first: the shuffled and the
    # sequential epoch, and the compiled shuffle of >= 2,048 rows with its one-off check
    for shuffle in (True, False):
        SGDRegressor(max_iter=1, tol=None, random_state=0, shuffle=shuffle).fit(X[:4096], y[:4096])
    models, secs = {}, {}
    with warnings.catch_warnings():
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, cls in (("fastgd", SGDRegressor), ("scikit-learn", SkSGDRegressor)):
            for shuffle in (True, False):
                model = cls(max_iter=1, tol=None, random_state=0, shuffle=shuffle)
                t0 = time.perf_counter()
                model.fit(X, y)
                models[name, shuffle] = model
                secs[name, shuffle] = time.perf_counter() - t0
    for (name, shuffle), model in models.items():
        sec = secs[name, shuffle]
        ex.row(
            library=name,
            shuffle=shuffle,
            **{"max |coef - true|": float(np.max(np.abs(model.coef_ - w_true)))},
            b=float(np.ravel(model.intercept_)[0]),
            MSE=_mse(model, X, y),
            **{"time (ms)": sec * 1e3},
            **{"M samples/s": n / sec / 1e6},
        )
    speedup = secs["scikit-learn", True] / secs["fastgd", True]
    same = float(
        np.max(np.abs(models["fastgd", False].coef_ - models["scikit-learn", False].coef_))
    )
    ex.result.notes.append(
        f"speed-up (shuffled epoch): {speedup:.1f}x; unshuffled runs differ by "
        f"{same:.2g} in the coefficients"
    )
    labels = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    clf = SGDClassifier(
        loss="log_loss",
        optimizer="adam",
        learning_rate="constant",
        eta0=0.01,
        batch_size=64,
        penalty=None,
        max_iter=5 if small else 20,
        tol=None,
        random_state=0,
    )
    clf, sec = _fit(clf, X, labels)
    acc = float(clf.score(X, labels))
    ex.result.notes.append(
        f"logistic regression with Adam, batch 64: {clf.n_iter_} epochs in "
        f"{sec:.2f} s, training accuracy {acc:.4f}"
    )
    ex.check("unshuffled, fastgd and scikit-learn agree to 1e-8", same < 1e-8)
    ex.check(
        "both recover the coefficients to 0.05 in one epoch",
        all(np.max(np.abs(m.coef_ - w_true)) < 0.05 for m in models.values()),
    )
    ex.check("Adam logistic regression reaches 97% training accuracy", acc > 0.97)
    ex.figure(
        "predictions",
        lambda path: _plot().predictions_vs_targets(
            y,
            {
                "fastgd": models["fastgd", True].predict(X),
                "scikit-learn": models["scikit-learn", True].predict(X),
            },
            path=path,
            title="One epoch of SGD: fastgd and scikit-learn",
            max_points=2000,
        ),
    )
    return ex.done(speedup=speedup, max_difference=same, accuracy=acc)


EXAMPLES: dict[str, Callable[..., ExampleResult]] = {
    f.__name__: f
    for f in (
        worked_example,
        line_fit,
        batch_minibatch_stochastic,
        shuffled_minibatches,
        learning_rates,
        inverse_time_schedule,
        momentum_vs_plain,
        adam_rmsprop,
        step_exponential_decay,
        l1_l2,
        early_stopping,
        tolerance_stop,
        logistic_regression,
        streaming,
        sklearn_comparison,
    )
}
"""Every example by name, in the order ``fastgd demo`` runs them."""


def run_examples(
    names: list[str] | None = None,
    *,
    size: str = "full",
    outdir: str | Path | None = None,
    echo: bool = True,
    n: int | None = None,
) -> list[ExampleResult]:
    """Run the named examples (default: all), printing each table when ``echo``."""
    _check_size(size)
    names = list(EXAMPLES) if not names else names
    unknown = [nm for nm in names if nm not in EXAMPLES]
    if unknown:
        raise ValueError(f"unknown example {unknown[0]!r}; choose from: {', '.join(EXAMPLES)}.")
    results = []
    for name in names:
        kwargs = {"n": n} if name == "sklearn_comparison" and n else {}
        result = EXAMPLES[name](size=size, outdir=outdir, **kwargs)
        results.append(result)
        if echo:
            print(result, flush=True)
            print()
    return results


def run(args: argparse.Namespace) -> int:
    """Run the demo from the command line; returns the exit code (1 if a check failed)."""
    t0 = time.perf_counter()
    results = run_examples(
        args.only, size="small" if args.small else "full", outdir=args.outdir or None, n=args.n
    )
    failed = [r.name for r in results if not r.ok]
    n_checks = sum(len(r.checks) for r in results)
    plural = "s" if len(results) != 1 else ""
    print(
        f"{len(results)} example{plural}, {n_checks} checks in {time.perf_counter() - t0:.1f} s: "
        + ("all hold" if not failed else f"FAILED in {', '.join(failed)}")
        + (f"; figures in {args.outdir}/" if args.outdir else "")
    )
    return 1 if failed else 0


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to the ``fastgd`` command line."""
    p = subparsers.add_parser(
        "demo",
        help="every tutorial example, with tables and figures",
        description="Run the tutorials' examples with fastgd: a table per example "
        "(learned vs true parameters, loss, time), the checks each example makes, and "
        "its figures as PNG files.",
    )
    p.add_argument("--small", action="store_true", help="smaller versions (about 30 s in all)")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        choices=list(EXAMPLES),
        help="run only this example (repeatable): " + ", ".join(EXAMPLES),
    )
    p.add_argument(
        "--outdir",
        default="reports/demo",
        help="folder for the figures (default reports/demo); '' writes none",
    )
    p.add_argument(
        "--n",
        type=int,
        default=None,
        help="rows of the scikit-learn comparison (default 200,000; 20,000 with --small)",
    )
    p.set_defaults(func=run)
