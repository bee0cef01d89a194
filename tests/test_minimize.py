"""fastgd.minimize: the core's optimizer steps on user functions, both execution paths."""

from __future__ import annotations

import sys

import numba
import numpy as np
import pytest

import fastgd
from fastgd import MinimizeResult, minimize, reference


def f_quad(x):
    return x[0] ** 2 + 2.0 * x[1] ** 2


def g_quad(x):
    return np.array([2.0 * x[0], 4.0 * x[1]])


f_quad_jit = numba.njit(f_quad)
g_quad_jit = numba.njit(g_quad)

X0 = np.array([3.0, 2.0])

# Hyperparameters chosen so that each optimizer converges on x^2 + 2y^2 from (3, 2).
CONVERGING = {
    "sgd": dict(eta0=0.1),
    "momentum": dict(eta0=0.05, momentum=0.5),
    "nesterov": dict(eta0=0.05, momentum=0.5),
    "adagrad": dict(eta0=1.0),
    "rmsprop": dict(eta0=0.01),
    "adam": dict(eta0=0.1),
    "adamw": dict(eta0=0.1, weight_decay=0.01),
}

# Configurations compared step by step with fastgd.reference (non-default hyperparameters).
BY_HAND = [
    ("sgd", "constant", {}),
    ("sgd", "invscaling", dict(power_t=0.5)),
    ("momentum", "inverse_time", dict(momentum=0.8, dampening=0.1, t0=3.0)),
    ("nesterov", "step", dict(momentum=0.7, gamma=0.5, step_size=2)),
    ("adagrad", "exponential", dict(lr_decay=0.1, initial_accumulator_value=0.5, gamma=0.9)),
    ("rmsprop", "cosine", dict(rho=0.9, centered=True, momentum=0.3, T_max=4, eta_min=1e-4)),
    ("rmsprop", "constant", dict(rho=0.95)),
    ("adam", "constant", dict(beta1=0.8, beta2=0.99, eps=1e-6, amsgrad=True)),
    ("adamw", "cosine", dict(weight_decay=0.05, T_max=3)),
]


def _reference_run(x0, grad, optimizer, learning_rate, eta0, n_steps, hyper):
    """The same run written by hand with fastgd.reference's optimizer step and schedule."""
    defaults = {
        "momentum": 0.9 if optimizer in ("momentum", "nesterov") else 0.0,
        "eps": 1e-10 if optimizer == "adagrad" else 1e-8,
    }
    kwargs = {**defaults, **hyper}
    init_acc = kwargs.pop("initial_accumulator_value", 0.0)
    cfg = reference.Config(
        optimizer=optimizer,
        learning_rate=learning_rate,
        eta0=eta0,
        penalty=None,
        fit_intercept=False,
        **kwargs,
    )
    d = len(x0)
    params = np.append(np.asarray(x0, dtype=float), 0.0)
    state = reference.init_state(d)
    if optimizer == "adagrad":
        state[reference.ST_M1] = init_acc
    counters = reference.init_counters(eta0)
    xs = [params[:d].copy()]
    for _ in range(n_steps):
        eta = reference.learning_rate(cfg, counters[reference.SC_T], counters)
        g = np.append(grad(params[:d].copy()), 0.0)
        reference.optimizer_step(cfg, params, g, state, counters, eta)
        counters[reference.SC_T] += 1
        xs.append(params[:d].copy())
    assert params[d] == 0.0
    return np.array(xs)


def _rosen_grad(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])


