"""fastgd.plot: every figure is drawn headless, saved as a valid PNG and labelled."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from fastgd import SGDRegressor, minimize, plot  # noqa: E402


def f_quad(x):
    return x[0] ** 2 + 2.0 * x[1] ** 2


def g_quad(x):
    return np.array([2.0 * x[0], 4.0 * x[1]])


def assert_png(path):
    """The file exists, starts with the PNG signature and decodes to a non-empty image."""
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert np.ptp(img[..., :3]) > 0  # not a blank canvas


def labels_of(fig):
    ax = fig.axes[0]
    return ax.get_xlabel(), ax.get_ylabel(), ax.get_title()


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3
    models = [
        SGDRegressor(
            batch_size=b,
            max_iter=15,
            tol=None,
            penalty=None,
            learning_rate="constant",
            eta0=0.02,
            random_state=0,
        ).fit(X, y)
        for b in (1, 16, None)
    ]
    return X, y, models


def test_pyplot_is_not_imported():
    """Headless by construction: plotting never imports pyplot or picks a backend."""
    assert "matplotlib.pyplot" not in sys.modules or pytest.skip("pyplot imported elsewhere")
    plot.loss_curves([1.0, 0.5, 0.25])
    assert "matplotlib.pyplot" not in sys.modules


def test_loss_curves_of_estimators(fitted, tmp_path):
    _, _, models = fitted
    fig = plot.loss_curves(models, path=tmp_path / "sub" / "loss.png")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "sub" / "loss.png")
    xlabel, ylabel, title = labels_of(fig)
    assert xlabel == "epoch" and "loss" in ylabel and title == "Training loss"
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 3 and ax.get_yscale() == "log"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [
        "SGDRegressor (sgd, batch 1, constant)",
        "SGDRegressor (sgd, batch 16, constant)",
        "SGDRegressor (sgd, full batch, constant)",
    ]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), models[0].loss_curve_)


def test_loss_curves_inputs(fitted):
    _, _, models = fitted
    fig = plot.loss_curves({"per-sample": models[0], "raw": [3.0, 2.0, -1.0]})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["per-sample", "raw"]
    assert ax.get_yscale() == "linear"  # a non-positive value
    res = minimize(f_quad, g_quad, [3.0, 2.0], eta0=0.1)
    fig = plot.loss_curves(res, labels=["plain"])
    assert labels_of(fig)[:2] == ("iteration", r"$f(x)$")
    assert plot.loss_curves([3.0, 2.0, 1.0], log_x=True).axes[0].get_xscale() == "log"
    with pytest.raises(TypeError, match="item 0"):
        plot.loss_curves([object()])
    with pytest.raises(ValueError, match="labels has 1 entries for 3"):
        plot.loss_curves(models, labels=["a"])
    with pytest.raises(ValueError, match="empty"):
        plot.loss_curves([])


def test_loss_curves_into_given_axes(fitted):
    _, _, models = fitted
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plot.loss_curves(models[0], ax=ax2) is fig
    assert ax2.get_xlabel() == "epoch" and not ax1.get_lines()


def test_optimizer_paths_from_results_and_configs(tmp_path):
    runs = {
        "plain": minimize(f_quad, g_quad, [3.0, 2.0], eta0=0.1),
        "momentum": minimize(f_quad, g_quad, [3.0, 2.0], optimizer="momentum", eta0=0.05),
        "adam": minimize(f_quad, g_quad, [3.0, 2.0], optimizer="adam", eta0=0.3),
    }
    fig = plot.optimizer_paths(f_quad, runs, path=tmp_path / "paths.png")
    assert_png(tmp_path / "paths.png")
    assert labels_of(fig) == (r"$x_0$", r"$x_1$", "Optimizer paths on f_quad")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0].startswith("plain: converged") and texts[-1] == "start"
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), runs["plain"].x_history[:, 0])
    assert ax.collections  # the contour lines

    configs = [{"eta0": 0.1}, {"optimizer": "adam", "eta0": 0.3}]
    fig = plot.optimizer_paths(
        f_quad,
        configs,
        labels=["gd", "adam"],
        grad=g_quad,
        x0=[3.0, 2.0],
        title="x^2 + 2y^2",
        bounds=((-4, 4), (-3, 3)),
    )
    ax = fig.axes[0]
    assert ax.get_title() == "x^2 + 2y^2" and ax.get_xlim() == (-4, 4)
    # a single configuration dict and a non-vectorised f (evaluated point by point)
    fig = plot.optimizer_paths(
        lambda x: float(np.hypot(x[0], 2 * x[1])),
        {"eta0": 0.1},
        grad=g_quad,
        x0=[1.0, 1.0],
        resolution=20,
    )
    assert len([t for t in fig.axes[0].get_legend().get_texts()]) == 2


def test_optimizer_paths_rejects():
    with pytest.raises(ValueError, match="pass grad= and x0="):
        plot.optimizer_paths(f_quad, [{"eta0": 0.1}])
    res3 = minimize(lambda x: float(x @ x), lambda x: 2 * x, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="two variables"):
        plot.optimizer_paths(f_quad, res3)
    with pytest.raises(TypeError, match="run 0"):
        plot.optimizer_paths(f_quad, [3])


def test_learning_rate_comparison(tmp_path):
    rows, fig = plot.learning_rate_comparison(
        f_quad,
        g_quad,
        [3.0, 2.0],
        [0.01, 0.1, 0.4, 0.6, 2.0],
        max_iter=100,
        path=tmp_path / "rates.png",
    )
    assert_png(tmp_path / "rates.png")
    assert [r["verdict"] for r in rows] == [
        "slow",
        "converged",
        "converged",
        "diverged",
        "diverged",
    ]
    assert [r["eta0"] for r in rows] == [0.01, 0.1, 0.4, 0.6, 2.0]
    for r in rows:
        assert np.isfinite(r["x"]).all() and np.isfinite(r["f"])
        assert set(r) == {"eta0", "x", "f", "grad_norm", "n_iter", "verdict"}
    np.testing.assert_allclose(rows[1]["x"], 0.0, atol=1e-6)
    assert labels_of(fig)[:2] == ("iteration", r"$f(x)$")
    assert len(fig.axes[0].get_legend().get_texts()) == 5
    with pytest.raises(ValueError, match="rates is empty"):
        plot.learning_rate_comparison(f_quad, g_quad, [3.0, 2.0], [])


def test_predictions_vs_targets(fitted, tmp_path):
    X, y, models = fitted
    fig = plot.predictions_vs_targets(y, models[0].predict(X), path=tmp_path / "pred.png")
    assert_png(tmp_path / "pred.png")
    assert labels_of(fig) == (r"target $y$", r"prediction $\hat{y}$", "Predictions vs targets")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[0] == "model ($R^2$ = 1.0000)" and texts[1] == "prediction = target"
    fig = plot.predictions_vs_targets(y, {"a": y, "b": y + 1}, max_points=50)
    assert len(fig.axes[0].collections) == 2
    assert fig.axes[0].collections[0].get_offsets().shape[0] <= 50
    with pytest.raises(ValueError, match="299 values for 300"):
        plot.predictions_vs_targets(y, y[1:])


def test_schedules_and_coefficients(tmp_path):
    fig = plot.learning_rate_schedules(
        {
            "step": dict(learning_rate="step", eta0=0.1, gamma=0.5, step_size=10),
            "inverse_time": dict(learning_rate="inverse_time", eta0=0.1, t0=5.0),
        },
        30,
        path=tmp_path / "sched.png",
    )
    assert_png(tmp_path / "sched.png")
    assert labels_of(fig)[:2] == (r"update $t$", r"learning rate $\eta_t$")
    step = fig.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(step[[0, 9, 10, 20]], [0.1, 0.1, 0.05, 0.025])
    inv = fig.axes[0].get_lines()[1].get_ydata()
    np.testing.assert_allclose(inv[:3], [0.1, 0.1 * 5 / 6, 0.1 * 5 / 7])
    with pytest.raises(ValueError, match="unknown schedule arguments"):
        plot.learning_rate_schedules({"x": dict(learning_rate="step", foo=1)}, 5)

    fig = plot.coefficient_bars({"true": [1, 0, 2], "l1": [0.9, 0.0, 1.8]}, path=tmp_path / "c.png")
    assert_png(tmp_path / "c.png")
    assert labels_of(fig)[:2] == (r"feature $j$", r"coefficient $w_j$")
    with pytest.raises(ValueError, match="same length"):
        plot.coefficient_bars({"a": [1, 2], "b": [1]})


def rendered_text(fig):
    """Every text of the figure after drawing: labels, title, legend, annotations."""
    fig.canvas.draw()  # mathtext is parsed here: a bad label raises
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def test_labels_are_mathtext_and_render(fitted):
    """Symbols are mathtext ($...$) and every figure draws (mathtext parses)."""
    X, y, models = fitted
    res = minimize(f_quad, g_quad, [3.0, 2.0], eta0=0.1)
    figs = [
        plot.loss_curves(res),
        plot.optimizer_paths(f_quad, res),
        plot.learning_rate_comparison(f_quad, g_quad, [3.0, 2.0], [0.1, 0.6])[1],
        plot.learning_rate_schedules({"c": {"learning_rate": "constant"}}, 10),
        plot.coefficient_bars({"a": [1.0, 2.0]}),
        plot.predictions_vs_targets(y, models[0].predict(X)),
    ]
    for fig in figs:
        texts = rendered_text(fig)
        assert any("$" in t for t in texts), texts
        assert not any(t in ("x[0]", "f(x)", "eta_t", "w_j") for t in texts)
    legend = [t.get_text() for t in figs[2].axes[0].get_legend().get_texts()]
    assert legend[0].startswith(r"$\eta_0$ = 0.1: converged")


@pytest.mark.parametrize(
    "call",
    [
        lambda **kw: plot.loss_curves([3.0, 2.0, 1.0], **kw),
        lambda **kw: plot.optimizer_paths(
            f_quad, {"eta0": 0.1}, grad=g_quad, x0=[3.0, 2.0], resolution=20, **kw
        ),
        lambda **kw: plot.learning_rate_comparison(
            f_quad, g_quad, [3.0, 2.0], [0.1], max_iter=20, **kw
        )[1],
        lambda **kw: plot.learning_rate_schedules({"c": {"learning_rate": "constant"}}, 10, **kw),
        lambda **kw: plot.coefficient_bars({"a": [1.0, 2.0]}, **kw),
        lambda **kw: plot.predictions_vs_targets([1.0, 2.0, 3.0], [1.0, 2.1, 2.9], **kw),
    ],
)
def test_figsize_and_dpi(call, tmp_path):
    fig = call(figsize=(3.0, 2.5), dpi=50, path=tmp_path / "small.png")
    assert tuple(fig.get_size_inches()) == (3.0, 2.5) and fig.dpi == 50
    img = imread(tmp_path / "small.png")
    assert img.shape[:2] == (125, 150)  # 2.5 x 3 inches at 50 dpi
    big = call(dpi=200, path=tmp_path / "big.png")
    w, h = big.get_size_inches()
    assert imread(tmp_path / "big.png").shape[:2] == (round(h * 200), round(w * 200))
    with pytest.raises(ValueError, match="figsize must be"):
        call(figsize=(3.0, -1.0))
    with pytest.raises(ValueError, match="figsize must be"):
        call(figsize=5)
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        call(dpi=0)
    with pytest.raises(ValueError, match="with ax= the figure is yours"):
        call(ax=Figure().add_subplot(), figsize=(3.0, 2.0))


def test_learning_rate_comparison_stays_readable_when_a_run_diverges():
    """One exploding rate: the axis spans the others, the diverging curve is clipped and
    marked where it leaves, and the figure says so."""
    rows, fig = plot.learning_rate_comparison(
        f_quad, g_quad, [3.0, 2.0], [0.05, 0.1, 0.6], max_iter=400, tol=1e-8
    )
    assert [r["verdict"] for r in rows] == ["converged", "converged", "diverged"]
    ax = fig.axes[0]
    diverged = ax.get_lines()[2].get_ydata()
    assert diverged.max() > 1e100  # the run does explode
    bottom, top = ax.get_ylim()
    assert top == pytest.approx(10 * f_quad(np.array([3.0, 2.0])))  # not 1e100
    assert ax.get_yscale() == "log"
    marks = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(marks) == 1 and marks[0].get_ydata()[0] == pytest.approx(top)
    assert marks[0].get_xdata()[0] == np.flatnonzero(diverged > top)[0]
    notes = [t.get_text() for t in ax.texts]
    assert len(notes) == 1 and notes[0].startswith("clipped at 170:")
    # the converged runs keep most of the height: log10(top / bottom) over their span
    converged = np.concatenate([line.get_ydata() for line in ax.get_lines()[:2]])
    assert converged.min() >= bottom and converged.max() <= top
    # nothing clipped, nothing said
    _, fig = plot.learning_rate_comparison(f_quad, g_quad, [3.0, 2.0], [0.05, 0.1])
    assert not fig.axes[0].texts


def test_loss_curves_of_a_pipeline(fitted):
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, models = fitted
    pipe = make_pipeline(StandardScaler(), SGDRegressor(max_iter=8, tol=None, random_state=0)).fit(
        X, y
    )
    fig = plot.loss_curves(pipe)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), pipe[-1].loss_curve_)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["SGDRegressor (sgd, batch 1, invscaling) in a Pipeline"]
    fig = plot.loss_curves({"scaled": pipe, "raw": models[0]})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["scaled", "raw"]
    with pytest.raises(TypeError, match="final step \\(LinearRegression\\) has no loss_curve_"):
        plot.loss_curves(make_pipeline(StandardScaler(), LinearRegression()).fit(X, y))
    with pytest.raises(TypeError, match="final step \\(SGDRegressor\\)"):
        plot.loss_curves([make_pipeline(StandardScaler(), SGDRegressor())])  # not fitted
