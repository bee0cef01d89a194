"""Multi-threaded mini- and full-batch epochs (dense X): block-summed gradients.

Each batch is cut into blocks of ``BLOCK_ROWS`` consecutive rows of ``order`` -- a
partition fixed by the batch alone, never by the thread count. Threads take whole
blocks; each block sums its rows' terms in row order into its own row of a scratch
matrix (the serial kernel's fused pass: prediction, loss derivative and ``a_i x_i`` while
the row is in cache), and then the blocks' partial gradients and losses are added in
block order. So every thread count gives the same bits, and the reference twin
(:func:`fastgd.reference.batch_epoch` with ``block_rows``) computes the same sums.

What does not hold, and why: these bits differ from the serial kernel's
(:func:`.batch.batch_epoch`, used for ``n_jobs=1``) by rounding, because the serial
kernel sums every coefficient's terms in one row-order sequence, ``((0 + a_1 x_1j) +
a_2 x_2j) + ...``; no split of the rows over threads can reproduce that sequence. (A
split by *columns* can -- each thread adding its coefficients' terms in row order -- and
was measured first: it has to read each row twice, once whole for the prediction and
once by column block, and ran at 0.6x the serial kernel on 2 threads here.) The
difference is that of summing the same numbers in another order: relative 1e-16 per
step.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .. import _layout as C
from ._jit import _POLICY, FASTMATH, kernel
from .carry import batch_dot
from .distributed import apply_step, csr_block
from .leaves import axpy_row, norms
from .prefetch import prefetch_ahead, prefetch_sample, weight
from .scalar import check_codes, loss_grad
from .sgd import penalty_parts

# rows per block (the driver's): a mini-batch of 4,096 is 4 blocks, handed out one at a
# time (numba.set_parallel_chunksize(1)); on 2 threads here: 1.7x at batch 4,096 with
# 256-1,024 rows a block, 1.0x with 2,048; full batch 1.9x
BLOCK_ROWS = 1024


@kernel
def _block(X, y, sw, order, w, b, loss, epsilon, i0, i1, gk):
    """Rows ``order[i0:i1]``: ``gk[:d] += a_i x_i``, ``gk[d] += a_i`` in row order (``gk``
    zeroed first). Returns ``(loss sum, first row whose prediction is not finite or -1)``;
    at such a row the block stops, its loss sum covering the rows before it. A compiled
    function of its own, called per block: its loops optimise as the serial kernel's."""
    d = X.shape[1]
    gk[:] = 0.0
    ahead = prefetch_ahead(X)
    sumloss = 0.0
    for i in range(i0, i1):
        if i + ahead < i1:
            prefetch_sample(X, y, sw, order[i + ahead])
        r = order[i]
        p = batch_dot(X, r, w) + b
        if not math.isfinite(p):
            return sumloss, i
        lv, dl = loss_grad(loss, p, y[r], epsilon)
        sumloss += lv
        dl *= weight(sw, r)
        if dl != 0.0:
            axpy_row(gk, X, r, dl)
            gk[d] += dl
    return sumloss, -1


