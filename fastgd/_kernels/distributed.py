"""Kernels of the distributed schemes (``fastgd.dask``): a partition's gradient sum on a
worker, and the optimizer step the client takes from the sum of all partitions.

Together they compute one step of :func:`.batch.batch_epoch` split at partition
boundaries: each worker sums its rows' terms in row order (the serial kernel's fused
pass, :func:`.parallel._block` for dense rows, :func:`csr_block` for CSR rows), the
client adds the partitions' sums in partition order, divides by the batch's row count
and steps (:func:`apply_step`). The result differs from the single-process kernel's
only by the order of that one sum (relative 1e-16 per step), and does not depend on
which worker computed which partition, or how often.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _layout as C
from ._jit import kernel
from .batch import optimizer_step
from .leaves import norms
from .prefetch import weight
from .scalar import check_codes, learning_rate, loss_grad
from .sgd import penalty_parts


@kernel
def csr_block(data, indices, indptr, y, sw, order, w, b, loss, epsilon, i0, i1, gk):
    """CSR rows ``order[i0:i1]``: ``gk[:d] += a_i x_i``, ``gk[d] += a_i`` in row order
    (``gk`` zeroed first), with ``a_i = sw_i dL/dp(x_i . w + b, y_i)``. Returns
    ``(loss sum, first position whose prediction is not finite or -1)``, as
    :func:`.parallel._block` does for dense rows."""
    d = w.shape[0]
    gk[:] = 0.0
    sumloss = 0.0
    for i in range(i0, i1):
        r = order[i]
        lo = indptr[r]
        hi = indptr[r + 1]
        p = 0.0
        for q in range(lo, hi):
            p += data[q] * w[indices[q]]
        p += b
        if not math.isfinite(p):
            return sumloss, i
        lv, dl = loss_grad(loss, p, y[r], epsilon)
        sumloss += lv
        dl *= weight(sw, r)
        if dl != 0.0:
            for q in range(lo, hi):
                gk[indices[q]] += dl * data[q]
            gk[d] += dl
    return sumloss, -1


@kernel
def apply_step(params, g, size, state, counters, hp, loss, penalty, optimizer, schedule):
    """One batch step from the batch's gradient *sum* ``g`` (``(d + 1,)``, changed: it
    is divided by ``size``, the batch's row count), exactly as :func:`.batch.batch_epoch`
    steps after its row loop: ``g / size``, then :func:`~.batch.optimizer_step` with
    ``eta = learning_rate(t)``, then the running average (``0 < average <= t``), then
    ``t <- t + 1``.

    Returns the batch's penalty term of the objective, ``size * (l2c ||w||^2 / 2 + l1c
    ||w||_1)`` at the parameters before the step (the kernel's ``sumobj - sumloss``).
    """
    check_codes(loss, penalty, optimizer, schedule)
    d = params.shape[0] - 1
    l2c, l1c = penalty_parts(penalty, hp)
    pen = 0.0
    if penalty != C.PENALTY_NONE:
        n2, n1 = norms(params[:d])
        pen = (0.5 * l2c * n2 + l1c * n1) * size
    if size != 1.0:
        for j in range(d + 1):
            g[j] = g[j] / size
    t = counters[C.SC_T]
    eta = learning_rate(schedule, t, hp, counters)
    optimizer_step(optimizer, params, g, state, counters, hp, penalty, eta)
    avg_start = hp[C.HP_AVERAGE]
    if avg_start > 0.0 and avg_start <= t:
        avg = state[C.ST_AVG]
        mu = 1.0 / (t - avg_start + 1.0)
        for j in range(d + 1):
            avg[j] += (params[j] - avg[j]) * mu
    counters[C.SC_T] = t + 1.0
    return pen


@kernel
def weighted_mean_into(out, rows, weights):
    """``out[j] = sum_p weights[p] rows[p, j] / sum_p weights[p]``, partitions in order
    (``out`` keeps its value where every weight is 0)."""
    n_parts, m = rows.shape
    for j in range(m):
        num = 0.0
        den = 0.0
        for p in range(n_parts):
            num += weights[p] * rows[p, j]
            den += weights[p]
        if den > 0.0:
            out[j] = num / den


@kernel
def coordinate_mean_into(out, rows, weights, acc):
    """Per coordinate, the mean of ``rows[p, j]`` weighted by ``weights[p] * acc[p, j]``
    (the partitions' accumulators: each partition counts as much as the gradient it has
    seen in that coordinate); where those weights sum to 0, weighted by ``weights[p]``."""
    n_parts, m = rows.shape
    for j in range(m):
        num = 0.0
        den = 0.0
        for p in range(n_parts):
            a = weights[p] * acc[p, j]
            num += a * rows[p, j]
            den += a
        if den > 0.0 and math.isfinite(den):
            out[j] = num / den
        else:
            num = 0.0
            den = 0.0
            for p in range(n_parts):
                num += weights[p] * rows[p, j]
                den += weights[p]
            if den > 0.0:
                out[j] = num / den


def warm(dtype) -> None:
    """Compile (or load from the cache) the worker's kernels for ``dtype`` X."""
    from .parallel import _block

    X = np.zeros((2, 2), dtype=dtype)
    y = np.zeros(2)
    order = np.arange(2, dtype=np.int64)
    w = np.zeros(2)
    gk = np.zeros(3)
    _block(X, y, np.empty(0), order, w, 0.0, 0, 0.0, 0, 2, gk)
    data = np.zeros(1, dtype=dtype)
    indices = np.zeros(1, dtype=np.int32).view(np.uint32)
    indptr = np.array([0, 1, 1], dtype=np.int64)
    csr_block(data, indices, indptr, y, np.empty(0), order, w, 0.0, 0, 0.0, 0, 2, gk)