@pytest.mark.parametrize(("optimizer", "learning_rate", "hyper"), BY_HAND)
def test_steps_equal_reference_by_hand(optimizer, learning_rate, hyper):
    x0 = np.array([-1.2, 1.0, 0.5])

    def f(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2 + x[2] ** 4

    def grad(x):
        return np.append(_rosen_grad(x[:2]), 4 * x[2] ** 3)

    res = minimize(
        f,
        grad,
        x0,
        optimizer=optimizer,
        learning_rate=learning_rate,
        eta0=1e-3,
        max_iter=6,
        tol=None,
        **hyper,
    )
    expected = _reference_run(x0, grad, optimizer, learning_rate, 1e-3, 6, hyper)
    assert res.n_iter == 6 and not res.converged and not res.diverged
    np.testing.assert_allclose(res.x_history, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.x, expected[-1], rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.f_history, [f(x) for x in expected], rtol=1e-12)
    np.testing.assert_allclose(
        res.grad_norm_history, [np.linalg.norm(grad(x)) for x in expected], rtol=1e-12
    )


def test_plain_sgd_is_the_textbook_loop():
    x = X0.copy()
    xs = [x.copy()]
    for _ in range(20):
        x = x - 0.1 * g_quad(x)
        xs.append(x.copy())
    res = minimize(f_quad, g_quad, X0, eta0=0.1, max_iter=20, tol=None)
    np.testing.assert_allclose(res.x_history, np.array(xs), rtol=1e-15, atol=0)


@pytest.mark.parametrize("optimizer", list(CONVERGING))
def test_every_optimizer_converges_on_quadratic(optimizer):
    res = minimize(
        f_quad, g_quad, X0, optimizer=optimizer, max_iter=20_000, tol=1e-6, **CONVERGING[optimizer]
    )
    assert isinstance(res, MinimizeResult)
    assert res.converged and not res.diverged, res.message
    assert res.verdict == "converged"
    assert res.grad_norm <= 1e-6
    assert res.n_iter < 20_000
    np.testing.assert_allclose(res.x, [0.0, 0.0], atol=1e-6)
    assert res.fun == pytest.approx(f_quad(res.x))
    assert res.x_history.shape == (res.n_iter + 1, 2)
    assert res.f_history.shape == res.grad_norm_history.shape == (res.n_iter + 1,)
    np.testing.assert_array_equal(res.x_history[0], X0)
    np.testing.assert_array_equal(res.x_history[-1], res.x)
    assert res.grad_norm_history[-1] == res.grad_norm
    assert "converged" in res.message


@pytest.mark.parametrize(
    ("learning_rate", "hyper"),
    [
        ("invscaling", dict(power_t=0.1)),
        ("inverse_time", dict(t0=50.0)),
        ("step", dict(gamma=0.5, step_size=50)),
        ("exponential", dict(gamma=0.999)),
        ("cosine", dict(T_max=500, eta_min=0.01)),
    ],
)
def test_schedules_converge(learning_rate, hyper):
    res = minimize(
        f_quad, g_quad, X0, learning_rate=learning_rate, eta0=0.2, max_iter=5000, tol=1e-6, **hyper
    )
    assert res.converged, res.message


def test_schedule_values_are_the_cores():
    """With f = x (gradient 1) plain SGD moves by exactly the learning rate of each step."""
    res = minimize(
        lambda x: float(x[0]),
        lambda x: np.ones(1),
        [0.0],
        learning_rate="step",
        eta0=1.0,
        gamma=0.5,
        step_size=2,
        max_iter=6,
        tol=None,
    )
    np.testing.assert_allclose(-np.diff(res.x_history[:, 0]), [1, 1, 0.5, 0.5, 0.25, 0.25])


def test_tolerance_stop_and_start_point():
    res = minimize(f_quad, g_quad, [0.0, 0.0], eta0=0.1, tol=1e-6)
    assert res.converged and res.n_iter == 0 and res.x_history.shape == (1, 2)
    res = minimize(f_quad, g_quad, X0, eta0=0.1, max_iter=10, tol=None)
    assert res.n_iter == 10 and not res.converged and res.verdict == "slow"
    assert "max_iter=10 reached" in res.message
    loose = minimize(f_quad, g_quad, X0, eta0=0.1, tol=1e-2)
    tight = minimize(f_quad, g_quad, X0, eta0=0.1, tol=1e-8)
    assert loose.converged and tight.converged and loose.n_iter < tight.n_iter
    assert loose.grad_norm <= 1e-2 < loose.grad_norm_history[-2]
    res = minimize(f_quad, g_quad, X0, max_iter=0)
    assert res.n_iter == 0 and not res.converged


def test_x0_is_not_modified_and_ints_are_accepted():
    x0 = np.array([3, 2])
    res = minimize(f_quad, g_quad, x0, eta0=0.1)
    np.testing.assert_array_equal(x0, [3, 2])
    assert res.x.dtype == np.float64


@pytest.mark.parametrize("jit", [False, True])
def test_divergence_is_reported_not_returned_as_inf(jit):
    f, g = (f_quad_jit, g_quad_jit) if jit else (f_quad, g_quad)
    res = minimize(f, g, X0, eta0=0.6, max_iter=5000)
    assert res.diverged and not res.converged and res.verdict == "diverged"
    assert res.message.startswith(f"diverged at iteration {res.n_iter + 1}")
    assert "reduce eta0" in res.message
    assert np.isfinite(res.x).all() and np.isfinite(res.fun) and np.isfinite(res.grad_norm)
    assert np.isfinite(res.x_history).all() and np.isfinite(res.f_history).all()
    np.testing.assert_array_equal(res.x, res.x_history[-1])
    assert res.x_history.shape[0] == res.n_iter + 1
    # f grows by a factor (1 - 4 eta)^2 = 1.96 each step along y
    assert res.f_history[-1] > 1e300
    with pytest.raises(ValueError, match="diverged at iteration"):
        minimize(f, g, X0, eta0=0.6, max_iter=5000, raise_on_divergence=True)


def test_divergence_of_x_itself():
    """A step that overflows x (f stays finite until then)."""
    res = minimize(
        lambda x: float(np.tanh(x[0])), lambda x: np.array([-1e300]), [0.0], eta0=1e10, max_iter=10
    )
    assert res.diverged and res.n_iter == 0
    assert "diverged at iteration 1: x became non-finite" in res.message
    np.testing.assert_array_equal(res.x, [0.0])


def test_nan_gradient_is_divergence():
    res = minimize(
        lambda x: float(np.sqrt(x[0])),
        lambda x: 0.5 / np.sqrt(x[0]) * np.ones(1),
        [1.0],
        eta0=10.0,
        max_iter=10,
    )
    assert res.diverged and res.n_iter == 0 and res.x[0] == 1.0


@pytest.mark.parametrize("optimizer", list(CONVERGING))
def test_jitted_path_equals_python_path(optimizer):
    kw = dict(optimizer=optimizer, max_iter=300, tol=1e-9, **CONVERGING[optimizer])
    py = minimize(f_quad, g_quad, X0, **kw)
    jit = minimize(f_quad_jit, g_quad_jit, X0, **kw)
    assert jit.compiled and not py.compiled
    assert (py.n_iter, py.converged, py.message) == (jit.n_iter, jit.converged, jit.message)
    np.testing.assert_array_equal(jit.x_history, py.x_history)
    np.testing.assert_array_equal(jit.grad_norm_history, py.grad_norm_history)
    # the user's f compiled by numba may round x**2 differently in the last bit
    np.testing.assert_allclose(jit.f_history, py.f_history, rtol=1e-12)


def test_jitted_divergence_matches_python():
    py = minimize(f_quad, g_quad, X0, eta0=0.6, max_iter=5000)
    jit = minimize(f_quad_jit, g_quad_jit, X0, eta0=0.6, max_iter=5000)
    assert py.n_iter == jit.n_iter and py.message == jit.message
    np.testing.assert_array_equal(jit.x, py.x)


def test_exported_from_package():
    assert fastgd.minimize is minimize
    assert "minimize" in fastgd.__all__


# ------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(f=3), TypeError, "f must be callable"),
        (dict(grad="g"), TypeError, "grad must be callable"),
        (dict(x0=[[1.0, 2.0]]), ValueError, "x0 must be 1-D"),
        (dict(x0=1.0), ValueError, r"x0=\[value\]"),
        (dict(x0=[]), ValueError, "x0 must have at least one"),
        (dict(x0=[1.0, np.nan]), ValueError, "x0 contains NaN"),
        (dict(x0=["a", "b"]), TypeError, "x0 must hold real numbers"),
        (dict(x0=[1.0, 2.0, 3.0]), ValueError, r"grad must return an array of shape \(3,\)"),
        (dict(optimizer="lbfgs"), ValueError, "optimizer='lbfgs' is not supported"),
        (dict(learning_rate="optimal"), ValueError, "needs a loss"),
        (dict(learning_rate="adaptive"), ValueError, "needs a loss"),
        (dict(learning_rate="linear"), ValueError, "learning_rate='linear' is not supported"),
        (dict(eta0=0.0), ValueError, "eta0 must be"),
        (dict(eta0="0.1"), TypeError, "eta0 must be a real number"),
        (dict(max_iter=-1), ValueError, "max_iter must be >= 0"),
        (dict(max_iter=10.0), TypeError, "max_iter must be an integer"),
        (dict(tol=-1.0), ValueError, "tol must be"),
        (dict(momentum=1.0), ValueError, "momentum must be"),
        (dict(optimizer="nesterov", momentum=0.0), ValueError, "nesterov"),
        (dict(optimizer="adam", weight_decay=0.1), ValueError, "weight_decay"),
        (dict(learning_rate="inverse_time"), ValueError, "needs t0"),
        (dict(learning_rate="step", gamma=0.5), ValueError, "needs step_size"),
        (dict(learning_rate="exponential"), ValueError, "needs gamma"),
        (dict(learning_rate="cosine"), ValueError, "needs T_max"),
        (dict(amsgrad=1), TypeError, "amsgrad must be True or False"),
        (dict(raise_on_divergence="yes"), TypeError, "raise_on_divergence"),
    ],
)
def test_invalid_arguments(kwargs, exc, match):
    args = dict(f=f_quad, grad=g_quad, x0=X0)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        minimize(args.pop("f"), args.pop("grad"), args.pop("x0"), **args)


