"""The one table of configurations behind the kernel-vs-reference checks.

``fastgd verify``, the test-suite (tests/test_kernels.py) and the benchmark grid
all iterate :func:`configurations`, so a new option added here is checked
everywhere at once. Each configuration is a :class:`fastgd.reference.Config`
plus the matching kernel arguments (:func:`kernel_args`).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from . import _layout as C
from . import options
from .reference import Config

LOSSES = tuple(options.LOSSES)
PENALTIES = tuple(options.PENALTIES)
SCHEDULES = tuple(options.SCHEDULES)

# Every registry row's variants: the hyperparameters that switch on each kernel branch
# (a new optimizer or schedule joins every kernel-vs-reference test through its row).
OPTIMIZER_VARIANTS = {
    name: dict(optimizer=opt.name, **params)
    for opt in options.OPTIMIZERS.values()
    for name, params in opt.variants.items()
}
SCHEDULE_PARAMS = {
    sched.name: dict(params)
    for sched in options.SCHEDULES.values()
    for params in sched.variants.values()
}


def make_data(loss: str, n: int = 24, d: int = 3, seed: int = 0, dtype=np.float64):
    """Small well-scaled problem: ``X`` (n, d), targets for ``loss``, sample weights."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * 0.5 / np.sqrt(d)).astype(dtype)
    w = rng.normal(size=d)
    score = X.astype(np.float64) @ w + 0.1 * rng.normal(size=n)
    if loss in C.REGRESSION_LOSSES:
        y = score + 0.3
    else:
        y = np.where(score > 0, 1.0, -1.0)
    sw = rng.uniform(0.5, 2.0, size=n)
    return X, y, sw


def configurations(batch_sizes=(1, 5, None), losses=LOSSES, optimizers=None):
    """Yield ``(name, Config)`` over loss x penalty x optimizer x schedule x batch x intercept.

    ``batch_size=None`` is full batch (``Config.batch_size=0``, resolved by the caller).
    """
    optimizers = OPTIMIZER_VARIANTS if optimizers is None else optimizers
    for loss, penalty, opt, sched, batch, fit_intercept in itertools.product(
        losses, PENALTIES, optimizers, SCHEDULES, batch_sizes, (True, False)
    ):
        params = dict(alpha=1e-3, l1_ratio=0.4, epsilon=0.05)
        params.update(OPTIMIZER_VARIANTS[opt])
        params.update(SCHEDULE_PARAMS[sched])
        cfg = Config(
            loss=loss,
            penalty=penalty,
            learning_rate=sched,
            batch_size=0 if batch is None else batch,
            fit_intercept=fit_intercept,
            **params,
        )
        name = f"{loss}/{penalty}/{opt}/{sched}/batch={batch}/intercept={fit_intercept}"
        yield name, cfg


def resolve(cfg: Config, n_rows: int) -> Config:
    """A copy of ``cfg`` with the derived fields filled in: the 'optimal' schedule's
    offset and the row count of a full batch (``batch_size=0``)."""
    from ._kernels import optimal_init

    cfg = dataclasses.replace(cfg)
    if cfg.learning_rate == "optimal":
        cfg.optimal_init = float(optimal_init(C.LOSSES[cfg.loss], cfg.alpha, cfg.epsilon))
    if cfg.batch_size == 0:
        cfg.batch_size = n_rows
    return cfg


def kernel_args(cfg: Config, n_rows: int) -> tuple:
    """Option codes, ``hp`` vector and batch rows for the kernel, from a reference Config.

    Returns ``(loss, penalty, optimizer, schedule, batch_rows, hp)``; ``cfg`` is not changed.
    Every hyperparameter of the registry goes to its ``hp`` slot.
    """
    cfg = resolve(cfg, n_rows)
    hp = np.array([float(getattr(cfg, h.name)) for h in options.HYPERS])
    return (
        C.LOSSES[cfg.loss],
        C.PENALTIES[cfg.penalty],
        C.OPTIMIZERS[cfg.optimizer],
        C.SCHEDULES[cfg.learning_rate],
        cfg.batch_size,
        hp,
    )


