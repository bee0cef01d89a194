"""Small arithmetic leaves over one row of ``X``, inlined into the epoch loops.

``X`` is float32 or float64 (read as stored, multiplied in float64); ``w`` and
every accumulator are float64. ``d = w.shape[0]`` is the number of features.

Every reduction here sums in a fixed order: eight lanes (``lane k`` takes the
features ``j = k mod 8`` below ``d8 = d - d % 8``), a sequential tail, then the
fixed tree :func:`combine8`. No reassociation is allowed (``FASTMATH`` is
``contract`` only), so a dot product has the same bits whichever loop computes
it -- the fused update of the previous row or a plain :func:`dot_row` at the
start of a ``partial_fit`` call -- which is what makes chunked training
bit-identical to one pass. Eight independent lanes also vectorise as well as
the compiler's own reassociated reduction (measured: equal at d=100, 10%
faster at d=10).
"""

from __future__ import annotations

from ._jit import leaf


@leaf
def combine8(a0, a1, a2, a3, a4, a5, a6, a7, tail):
    """The fixed summation tree of the eight lanes and the tail."""
    return (((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))) + tail


@leaf
def dot_row(X, r, w):
    """Return ``X[r] . w`` accumulated in float64 (lane order, see module docstring)."""
    d = w.shape[0]
    d8 = d - d % 8
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    for j in range(0, d8, 8):
        a0 += w[j] * X[r, j]
        a1 += w[j + 1] * X[r, j + 1]
        a2 += w[j + 2] * X[r, j + 2]
        a3 += w[j + 3] * X[r, j + 3]
        a4 += w[j + 4] * X[r, j + 4]
        a5 += w[j + 5] * X[r, j + 5]
        a6 += w[j + 6] * X[r, j + 6]
        a7 += w[j + 7] * X[r, j + 7]
    tail = 0.0
    for j in range(d8, d):
        tail += w[j] * X[r, j]
    return combine8(a0, a1, a2, a3, a4, a5, a6, a7, tail)


@leaf
def axpy_row(g, X, r, a):
    """``g[:d] += a * X[r]`` in place."""
    for j in range(X.shape[1]):
        g[j] += a * X[r, j]


@leaf
def norms(w):
    """Return ``(||w||^2, ||w||_1)`` (lane order)."""
    d = w.shape[0]
    d8 = d - d % 8
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    for j in range(0, d8, 8):
        s0 += w[j] * w[j]
        s1 += w[j + 1] * w[j + 1]
        s2 += w[j + 2] * w[j + 2]
        s3 += w[j + 3] * w[j + 3]
        s4 += w[j + 4] * w[j + 4]
        s5 += w[j + 5] * w[j + 5]
        s6 += w[j + 6] * w[j + 6]
        s7 += w[j + 7] * w[j + 7]
        b0 += abs(w[j])
        b1 += abs(w[j + 1])
        b2 += abs(w[j + 2])
        b3 += abs(w[j + 3])
        b4 += abs(w[j + 4])
        b5 += abs(w[j + 5])
        b6 += abs(w[j + 6])
        b7 += abs(w[j + 7])
    t2 = 0.0
    t1 = 0.0
    for j in range(d8, d):
        t2 += w[j] * w[j]
        t1 += abs(w[j])
    return (
        combine8(s0, s1, s2, s3, s4, s5, s6, s7, t2),
        combine8(b0, b1, b2, b3, b4, b5, b6, b7, t1),
    )


@leaf
def dot_norms(X, r, w):
    """Return ``(X[r] . w, ||w||^2, ||w||_1)`` accumulated in float64 (lane order)."""
    d = w.shape[0]
    d8 = d - d % 8
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    for j in range(0, d8, 8):
        w0 = w[j]
        w1 = w[j + 1]
        w2 = w[j + 2]
        w3 = w[j + 3]
        w4 = w[j + 4]
        w5 = w[j + 5]
        w6 = w[j + 6]
        w7 = w[j + 7]
        a0 += w0 * X[r, j]
        a1 += w1 * X[r, j + 1]
        a2 += w2 * X[r, j + 2]
        a3 += w3 * X[r, j + 3]
        a4 += w4 * X[r, j + 4]
        a5 += w5 * X[r, j + 5]
        a6 += w6 * X[r, j + 6]
        a7 += w7 * X[r, j + 7]
        s0 += w0 * w0
        s1 += w1 * w1
        s2 += w2 * w2
        s3 += w3 * w3
        s4 += w4 * w4
        s5 += w5 * w5
        s6 += w6 * w6
        s7 += w7 * w7
        b0 += abs(w0)
        b1 += abs(w1)
        b2 += abs(w2)
        b3 += abs(w3)
        b4 += abs(w4)
        b5 += abs(w5)
        b6 += abs(w6)
        b7 += abs(w7)
    t0 = t1 = t2 = 0.0
    for j in range(d8, d):
        wj = w[j]
        t0 += wj * X[r, j]
        t2 += wj * wj
        t1 += abs(wj)
    return (
        combine8(a0, a1, a2, a3, a4, a5, a6, a7, t0),
        combine8(s0, s1, s2, s3, s4, s5, s6, s7, t2),
        combine8(b0, b1, b2, b3, b4, b5, b6, b7, t1),
    )


@leaf
def update_full(w, X, r, rn, scale, upd, l1, u, q, avg, mu, aw):
    """``w <- scale * w + upd * X[r]`` with Tsuruoka's cumulative L1 step and the running
    average, then the next row's dot product and the norms of the new ``w``.

    For each coefficient ``j``, in this order::

        w_j <- scale * w_j + upd * x_j
        if l1:  z = w_j
                w_j <- max(0, w_j - (u + q_j)) if w_j > 0
                w_j <- min(0, w_j + (u - q_j)) if w_j < 0
                q_j <- q_j + (w_j - z)
        if avg: aw_j <- aw_j + (w_j - aw_j) * mu

    then returns ``(X[rn] . w, ||w||^2, ||w||_1)`` of the finished ``w``
    (:func:`dot_norms`, lane order). Two passes over ``w`` (it is in L1 cache), so the
    sums live in registers: one fused pass kept them in a scratch array, which LLVM must
    reload per coefficient when the caller is compiled on its own (it may alias ``w``).
    """
    for j in range(w.shape[0]):
        wj = scale * w[j] + upd * X[r, j]
        if l1:
            # both clips computed, one selected: branch-free (signs near zero are
            # unpredictable; the branches cost 2x at small d)
            z = wj
            qj = q[j]
            hi = max(0.0, z - (u + qj))
            lo = min(0.0, z + (u - qj))
            wj = hi if z > 0.0 else (lo if z < 0.0 else z)
            q[j] = qj + (wj - z)
        w[j] = wj
        if avg:
            aw[j] += (wj - aw[j]) * mu
    return dot_norms(X, rn, w)
