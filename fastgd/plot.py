"""Figures for gradient descent: loss curves, optimizer paths, learning-rate comparisons.

Needs matplotlib (``pip install 'fastgd[plot]'``). Every function returns a
:class:`matplotlib.figure.Figure` and writes it to ``path`` when one is given (PNG, or
any format matplotlib knows from the suffix; parent folders are created). Every function
takes ``figsize=`` (inches, for a new figure) and ``dpi=`` (of the new figure and of the
saved file, 110 by default); symbols in labels are mathtext (``$\\eta_t$``, ``$w_j$``).

Headless-safe by construction: the figures are created as plain
``matplotlib.figure.Figure`` objects rendered by the Agg canvas, without importing
``matplotlib.pyplot``; no backend is selected or changed, no display is needed and
nothing is left open in pyplot's figure manager. In Jupyter the returned figure
displays itself; to draw into a window or a figure of your own, pass ``ax=`` (e.g.
from ``plt.subplots()``) and the function draws there and returns ``ax.figure``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._minimize import MinimizeResult, _build, minimize

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "coefficient_bars",
    "learning_rate_comparison",
    "learning_rate_schedules",
    "loss_curves",
    "optimizer_paths",
    "predictions_vs_targets",
]


# --------------------------------------------------------------------------- helpers
_DPI = 110  # of saved files when no dpi is given


def _check_size(figsize, dpi, ax) -> None:
    """``figsize`` two positive numbers (inches) for a new figure, ``dpi`` a positive number."""
    if figsize is not None:
        if ax is not None:
            raise ValueError(
                "figsize sizes a new figure; with ax= the figure is yours: pass "
                "figsize=None, or size the figure when you create it."
            )
        ok = isinstance(figsize, (tuple, list)) and len(figsize) == 2
        ok = ok and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0
            for v in figsize
        )
        if not ok:
            raise ValueError(
                f"figsize must be (width, height) in inches, two positive numbers, got {figsize!r}."
            )
    if dpi is not None and (
        isinstance(dpi, bool)
        or not isinstance(dpi, numbers.Real)
        or not math.isfinite(dpi)
        or dpi <= 0
    ):
        raise ValueError(f"dpi must be a positive number (dots per inch), got {dpi!r}.")


def _figure(
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = (6.4, 4.6),
    dpi: float | None = None,
    *,
    default_size: tuple[float, float] = (6.4, 4.6),
) -> tuple:
    """``(figure, axes)``: the caller's ``ax`` or a new pyplot-free figure with one axes
    of ``figsize`` inches (``default_size`` when None) at ``dpi``."""
    _check_size(None if ax is not None else figsize, dpi, None)
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a test dependency
        raise ImportError("fastgd.plot needs matplotlib: pip install 'fastgd[plot]'") from exc
    size = default_size if figsize is None else tuple(float(v) for v in figsize)
    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    return fig, fig.add_subplot()


def _finish(fig: Figure, path: str | Path | None, dpi: float | None = None) -> Figure:
    """Save ``fig`` to ``path`` (parent folders created) at ``dpi`` (default 110)."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=_DPI if dpi is None else dpi)
    return fig


def _named(items, labels, what: str) -> list[tuple[str | None, Any]]:
    """``[(label, item), ...]`` from a mapping, a sequence or a single item."""
    if isinstance(items, Mapping):
        pairs = [(str(k), v) for k, v in items.items()]
        if labels is not None:
            raise ValueError(
                f"labels must be None when {what} is a mapping (its keys are the labels)."
            )
        return pairs
    seq = list(items)
    if labels is None:
        return [(None, v) for v in seq]
    labels = list(labels)
    if len(labels) != len(seq):
        raise ValueError(f"labels has {len(labels)} entries for {len(seq)} {what}.")
    return [(str(lab), v) for lab, v in zip(labels, seq, strict=True)]


def _is_number_sequence(obj) -> bool:
    if isinstance(obj, (str, bytes, Mapping)) or not isinstance(obj, (Sequence, np.ndarray)):
        return False
    arr = np.asarray(obj)
    return arr.ndim == 1 and arr.dtype.kind in "iuf"


def _is_pipeline(obj) -> bool:
    """A scikit-learn Pipeline (duck-typed: named ``steps`` and indexable)."""
    return hasattr(obj, "steps") and hasattr(obj, "named_steps") and not isinstance(obj, type)