@njit(fastmath=set(FASTMATH), parallel=True, **_POLICY)
def batch_epoch_parallel(
    X,
    y,
    sw,
    order,
    params,
    state,
    counters,
    hp,
    loss,
    penalty,
    optimizer,
    schedule,
    batch_size,
    block_rows,
):
    """:func:`.batch.batch_epoch` with block-summed gradients on numba's threads (see the
    module docstring); the same arguments and return value ``(sumloss, sumobj, bad)``, plus
    ``block_rows``: the rows of a block (:data:`BLOCK_ROWS`), which fixes the partition.

    Per batch B of blocks B_1..B_K: ``g = (sum_k sum_{i in B_k} a_i [x_i, 1]) / |B|``,
    each inner sum in row order, the outer one in block order from 0.0.
    """
    check_codes(loss, penalty, optimizer, schedule)
    m = order.shape[0]
    d = X.shape[1]
    w = params[:d]
    g = np.empty(d + 1)
    per_batch = -(-max(1, min(batch_size, m)) // block_rows)  # blocks of a full batch
    G = np.empty((per_batch, d + 1))
    L = np.empty(per_batch)
    bad = np.empty(per_batch, dtype=np.int64)
    epsilon = hp[C.HP_EPSILON]
    l2c, l1c = penalty_parts(penalty, hp)
    sumloss = 0.0
    sumpen = 0.0
    start = 0
    while start < m:
        stop = min(start + batch_size, m)
        n_blocks = -(-(stop - start) // block_rows)
        b = params[d]
        if penalty != C.PENALTY_NONE:
            n2, n1 = norms(w)
            sumpen += (0.5 * l2c * n2 + l1c * n1) * (stop - start)
        for k in prange(n_blocks):
            i0 = start + k * block_rows
            i1 = min(i0 + block_rows, stop)
            L[k], bad[k] = _block(X, y, sw, order, w, b, loss, epsilon, i0, i1, G[k])
        for k in range(n_blocks):  # block order: the same sums for every thread count
            sumloss += L[k]
            if bad[k] >= 0:
                return sumloss, sumloss + sumpen, bad[k]
        g[:] = 0.0
        for k in range(n_blocks):
            for j in range(d + 1):
                g[j] += G[k, j]
        # the serial kernel's tail: g / |B|, optimizer step, running average, t + 1
        apply_step(
            params, g, float(stop - start), state, counters, hp, loss, penalty, optimizer,
            schedule,
        )  # fmt: skip
        start = stop
    return sumloss, sumloss + sumpen, -1


@njit(parallel=True, **_POLICY)
def probe():
    """A trivial parallel loop: launching it loads numba's threading layer (or fails)."""
    acc = np.zeros(2)
    for k in prange(2):
        acc[k] = k
    return acc.sum()


# the block sums of a CSR batch are dense (d + 1) rows: at most this many floats of them,
# so a wide matrix takes fewer, larger blocks (the partition depends on the batch size
# and the width, never on the thread count)
CSR_BLOCK_FLOATS = 1 << 22


def csr_block_rows(batch_rows: int, n_features: int) -> int:
    """Rows per block of a CSR batch of ``batch_rows`` rows (:func:`csr_batch_epoch_parallel`):
    :data:`BLOCK_ROWS`, or more where the blocks' dense sums would pass
    :data:`CSR_BLOCK_FLOATS`."""
    max_blocks = max(1, CSR_BLOCK_FLOATS // (n_features + 1))
    return max(BLOCK_ROWS, -(-batch_rows // max_blocks))


@njit(fastmath=set(FASTMATH), parallel=True, **_POLICY)
def csr_batch_epoch_parallel(
    data,
    indices,
    indptr,
    y,
    sw,
    order,
    params,
    state,
    counters,
    hp,
    loss,
    penalty,
    optimizer,
    schedule,
    batch_size,
    block_rows,
):
    """:func:`.sparse.csr_batch_epoch` (exact updates, no intercept decay) with
    block-summed gradients on numba's threads: each block of ``block_rows`` rows of the
    batch sums ``a_i [x_i, 1]`` over its rows' nonzeros in row order into its own dense
    row (:func:`.distributed.csr_block`), the rows are added in block order, then the
    dense step of :func:`batch_epoch_parallel`. The same bits for every thread count;
    the dense reference's block sums (``reference.batch_epoch(..., block_rows)``) to
    rounding. Returns ``(sumloss, sumobj, bad)``."""
    check_codes(loss, penalty, optimizer, schedule)
    m = order.shape[0]
    d = params.shape[0] - 1
    w = params[:d]
    g = np.empty(d + 1)
    per_batch = -(-max(1, min(batch_size, m)) // block_rows)
    G = np.empty((per_batch, d + 1))
    L = np.empty(per_batch)
    bad = np.empty(per_batch, dtype=np.int64)
    epsilon = hp[C.HP_EPSILON]
    l2c, l1c = penalty_parts(penalty, hp)
    sumloss = 0.0
    sumpen = 0.0
    start = 0
    while start < m:
        stop = min(start + batch_size, m)
        n_blocks = -(-(stop - start) // block_rows)
        b = params[d]
        if penalty != C.PENALTY_NONE:
            n2, n1 = norms(w)
            sumpen += (0.5 * l2c * n2 + l1c * n1) * (stop - start)
        for k in prange(n_blocks):
            i0 = start + k * block_rows
            i1 = min(i0 + block_rows, stop)
            L[k], bad[k] = csr_block(
                data, indices, indptr, y, sw, order, w, b, loss, epsilon, i0, i1, G[k]
            )
        for k in range(n_blocks):
            sumloss += L[k]
            if bad[k] >= 0:
                return sumloss, sumloss + sumpen, bad[k]
        g[:] = 0.0
        for k in range(n_blocks):
            for j in range(d + 1):
                g[j] += G[k, j]
        # the serial kernel's tail: g / |B|, optimizer step, running average, t + 1
        apply_step(
            params, g, float(stop - start), state, counters, hp, loss, penalty, optimizer,
            schedule,
        )  # fmt: skip
        start = stop
    return sumloss, sumloss + sumpen, -1


# rows per block of a threaded CSR product: a block's indices and data (~77 nonzeros a
# row on text data: 1 MB at 1,024 rows) stream through one core; blocks are handed out
# one at a time, so uneven row lengths cost one block's time at most
SCORE_BLOCK_ROWS = 1024


@njit(**_POLICY)  # no fastmath: no fused multiply-adds, scipy's bits
def _matvecs_block(data, indices, indptr, W, out, r0, r1):
    """Rows ``r0:r1`` of :func:`csr_matvecs_parallel`; False at an index >= ``d`` (the
    block stops there, before reading ``W`` out of bounds). A compiled function of its
    own, called per block, so its loops optimise as a serial kernel's."""
    d = W.shape[0]
    K = W.shape[1]
    for r in range(r0, r1):
        for k in range(K):
            out[r, k] = 0.0
        if K == 1:
            s = out[r, 0]  # a zero of out's dtype: float32 X sums in float32
            for jj in range(indptr[r], indptr[r + 1]):
                j = indices[jj]
                if j >= d:
                    return False
                s += data[jj] * W[j, 0]
            out[r, 0] = s
        else:
            for jj in range(indptr[r], indptr[r + 1]):
                j = indices[jj]
                if j >= d:
                    return False
                a = data[jj]
                for k in range(K):
                    out[r, k] += a * W[j, k]
    return True


@njit(parallel=True, **_POLICY)
def csr_matvecs_parallel(data, indices, indptr, W, out, block_rows):
    """``out[i, k] = sum_jj data[jj] W[indices[jj], k]`` over row ``i``'s stored entries,
    for ``W`` of shape (d, K) and ``out`` of shape (n, K), both of ``data``'s dtype, on
    numba's threads, ``block_rows`` rows a block (:func:`fastgd._sparse.matvecs`).

    ``indptr`` must have passed :func:`.sparse.csr_check`; ``indices`` (unsigned, so a
    negative index reads as a huge one) are checked here, as they are read: returns
    False if one is ``>= d`` (``out`` is then garbage; the caller finds the place and
    raises), True otherwise -- the index pass of a prediction costs no read of its own.

    Each output is summed in the row's storage order from 0, in ``out``'s dtype, with
    no contraction into fused multiply-adds (this kernel has no fastmath): the bits of
    scipy's ``X @ W`` (its ``csr_matvec`` / ``csr_matvecs`` loops) for every thread count.
    """
    n = indptr.shape[0] - 1
    n_blocks = -(-n // block_rows)
    ok = np.ones(n_blocks, dtype=np.bool_)
    for blk in prange(n_blocks):
        r0 = blk * block_rows
        ok[blk] = _matvecs_block(data, indices, indptr, W, out, r0, min(n, r0 + block_rows))
    return ok.all()
