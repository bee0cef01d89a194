"""Time to accuracy: seconds of ``fit`` until the objective is within 1e-2/1e-4/1e-6 of optimal.

Problems (benchlib.accuracy_problems): a synthetic regression (optimum by lstsq), a
synthetic logistic regression (optimum by a Newton run to machine precision) and two
real data sets bundled with scikit-learn (no download). Every run minimises the same
objective, mean loss + 1e-4/2 |w|^2 (scikit-learn's default L2), so scikit-learn's
defaults and fastgd's configurations are compared on one yardstick.
"""

from __future__ import annotations

import benchlib

_PROBLEMS: dict = {}

BUDGET_S = {"tiny": 0.5, "quick": 3.0, "full": 8.0}


def _problems(profile):
    if profile not in _PROBLEMS:
        _PROBLEMS.clear()
        _PROBLEMS[profile] = benchlib.accuracy_problems(profile)
    return _PROBLEMS[profile]


def test_time_to_accuracy(benchmark, profile, accuracy_run):
    index, config = accuracy_run
    problem = _problems(profile)[index]
    lib, params = benchlib.ACCURACY_CONFIGS[config]
    max_epochs = benchlib.PROFILES[profile]["tta_max_epochs"]
    # Warm-up fit (JIT / cache load) outside the timing.
    benchlib.time_to_accuracy_curve(problem, lib, params, 1, 0.0)
    curve = benchmark.pedantic(
        benchlib.time_to_accuracy_curve,
        args=(problem, lib, params, max_epochs, BUDGET_S[profile]),
        rounds=1,
        iterations=1,
    )
    benchmark.group = "time to accuracy"
    benchmark.extra_info.update(
        kind="accuracy",
        problem=problem.name,
        task=problem.task,
        note=problem.note,
        n=int(problem.X.shape[0]),
        d=int(problem.X.shape[1]),
        config=config,
        library=lib,
        params={k: v for k, v in params.items()},
        f_star=problem.f_star,
        curve=[list(p) for p in curve],
    )
    assert curve, "the first fit diverged"
