"""Gradient descent on a user's differentiable function: :func:`minimize`.

The tutorials fastgd grew from teach gradient descent on plain functions
(``f(x) = x^2``, ``f(x, y) = x^2 + 2 y^2``) before linear models. :func:`minimize`
runs those loops with the core's optimizers and schedules: every step is the
compiled ``fastgd._kernels.optimizer_step`` and every learning rate the compiled
``fastgd._kernels.learning_rate``, so the formulas are exactly those of
:class:`fastgd.SGDRegressor` (torch.optim's single-tensor optimizers, scikit-learn's
and torch's schedules; see :mod:`fastgd.reference`).

How the core is reused: the kernels update a parameter vector
``[coefficients, intercept]``. :func:`minimize` passes ``params = [x, 0]`` with
``fit_intercept`` off and no penalty, so the ``d`` coordinates of ``x`` are all
treated alike and the trailing slot never moves.

Two execution paths
-------------------
* **Plain Python** ``f`` and ``grad``: a Python loop calls ``f``, ``grad`` and the
  compiled step once per iteration. Each iteration costs microseconds of
  interpreter and dispatch overhead (measured on a 2-core machine: about 7-10 us
  per iteration for ``x^2 + 2 y^2``, the functions included, i.e. about 100,000
  iterations per second) -- ample for the tutorials' examples and for plots.
* **numba-jitted** ``f`` and ``grad`` (both decorated with ``@numba.njit``): the
  whole loop -- function, gradient, learning rate, optimizer step, tolerance and
  divergence checks, history -- runs compiled, at C speed (measured: about 0.1-0.3 us
  per iteration for ``x^2 + 2 y^2``, whose gradient allocates a new array each call;
  50-100x the Python path). The loop is compiled once per pair of functions, which
  takes about a second the first time (not cached across processes).

The histories are kept in segments, so memory grows with the steps actually taken,
not with ``max_iter``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numba.extending import is_jitted

from . import _layout as C
from . import options
from ._kernels import learning_rate, optimizer_step
from .options import check_bool as _flag
from .options import check_int as _integer
from .options import check_real as _real

__all__ = ["MinimizeResult", "minimize"]

# Status codes shared by the two loops.
_RUNNING = 0  # max_iter reached without meeting the tolerance
_CONVERGED = 1  # gradient norm <= tol
_DIVERGED_X = 2  # the step produced a non-finite x
_DIVERGED_F = 3  # f(x) or grad(x) is non-finite at a finite x
_BAD_GRAD = 4  # grad returned an array of the wrong length (compiled path)

_UNSUPPORTED_SCHEDULES = {
    "optimal": "'optimal' is scikit-learn's 1 / (alpha (t0 + t)) for regularised losses and "
    "needs a loss and a penalty strength alpha",
    "adaptive": "'adaptive' divides the rate when an epoch's training loss stops improving "
    "and needs a loss evaluated over epochs",
}


@dataclass
class MinimizeResult:
    """Outcome of :func:`minimize`.

    The fields scipy's :class:`scipy.optimize.OptimizeResult` has for a gradient
    method are here under scipy's names too -- ``x``, ``fun``, ``jac``, ``nit``,
    ``success``, ``message`` -- so code written for ``scipy.optimize.minimize`` reads
    a fastgd result unchanged; fastgd's own names (``n_iter``, ``converged``, ...)
    stay.

    Attributes
    ----------
    x : ndarray of shape (d,)
        The last point (the last finite point when the run diverged).
    fun : float
        ``f(x)``.
    jac : ndarray of shape (d,)
        ``grad(x)``, the gradient at ``x`` (scipy's name).
    grad_norm : float
        Euclidean norm of ``grad(x)``.
    n_iter : int
        Number of optimizer steps taken (accepted) to reach ``x``.
    converged : bool
        True when the gradient norm fell to ``tol`` or below.
    diverged : bool
        True when a step produced a non-finite ``x``, ``f(x)`` or ``grad(x)``.
    message : str
        What stopped the run, in words.
    x_history : ndarray of shape (n_iter + 1, d)
        Every point, the start included.
    f_history : ndarray of shape (n_iter + 1,)
        ``f`` at every point.
    grad_norm_history : ndarray of shape (n_iter + 1,)
        Gradient norm at every point.
    optimizer, learning_rate : str
        The options used (for labels and tables).
    eta0 : float
        The base learning rate.
    compiled : bool
        True when the fully compiled loop ran (numba-jitted ``f`` and ``grad``).
    success : bool
        scipy's name for ``converged``.
    nit : int
        scipy's name for ``n_iter``.
    """

    x: np.ndarray
    fun: float
    grad_norm: float
    n_iter: int
    converged: bool
    diverged: bool
    message: str
    x_history: np.ndarray = field(repr=False)
    f_history: np.ndarray = field(repr=False)
    grad_norm_history: np.ndarray = field(repr=False)
    optimizer: str = "sgd"
    learning_rate: str = "constant"
    eta0: float = 0.0
    compiled: bool = False
    jac: np.ndarray | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        """True when the gradient norm fell to ``tol`` (scipy's name for ``converged``)."""
        return self.converged

    @property
    def nit(self) -> int:
        """Number of steps taken (scipy's name for ``n_iter``)."""
        return self.n_iter

    @property
    def verdict(self) -> str:
        """``'converged'``, ``'diverged'`` or ``'slow'`` (max_iter reached, still finite)."""
        if self.converged:
            return "converged"
        if self.diverged:
            return "diverged"
        return "slow"


# ----------------------------------------------------------------------- validation
def _check_x0(x0) -> np.ndarray:
    try:
        arr = np.asarray(x0)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"x0 must be a 1-D array of real numbers: {exc}") from None
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise TypeError(f"x0 must hold real numbers (int or float), got dtype {arr.dtype}.")
    if arr.ndim != 1:
        hint = (
            " For a function of one number pass x0=[value]; f then receives a length-1 array."
            if arr.ndim == 0
            else ""
        )
        raise ValueError(f"x0 must be 1-D, got shape {arr.shape}.{hint}")
    if arr.shape[0] == 0:
        raise ValueError("x0 must have at least one coordinate, got an empty array.")
    x = np.array(arr, dtype=np.float64, order="C")  # always a copy
    if not np.isfinite(x).all():
        raise ValueError("x0 contains NaN or infinity; start from a finite point.")
    return x


def _check_outputs(f, grad, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Evaluate ``f`` and ``grad`` at the start and check what they return."""
    d = x.shape[0]
    fx = f(x.copy())
    if np.ndim(fx) != 0 or not isinstance(np.asarray(fx).item(), numbers.Real):
        raise TypeError(
            f"f must return a real scalar, got {type(fx).__name__}"
            + (f" of shape {np.shape(fx)}" if np.ndim(fx) else "")
            + " at x0."
        )
    fx = float(fx)
    gx = np.asarray(grad(x.copy()))
    if gx.dtype.kind not in "iuf":
        raise TypeError(f"grad must return an array of real numbers, got dtype {gx.dtype} at x0.")
    if gx.shape != (d,):
        raise ValueError(
            f"grad must return an array of shape ({d},) like x0, got shape {gx.shape}."
        )
    gx = gx.astype(np.float64)
    if not (math.isfinite(fx) and np.isfinite(gx).all()):
        raise ValueError(
            f"f or grad is not finite at x0 (f(x0) = {fx}); start from a point where both are defined."
        )
    return fx, gx


def _build(optimizer: str, learning_rate: str, eta0, tol, max_iter, **hyper) -> tuple:
    """Validate the options (:func:`fastgd.options.resolve`, the estimators' rules) and
    build the kernels' codes, ``hp`` vector and Adagrad's initial accumulator."""
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a string, got {optimizer!r}.")
    if learning_rate in _UNSUPPORTED_SCHEDULES:
        raise ValueError(
            f"learning_rate={learning_rate!r} is not available in minimize: "
            f"{_UNSUPPORTED_SCHEDULES[learning_rate]}. Use 'constant', 'invscaling', "
            "'inverse_time', 'step', 'exponential' or 'cosine'."
        )
    if not isinstance(learning_rate, str):
        raise TypeError(f"learning_rate must be a string, got {learning_rate!r}.")
    eta0 = _real("eta0", eta0, 0.0, low_open=True)
    max_iter = _integer("max_iter", max_iter, 0)
    tol = -1.0 if tol is None else _real("tol", tol, 0.0)
    # the trailing slot of params is a dummy, never updated: fit_intercept off
    values = dict(
        hyper,
        optimizer=optimizer,
        learning_rate=learning_rate,
        eta0=eta0,
        penalty=None,
        fit_intercept=False,
    )
    res = options.resolve(values, owner="minimize")
    return res.optimizer, res.schedule, res.hp, res.initial_accumulator_value, eta0, tol, max_iter


# ------------------------------------------------------------------------ the loops
@njit(cache=True, error_model="numpy")
def _norm(g):
    """Euclidean norm, summed in order (the same bits on both paths; inf on overflow)."""
    s = 0.0
    for j in range(g.shape[0]):
        s += g[j] * g[j]
    return math.sqrt(s)


def _python_loop(
    f, grad, params, g, gn, opt, sched, hp, state, counters, n_steps, tol, x_buf, f_buf, gn_buf, k0
):
    """Up to ``n_steps`` steps from ``params[:d]`` (gradient ``g``, norm ``gn``).

    Point ``i + 1`` of the segment goes to row ``i`` of the buffers. Returns
    ``(accepted steps, status, gradient norm of the last accepted point)``; ``k0`` is
    the number of steps before this segment (for messages).
    """
    d = params.shape[0] - 1
    penalty = C.PENALTY_NONE
    for i in range(n_steps):
        if gn <= tol:
            return i, _CONVERGED, gn
        eta = learning_rate(sched, counters[C.SC_T], hp, counters)
        optimizer_step(opt, params, g, state, counters, hp, penalty, eta)
        counters[C.SC_T] += 1.0
        x = params[:d].copy()
        if not np.isfinite(x).all():
            return i, _DIVERGED_X, gn
        fx = float(f(x.copy()))
        gx = np.asarray(grad(x.copy()), dtype=np.float64)
        if gx.shape != (d,):
            raise ValueError(
                f"grad must return an array of shape ({d},) like x0, got shape {gx.shape} "
                f"at iteration {k0 + i + 1}."
            )
        gn_new = _norm(gx)
        if not (math.isfinite(fx) and math.isfinite(gn_new)):
            return i, _DIVERGED_F, gn
        gn = gn_new
        g[:d] = gx
        x_buf[i] = x
        f_buf[i] = fx
        gn_buf[i] = gn
    return n_steps, _CONVERGED if gn <= tol else _RUNNING, gn


def _compiled_loop_impl(
    f, grad, params, g, gn, opt, sched, hp, state, counters, n_steps, tol, x_buf, f_buf, gn_buf
):
    """The same loop as ``_python_loop`` for numba dispatchers ``f`` and ``grad``."""
    d = params.shape[0] - 1
    penalty = C.PENALTY_NONE
    for i in range(n_steps):
        if gn <= tol:
            return i, _CONVERGED, gn
        eta = learning_rate(sched, counters[C.SC_T], hp, counters)
        optimizer_step(opt, params, g, state, counters, hp, penalty, eta)
        counters[C.SC_T] += 1.0
        x = params[:d].copy()
        for j in range(d):
            if not math.isfinite(x[j]):
                return i, _DIVERGED_X, gn
        fx = f(x)
        gx = grad(x)
        if gx.shape[0] != d:
            return i, _BAD_GRAD, gn
        gn_new = _norm(gx)
        if not (math.isfinite(fx) and math.isfinite(gn_new)):
            return i, _DIVERGED_F, gn
        gn = gn_new
        for j in range(d):
            g[j] = gx[j]
            x_buf[i, j] = x[j]
        f_buf[i] = fx
        gn_buf[i] = gn
    return n_steps, _CONVERGED if gn <= tol else _RUNNING, gn


_SEGMENT = 16384  # steps per call of a loop: history memory grows with the steps taken


# Compiled lazily, once per pair of user functions (numba specialises on each
# dispatcher's type). Not cached to disk: the user's functions are part of the type.
_compiled_loop = njit(error_model="numpy")(_compiled_loop_impl)


# --------------------------------------------------------------------------- public
def minimize(
    f: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    x0,
    *,
    optimizer: str = "sgd",
    learning_rate: str = "constant",
    eta0: float = 0.01,
    max_iter: int = 1000,
    tol: float | None = 1e-6,
    momentum: float | None = None,
    dampening: float = 0.0,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float | None = None,
    amsgrad: bool = False,
    weight_decay: float | None = None,
    lr_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    rho: float = 0.99,
    centered: bool = False,
    power_t: float = 0.25,
    t0: float | None = None,
    gamma: float | None = None,
    step_size: int | None = None,
    T_max: int | None = None,
    eta_min: float = 0.0,
    raise_on_divergence: bool = False,
) -> MinimizeResult:
    """Minimise ``f`` by gradient descent with one of fastgd's optimizers and schedules.

    Step ``t = 1, 2, ...`` computes the rate ``eta_t`` of ``learning_rate`` and applies
    ``optimizer`` to the gradient ``grad(x)``, exactly as the estimators do for one batch
    (the compiled ``fastgd._kernels.optimizer_step`` and ``learning_rate``; the formulas
    are written out in :func:`fastgd.reference.optimizer_step` and
    :func:`fastgd.reference.learning_rate`). Plain ``'sgd'`` with ``'constant'`` is the
    textbook ``x <- x - eta0 grad(x)``.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for ``x`` a float64 array of shape ``(d,)``.
    grad : callable
        ``grad(x) -> array of shape (d,)``, the gradient of ``f``.
        When **both** ``f`` and ``grad`` are numba-jitted (``@numba.njit``), the whole
        loop runs compiled, at C speed (about 0.1-0.3 us per step for a small ``d``, the
        functions included; about a second of compilation on the first call per pair).
        Otherwise a Python loop drives the compiled step: about 7-10 us per step for a
        small ``d`` (jitted functions are then called from Python). Both paths take the
        same steps: their ``x_history`` agree bit for bit.
    x0 : array-like of shape (d,)
        Start point, finite real numbers (converted to float64, never modified).
    optimizer : {'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam', 'adamw'}
        torch.optim's single-tensor formulas.
    learning_rate : {'constant', 'invscaling', 'inverse_time', 'step', 'exponential', 'cosine'}
        Schedule as a function of the step number ``k = t - 1``: ``eta0``,
        ``eta0 / t^power_t``, ``eta0 t0 / (t0 + k)``, ``eta0 gamma^floor(k / step_size)``,
        ``eta0 gamma^k``, cosine from ``eta0`` to ``eta_min`` over ``T_max`` steps.
        'optimal' and 'adaptive' need a loss and are rejected.
    eta0 : float, default 0.01
        Base learning rate, > 0.
    max_iter : int, default 1000
        Maximum number of steps (0 evaluates the start point only).
    tol : float or None, default 1e-6
        Stop as soon as ``||grad(x)||_2 <= tol`` (checked at the start point too);
        None runs all ``max_iter`` steps.
    momentum, dampening, beta1, beta2, eps, amsgrad, weight_decay, lr_decay, \
initial_accumulator_value, rho, centered
        Optimizer hyperparameters, same names and defaults as
        :class:`fastgd.SGDRegressor` (``momentum`` defaults to 0.9 for 'momentum' and
        'nesterov', 0 otherwise; ``eps`` to 1e-10 for 'adagrad', 1e-8 otherwise;
        ``weight_decay`` to 0.01 and only for 'adamw').
    power_t, t0, gamma, step_size, T_max, eta_min
        Schedule hyperparameters, as in :class:`fastgd.SGDRegressor`.
    raise_on_divergence : bool, default False
        Raise ``ValueError`` instead of returning a result with ``diverged=True``.
        A run diverges when ``x``, ``f(x)`` or the gradient norm becomes non-finite
        (overflow, NaN); NumPy's overflow / invalid / divide warnings inside ``f`` and
        ``grad`` are silenced during the run for that reason.

    Returns
    -------
    MinimizeResult
        ``x``, ``fun``, ``grad_norm``, ``n_iter``, ``converged``, ``diverged``,
        ``message`` and the histories ``x_history`` (``(n_iter + 1, d)``), ``f_history``
        and ``grad_norm_history``. After divergence at step ``k``, ``x`` is the last
        finite point (step ``k - 1``) and the histories end there: no inf is returned.

    Raises
    ------
    TypeError
        ``f`` or ``grad`` not callable, wrong argument types, or ``f`` not returning a
        scalar.
    ValueError
        Invalid option or hyperparameter, ``x0`` not 1-D / not finite, ``grad`` of the
        wrong shape, ``f`` or ``grad`` not finite at ``x0``, or divergence when
        ``raise_on_divergence``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd import minimize
    >>> res = minimize(lambda x: x[0] ** 2 + 2 * x[1] ** 2,
    ...                lambda x: np.array([2 * x[0], 4 * x[1]]),
    ...                x0=[3.0, 2.0], eta0=0.1, tol=1e-8)
    >>> res.converged, res.n_iter, bool(np.allclose(res.x, 0.0, atol=1e-8))
    (True, 91, True)
    """
    if not callable(f):
        raise TypeError(f"f must be callable (f(x) -> float), got {type(f).__name__}.")
    if not callable(grad):
        raise TypeError(f"grad must be callable (grad(x) -> array), got {type(grad).__name__}.")
    raise_on_divergence = _flag("raise_on_divergence", raise_on_divergence)
    opt, sched, hp, init_acc, eta0, tol_value, max_iter = _build(
        optimizer,
        learning_rate,
        eta0,
        tol,
        max_iter,
        momentum=momentum,
        dampening=dampening,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        amsgrad=amsgrad,
        weight_decay=weight_decay,
        lr_decay=lr_decay,
        initial_accumulator_value=initial_accumulator_value,
        rho=rho,
        centered=centered,
        power_t=power_t,
        t0=t0,
        gamma=gamma,
        step_size=step_size,
        T_max=T_max,
        eta_min=eta_min,
    )
    x = _check_x0(x0)
    # Overflow and invalid operations inside f and grad are what divergence looks like:
    # they are detected (non-finite values) and reported, not raised as warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fx, gx = _check_outputs(f, grad, x)
    d = x.shape[0]

    state = np.zeros((C.N_ST, d + 1))
    if opt == C.OPT_ADAGRAD:
        state[C.ST_M1] = init_acc
    counters = np.array([1.0, 0.0, eta0])
    params = np.zeros(d + 1)
    params[:d] = x
    g = np.zeros(d + 1)
    g[:d] = gx
    gn = float(_norm(gx))
    xs, fs, gns = [x[None, :]], [np.array([fx])], [np.array([gn])]

    compiled = bool(is_jitted(f) and is_jitted(grad))
    n_done = 0  # accepted steps
    remaining = max_iter
    status = _CONVERGED if gn <= tol_value else _RUNNING
    while remaining > 0 and status == _RUNNING:
        seg = min(remaining, _SEGMENT)
        x_buf, f_buf, gn_buf = np.empty((seg, d)), np.empty(seg), np.empty(seg)
        if compiled:
            n, status, gn = _compiled_loop(
                f,
                grad,
                params,
                g,
                gn,
                np.int64(opt),
                np.int64(sched),
                hp,
                state,
                counters,
                np.int64(seg),
                float(tol_value),
                x_buf,
                f_buf,
                gn_buf,
            )
        else:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                n, status, gn = _python_loop(
                    f,
                    grad,
                    params,
                    g,
                    gn,
                    opt,
                    sched,
                    hp,
                    state,
                    counters,
                    seg,
                    tol_value,
                    x_buf,
                    f_buf,
                    gn_buf,
                    n_done,
                )
        n = int(n)
        xs.append(x_buf[:n])
        fs.append(f_buf[:n])
        gns.append(gn_buf[:n])
        n_done += n
        remaining -= seg
    if status == _BAD_GRAD:
        raise ValueError(
            f"grad must return an array of shape ({d},) like x0; it returned another "
            f"length at iteration {n_done + 1}."
        )
    x_hist, f_hist, gn_hist = np.concatenate(xs), np.concatenate(fs), np.concatenate(gns)

    diverged = status in (_DIVERGED_X, _DIVERGED_F)
    last = n_done  # index of the last (finite) point
    converged = status == _CONVERGED
    if converged:
        message = (
            f"converged: gradient norm {gn_hist[last]:.3g} <= tol={tol} after {last} iterations"
        )
    elif diverged:
        what = "x" if status == _DIVERGED_X else "f(x) or grad(x)"
        message = (
            f"diverged at iteration {n_done + 1}: {what} became non-finite (last finite point "
            f"from iteration {last}, f = {f_hist[last]:.6g}); reduce eta0={eta0:g} or rescale "
            "the problem"
        )
        if raise_on_divergence:
            raise ValueError(f"minimize {message}.")
    else:
        message = f"max_iter={max_iter} reached: gradient norm {gn_hist[last]:.3g}" + (
            f" > tol={tol}" if tol is not None else " (tol=None)"
        )
    return MinimizeResult(
        x=x_hist[last].copy(),
        fun=float(f_hist[last]),
        grad_norm=float(gn_hist[last]),
        n_iter=last,
        converged=converged,
        diverged=diverged,
        message=message,
        x_history=x_hist,
        f_history=f_hist,
        grad_norm_history=gn_hist,
        optimizer=optimizer,
        learning_rate=learning_rate,
        eta0=eta0,
        compiled=compiled,
        jac=g[:d].copy(),  # the gradient at x: each loop stores it only for accepted points
    )
