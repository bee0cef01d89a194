"""Small arithmetic leaves over one row of ``X``, compiled with ``FASTMATH``.

``X`` is float32 or float64 (read as stored, multiplied in float64); ``w`` and
every accumulator are float64. ``d = w.shape[0]`` is the number of features.
"""

from __future__ import annotations

from ._jit import leaf


@leaf
def dot_row(X, r, w):
    """Return ``X[r] . w`` accumulated in float64."""
    acc = 0.0
    for j in range(w.shape[0]):
        acc += w[j] * X[r, j]
    return acc


@leaf
def axpy_row(g, X, r, a):
    """``g[:d] += a * X[r]`` in place."""
    for j in range(X.shape[1]):
        g[j] += a * X[r, j]


@leaf
def update_dot(w, X, r, rn, scale, upd):
    """``w <- scale * w + upd * X[r]`` in place, then return ``X[rn] . w``.

    One pass over the features does the update of this sample and the dot
    product of the next one, so ``w`` is read and written once per sample.
    """
    acc = 0.0
    for j in range(w.shape[0]):
        wj = scale * w[j] + upd * X[r, j]
        w[j] = wj
        acc += wj * X[rn, j]
    return acc


@leaf
def update_dot_sq(w, X, r, rn, scale, upd):
    """:func:`update_dot` that also returns ``||w||^2`` of the new ``w``: ``(X[rn] . w, ||w||^2)``."""
    acc = 0.0
    n2 = 0.0
    for j in range(w.shape[0]):
        wj = scale * w[j] + upd * X[r, j]
        w[j] = wj
        acc += wj * X[rn, j]
        n2 += wj * wj
    return acc, n2


@leaf
def norms(w):
    """Return ``(||w||^2, ||w||_1)``."""
    n2 = 0.0
    n1 = 0.0
    for j in range(w.shape[0]):
        n2 += w[j] * w[j]
        n1 += abs(w[j])
    return n2, n1


@leaf
def update_dot_full(w, X, r, rn, scale, upd, l1, u, q, avg, mu, aw):
    """:func:`update_dot` plus Tsuruoka's cumulative L1 step and the running average.

    For each coefficient ``j``, in this order::

        w_j <- scale * w_j + upd * x_j
        if l1:  z = w_j
                w_j <- max(0, w_j - (u + q_j)) if w_j > 0
                w_j <- min(0, w_j + (u - q_j)) if w_j < 0
                q_j <- q_j + (w_j - z)
        if avg: aw_j <- aw_j + (w_j - aw_j) * mu

    and returns ``(X[rn] . w, ||w||^2, ||w||_1)`` of the finished ``w``.
    """
    acc = 0.0
    n2 = 0.0
    n1 = 0.0
    for j in range(w.shape[0]):
        wj = scale * w[j] + upd * X[r, j]
        if l1:
            z = wj
            if wj > 0.0:
                wj = max(0.0, wj - (u + q[j]))
            elif wj < 0.0:
                wj = min(0.0, wj + (u - q[j]))
            q[j] += wj - z
        w[j] = wj
        if avg:
            aw[j] += (wj - aw[j]) * mu
        acc += wj * X[rn, j]
        n2 += wj * wj
        n1 += abs(wj)
    return acc, n2, n1