def test_bad_function_outputs():
    with pytest.raises(TypeError, match="f must return a real scalar"):
        minimize(lambda x: x, g_quad, X0)
    with pytest.raises(ValueError, match="not finite at x0"):
        minimize(lambda x: float("nan"), g_quad, X0)
    calls = []

    def shrinking_grad(x):
        calls.append(1)
        return g_quad(x) if len(calls) < 3 else np.ones(3)

    with pytest.raises(ValueError, match=r"shape \(2,\).*iteration 2"):
        minimize(f_quad, shrinking_grad, X0)


@pytest.mark.parametrize("jit", [False, True])
def test_segments_join_seamlessly(monkeypatch, jit):
    """The loops run in segments (memory grows with the steps taken): same result for any size."""
    mod = sys.modules["fastgd._minimize"]
    f, g = (f_quad_jit, g_quad_jit) if jit else (f_quad, g_quad)
    kw = dict(optimizer="adam", eta0=0.1, max_iter=300, tol=1e-9)
    whole = minimize(f, g, X0, **kw)
    monkeypatch.setattr(mod, "_SEGMENT", 7)
    pieces = minimize(f, g, X0, **kw)
    assert (pieces.n_iter, pieces.message) == (whole.n_iter, whole.message)
    np.testing.assert_array_equal(pieces.x_history, whole.x_history)
    np.testing.assert_array_equal(pieces.f_history, whole.f_history)
    np.testing.assert_array_equal(pieces.grad_norm_history, whole.grad_norm_history)
    diverged = minimize(f, g, X0, eta0=0.6, max_iter=5000)
    assert diverged.diverged and diverged.x_history.shape[0] == diverged.n_iter + 1
    capped = minimize(f, g, X0, eta0=0.01, max_iter=21, tol=None)
    assert capped.n_iter == 21 and capped.x_history.shape == (22, 2)


