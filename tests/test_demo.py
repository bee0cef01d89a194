"""fastgd demo: every tutorial example at small size, what it shows, and its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.image import imread  # noqa: E402

from fastgd import demo  # noqa: E402
from fastgd.cli import build_parser  # noqa: E402

# the axes labels each example's figures must carry (mathtext, as fastgd.plot writes them):
# {figure key: (xlabel, ylabel)}
LOSS = "mean training loss (objective per sample)"
PREDICTIONS = ("target $y$", r"prediction $\hat{y}$")
SCHEDULE = ("update $t$", r"learning rate $\eta_t$")
PATHS = ("$x_0$", "$x_1$")
FIGURE_LABELS = {
    "worked_example": {"loss": ("epoch", LOSS)},
    "line_fit": {"fit": ("$x$", "$y$"), "loss": ("epoch", LOSS)},
    "batch_minibatch_stochastic": {"loss": ("epoch", LOSS), "predictions": PREDICTIONS},
    "shuffled_minibatches": {"loss": ("epoch", LOSS)},
    "learning_rates": {"rates": ("iteration", "$f(x)$")},
    "inverse_time_schedule": {"schedule": SCHEDULE, "loss": ("epoch", LOSS)},
    "momentum_vs_plain": {"paths": PATHS, "loss": ("epoch", LOSS)},
    "adam_rmsprop": {"paths": PATHS, "loss": ("epoch", LOSS)},
    "step_exponential_decay": {"schedule": SCHEDULE, "loss": ("epoch", LOSS)},
    "l1_l2": {"coefficients": ("feature $j$", "coefficient $w_j$")},
    "early_stopping": {"loss": ("epoch", LOSS)},
    "tolerance_stop": {"gradient_norm": ("iteration", r"gradient norm $\|\nabla f(x)\|$")},
    "logistic_regression": {"probabilities": PREDICTIONS, "loss": ("epoch", LOSS)},
    "streaming": {
        "error": (
            "samples seen",
            r"$\max_j |\hat{\theta}_j - \theta_j|$ (parameters vs true values)",
        )
    },
    "sklearn_comparison": {"predictions": PREDICTIONS},
}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def results(outdir):
    """Every example once at small size, figures written to ``outdir``."""
    return {name: fn(size="small", outdir=outdir) for name, fn in demo.EXAMPLES.items()}


def assert_png(path):
    assert path.is_file() and path.stat().st_size > 1000, path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    img = imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) > 100 and np.ptp(img[..., :3]) > 0, path


def test_every_issue_example_is_there():
    assert list(demo.EXAMPLES) == list(FIGURE_LABELS)


@pytest.mark.parametrize("name", list(FIGURE_LABELS))
def test_example_checks_hold(results, name):
    res = results[name]
    assert isinstance(res, demo.ExampleResult) and res.name == name
    assert res.checks and res.ok, "\n" + str(res)
    assert res.rows and all(list(r) == list(res.rows[0]) for r in res.rows)
    assert res.seconds > 0
    text = str(res)
    assert text.startswith(f"== {name}: ") and "FAILED" not in text


@pytest.mark.parametrize("name", list(FIGURE_LABELS))
def test_example_figures(results, outdir, name):
    res = results[name]
    assert set(res.figures) == set(FIGURE_LABELS[name])
    assert res.paths == [outdir / f"{name}_{key}.png" for key in res.figures]
    for key, (xlabel, ylabel) in FIGURE_LABELS[name].items():
        ax = res.figures[key].axes[0]
        assert (ax.get_xlabel(), ax.get_ylabel()) == (xlabel, ylabel)
        assert ax.get_title()
        assert_png(outdir / f"{name}_{key}.png")


# ------------------------------------------------------- the numbers each example shows
def test_worked_example_published_numbers(results):
    v = results["worked_example"].values
    np.testing.assert_allclose(v["w1"], [1.6, 1.42666667], atol=1e-8)
    assert v["b1"] == pytest.approx(0.32, abs=1e-12)
    np.testing.assert_allclose(v["w1"], v["by_hand_w"], rtol=1e-14)
    assert v["b1"] == pytest.approx(v["by_hand_b"], rel=1e-14)
    np.testing.assert_allclose(v["w"], [1.5, 1.5], atol=1e-6)
    assert v["b"] == pytest.approx(0.1, abs=1e-6)


def test_line_fit_published_numbers(results):
    v = results["line_fit"].values
    assert abs(v["w"] - 0.5008287639956263) < 1e-9
    assert abs(v["b"] - 1.8339723159878247) < 1e-9
    assert v["w_scaled"] == pytest.approx(0.5, abs=1e-9)
    assert v["b_scaled"] == pytest.approx(2.0, abs=1e-9)


def test_regression_examples_recover_parameters(results):
    errors = results["batch_minibatch_stochastic"].values["errors"]
    assert len(errors) == 3 and max(errors.values()) < 0.05
    for coef in results["batch_minibatch_stochastic"].values["coef"].values():
        np.testing.assert_allclose(coef, demo.TRUE_W, atol=0.05)
    v = results["shuffled_minibatches"].values
    assert v["error_shuffled"] < min(v["error_sorted"], 0.1)
    v = results["inverse_time_schedule"].values
    assert v["error_inverse_time"] < min(v["error_constant"], 0.1)
    errs = results["step_exponential_decay"].values["errors"]
    assert max(errs[1:]) < min(errs[0], 0.05)
    assert results["early_stopping"].values["n_iter"] < 50
    assert results["streaming"].values["errors"][-1] < 0.05
    assert results["logistic_regression"].values["error"] < 0.2


def test_convergence_verdicts(results):
    assert results["learning_rates"].values["verdicts"] == [
        "slow",
        "slow",
        "converged",
        "converged",
        "converged",
        "diverged",
    ]
    rows = results["learning_rates"].values["rows"]
    assert rows[3]["n_iter"] == 1 and rows[3]["x"][0] == 0.0
    assert all(np.isfinite(r["x"]).all() for r in rows)
    its = results["momentum_vs_plain"].values["iterations"]
    assert its["momentum 0.7"] < its["plain GD"] / 2
    assert set(results["adam_rmsprop"].values["verdicts"].values()) == {"converged"}
    its = list(results["tolerance_stop"].values["iterations"].values())
    assert its == sorted(its) and len(set(its)) == 3


def test_l1_zeroes_and_l2_shrinks(results):
    v = results["l1_l2"].values
    zero = v["w_true"] == 0
    assert np.sum(v["coef"]["L1, alpha=0.05"][zero] == 0) >= 4
    assert np.linalg.norm(v["coef"]["L2, alpha=0.1"]) < np.linalg.norm(v["coef"]["no penalty"])


def test_sklearn_comparison(results):
    v = results["sklearn_comparison"].values
    assert v["max_difference"] < 1e-8 and v["accuracy"] > 0.97 and v["speedup"] > 0


def test_examples_without_outdir_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = demo.worked_example(size="small")
    assert res.paths == [] and "loss" in res.figures
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="size must be 'small' or 'full'"):
        demo.worked_example(size="tiny")
    with pytest.raises(ValueError, match="unknown example 'nope'"):
        demo.run_examples(["nope"])


# ------------------------------------------------------------------ the command line
def test_cli_only_one_example(tmp_path, capsys):
    args = build_parser().parse_args(
        [
            "demo",
            "--small",
            "--only",
            "worked_example",
            "--only",
            "learning_rates",
            "--outdir",
            str(tmp_path / "out"),
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "== worked_example:" in out and "== learning_rates:" in out
    assert "== line_fit" not in out
    assert "2 examples, 5 checks" in out and "all hold" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "learning_rates_rates.png",
        "worked_example_loss.png",
    ]


def test_cli_rejects_unknown_example():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--only", "nope"])


def test_cli_subprocess_headless(tmp_path):
    """``fastgd demo`` in a fresh process without a display writes its figures."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from fastgd.cli import main; sys.exit(main(sys.argv[1:]))",
            "demo",
            "--small",
            "--only",
            "tolerance_stop",
            "--outdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "all hold" in out.stdout
    assert_png(tmp_path / "tolerance_stop_gradient_norm.png")


def test_cli_default_outdir_is_ignored_by_git(tmp_path):
    """``fastgd demo --small`` (the README's main job) writes its figures only into
    ``reports/demo/`` of the working folder, which git ignores in the checkout."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from fastgd.cli import main; sys.exit(main(sys.argv[1:]))",
            "demo",
            "--small",
            "--only",
            "tolerance_stop",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert written == [
        "reports",
        "reports/demo",
        "reports/demo/tolerance_stop_gradient_norm.png",
    ]
    assert "figures in reports/demo/" in out.stdout
    repo = Path(__file__).resolve().parents[1]
    if (repo / ".git").exists():
        proc = subprocess.run(
            ["git", "check-ignore", "--no-index", "reports/demo/tolerance_stop_gradient_norm.png"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.stdout.strip() == "reports/demo/tolerance_stop_gradient_norm.png"
