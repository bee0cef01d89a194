"""The options registry (fastgd.options) against every place that reads it.

Every code has a kernel branch, a reference branch and a row in the test grid; an
unknown code fails in the kernel (never the last formula); the estimators' signatures
and docstrings, ``reference.Config`` and ``minimize`` follow the registry.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

from fastgd import SGDClassifier, SGDRegressor, _grid, options, reference
from fastgd import _kernels as K
from fastgd import _layout as C


def _unknown(table):
    return max(row.code for row in table.values()) + 1


def test_codes_are_dense_and_generated():
    for kind, table in options.KINDS.items():
        assert sorted(row.code for row in table.values()) == list(range(len(table))), kind
    assert C.OPT_ADAMAX == options.OPTIMIZERS["adamax"].code
    assert C.HP_BETA1 == [h.name for h in options.HYPERS].index("beta1")
    assert C.N_HP == len(options.HYPERS)


@pytest.mark.parametrize("loss", list(options.LOSSES))
def test_every_loss_has_a_kernel_and_a_reference_branch(loss):
    code = options.LOSSES[loss].code
    for p, y in ((0.3, 1.0), (-2.0, -1.0), (5.0, 1.0)):
        k = (K.loss_value(code, p, y, 0.1), K.loss_dloss(code, p, y, 0.1))
        r = (reference.loss_value(loss, p, y, 0.1), reference.loss_dloss(loss, p, y, 0.1))
        np.testing.assert_allclose(k, r, rtol=1e-15)


@pytest.mark.parametrize("schedule", list(options.SCHEDULES))
def test_every_schedule_has_a_kernel_and_a_reference_branch(schedule):
    params = next(iter(options.SCHEDULES[schedule].variants.values()))
    cfg = _grid.resolve(reference.Config(learning_rate=schedule, **params), 10)
    hp = _grid.kernel_args(cfg, 10)[5]
    counters = C.new_counters(cfg.eta0)
    out = np.empty(8)
    K.fill_rates(options.SCHEDULES[schedule].code, 3.0, hp, counters, out, 0, 8)
    expected = [reference.learning_rate(cfg, 3.0 + k, counters) for k in range(8)]
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    assert K.learning_rate(options.SCHEDULES[schedule].code, 3.0, hp, counters) == out[0]


@pytest.mark.parametrize("optimizer", list(options.OPTIMIZERS))
@pytest.mark.parametrize("penalty", list(options.PENALTIES))
def test_every_optimizer_and_penalty_has_a_kernel_and_a_reference_branch(optimizer, penalty):
    cfg = _grid.resolve(
        reference.Config(
            optimizer=optimizer, penalty=penalty, learning_rate="constant", alpha=0.1, l1_ratio=0.5
        ),
        4,
    )
    hp = _grid.kernel_args(cfg, 4)[5]
    g = np.array([0.5, -1.0, 0.25])
    ker = [np.array([0.3, -0.2, 0.1]), C.new_state(2), C.new_counters(0.01)]
    ref = [ker[0].copy(), reference.init_state(2), reference.init_counters(0.01)]
    for _ in range(3):
        K.optimizer_step(
            options.OPTIMIZERS[optimizer].code,
            ker[0],
            g,
            ker[1],
            ker[2],
            hp,
            options.PENALTIES[penalty].code,
            0.01,
        )
        reference.optimizer_step(cfg, ref[0], g, ref[1], ref[2], 0.01)
        ker[2][C.SC_T] += 1.0
        ref[2][reference.SC_T] += 1.0
    np.testing.assert_allclose(ker[0], ref[0], rtol=1e-12)
    assert not np.array_equal(ker[0], [0.3, -0.2, 0.1])


def test_unknown_codes_fail_in_the_kernels_and_the_reference():
    hp, counters = np.zeros(C.N_HP), C.new_counters(0.1)
    with pytest.raises(ValueError, match="unknown loss code"):
        K.loss_value(_unknown(options.LOSSES), 0.0, 1.0, 0.1)
    # the row loops' own dispatch gives NaN (a raise there slowed the loops); every entry
    # point checks its codes first
    assert np.isnan(K.loss_grad(_unknown(options.LOSSES), 0.0, 1.0, 0.1)[1])
    X, y, order = np.ones((3, 2)), np.ones(3), np.arange(3)
    for kernel, extra in (
        (K.sgd_plain_epoch, (np.empty(2 + C.ARENA_RATES),)),
        (K.sgd_general_epoch, ()),
    ):
        for codes in (
            (_unknown(options.LOSSES), 0, 0),
            (0, _unknown(options.PENALTIES), 0),
            (0, 0, _unknown(options.SCHEDULES)),
        ):
            with pytest.raises(ValueError, match="unknown"):
                kernel(
                    X,
                    y,
                    np.empty(0),
                    order,
                    np.zeros(3),
                    C.new_state(2),
                    counters,
                    hp,
                    *codes,
                    *extra,
                )
    with pytest.raises(ValueError, match="unknown optimizer code"):
        K.batch_epoch(
            X,
            y,
            np.empty(0),
            order,
            np.zeros(3),
            C.new_state(2),
            counters,
            hp,
            0,
            0,
            _unknown(options.OPTIMIZERS),
            0,
            3,
        )
    with pytest.raises(ValueError, match="unknown learning-rate schedule code"):
        K.learning_rate(_unknown(options.SCHEDULES), 1.0, hp, counters)
    with pytest.raises(ValueError, match="unknown learning-rate schedule code"):
        K.fill_rates(_unknown(options.SCHEDULES), 1.0, hp, counters, np.empty(4), 0, 4)
    params, g, state = np.zeros(3), np.ones(3), C.new_state(2)
    with pytest.raises(ValueError, match="unknown optimizer code"):
        K.optimizer_step(_unknown(options.OPTIMIZERS), params, g, state, counters, hp, 0, 0.1)
    with pytest.raises(ValueError, match="unknown penalty code"):
        K.optimizer_step(
            C.OPT_ADAM, params, g, state, counters, hp, _unknown(options.PENALTIES), 0.1
        )
    cfg = reference.Config()
    with pytest.raises(ValueError, match="unknown penalty"):
        reference.penalty_strengths(dataclasses.replace(cfg, penalty="l3"))
    for field, bad in (("loss", "nope"), ("learning_rate", "nope"), ("optimizer", "nope")):
        broken = dataclasses.replace(cfg, **{field: bad})
        with pytest.raises(ValueError, match="unknown"):
            if field == "loss":
                reference.loss_value(bad, 0.0, 1.0, 0.1)
            elif field == "learning_rate":
                reference.learning_rate(broken, 1.0, np.zeros(3))
            else:
                reference.optimizer_step(
                    broken,
                    np.zeros(3),
                    np.ones(3),
                    reference.init_state(2),
                    reference.init_counters(),
                    0.1,
                )


def test_the_grid_covers_every_option():
    seen = {"loss": set(), "penalty": set(), "optimizer": set(), "schedule": set()}
    for _, cfg in _grid.configurations():
        seen["loss"].add(cfg.loss)
        seen["penalty"].add(cfg.penalty)
        seen["optimizer"].add(cfg.optimizer)
        seen["schedule"].add(cfg.learning_rate)
    for kind, table in options.KINDS.items():
        assert seen[kind] == set(table), kind


def test_reference_config_follows_the_registry():
    names = {f.name for f in dataclasses.fields(reference.Config)}
    assert names >= {h.name for h in options.HYPERS}
    cfg = reference.Config()
    for h in options.HYPERS:
        expected = h.fallback if h.default is None else h.default
        assert getattr(cfg, h.name) == expected, h.name


@pytest.mark.parametrize("cls", [SGDRegressor, SGDClassifier])
def test_estimator_signature_follows_the_registry(cls):
    params = inspect.signature(cls.__init__).parameters
    for name, default in options.estimator_defaults(cls.__name__).items():
        assert name in params, name
        assert params[name].default == default, name
    doc = cls.__doc__
    assert doc is not None and "Parameters\n----------" in doc
    for name in params:
        if name != "self":
            assert f"\n{name} : " in doc, name
    assert "exp_inf" not in doc and "max(beta2 u, |g| + eps)" in doc  # adamax's formula


def test_resolve_rules_are_shared_by_estimators_and_minimize():
    from fastgd import minimize

    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="nesterov"):
        SGDRegressor(optimizer="nesterov", momentum=0.0).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="nesterov"):
        minimize(lambda x: float(x @ x), lambda x: 2 * x, [1.0], optimizer="nesterov", momentum=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        SGDRegressor(optimizer="adam", weight_decay=0.1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="weight_decay"):
        minimize(lambda x: float(x @ x), lambda x: 2 * x, [1.0], optimizer="adam", weight_decay=0.1)


def test_adamax_matches_torch_formula():
    """torch.optim.Adamax, written out: m lerps to g, u = max(beta2 u, |g| + eps)."""
    model = SGDRegressor(
        optimizer="adamax",
        learning_rate="constant",
        eta0=0.002,
        batch_size=None,
        penalty=None,
        max_iter=3,
        tol=None,
        shuffle=False,
    )
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = X @ [1.0, -1.0, 2.0]
    model.fit(X, y)
    w, m, u = np.zeros(4), np.zeros(4), np.zeros(4)
    Xb = np.c_[X, np.ones(30)]
    for t in range(1, 4):
        g = Xb.T @ (Xb @ w - y) / 30
        m = m + (1 - 0.9) * (g - m)
        u = np.maximum(0.999 * u, np.abs(g) + 1e-8)
        w = w - 0.002 / (1 - 0.9**t) * m / u
    np.testing.assert_allclose(np.r_[model.coef_, model.intercept_], w, rtol=1e-12)


_NO_JIT = r"""
import numpy as np
from fastgd import SGDClassifier, SGDRegressor, _grid
worst, count = 0.0, 0
for name, cfg in _grid.configurations(batch_sizes=(1, 3, None),
                                      losses=("squared_error", "log_loss", "hinge")):
    if cfg.learning_rate not in ("invscaling", "optimal", "cosine") or not cfg.fit_intercept:
        continue
    X, y, sw = _grid.make_data(cfg.loss, n=10)
    worst = max(worst, _grid.compare(cfg, X, y, sw, epochs=1))
    count += 1
X, y, _ = _grid.make_data("squared_error", n=40)
SGDRegressor(max_iter=3, random_state=0).fit(X, y).partial_fit(X, y)
SGDClassifier(max_iter=3, random_state=0).fit(X, y > 0.3).partial_fit(X, y > 0.3)
print(count, worst)
"""


@pytest.mark.slow
def test_the_kernels_run_with_jit_disabled():
    """NUMBA_DISABLE_JIT=1: every kernel and intrinsic has a Python twin, so a fit runs
    (and the kernels can be stepped through and measured for coverage)."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", _NO_JIT], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    count, worst = out.stdout.split()
    assert int(count) > 100 and float(worst) <= 1e-10