def _final_step(pipeline, i: int):
    """The Pipeline's final step, which must have a ``loss_curve_`` (be fitted)."""
    final = pipeline.steps[-1][1] if pipeline.steps else None
    if not hasattr(final, "loss_curve_"):
        raise TypeError(
            f"item {i} of estimators_or_curves is a Pipeline whose final step "
            f"({type(final).__name__}) has no loss_curve_: fit the Pipeline, and end it with "
            "an estimator that keeps one (fastgd.SGDRegressor / SGDClassifier)."
        )
    return final


def _estimator_label(est) -> str:
    name = type(est).__name__
    parts = []
    for attr in ("optimizer", "batch_size", "learning_rate"):
        if hasattr(est, attr):
            value = getattr(est, attr)
            if attr == "batch_size":
                value = "full batch" if value is None else f"batch {value}"
            parts.append(str(value))
    return f"{name} ({', '.join(parts)})" if parts else name


# ----------------------------------------------------------------------- loss curves
def loss_curves(
    estimators_or_curves,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    path: str | Path | None = None,
    *,
    title: str = "Training loss",
    log_y: bool | None = None,
    log_x: bool = False,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Loss per epoch of several fitted estimators (or curves) on one axis.

    Parameters
    ----------
    estimators_or_curves : estimator, Pipeline, MinimizeResult, sequence of floats, or a list / dict of them
        Fitted estimators with a ``loss_curve_`` (fastgd's: the mean objective of each
        epoch), fitted scikit-learn Pipelines whose final step has one,
        :class:`fastgd.MinimizeResult` objects (``f_history`` per iteration) or plain
        sequences of numbers. A dict maps labels to them.
    labels : sequence of str, optional
        One label per curve (default: estimator class and options, or "curve i").
    ax : matplotlib Axes, optional
        Draw here instead of a new figure.
    path : str or Path, optional
        Save the figure there.
    title : str
        Axes title.
    log_y : bool, optional
        Logarithmic loss axis; default when every value is positive.
    log_x : bool, default False
        Logarithmic epoch axis (for curves of very different lengths).
    figsize : (float, float), optional
        Width and height in inches of the new figure (not with ``ax``).
    dpi : float, optional
        Resolution of the new figure and of the saved file (default 110 for files).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_size(figsize, dpi, ax)
    single = (
        hasattr(estimators_or_curves, "loss_curve_")
        or _is_pipeline(estimators_or_curves)
        or isinstance(estimators_or_curves, MinimizeResult)
        or _is_number_sequence(estimators_or_curves)
    )
    pairs = _named([estimators_or_curves] if single else estimators_or_curves, labels, "curves")
    if not pairs:
        raise ValueError("estimators_or_curves is empty; pass at least one estimator or curve.")
    curves = []
    kinds = set()
    for i, (label, item) in enumerate(pairs):
        in_pipeline = _is_pipeline(item)
        if in_pipeline:
            item = _final_step(item, i)
        if isinstance(item, MinimizeResult):
            y = item.f_history
            x = np.arange(y.shape[0])
            kinds.add("iteration")
            default = f"{item.optimizer}, eta0={item.eta0:g}"
        elif hasattr(item, "loss_curve_"):
            y = np.asarray(item.loss_curve_, dtype=float)
            x = np.arange(1, y.shape[0] + 1)
            kinds.add("epoch")
            default = _estimator_label(item) + (" in a Pipeline" if in_pipeline else "")
        elif _is_number_sequence(item):
            y = np.asarray(item, dtype=float)
            x = np.arange(1, y.shape[0] + 1)
            kinds.add("epoch")
            default = f"curve {i}"
        else:
            raise TypeError(
                f"item {i} of estimators_or_curves is a {type(item).__name__}: expected a fitted "
                "estimator with loss_curve_, a MinimizeResult or a 1-D sequence of numbers."
            )
        if y.shape[0] == 0:
            raise ValueError(f"curve {i} ({label or default}) is empty; fit the estimator first.")
        curves.append((label or default, x, y))
    fig, ax = _figure(ax, figsize, dpi)
    for label, x, y in curves:
        ax.plot(x, y, marker="o" if len(x) <= 30 else None, ms=3, lw=1.4, label=label)
    finite = np.concatenate([y[np.isfinite(y)] for _, _, y in curves])
    if log_y is None:
        log_y = finite.size > 0 and bool((finite > 0).all())
    if log_y:
        ax.set_yscale("log")
    if log_x:
        ax.set_xscale("symlog" if "iteration" in kinds else "log")
    ax.set_xlabel(" / ".join(sorted(kinds)))
    ax.set_ylabel(
        r"$f(x)$" if kinds == {"iteration"} else "mean training loss (objective per sample)"
    )
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(fig, path, dpi)


# ------------------------------------------------------------------- optimizer paths
def _evaluate_grid(f: Callable, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """``f`` at every grid point: one vectorised call when ``f`` allows it, else a loop."""
    from numba.extending import is_jitted

    if not is_jitted(f):
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                z = np.asarray(f(np.stack([xx, yy])), dtype=float)
            if z.shape == xx.shape:
                return z
        except Exception:  # noqa: BLE001 - f is not vectorised: evaluate point by point
            pass
    z = np.empty(xx.shape)
    point = np.empty(2)
    with np.errstate(all="ignore"):
        for idx in np.ndindex(xx.shape):
            point[0], point[1] = xx[idx], yy[idx]
            z[idx] = float(f(point.copy()))
    return z


def _runs(f, runs, labels, grad, x0) -> list[tuple[str, MinimizeResult]]:
    single_config = (
        isinstance(runs, Mapping)
        and bool(runs)
        and not all(isinstance(v, (MinimizeResult, Mapping)) for v in runs.values())
    )
    if isinstance(runs, MinimizeResult) or single_config:
        runs = [runs]
    pairs = _named(runs, labels, "runs")
    out = []
    for i, (label, item) in enumerate(pairs):
        if isinstance(item, Mapping):
            if grad is None or x0 is None:
                raise ValueError(
                    "optimizer_paths got configurations (dicts of minimize arguments): pass "
                    "grad= and x0= as well, or pass MinimizeResult objects."
                )
            item = minimize(f, grad, x0, **item)
        if not isinstance(item, MinimizeResult):
            raise TypeError(
                f"run {i} is a {type(item).__name__}: expected a MinimizeResult or a dict of "
                "minimize arguments."
            )
        if item.x_history.ndim != 2 or item.x_history.shape[1] != 2:
            raise ValueError(
                f"optimizer_paths draws functions of two variables; run {i} has "
                f"{item.x_history.shape[1]} coordinates."
            )
        default = (
            item.optimizer
            if item.learning_rate == "constant"
            else (f"{item.optimizer}, {item.learning_rate}")
        )
        out.append((label or default, item))
    if not out:
        raise ValueError("runs is empty; pass at least one MinimizeResult or configuration.")
    return out


def optimizer_paths(
    f: Callable[[np.ndarray], float],
    runs,
    labels: Sequence[str] | None = None,
    *,
    grad: Callable[[np.ndarray], np.ndarray] | None = None,
    x0=None,
    bounds: tuple[tuple[float, float], tuple[float, float]] | None = None,
    levels: int = 20,
    resolution: int = 160,
    ax: Axes | None = None,
    path: str | Path | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Contour plot of a function of two variables with the paths of several runs.

    Parameters
    ----------
    f : callable
        ``f(x)`` for ``x`` of shape ``(2,)``. A NumPy-vectorised ``f`` (one that also
        accepts ``x`` of shape ``(2, n, m)``) is evaluated in one call, any other point by
        point.
    runs : MinimizeResult, dict of minimize arguments, or a list / dict of them
        Results of :func:`fastgd.minimize`, or configurations such as
        ``{"optimizer": "adam", "eta0": 0.1}`` that are run from ``x0`` with ``grad``.
        A dict whose values are results or configurations maps labels to them.
    labels : sequence of str, optional
        One per run (default: the optimizer's name).
    grad, x0 : optional
        Needed only when ``runs`` holds configurations.
    bounds : ((xmin, xmax), (ymin, ymax)), optional
        Plotted region; default: every finite point of every path plus a margin.
    levels : int
        Number of contour lines (spaced by quantiles of ``f``, dense near the minimum).
    resolution : int
        Grid points per axis.
    ax, path, title
        Axes to draw in, file to save, title.
    figsize : (float, float), optional
        Width and height in inches of the new figure (not with ``ax``).
    dpi : float, optional
        Resolution of the new figure and of the saved file (default 110 for files).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.plot import optimizer_paths
    >>> f = lambda x: x[0] ** 2 + 2 * x[1] ** 2
    >>> g = lambda x: np.array([2 * x[0], 4 * x[1]])
    >>> fig = optimizer_paths(f, {"plain": {"eta0": 0.1}, "momentum": {"optimizer": "momentum",
    ...                       "eta0": 0.05}, "adam": {"optimizer": "adam", "eta0": 0.3}},
    ...                       grad=g, x0=[3.0, 2.0])
    """
    _check_size(figsize, dpi, ax)
    pairs = _runs(f, runs, labels, grad, x0)
    if bounds is None:
        pts = np.concatenate([r.x_history for _, r in pairs])
        pts = pts[np.isfinite(pts).all(axis=1)]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = np.maximum(hi - lo, 1e-3 * np.maximum(1.0, np.abs(hi)))
        lo, hi = lo - 0.15 * span, hi + 0.15 * span
        bounds = ((lo[0], hi[0]), (lo[1], hi[1]))
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    if not (x_lo < x_hi and y_lo < y_hi):
        raise ValueError(
            f"bounds must be ((xmin, xmax), (ymin, ymax)) with min < max, got {bounds}."
        )
    xx, yy = np.meshgrid(np.linspace(x_lo, x_hi, resolution), np.linspace(y_lo, y_hi, resolution))
    zz = _evaluate_grid(f, xx, yy)
    finite = zz[np.isfinite(zz)]
    fig, ax = _figure(ax, figsize, dpi, default_size=(6.4, 5.2))
    if finite.size:
        lv = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, levels + 2) ** 2)[1:-1])
        if lv.size >= 2:
            cs = ax.contour(xx, yy, zz, levels=lv, cmap="viridis", linewidths=0.7, alpha=0.8)
            ax.clabel(cs, cs.levels[::3], fontsize=6, fmt="%.3g")
    for label, res in pairs:
        xs = res.x_history
        (line,) = ax.plot(
            xs[:, 0],
            xs[:, 1],
            marker="o",
            ms=2.5,
            lw=1.2,
            label=f"{label}: {res.verdict}, {res.n_iter} it., $f$ = {res.fun:.3g}",
        )
        ax.plot(xs[-1, 0], xs[-1, 1], marker="*", ms=11, color=line.get_color(), mec="k", mew=0.5)
    start = pairs[0][1].x_history[0]
    ax.plot(start[0], start[1], marker="X", ms=9, color="k", ls="none", label="start")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel(r"$x_0$")
    ax.set_ylabel(r"$x_1$")
    name = getattr(f, "__name__", "f")
    ax.set_title(title or f"Optimizer paths on {'f' if name == '<lambda>' else name}")
    ax.legend(fontsize="small", loc="best")
    return _finish(fig, path, dpi)


# -------------------------------------------------------- learning-rate comparison
def learning_rate_comparison(
    f: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    x0,
    rates: Iterable[float],
    *,
    optimizer: str = "sgd",
    max_iter: int = 100,
    tol: float | None = 1e-6,
    ax: Axes | None = None,
    path: str | Path | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
    **minimize_kwargs: Any,
) -> tuple[list[dict], Figure]:
    """Run :func:`fastgd.minimize` once per learning rate and compare the outcomes.

    Parameters
    ----------
    f, grad, x0
        As for :func:`fastgd.minimize`.
    rates : iterable of float
        The ``eta0`` values to try.
    optimizer, max_iter, tol, **minimize_kwargs
        Passed to :func:`fastgd.minimize` (the same for every rate).
    ax, path, title
        Axes to draw in, file to save, title.
    figsize : (float, float), optional
        Width and height in inches of the new figure (not with ``ax``).
    dpi : float, optional
        Resolution of the new figure and of the saved file (default 110 for files).

    Returns
    -------
    rows : list of dict
        One per rate: ``eta0``, ``x`` (final point), ``f``, ``grad_norm``, ``n_iter`` and
        ``verdict``: ``'converged'`` (gradient norm reached ``tol``), ``'diverged'``
        (non-finite values -- ``x`` is then the last finite point -- or, after ``max_iter``
        steps, ``f`` above its value at ``x0``) or ``'slow'`` (``max_iter`` steps without
        reaching ``tol``, below the start).
    figure : matplotlib.figure.Figure
        ``f(x)`` against the iteration for every rate, on a log scale when every value
        is positive. The vertical axis spans the runs that did not diverge (and the
        start): a diverging run's curve is clipped at the top edge, an x marks where it
        leaves the plot, and the figure says so, so one exploding rate does not squash
        the others into a flat line.
    """
    _check_size(figsize, dpi, ax)
    rates = [float(r) if isinstance(r, numbers.Real) else r for r in rates]
    if not rates:
        raise ValueError("rates is empty; pass at least one learning rate.")
    rows, results = [], []
    for eta in rates:
        res = minimize(
            f,
            grad,
            x0,
            optimizer=optimizer,
            eta0=eta,
            max_iter=max_iter,
            tol=tol,
            **minimize_kwargs,
        )
        results.append(res)
        verdict = res.verdict
        if verdict == "slow" and res.fun > res.f_history[0]:
            verdict = "diverged"  # still finite after max_iter, but moving away
        rows.append(
            {
                "eta0": res.eta0,
                "x": res.x,
                "f": res.fun,
                "grad_norm": res.grad_norm,
                "n_iter": res.n_iter,
                "verdict": verdict,
            }
        )
    fig, ax = _figure(ax, figsize, dpi)
    values = np.concatenate([r.f_history for r in results])
    log_y = bool((values > 0).all())
    # the axis spans the runs that stayed bounded and the start; diverging runs are clipped
    kept = [
        r.f_history for r, row in zip(results, rows, strict=True) if row["verdict"] != "diverged"
    ]
    span = np.concatenate(kept + [np.array([r.f_history[0] for r in results])])
    lo, hi = float(span.min()), float(span.max())
    if log_y:
        top = hi * 10.0
        bottom = min(lo, float(values.min())) / 2.0
    else:
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
        top, bottom = hi + pad, min(lo, float(values.min())) - pad
    clipped = False
    for res, row in zip(results, rows, strict=True):
        y = res.f_history
        (line,) = ax.plot(
            np.arange(y.shape[0]),
            y,
            lw=1.4,
            label=rf"$\eta_0$ = {res.eta0:g}: {row['verdict']} ({res.n_iter} it.)",
        )
        if row["verdict"] == "diverged":
            out = np.flatnonzero(y > top)
            at = (int(out[0]), top) if out.size else (y.shape[0] - 1, float(y[-1]))
            clipped = clipped or out.size > 0
            ax.plot(*at, marker="x", ms=9, mew=2, color=line.get_color(), clip_on=False)
    if log_y:
        ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    if clipped:
        ax.text(
            0.99,
            0.98,
            f"clipped at {top:.3g}: diverging runs leave the plot at their x",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize="small",
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8, "lw": 0.5},
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"$f(x)$")
    ax.set_title(title or f"Learning rates compared ({optimizer}, x marks divergence)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    return rows, _finish(fig, path, dpi)


# -------------------------------------------------------------- schedules, coefficients
def learning_rate_schedules(
    schedules: Mapping[str, Mapping[str, Any]],
    n_updates: int,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
    title: str = "Learning-rate schedules",
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """The learning rate of each update for several schedules (the core's formulas).

    Parameters
    ----------
    schedules : dict of label -> dict
        Schedule arguments as the estimators take them, e.g.
        ``{"step": {"learning_rate": "step", "eta0": 0.1, "gamma": 0.5, "step_size": 100}}``.
    n_updates : int
        Number of updates to show (update numbers ``t = 1 .. n_updates``).
    ax, path, title
        Axes to draw in, file to save, title.
    figsize : (float, float), optional
        Width and height in inches of the new figure (not with ``ax``).
    dpi : float, optional
        Resolution of the new figure and of the saved file (default 110 for files).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from . import _layout as C
    from ._kernels import learning_rate

    _check_size(figsize, dpi, ax)
    if not schedules:
        raise ValueError("schedules is empty.")
    fig, ax = _figure(ax, figsize, dpi)
    n_updates = int(n_updates)
    if n_updates < 1:
        raise ValueError(f"n_updates must be >= 1, got {n_updates}.")
    # at most ~4000 points: every update number for short runs, evenly spaced ones beyond
    t = np.unique(np.linspace(1, n_updates, min(n_updates, 4000)).round())
    for label, spec in schedules.items():
        spec = dict(spec)
        name = spec.pop("learning_rate", "constant")
        eta0 = spec.pop("eta0", 0.01)
        _, sched, hp, *_ = _build("sgd", name, eta0, None, 0, **_schedule_defaults(spec))
        counters = C.new_counters(hp[C.HP_ETA0])
        rates = np.array([learning_rate(sched, ti, hp, counters) for ti in t])
        ax.plot(t, rates, lw=1.5, label=str(label))
    ax.set_xlabel(r"update $t$")
    ax.set_ylabel(r"learning rate $\eta_t$")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(fig, path, dpi)


def _schedule_defaults(spec: dict) -> dict:
    """``spec`` checked against the registry's hyperparameter names (the rest default)."""
    from . import options

    unknown = set(spec) - set(options.estimator_defaults())
    if unknown:
        raise ValueError(f"unknown schedule arguments: {sorted(unknown)}.")
    return dict(spec)


def coefficient_bars(
    coefficients: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
    title: str = "Coefficients",
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Grouped bars of several coefficient vectors (e.g. true, L2, L1), one group per feature.

    Parameters
    ----------
    coefficients : dict of label -> 1-D array
        All of the same length.
    ax, path, title
        Axes to draw in, file to save, title.
    figsize : (float, float), optional
        Width and height in inches of the new figure (not with ``ax``).
    dpi : float, optional
        Resolution of the new figure and of the saved file (default 110 for files).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_size(figsize, dpi, ax)
    arrays = {str(k): np.ravel(np.asarray(v, dtype=float)) for k, v in coefficients.items()}
    if not arrays:
        raise ValueError("coefficients is empty.")
    sizes = {a.shape[0] for a in arrays.values()}
    if len(sizes) != 1:
        raise ValueError(
            f"every coefficient vector must have the same length, got {sorted(sizes)}."
        )
    d = sizes.pop()
    fig, ax = _figure(ax, figsize, dpi, default_size=(max(6.4, 0.5 * d + 2), 4.4))
    width = 0.8 / len(arrays)
    for i, (label, a) in enumerate(arrays.items()):
        ax.bar(np.arange(d) + (i - (len(arrays) - 1) / 2) * width, a, width, label=label)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xticks(np.arange(d))
    ax.set_xlabel(r"feature $j$")
    ax.set_ylabel(r"coefficient $w_j$")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return _finish(fig, path, dpi)


# ------------------------------------------------------------- predictions vs targets
def predictions_vs_targets(
    y_true,
    y_pred,
    labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
    title: str = "Predictions vs targets",
    max_points: int = 5000,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Scatter of predictions against targets, with the identity line and R^2.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Targets.
    y_pred : array-like of shape (n,), or a list / dict of them
        Predictions of one or several models (a dict maps labels to predictions).
    labels : sequence of str, optional
        One per model.
    ax, path, title
        Axes to draw in, file to save, title.
    max_points : int
        At most this many points per model are drawn (an evenly spaced subset).
    figsize : (float, float), optional
        Width and height in inches of the new figure (not with ``ax``).
    dpi : float, optional
        Resolution of the new figure and of the saved file (default 110 for files).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_size(figsize, dpi, ax)
    y_true = np.ravel(np.asarray(y_true, dtype=float))
    single = _is_number_sequence(y_pred) or (isinstance(y_pred, np.ndarray) and y_pred.ndim == 1)
    pairs = _named([y_pred] if single else y_pred, labels, "predictions")
    if y_true.size == 0 or not pairs:
        raise ValueError("y_true and y_pred must not be empty.")
    fig, ax = _figure(ax, figsize, dpi, default_size=(5.6, 5.2))
    step = max(1, math.ceil(y_true.size / max_points))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    for i, (label, pred) in enumerate(pairs):
        pred = np.ravel(np.asarray(pred, dtype=float))
        if pred.shape != y_true.shape:
            raise ValueError(f"predictions {i} have {pred.size} values for {y_true.size} targets.")
        r2 = 1.0 - float(np.sum((y_true - pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
        name = label or ("model" if len(pairs) == 1 else f"model {i}")
        ax.scatter(y_true[::step], pred[::step], s=8, alpha=0.5, label=f"{name} ($R^2$ = {r2:.4f})")
    lo = float(min(y_true.min(), *(np.min(p) for _, p in pairs)))
    hi = float(max(y_true.max(), *(np.max(p) for _, p in pairs)))
    ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--", label="prediction = target")
    ax.set_xlabel(r"target $y$")
    ax.set_ylabel(r"prediction $\hat{y}$")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(fig, path, dpi)