def compare(
    cfg: Config,
    X,
    y,
    sw,
    epochs: int = 2,
    seed: int = 0,
    X_kernel=None,
    model_only: bool = False,
    reference_cfg: Config | None = None,
    sparse_reference: bool = False,
    n_threads: int = 1,
):
    """Run kernel and reference side by side; return the worst relative deviation.

    ``n_threads > 1``: the kernel side runs as a fit with that many threads would
    (``run_epoch(..., n_threads)``), and where that takes the multi-core batch kernel the
    reference sums its gradients by the same blocks (``block_rows``); where it trains
    per-sample shards, the reference averages the same shards (``shards``).

    Both start from the same state and consume the same permutations. ``X_kernel``
    (default ``X``) lets the kernel read another copy (float32) of the data. The
    deviation is ``max |k - r| / max(|r|, 1e-3)`` over params, state, counters and
    the returned sums (``model_only``: params and sums -- optimizer buffers that cross
    zero make a poor relative yardstick for float32 input); ``inf`` when one side
    stopped on a non-finite value and the other did not. ``sparse_reference``: the
    reference runs its CSR twin (``reference.run_epoch_csr``) on ``X_kernel``, a
    scipy.sparse CSR matrix (the lazy updates have no dense twin).
    """
    from . import reference
    from ._driver import PARALLEL_MIN_ENTRIES, SHARD_MIN_ENTRIES, run_epoch

    n, d = X.shape
    X_kernel = X if X_kernel is None else X_kernel
    if not isinstance(X_kernel, np.ndarray):  # CSR: validated as a fit would be
        from ._sparse import check_csr

        X_kernel = check_csr(X_kernel, finite=False)
    codes = kernel_args(cfg, n)
    cfg = resolve(cfg if reference_cfg is None else reference_cfg, n)
    loss, penalty, optimizer, schedule, batch, hp = codes
    block_rows = None
    parallel = n_threads > 1 and isinstance(X_kernel, np.ndarray)
    if (
        parallel
        and batch * d >= PARALLEL_MIN_ENTRIES
        and not (batch == 1 and optimizer == C.OPT_SGD)
    ):
        from ._kernels.parallel import BLOCK_ROWS

        block_rows = BLOCK_ROWS
    if n_threads > 1 and not isinstance(X_kernel, np.ndarray) and not sparse_reference:
        from ._driver import csr_batch_on_threads
        from ._kernels.parallel import csr_block_rows
        from ._sparse import kernel_arrays

        if csr_batch_on_threads(hp, optimizer, batch, kernel_arrays(X_kernel)):
            block_rows = csr_block_rows(min(batch, n), d)  # CSR batches on threads
    shards = None
    if (
        parallel
        and batch == 1
        and optimizer == C.OPT_SGD
        and n * d >= SHARD_MIN_ENTRIES
        and n >= 2 * n_threads
    ):
        shards = n_threads  # per-sample local SGD on shards, averaged (shard_epoch)
    if (
        n_threads > 1
        and not isinstance(X_kernel, np.ndarray)
        and batch == 1
        and optimizer == C.OPT_SGD
        and n >= 2 * n_threads
        and X_kernel.nnz >= SHARD_MIN_ENTRIES
    ):
        shards = n_threads  # CSR: shards too (nonzeros count)
    rng = np.random.default_rng(seed)
    ref = [np.zeros(d + 1), reference.init_state(d), reference.init_counters(cfg.eta0)]
    if cfg.optimizer == "adagrad":
        ref[1][reference.ST_M1] = 0.1
    # the kernel's arrays carry extra rows/slots (the carried dot of the per-sample fast
    # path); the rows and slots the reference has are compared
    ker = [ref[0].copy(), C.new_state(d), C.new_counters(cfg.eta0)]
    ker[1][: ref[1].shape[0]] = ref[1]
    worst = 0.0
    for _ in range(epochs):
        order = rng.permutation(n).astype(np.int64)
        if sparse_reference:
            Xs = X_kernel
            out_r = reference.run_epoch_csr(
                Xs.data, Xs.indices, Xs.indptr, y, sw, order, *ref, cfg, shards=shards
            )
        else:
            out_r = reference.run_epoch(
                X, y, sw, order, *ref, cfg, block_rows=block_rows, shards=shards
            )
        out_k = run_epoch(
            X_kernel, y, sw, order, *ker, hp, loss, penalty, optimizer, schedule, batch, n_threads
        )
        if out_r[2] != out_k[2]:
            return float("inf")
        if out_r[2] >= 0:
            break
        shared = (ker[0], ker[1][: ref[1].shape[0]], ker[2][: ref[2].shape[0]])
        parts_k = (ker[0], np.array(out_k[:2])) if model_only else (*shared, np.array(out_k[:2]))
        parts_r = (ref[0], np.array(out_r[:2])) if model_only else (*ref, np.array(out_r[:2]))
        for a, b in zip(parts_k, parts_r, strict=True):
            dev = np.abs(a - b) / np.maximum(np.abs(b), 1e-3)
            worst = max(worst, float(dev.max()))
    return worst