def test_history_memory_follows_steps_taken():
    res = minimize(f_quad, g_quad, X0, eta0=0.1, max_iter=10**9, tol=1e-3)
    assert res.converged and res.x_history.shape == (res.n_iter + 1, 2)


@pytest.mark.parametrize("jit", [False, True])
def test_scipy_field_names(jit):
    """x, fun, jac, nit, success, message under scipy.optimize.OptimizeResult's names,
    next to fastgd's own; jac is the gradient at x, also after divergence."""
    from scipy.optimize import minimize as scipy_minimize

    f, g = (f_quad_jit, g_quad_jit) if jit else (f_quad, g_quad)
    res = minimize(f, g, X0, eta0=0.1, tol=1e-8)
    assert res.compiled is jit
    theirs = scipy_minimize(f_quad, X0, jac=g_quad, method="BFGS")
    for name in ("x", "fun", "jac", "nit", "success", "message"):
        assert name in theirs and hasattr(res, name)
    assert res.success is True and res.success == res.converged == theirs.success
    assert res.nit == res.n_iter == res.x_history.shape[0] - 1
    assert res.fun == f_quad(res.x)
    np.testing.assert_array_equal(res.jac, g_quad(res.x))
    assert res.jac.shape == res.x.shape and np.linalg.norm(res.jac) == pytest.approx(res.grad_norm)
    assert isinstance(res.message, str)
    slow = minimize(f, g, X0, eta0=0.01, max_iter=5)
    assert slow.success is False and slow.nit == 5
    np.testing.assert_array_equal(slow.jac, g_quad(slow.x))
    bad = minimize(f, g, X0, eta0=2.0, max_iter=5000)
    assert bad.diverged and not bad.success
    np.testing.assert_array_equal(bad.jac, g_quad(bad.x))  # the last finite point's
    assert np.isfinite(bad.jac).all()
